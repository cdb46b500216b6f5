//! Why a token file could not be written, opened or trusted.

use std::path::PathBuf;

use charrnn_corpus::CorpusError;

/// Why a token file could not be prepared or opened.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// A source text could not be read.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// The file does not start with a token file's magic bytes.
    #[error("{} is not a token file (it does not start with CHRNNTOK)", path.display())]
    NotATokenFile {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer charrnn.
    #[error("token file {} has layout {format}, newer than this charrnn reads (up to {newest}): it was prepared by a newer version", path.display())]
    Newer {
        /// The file.
        path: PathBuf,
        /// Its layout version.
        format: u32,
        /// The newest layout this build reads.
        newest: u32,
    },
    /// The file is shorter than its header says.
    #[error("token file {} is truncated: it has {have} bytes, its header promises {need}; it was cut short while being written or copied", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its size.
        have: u64,
        /// The size its header gives.
        need: u64,
    },
    /// The file's bytes do not match what it says of itself.
    #[error("token file {} is damaged: {reason}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },
    /// A source file changed while it was being encoded.
    #[error("{} changed while it was being prepared; nothing was written", path.display())]
    SourceChanged {
        /// The source file.
        path: PathBuf,
    },
    /// A token file can only be a corpus on its own.
    #[error("token file {} cannot be joined with other corpus files: name it alone in data.corpus", path.display())]
    NotAlone {
        /// The token file.
        path: PathBuf,
    },
    /// The token file's vocabulary does not begin with the model's.
    #[error("token file {} was prepared with another vocabulary than the checkpoint's ({reason}): its ids would mean other characters", path.display())]
    OtherVocabulary {
        /// The token file.
        path: PathBuf,
        /// The first difference.
        reason: String,
    },
    /// Token files are little-endian.
    #[error("token files are little-endian and this machine is not: load the text files instead")]
    BigEndian,
    /// Any other I/O failure.
    #[error("cannot {doing} {}: {source}", path.display())]
    Io {
        /// What was being done: "read", "write", "map".
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Maps an I/O error on `path` while `doing` something.
pub(crate) fn io<'p>(
    doing: &'static str,
    path: &'p std::path::Path,
) -> impl FnOnce(std::io::Error) -> TokenFileError + 'p {
    move |source| TokenFileError::Io {
        doing,
        path: path.to_path_buf(),
        source,
    }
}
