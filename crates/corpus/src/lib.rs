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
mod ids;
mod units;
mod vocab;

pub use corpus::{
    find_corpus, find_corpus_glob, is_glob, read_text, split_train_val, Corpus, CorpusNotFound,
    TextPieces,
};
pub use documents::{files_of, split_per_document, text_files_in, Document};
pub use error::{CorpusError, UnknownChar};
pub use fingerprint::Fingerprint;
pub use ids::Ids;
pub use units::{human_bytes, human_count};
pub use vocab::{CharSet, Vocab};
