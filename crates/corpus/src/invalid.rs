//! A setting out of range, for every layer that checks one: kept here, at
//! the bottom, so that the sampler checks its options without the model.

/// A setting whose value is out of range: a model size, a sampling option.
/// Callers add where the key lives (a config section, a command-line flag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// The offending key, e.g. `hidden_size`.
    pub key: &'static str,
    /// The value given.
    pub value: String,
    /// What it must be.
    pub expected: String,
}

impl InvalidValue {
    /// `key` is `value`, which is not `expected`.
    pub fn new(key: &'static str, value: impl ToString, expected: impl Into<String>) -> Self {
        Self {
            key,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

impl std::fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {}: it must be {}",
            self.key, self.value, self.expected
        )
    }
}

impl std::error::Error for InvalidValue {}
