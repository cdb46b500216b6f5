//! How much one generation may ask for: the caps a server sets, and always
//! the memory it would take, checked before anything is allocated.

use charrnn_corpus::InvalidValue;

use crate::{SampleError, SampleOptions};

/// The most one generation may ask for. The server sets its caps; the
/// command line and chat have none but memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Characters a sample may ask for.
    pub max_length: usize,
    /// Samples one call may ask for.
    pub max_samples: usize,
    /// Bytes the samples' state and text may take.
    pub max_bytes: u64,
}

impl Limits {
    /// No cap but `max_bytes` of memory.
    pub fn memory(max_bytes: u64) -> Self {
        Self {
            max_length: usize::MAX,
            max_samples: usize::MAX,
            max_bytes,
        }
    }

    /// Checks `samples` samples of `options` against the caps and the memory
    /// they would need with a model whose streams take `bytes_per_stream`
    /// ([`Engine::bytes_per_stream`](crate::Engine::bytes_per_stream)).
    pub fn check(
        &self,
        bytes_per_stream: usize,
        options: &SampleOptions,
        samples: usize,
    ) -> Result<(), SampleError> {
        if options.length > self.max_length {
            let expected = format!("at most {}", self.max_length);
            return Err(InvalidValue::new("length", options.length, expected).into());
        }
        if samples == 0 || samples > self.max_samples {
            let expected = match self.max_samples {
                usize::MAX => "at least 1".to_string(),
                max => format!("in 1..={max}"),
            };
            return Err(InvalidValue::new("num_samples", samples, expected).into());
        }
        let need = bytes_needed(bytes_per_stream, options, samples);
        if need > u128::from(self.max_bytes) {
            return Err(SampleError::TooBig {
                samples,
                length: options.length,
                need,
                available: self.max_bytes,
            });
        }
        Ok(())
    }
}

/// Bytes that `samples` samples of `options` take while they are made: each
/// stream's state in the engine, its draws and its text.
fn bytes_needed(bytes_per_stream: usize, options: &SampleOptions, samples: usize) -> u128 {
    let per_sample =
        bytes_per_stream as u128 + (options.top_n as u128) * 8 + (options.length as u128) * 4 + 256;
    per_sample * samples as u128
}
