#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
pub mod format;
mod mapped;
mod prepare;

pub use error::TokenFileError;
pub use mapped::{is_token_file, TokenFile};
pub use prepare::{prepare, PrepareOptions, Prepared};
