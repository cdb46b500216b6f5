//! Why a corpus could not be loaded or a vocabulary read.

use std::path::PathBuf;

/// Why a corpus could not be loaded or a vocabulary could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The corpus file does not exist.
    #[error("corpus file {} not found: check the path", path.display())]
    NotFound {
        /// The path that was tried.
        path: PathBuf,
    },
    /// The path is a folder or a special file.
    #[error("corpus {} is {what}, not a text file: give the path of a UTF-8 text file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead, e.g. "a folder".
        what: &'static str,
    },
    /// A corpus folder holds no text files.
    #[error("corpus folder {} has no *.txt files (folders are searched recursively): add text files, or name the files in data.corpus", path.display())]
    EmptyFolder {
        /// The folder.
        path: PathBuf,
    },
    /// A glob in the corpus list matches no file.
    #[error("corpus pattern {pattern:?} matches no file (looked in {}): check the pattern", looked_in.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoMatch {
        /// The pattern.
        pattern: String,
        /// The folders it was tried in.
        looked_in: Vec<PathBuf>,
    },
    /// A glob in the corpus list is malformed.
    #[error("corpus pattern {pattern:?} is not a valid glob ({reason})")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// The corpus file exists but holds no text.
    #[error("corpus file {} is empty: give a file with some UTF-8 text in it", path.display())]
    Empty {
        /// The empty file.
        path: PathBuf,
    },
    /// The corpus file is not valid UTF-8.
    #[error("corpus file {} is not valid UTF-8 (first bad byte at offset {offset}): convert it to UTF-8, e.g. `iconv -f GB18030 -t UTF-8`", path.display())]
    InvalidUtf8 {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first invalid sequence.
        offset: usize,
    },
    /// A vocabulary file is malformed.
    #[error("vocabulary file {} is malformed ({reason}): it should be the vocab.json written next to a checkpoint", path.display())]
    BadVocab {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other I/O failure.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A character that is not in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("character {ch:?} (U+{:04X}) at position {position} is not in the model's vocabulary", *ch as u32)]
pub struct UnknownChar {
    /// The character.
    pub ch: char,
    /// Its index, in characters, in the text being encoded.
    pub position: usize,
}
