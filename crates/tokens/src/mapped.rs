//! Opening a token file: check every byte once with plain reads (which do
//! not count toward the process's memory), then map it for training.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use charrnn_corpus::{Document, Fingerprint, Ids, Vocab};
use memmap2::Mmap;

use crate::error::io;
use crate::format::{Header, Source, FORMAT_VERSION, MAGIC, MAX_HEADER_BYTES, PREFIX_BYTES};
use crate::TokenFileError;

/// A prepared corpus, memory-mapped: its ids are read from the file as
/// training needs them, never copied whole.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    header: Header,
    vocab: Vocab,
    map: Mmap,
    ids_offset: usize,
}

/// True when `path` is a file that starts with a token file's magic bytes.
pub fn is_token_file(path: &Path) -> bool {
    let mut magic = [0u8; 8];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == MAGIC)
}

impl TokenFile {
    /// Opens and checks a token file: its layout, header checksum, size, the
    /// ids' checksum and range. Any mismatch is an error naming it.
    pub fn open(path: &Path) -> Result<Self, TokenFileError> {
        if cfg!(target_endian = "big") {
            return Err(TokenFileError::BigEndian);
        }
        let mut file = File::open(path).map_err(io("read", path))?;
        let (header, ids_offset) = read_header(&mut file, path)?;
        let vocab = Vocab::in_id_order(header.vocab.clone())
            .map_err(|ch| damaged(path, format!("its vocabulary lists {ch:?} twice")))?;
        check_size(&file, path, &header, ids_offset)?;
        check_ids(&mut file, path, &header, ids_offset, vocab.len())?;
        // SAFETY: the map is read-only and private to this process. A token
        // file is only ever replaced by renaming a new file over it, never
        // written in place, so the mapped pages do not change under it.
        let map = unsafe { Mmap::map(&file) }.map_err(io("map", path))?;
        let this = Self {
            path: path.to_path_buf(),
            header,
            vocab,
            map,
            ids_offset,
        };
        // Alignment holds for any page-aligned map (the ids start at a
        // multiple of 8), but the map is the OS's to place: check it once.
        if this.try_tokens().is_none() {
            return Err(damaged(path, "its ids are not aligned in memory".into()));
        }
        Ok(this)
    }

    /// The ids, straight from the map.
    pub fn tokens(&self) -> Ids<'_> {
        self.try_tokens()
            .expect("alignment was checked when the file was opened")
    }

    fn try_tokens(&self) -> Option<Ids<'_>> {
        let bytes = &self.map[self.ids_offset..];
        match self.header.id_bytes {
            2 => bytemuck::try_cast_slice(bytes).ok().map(Ids::U16),
            _ => bytemuck::try_cast_slice(bytes).ok().map(Ids::U32),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The vocabulary the ids are in.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// What the file says of itself.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Size and CRC-32 of the text the ids encode, as [`charrnn_corpus::Corpus::fingerprint`]
    /// gives for the same files loaded into memory.
    pub fn fingerprint(&self) -> Fingerprint {
        self.header.text
    }

    /// The source files as spans of the ids.
    pub fn documents(&self) -> Vec<Document> {
        self.header
            .sources
            .iter()
            .map(|s| Document {
                path: s.path.clone(),
                start: s.start as usize,
                len: s.len as usize,
            })
            .collect()
    }

    /// True when the file was prepared from exactly `files` as they are now
    /// (same paths, sizes and modification times), joined by `separator`.
    pub fn is_current(&self, files: &[PathBuf], separator: &str) -> bool {
        self.header.separator == separator
            && self.header.sources.len() == files.len()
            && self.header.sources.iter().zip(files).all(|(source, file)| {
                matches!(source_now(file), Ok(now) if now.path == source.path
                    && now.bytes == source.bytes
                    && now.modified_ns == source.modified_ns)
            })
    }

    /// Checks that the ids were encoded in `base`'s vocabulary (perhaps
    /// extended): every id of `base` means the same character here.
    pub fn check_extends(&self, base: &Vocab) -> Result<(), TokenFileError> {
        let ours = self.vocab.chars();
        let reason = if ours.len() < base.len() {
            format!(
                "it has {} characters, the checkpoint {}",
                ours.len(),
                base.len()
            )
        } else if let Some(id) = (0..base.len()).find(|&i| ours[i] != base.chars()[i]) {
            format!(
                "id {id} is {:?} in it, {:?} in the checkpoint",
                ours[id],
                base.chars()[id]
            )
        } else {
            return Ok(());
        };
        Err(TokenFileError::OtherVocabulary {
            path: self.path.clone(),
            reason,
        })
    }
}

/// A source file's identity now: its absolute path, size and modification time.
pub(crate) fn source_now(file: &Path) -> std::io::Result<Source> {
    let meta = std::fs::metadata(file)?;
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok());
    Ok(Source {
        path: std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf()),
        bytes: meta.len(),
        modified_ns,
        start: 0,
        len: 0,
    })
}

fn damaged(path: &Path, reason: String) -> TokenFileError {
    TokenFileError::Damaged {
        path: path.to_path_buf(),
        reason,
    }
}

/// Reads and checks everything before the ids; returns the header and where
/// the ids start.
fn read_header(file: &mut File, path: &Path) -> Result<(Header, usize), TokenFileError> {
    let mut prefix = [0u8; PREFIX_BYTES];
    if file.read_exact(&mut prefix).is_err() || prefix[..8] != MAGIC {
        return Err(TokenFileError::NotATokenFile {
            path: path.to_path_buf(),
        });
    }
    let word = |at: usize| u32::from_le_bytes(prefix[at..at + 4].try_into().expect("4 bytes"));
    let (format, header_len) = (word(8), word(12));
    if format > FORMAT_VERSION {
        return Err(TokenFileError::Newer {
            path: path.to_path_buf(),
            format,
            newest: FORMAT_VERSION,
        });
    }
    if format == 0 || header_len > MAX_HEADER_BYTES {
        return Err(damaged(
            path,
            format!("its prefix is impossible (layout {format}, header of {header_len} bytes)"),
        ));
    }
    let mut json = vec![0u8; header_len as usize + 4];
    let need = (PREFIX_BYTES + json.len()) as u64;
    file.read_exact(&mut json)
        .map_err(|_| truncated(file, path, need))?;
    let crc_bytes = json.split_off(header_len as usize);
    if crc32fast::hash(&json).to_le_bytes()[..] != crc_bytes[..] {
        return Err(damaged(
            path,
            "its header does not match its checksum".into(),
        ));
    }
    let header: Header = serde_json::from_slice(&json)
        .map_err(|e| damaged(path, format!("its header is not valid ({e})")))?;
    check_header(&header, path)?;
    let ids_offset = Header::ids_offset(header_len as usize);
    let mut padding = vec![0u8; ids_offset - PREFIX_BYTES - header_len as usize - 4];
    file.read_exact(&mut padding)
        .map_err(|_| truncated(file, path, ids_offset as u64))?;
    if padding.iter().any(|&b| b != 0) {
        return Err(damaged(
            path,
            "the padding after its header is not zeros".into(),
        ));
    }
    Ok((header, ids_offset))
}

/// The file ends before byte `need`.
fn truncated(file: &File, path: &Path, need: u64) -> TokenFileError {
    TokenFileError::Truncated {
        path: path.to_path_buf(),
        have: file.metadata().map_or(0, |m| m.len()),
        need,
    }
}

/// What a header says must hang together.
fn check_header(header: &Header, path: &Path) -> Result<(), TokenFileError> {
    let fits = match header.id_bytes {
        2 => header.vocab.len() <= 1 << 16,
        4 => true,
        _ => false,
    };
    if !fits || header.vocab.is_empty() {
        return Err(damaged(
            path,
            format!(
                "{}-byte ids cannot hold a vocabulary of {}",
                header.id_bytes,
                header.vocab.len()
            ),
        ));
    }
    let mut next = 0;
    for source in &header.sources {
        if source.start != next {
            return Err(damaged(path, "its sources do not tile its ids".into()));
        }
        next += source.len;
    }
    if next != header.tokens || u32::from_str_radix(&header.ids_crc32, 16).is_err() {
        return Err(damaged(
            path,
            "its sources or checksum do not match its ids".into(),
        ));
    }
    Ok(())
}

fn check_size(
    file: &File,
    path: &Path,
    header: &Header,
    ids_offset: usize,
) -> Result<(), TokenFileError> {
    let have = file.metadata().map_err(io("read", path))?.len();
    let need = ids_offset as u64 + header.tokens * u64::from(header.id_bytes);
    match have.cmp(&need) {
        std::cmp::Ordering::Less => Err(TokenFileError::Truncated {
            path: path.to_path_buf(),
            have,
            need,
        }),
        std::cmp::Ordering::Greater => Err(damaged(
            path,
            format!("it has {} bytes more than its header says", have - need),
        )),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Streams the ids: their CRC-32 must be the
/// header's and every id must be in the vocabulary.
fn check_ids(
    file: &mut File,
    path: &Path,
    header: &Header,
    ids_offset: usize,
    vocab_len: usize,
) -> Result<(), TokenFileError> {
    file.seek(SeekFrom::Start(ids_offset as u64))
        .map_err(io("read", path))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 8 << 20];
    let mut max = 0u32;
    // The ids start at a multiple of 8 and pieces are too, so no id is split.
    loop {
        let n = read_full(file, &mut buf).map_err(io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        max = max.max(max_id(&buf[..n], header.id_bytes));
    }
    if Header::crc_text(hasher.finalize()) != header.ids_crc32 {
        return Err(damaged(path, "its ids do not match their checksum".into()));
    }
    if header.tokens > 0 && max as usize >= vocab_len {
        return Err(damaged(
            path,
            format!("id {max} is outside its vocabulary of {vocab_len}"),
        ));
    }
    Ok(())
}

fn max_id(bytes: &[u8], id_bytes: u8) -> u32 {
    if id_bytes == 2 {
        bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .max()
            .map_or(0, u32::from)
    } else {
        bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .max()
            .unwrap_or(0)
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
pub(crate) fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
