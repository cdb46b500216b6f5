#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(target_arch = "wasm32")]
mod bindings;

use charrnn_export::{read_safetensors, ReadError};
use charrnn_sample::{Engine, Generator, SampleError, SampleOptions};

/// Why the page cannot write.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The weights file is not a model this engine runs.
    #[error("the model file cannot be used: {0}")]
    Model(#[from] ReadError),
    /// The options or the prime do not suit the model.
    #[error(transparent)]
    Sample(#[from] SampleError),
}

/// A model loaded in the page, and the engine that writes with it.
pub struct PageWriter {
    generator: Generator,
}

impl PageWriter {
    /// The model of a safetensors export (`charrnn export --format web` puts
    /// it beside the page as `model.safetensors`).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, WebError> {
        let (weights, vocab) = read_safetensors(bytes)?;
        Ok(Self {
            generator: Generator::new(Engine::new(weights), vocab)?,
        })
    }

    /// Characters the model knows.
    pub fn vocab_size(&self) -> usize {
        self.generator.vocab().len()
    }

    /// Writes as `charrnn sample` does with the same options, handing each
    /// character to `on_char` as it is drawn; returns the text after the prime.
    pub fn write(
        &mut self,
        options: &SampleOptions,
        on_char: impl FnMut(char),
    ) -> Result<String, WebError> {
        Ok(self.generator.generate(options, on_char)?)
    }
}
