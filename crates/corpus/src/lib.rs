//! Character vocabularies and text encoding for character-level language models.
//!
//! A [`Vocab`] is the sorted set of Unicode scalar values of a text (Python's
//! `sorted(set(text))`), so a character's id is its rank. [`Corpus`] loads a UTF-8
//! file with errors that say what went wrong and what to do about it.
//!
//! ```
//! use charrnn_corpus::Vocab;
//! let vocab = Vocab::from_text("西门庆");
//! let ids = vocab.encode("庆门").unwrap();
//! assert_eq!(vocab.decode(&ids), "庆门");
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod corpus;
mod documents;
mod error;
mod fingerprint;
mod tokens;
mod units;
mod vocab;

pub use corpus::{
    find_corpus, find_corpus_glob, find_standard_data_dir, is_glob, read_text, split_train_val,
    standard_data_dirs, Corpus, CorpusNotFound, TextPieces, DATA_DIR_ENV, STANDARD_CORPORA,
};
pub use documents::{files_of, split_per_document, text_files_in, Document};
pub use error::{CorpusError, UnknownChar};
pub use fingerprint::Fingerprint;
pub use tokens::Tokens;
pub use units::{human_bytes, human_count};
pub use vocab::{CharSet, Vocab};
