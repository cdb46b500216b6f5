#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod corpus;
mod documents;
mod error;
mod fingerprint;
mod ids;
mod invalid;
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
pub use invalid::InvalidValue;
pub use units::{human_bytes, human_count};
pub use vocab::{CharSet, Vocab};
