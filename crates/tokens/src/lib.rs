//! Prepared token files: a corpus of any size encoded once, in a streaming
//! pass, into a compact file of character ids that training memory-maps.
//!
//! A token file holds a small header (layout version, vocabulary, the source
//! files with their sizes and modification times, checksums) and then one id
//! per character, as `u16` when the vocabulary fits, else `u32`
//! ([`mod@format`]). [`prepare`] writes one; [`TokenFile::open`] checks every
//! byte of it and maps it, so a batcher reads its streams straight from the
//! file and training a 2 GB corpus needs the model's memory plus a few MB.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use charrnn_tokens::{prepare, PrepareOptions, TokenFile};
//! let dir = tempfile::tempdir()?;
//! let text = dir.path().join("poem.txt");
//! std::fs::write(&text, "金瓶梅")?;
//! let out = dir.path().join("poem.tokens");
//! let options = PrepareOptions { separator: "\n", base: None };
//! prepare(&[text], &out, options, &mut |_, _| {})?;
//! let tokens = TokenFile::open(&out)?;
//! assert_eq!(tokens.vocab().decode(&tokens.tokens().to_vec()), "金瓶梅");
//! # Ok(()) }
//! ```

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod error;
pub mod format;
mod mapped;
mod prepare;

pub use error::TokenFileError;
pub use mapped::{is_token_file, TokenFile};
pub use prepare::{prepare, PrepareOptions, Prepared};
