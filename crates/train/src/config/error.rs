//! A configuration that cannot be used, with the key at fault.

use std::path::PathBuf;

/// A configuration that cannot be used, with the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{}:{line}:{column}: invalid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// A key is unknown or has the wrong type.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted key, e.g. `model.hidden_size`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `--set` override is malformed.
    #[error("override {0:?}: expected section.key=value, e.g. train.max_steps=100")]
    Override(String),
    /// A value is out of range.
    #[error("config key `{key}` is {value}: it must be {expected}")]
    Range {
        /// Dotted key.
        key: String,
        /// The value given.
        value: String,
        /// The allowed range.
        expected: String,
    },
}
