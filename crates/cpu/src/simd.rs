//! Which vector instructions the kernels use, and the `CHARRNN_SIMD` override.
//!
//! Every kernel is compiled for AVX-512, AVX2+FMA and the baseline, and runs
//! the widest this CPU has. The override picks a narrower one, so that one
//! machine runs (and its test suite checks) the code that other machines run:
//! an AVX-512 machine otherwise never executes the AVX2 or `gemm`-crate paths.
//! The `gemm` crate itself picks its instructions from the CPU alone: on an
//! AVX-512 machine the products it serves at a narrower level still run its
//! AVX-512 micro-kernels.

use std::fmt;
use std::sync::OnceLock;

/// The environment variable that picks a SIMD level (`avx512`, `avx2` or
/// `baseline`); read once, at the first kernel call.
pub const SIMD_ENV: &str = "CHARRNN_SIMD";

/// A set of vector instructions the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// AVX-512F: charrnn's own GEMM (8 × 48 tiles) and 16-wide activations.
    Avx512,
    /// AVX2 with FMA: charrnn's own GEMM (6 × 48 tiles) for products with a
    /// packed right-hand side, the `gemm` crate's for the others, and 8-wide
    /// activations.
    Avx2,
    /// Whatever the target guarantees (SSE2 on x86-64).
    Baseline,
}

/// Why `CHARRNN_SIMD` cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimdError {
    /// The value names no level.
    Unknown(String),
    /// The CPU lacks the instructions of the level asked for.
    Unsupported {
        /// The level asked for.
        requested: SimdLevel,
        /// The widest level this CPU has.
        widest: SimdLevel,
    },
}

impl fmt::Display for SimdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(value) => write!(
                f,
                "{SIMD_ENV}={value:?} names no SIMD level; use avx512, avx2 or baseline"
            ),
            Self::Unsupported { requested, widest } => write!(
                f,
                "{SIMD_ENV}={requested} asks for instructions this CPU lacks; the widest it has is {widest}"
            ),
        }
    }
}

impl std::error::Error for SimdError {}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl SimdLevel {
    /// Every level, widest first.
    pub const ALL: [SimdLevel; 3] = [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Baseline];

    /// The level's name, as `CHARRNN_SIMD` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => "avx512",
            Self::Avx2 => "avx2",
            Self::Baseline => "baseline",
        }
    }

    /// The level a name spells, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.name() == name)
    }

    /// The widest level this CPU has.
    pub fn widest() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f") {
                return Self::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Self::Avx2;
            }
        }
        Self::Baseline
    }

    /// The levels this CPU can run, widest first.
    pub fn supported() -> Vec<Self> {
        let widest = Self::widest();
        Self::ALL
            .into_iter()
            .filter(|l| *l as u8 >= widest as u8)
            .collect()
    }

    /// The level for a value of `CHARRNN_SIMD` (`None`: unset, the widest) on a
    /// CPU whose widest level is `widest`.
    pub fn choose(requested: Option<&str>, widest: Self) -> Result<Self, SimdError> {
        let Some(value) = requested.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(widest);
        };
        let requested =
            Self::from_name(value).ok_or_else(|| SimdError::Unknown(value.to_string()))?;
        if (requested as u8) < widest as u8 {
            return Err(SimdError::Unsupported { requested, widest });
        }
        Ok(requested)
    }

    /// The level `CHARRNN_SIMD` asks for on this CPU. Programs call this at
    /// start-up to report a bad value as an error; the kernels themselves panic
    /// on one.
    pub fn from_env() -> Result<Self, SimdError> {
        let value = std::env::var(SIMD_ENV).ok();
        Self::choose(value.as_deref(), Self::widest())
    }
}

/// The level every kernel of this process runs at: `CHARRNN_SIMD`'s, else the
/// widest this CPU has. Read once.
///
/// # Panics
/// When `CHARRNN_SIMD` is set to a value [`SimdLevel::from_env`] refuses.
pub fn simd_level() -> SimdLevel {
    static LEVEL: OnceLock<SimdLevel> = OnceLock::new();
    *LEVEL.get_or_init(|| SimdLevel::from_env().unwrap_or_else(|e| panic!("{e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_honours_a_supported_level_and_refuses_others() {
        use SimdLevel::*;
        assert_eq!(SimdLevel::choose(None, Avx2), Ok(Avx2));
        assert_eq!(SimdLevel::choose(Some(""), Avx512), Ok(Avx512));
        assert_eq!(SimdLevel::choose(Some("baseline"), Avx512), Ok(Baseline));
        assert_eq!(SimdLevel::choose(Some("avx2"), Avx2), Ok(Avx2));
        let err = SimdLevel::choose(Some("avx512"), Avx2).unwrap_err();
        assert_eq!(
            err,
            SimdError::Unsupported {
                requested: Avx512,
                widest: Avx2
            }
        );
        assert!(
            err.to_string().contains("the widest it has is avx2"),
            "{err}"
        );
        let err = SimdLevel::choose(Some("sse9"), Avx512).unwrap_err();
        assert!(
            err.to_string().contains("avx512, avx2 or baseline"),
            "{err}"
        );
    }

    #[test]
    fn the_process_runs_at_the_level_asked_for() {
        let asked = std::env::var(SIMD_ENV).ok();
        let expected = SimdLevel::choose(asked.as_deref(), SimdLevel::widest()).unwrap();
        assert_eq!(simd_level(), expected);
        assert!(SimdLevel::supported().contains(&expected));
    }
}
