//! Loading a corpus: a whole file in memory, or its pieces streamed, with
//! errors that name the file; where a relative corpus path is found.

use std::path::{Path, PathBuf};

use crate::{CorpusError, Document, Fingerprint, Vocab};

/// A text loaded from disk, its vocabulary and its encoding.
#[derive(Debug, Clone)]
pub struct Corpus {
    path: PathBuf,
    vocab: Vocab,
    ids: Vec<u32>,
    fingerprint: Fingerprint,
    documents: Vec<Document>,
}

impl Corpus {
    /// Loads a UTF-8 file and builds its vocabulary.
    pub fn load(path: &Path) -> Result<Self, CorpusError> {
        let text = read_text(path)?;
        Ok(Self::from_text(path, &text))
    }

    /// Builds a corpus from text already in memory; `path` names it in messages.
    pub fn from_text(path: &Path, text: &str) -> Self {
        Self::from_text_in(path, text, None)
    }

    /// The text's own vocabulary, or `base`'s extended with the characters
    /// it lacks ([`Vocab::extended_with`]).
    fn from_text_in(path: &Path, text: &str, base: Option<&Vocab>) -> Self {
        let own = Vocab::from_text(text);
        let vocab = match base {
            Some(base) => base.extended_with(&own),
            None => own,
        };
        Self::encoded(path, text, vocab)
    }

    /// Loads several UTF-8 files as one text, `separator` between them, in
    /// `base`'s vocabulary (extended as needed) when one is given. The first
    /// file names the corpus in messages.
    pub fn load_documents(
        files: &[PathBuf],
        separator: &str,
        base: Option<&Vocab>,
    ) -> Result<Self, CorpusError> {
        let mut text = String::new();
        let mut documents = Vec::with_capacity(files.len());
        let mut start = 0;
        for (i, file) in files.iter().enumerate() {
            let mut doc = read_text(file)?;
            if i + 1 < files.len() {
                doc.push_str(separator);
            }
            let len = doc.chars().count();
            documents.push(Document {
                path: file.clone(),
                start,
                len,
            });
            start += len;
            text.push_str(&doc);
        }
        let path = files.first().cloned().unwrap_or_default();
        let mut corpus = Self::from_text_in(&path, &text, base);
        corpus.documents = documents;
        Ok(corpus)
    }

    fn encoded(path: &Path, text: &str, vocab: Vocab) -> Self {
        let ids = vocab
            .encode(text)
            .expect("every character of a text is in its own vocabulary");
        let documents = vec![Document {
            path: path.to_path_buf(),
            start: 0,
            len: ids.len(),
        }];
        Self {
            path: path.to_path_buf(),
            vocab,
            ids,
            fingerprint: Fingerprint::of(text.as_bytes()),
            documents,
        }
    }

    /// The files the text was joined from, as spans of [`Corpus::ids`].
    pub fn documents(&self) -> &[Document] {
        &self.documents
    }

    /// The size and checksum of the text, to tell later whether it changed.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// Where the text came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vocabulary of the text.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The text as character ids.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when the text is empty (never the case for a loaded corpus).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// No candidate path for a corpus is a file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe_not_found(self))]
pub struct CorpusNotFound {
    /// Every path tried, in order.
    pub tried: Vec<PathBuf>,
    /// The first path tried that exists but is not a file, and what it is.
    pub not_a_file: Option<(PathBuf, &'static str)>,
}

fn describe_not_found(e: &CorpusNotFound) -> String {
    match &e.not_a_file {
        Some((path, what)) => format!(
            "corpus {} is {what}, not a text file: give the path of a UTF-8 text file (data.corpus)",
            path.display()
        ),
        None => format!(
            "corpus not found; looked for {}",
            e.tried
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a path that exists but is not a regular file is, in words.
fn kind_of(path: &Path) -> Option<&'static str> {
    let meta = std::fs::metadata(path).ok()?;
    let kind = meta.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a folder")
    } else {
        Some("a special file (a device, pipe or socket)")
    }
}

/// Where a relative corpus path is looked up: in `dirs`, in order; an
/// absolute one is taken as it is.
fn lookup_bases(corpus: &Path, dirs: &[PathBuf]) -> Vec<PathBuf> {
    if corpus.is_absolute() {
        return vec![PathBuf::new()];
    }
    dirs.to_vec()
}

/// Finds a corpus file or folder: an absolute path as is; a relative one in
/// the first of `dirs` that holds it (the empty path is the working folder).
/// Which folders those are is the caller's policy: `charrnn` looks in
/// `$CHARRNN_DATA_DIR`, `data/`, the config's folder, then the working folder.
pub fn find_corpus(corpus: &Path, dirs: &[PathBuf]) -> Result<PathBuf, CorpusNotFound> {
    let tried: Vec<PathBuf> = lookup_bases(corpus, dirs)
        .iter()
        .map(|base| base.join(corpus))
        .collect();
    if let Some(found) = tried.iter().find(|p| p.is_file() || p.is_dir()) {
        return Ok(found.clone());
    }
    let not_a_file = tried
        .iter()
        .find_map(|p| kind_of(p).map(|what| (p.clone(), what)));
    Err(CorpusNotFound { tried, not_a_file })
}

/// The files a glob such as `letters/*.txt` matches, sorted, in the first
/// of the folders [`find_corpus`] looks in where it matches any.
pub fn find_corpus_glob(pattern: &str, dirs: &[PathBuf]) -> Result<Vec<PathBuf>, CorpusError> {
    let bases = lookup_bases(Path::new(pattern), dirs);
    let bad = |reason: String| CorpusError::BadPattern {
        pattern: pattern.to_string(),
        reason,
    };
    for base in &bases {
        let full = base.join(pattern);
        let text = full.to_str().ok_or_else(|| bad("not UTF-8".into()))?;
        let mut matches: Vec<PathBuf> = glob::glob(text)
            .map_err(|e| bad(e.msg.to_string()))?
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        if !matches.is_empty() {
            matches.sort();
            return Ok(matches);
        }
    }
    Err(CorpusError::NoMatch {
        pattern: pattern.to_string(),
        looked_in: bases,
    })
}

/// Whether a corpus entry is a glob rather than a path.
pub fn is_glob(entry: &str) -> bool {
    entry.contains(['*', '?', '['])
}

/// Reads a non-empty UTF-8 text file, with errors that name the file and the fix.
pub fn read_text(path: &Path) -> Result<String, CorpusError> {
    check_is_file(path)?;
    let bytes = std::fs::read(path).map_err(read_error(path))?;
    if bytes.is_empty() {
        return Err(CorpusError::Empty {
            path: path.to_path_buf(),
        });
    }
    String::from_utf8(bytes).map_err(|e| CorpusError::InvalidUtf8 {
        path: path.to_path_buf(),
        offset: e.utf8_error().valid_up_to(),
    })
}

/// A UTF-8 text file as pieces of about `piece_bytes`, cut between
/// characters, each of which can be read and checked on its own, by any
/// thread and in any order: a text of any size, in constant memory, on all
/// cores. The pieces in order are the file. Errors are [`read_text`]'s.
#[derive(Debug, Clone)]
pub struct TextPieces {
    path: PathBuf,
    bytes: u64,
    piece_bytes: u64,
}

/// Bytes read past a piece's nominal end to find where its last character
/// ends: a character starts within any four bytes of valid UTF-8.
const LOOKAHEAD: u64 = 4;

impl TextPieces {
    /// Plans the pieces of a non-empty text file.
    pub fn open(path: &Path, piece_bytes: usize) -> Result<Self, CorpusError> {
        check_is_file(path)?;
        let bytes = std::fs::metadata(path).map_err(read_error(path))?.len();
        if bytes == 0 {
            return Err(CorpusError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
            piece_bytes: piece_bytes.max(LOOKAHEAD as usize) as u64,
        })
    }

    /// The file's size.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many pieces there are.
    pub fn count(&self) -> usize {
        self.bytes.div_ceil(self.piece_bytes) as usize
    }

    /// Reads piece `k` into `buf` and returns its text, checked as UTF-8.
    pub fn read<'b>(&self, k: usize, buf: &'b mut Vec<u8>) -> Result<&'b str, CorpusError> {
        use std::io::{Read, Seek, SeekFrom};
        let from = k as u64 * self.piece_bytes;
        let to = (from + self.piece_bytes).min(self.bytes);
        buf.resize(((to + LOOKAHEAD).min(self.bytes) - from) as usize, 0);
        let mut file = std::fs::File::open(&self.path).map_err(read_error(&self.path))?;
        file.seek(SeekFrom::Start(from))
            .and_then(|_| file.read_exact(buf))
            .map_err(read_error(&self.path))?;
        // Both neighbours of a cut find the same character start after it.
        let start = if k == 0 { 0 } else { char_start_near(buf, 0) };
        let end = if to == self.bytes {
            buf.len()
        } else {
            char_start_near(buf, (to - from) as usize)
        };
        let piece = &buf[start.min(end)..end];
        std::str::from_utf8(piece).map_err(|e| CorpusError::InvalidUtf8 {
            path: self.path.clone(),
            offset: (from + (start + e.valid_up_to()) as u64) as usize,
        })
    }
}

/// The first character start in `buf` at or after `at`, looking
/// [`LOOKAHEAD`] bytes at most (none there: invalid, and the bytes are left
/// to the piece before, whose check reports them).
fn char_start_near(buf: &[u8], at: usize) -> usize {
    let window = at..(at + LOOKAHEAD as usize).min(buf.len());
    window
        .clone()
        .find(|&i| buf[i] & 0xC0 != 0x80)
        .unwrap_or(window.end)
}

fn check_is_file(path: &Path) -> Result<(), CorpusError> {
    match kind_of(path) {
        Some(what) => Err(CorpusError::NotAFile {
            path: path.to_path_buf(),
            what,
        }),
        None => Ok(()),
    }
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> CorpusError + '_ {
    move |source| match source.kind() {
        std::io::ErrorKind::NotFound => CorpusError::NotFound {
            path: path.to_path_buf(),
        },
        _ => CorpusError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Splits ids into training and validation parts: the last `val_fraction` of the
/// text is validation (at least one character of each when there are two or more).
pub fn split_train_val(ids: &[u32], val_fraction: f64) -> (&[u32], &[u32]) {
    ids.split_at(ids.len() - crate::ids::validation_len(ids.len(), val_fraction))
}

#[cfg(test)]
mod tests;
