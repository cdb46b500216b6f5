//! The corpus as training reads it: text loaded into memory, or a prepared
//! token file mapped from disk, chosen by what `data.corpus` names and how
//! large it is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use charrnn_corpus::{split_per_document, Corpus, Document, Fingerprint, Ids, Vocab};
use charrnn_tokens::{is_token_file, prepare, PrepareOptions, TokenFile, TokenFileError};
use tracing::{info, warn};

use crate::config::{RunConfig, ValSplit};
use crate::TrainError;

/// Where a run keeps the token file prepared from a large corpus.
pub const TOKEN_CACHE: &str = "corpus.tokens";

/// A corpus ready for batching.
#[derive(Debug)]
pub(crate) enum TrainText {
    /// Small enough to hold: read and encoded in memory.
    Memory(Corpus),
    /// A token file, named in `data.corpus` or prepared into the run folder.
    Mapped(TokenFile),
}

impl TrainText {
    /// Loads `files` as `config` says, in `base`'s vocabulary (extended) when
    /// one is given. A lone token file is mapped; text larger than
    /// `data.prepare_above_mb` is prepared into `run_dir` once and mapped.
    pub(crate) fn load(
        config: &RunConfig,
        files: &[PathBuf],
        base: Option<&Vocab>,
        run_dir: &Path,
    ) -> Result<Self, TrainError> {
        if let Some(tokens) = files.iter().find(|f| is_token_file(f)) {
            if files.len() > 1 {
                return Err(TokenFileError::NotAlone {
                    path: tokens.clone(),
                }
                .into());
            }
            return Ok(Self::Mapped(open_extending(tokens, base)?));
        }
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
            .sum();
        if bytes >= config.data.prepare_above_mb.saturating_mul(1_000_000) {
            let cache = run_dir.join(TOKEN_CACHE);
            return Ok(Self::Mapped(cached(
                files,
                &cache,
                &config.data.separator,
                base,
            )?));
        }
        let separator = &config.data.separator;
        Ok(Self::Memory(Corpus::load_documents(
            files, separator, base,
        )?))
    }

    pub(crate) fn vocab(&self) -> &Vocab {
        match self {
            Self::Memory(corpus) => corpus.vocab(),
            Self::Mapped(file) => file.vocab(),
        }
    }

    pub(crate) fn tokens(&self) -> Ids<'_> {
        match self {
            Self::Memory(corpus) => corpus.ids().into(),
            Self::Mapped(file) => file.tokens(),
        }
    }

    pub(crate) fn documents(&self) -> Cow<'_, [Document]> {
        match self {
            Self::Memory(corpus) => Cow::Borrowed(corpus.documents()),
            Self::Mapped(file) => Cow::Owned(file.documents()),
        }
    }

    pub(crate) fn fingerprint(&self) -> Fingerprint {
        match self {
            Self::Memory(corpus) => corpus.fingerprint(),
            Self::Mapped(file) => file.fingerprint(),
        }
    }

    /// The token file read, if any.
    pub(crate) fn token_file(&self) -> Option<&Path> {
        match self {
            Self::Memory(_) => None,
            Self::Mapped(file) => Some(file.path()),
        }
    }

    /// Training and validation ids, as `data.val_split` says. The tail split
    /// borrows; the per-document split copies.
    pub(crate) fn split(&self, config: &RunConfig) -> (Part<'_>, Part<'_>) {
        let fraction = config.data.val_fraction;
        match config.data.val_split {
            ValSplit::Tail => {
                let (train, val) = self.tokens().split_tail(fraction);
                (Part::Borrowed(train), Part::Borrowed(val))
            }
            ValSplit::PerDocument => {
                if let Self::Mapped(file) = self {
                    warn!(
                        "data.val_split = \"per-document\" copies the training text of {} into memory; the default tail split reads it from the file",
                        file.path().display()
                    );
                }
                let (train, val) = split_per_document(self.tokens(), &self.documents(), fraction);
                (Part::Owned(train), Part::Owned(val))
            }
        }
    }
}

/// Training or validation ids: borrowed from the corpus, or a copy.
pub(crate) enum Part<'a> {
    Borrowed(Ids<'a>),
    Owned(Vec<u32>),
}

impl Part<'_> {
    pub(crate) fn tokens(&self) -> Ids<'_> {
        match self {
            Self::Borrowed(tokens) => *tokens,
            Self::Owned(ids) => ids.into(),
        }
    }
}

/// The files of `data.corpus`'s entries, in order: each entry a file, a
/// folder's text files, or a glob's matches, a relative one looked up in
/// `dirs` ([`charrnn_corpus::find_corpus`]).
pub fn corpus_files(entries: &[String], dirs: &[PathBuf]) -> Result<Vec<PathBuf>, TrainError> {
    let mut files = Vec::new();
    for entry in entries {
        if charrnn_corpus::is_glob(entry) {
            files.extend(charrnn_corpus::find_corpus_glob(entry, dirs)?);
        } else {
            let path = charrnn_corpus::find_corpus(Path::new(entry), dirs)?;
            files.extend(charrnn_corpus::files_of(&path)?);
        }
    }
    Ok(files)
}

fn open_extending(path: &Path, base: Option<&Vocab>) -> Result<TokenFile, TokenFileError> {
    let file = TokenFile::open(path)?;
    if let Some(base) = base {
        file.check_extends(base)?;
    }
    Ok(file)
}

/// The run's token file for `files`: reused while it is current and in the
/// right vocabulary, else prepared afresh.
fn cached(
    files: &[PathBuf],
    cache: &Path,
    separator: &str,
    base: Option<&Vocab>,
) -> Result<TokenFile, TrainError> {
    if cache.exists() {
        match open_extending(cache, base) {
            Ok(file) if file.is_current(files, separator) => {
                info!("reading the prepared corpus {}", cache.display());
                return Ok(file);
            }
            Ok(_) => info!(
                "the corpus has changed since {} was prepared: preparing it again",
                cache.display()
            ),
            Err(e) => warn!("{e}: preparing it again"),
        }
    }
    info!(
        "preparing the corpus into {} (it is larger than data.prepare_above_mb)",
        cache.display()
    );
    let mut tenth = 0;
    let prepared = prepare(
        files,
        cache,
        PrepareOptions { separator, base },
        &mut |done, total| {
            let now = done * 10 / total.max(1);
            if now > tenth {
                tenth = now;
                info!("prepared {}%", now * 10);
            }
        },
    )?;
    info!(
        "prepared {} characters in {:.1} s ({:.0} MB/s)",
        prepared.tokens,
        prepared.seconds,
        prepared.text_bytes as f64 / 1e6 / prepared.seconds.max(1e-9)
    );
    Ok(TokenFile::open(cache)?)
}
