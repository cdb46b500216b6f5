//! Preparing a token file in two streaming passes: the first finds the
//! vocabulary (ids are ranks, so every character must be seen first), the
//! second encodes. Memory stays a few pieces of text, whatever the corpus size.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use charrnn_corpus::{CharSet, Fingerprint, TextPieces, Vocab};

use crate::error::io;
use crate::format::{Header, Source};
use crate::mapped::source_now;
use crate::TokenFileError;

/// Text is read this much at a time.
const PIECE_BYTES: usize = 8 << 20;

/// How to prepare a token file.
#[derive(Debug, Clone, Copy)]
pub struct PrepareOptions<'a> {
    /// Text put between files (what `data.separator` says).
    pub separator: &'a str,
    /// A vocabulary to extend rather than start from (a checkpoint's, for
    /// resuming or fine-tuning): its ids keep their characters.
    pub base: Option<&'a Vocab>,
}

/// What preparing wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// Bytes of text read (each file once per pass counts once).
    pub text_bytes: u64,
    /// Ids written.
    pub tokens: u64,
    /// Vocabulary size.
    pub vocab: usize,
    /// Bytes per id.
    pub id_bytes: u8,
    /// Seconds taken, both passes.
    pub seconds: f64,
}

/// Encodes `files`, joined by `options.separator`, into a token file at `out`.
/// `progress(done, total)` is told the bytes handled so far out of the total
/// of both passes. The file appears only when complete (written beside `out`,
/// then renamed over it); on any error `out` is as it was.
pub fn prepare(
    files: &[PathBuf],
    out: &Path,
    options: PrepareOptions<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Prepared, TokenFileError> {
    let started = Instant::now();
    if cfg!(target_endian = "big") {
        return Err(TokenFileError::BigEndian);
    }
    let mut sources = files
        .iter()
        .map(|f| source_now(f).map_err(io("read", f)))
        .collect::<Result<Vec<_>, _>>()?;
    let total = 2 * sources.iter().map(|s| s.bytes).sum::<u64>();
    let mut done = 0;
    let plan = Plan::new(files)?;
    let scan = scan(&plan, &mut sources, options.separator, &mut |n| {
        done += n;
        progress(done, total);
    })?;
    let vocab = match options.base {
        Some(base) => base.extended_with(&scan.chars),
        None => scan.chars.clone(),
    };
    let id_bytes: u8 = if vocab.len() <= 1 << 16 { 2 } else { 4 };
    let header = Header {
        id_bytes,
        tokens: scan.tokens,
        vocab: vocab.chars().to_vec(),
        separator: options.separator.to_string(),
        text: scan.text,
        sources,
        ids_crc32: Header::crc_text(0),
    };
    let write = |partial: &Path| {
        write_file(&plan, partial, header, &scan, &vocab, &mut |n| {
            done += n;
            progress(done, total);
        })
    };
    charrnn_fs::replace(out, write, io("write", out))?;
    Ok(Prepared {
        text_bytes: total / 2,
        tokens: scan.tokens,
        vocab: vocab.len(),
        id_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What the first pass learns.
struct Scan {
    chars: Vocab,
    tokens: u64,
    text: Fingerprint,
    /// Each file's pieces' lengths in characters.
    piece_chars: Vec<Vec<u64>>,
}

/// Each file planned as pieces, and every piece as one job.
struct Plan {
    texts: Vec<TextPieces>,
    jobs: Vec<(usize, usize)>,
}

impl Plan {
    fn new(files: &[PathBuf]) -> Result<Self, TokenFileError> {
        let texts = files
            .iter()
            .map(|f| TextPieces::open(f, PIECE_BYTES))
            .collect::<Result<Vec<_>, _>>()?;
        let jobs = texts
            .iter()
            .enumerate()
            .flat_map(|(f, t)| (0..t.count()).map(move |k| (f, k)))
            .collect();
        Ok(Self { texts, jobs })
    }

    /// The jobs' results, grouped by file, in order.
    fn by_file<T>(&self, results: Vec<T>) -> Vec<Vec<T>> {
        let mut grouped: Vec<Vec<T>> = self.texts.iter().map(|_| Vec::new()).collect();
        for (&(f, _), result) in self.jobs.iter().zip(results) {
            grouped[f].push(result);
        }
        grouped
    }
}

/// One piece, as the first pass sees it.
struct PieceScan {
    chars: u64,
    crc: crc32fast::Hasher,
}

/// The first pass: the characters, each piece's length in characters and the
/// joined text's fingerprint.
fn scan(
    plan: &Plan,
    sources: &mut [Source],
    separator: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Scan, TokenFileError> {
    let (results, sets) = on_all_cores(
        plan.jobs.len(),
        || (CharSet::default(), Vec::new()),
        |(seen, buf), j| {
            let (f, k) = plan.jobs[j];
            let piece = plan.texts[f].read(k, buf)?;
            seen.add(piece);
            let mut crc = crc32fast::Hasher::new();
            crc.update(piece.as_bytes());
            let scanned = PieceScan {
                chars: count_chars(piece),
                crc,
            };
            Ok((scanned, piece.len() as u64))
        },
        progress,
    );
    let mut chars = CharSet::default();
    for (seen, _) in sets {
        chars.merge(seen);
    }
    let files = plan.texts.len();
    if files > 1 {
        chars.add(separator);
    }
    let separator_crc = {
        let mut crc = crc32fast::Hasher::new();
        crc.update(separator.as_bytes());
        crc
    };
    let mut crc = crc32fast::Hasher::new();
    let (mut bytes, mut tokens) = (0u64, 0u64);
    let mut piece_chars = Vec::with_capacity(files);
    for (i, pieces) in plan.by_file(results).into_iter().enumerate() {
        let mut lens = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let piece = piece?;
            crc.combine(&piece.crc);
            lens.push(piece.chars);
        }
        let source = &mut sources[i];
        let mut len: u64 = lens.iter().sum();
        bytes += plan.texts[i].bytes();
        if i + 1 < files {
            crc.combine(&separator_crc);
            len += count_chars(separator);
            bytes += separator.len() as u64;
        }
        source.start = tokens;
        source.len = len;
        tokens += len;
        piece_chars.push(lens);
    }
    Ok(Scan {
        chars: chars.into_vocab(),
        tokens,
        text: Fingerprint {
            bytes,
            crc32: crc.finalize(),
        },
        piece_chars,
    })
}

/// Characters in UTF-8 text: the bytes that start one.
fn count_chars(text: &str) -> u64 {
    text.bytes().filter(|&b| (b as i8) >= -0x40).count() as u64
}

/// The second pass: every piece's ids written at its place, on all cores;
/// the separators between files; then the header with the ids' checksum.
fn write_file(
    plan: &Plan,
    path: &Path,
    mut header: Header,
    scan: &Scan,
    vocab: &Vocab,
    progress: &mut dyn FnMut(u64),
) -> Result<(), TokenFileError> {
    let placeholder = header.encode();
    let width = u64::from(header.id_bytes);
    let file = File::create(path).map_err(io("write", path))?;
    file.set_len(placeholder.len() as u64 + header.tokens * width)
        .map_err(io("write", path))?;
    // Where each piece's ids go, in ids.
    let mut starts = Vec::with_capacity(plan.jobs.len());
    for (source, lens) in header.sources.iter().zip(&scan.piece_chars) {
        let mut at = source.start;
        for len in lens {
            starts.push(at);
            at += len;
        }
    }
    let encoder = Encoder {
        vocab,
        id_bytes: header.id_bytes,
    };
    let ids_at = |id: u64| placeholder.len() as u64 + id * width;
    let (results, _) = on_all_cores(
        plan.jobs.len(),
        || (Vec::new(), File::options().write(true).open(path)),
        |(buf, out), j| {
            let (f, k) = plan.jobs[j];
            let changed = || TokenFileError::SourceChanged {
                path: plan.texts[f].path().to_path_buf(),
            };
            let piece = plan.texts[f].read(k, buf)?;
            let ids = encoder.encode(piece).ok_or_else(changed)?;
            if ids.len() as u64 != scan.piece_chars[f][k] {
                return Err(changed());
            }
            let out = out
                .as_mut()
                .map_err(|e| io("write", path)(std::io::Error::new(e.kind(), e.to_string())))?;
            let crc = write_at(out, ids_at(starts[j]), ids.bytes()).map_err(io("write", path))?;
            Ok((crc, piece.len() as u64))
        },
        progress,
    );
    let mut out = file;
    let mut crc = crc32fast::Hasher::new();
    let last = header.sources.len().saturating_sub(1);
    for (i, pieces) in plan.by_file(results).into_iter().enumerate() {
        for piece in pieces {
            crc.combine(&piece?);
        }
        if i < last {
            let separator = encoder
                .encode(&header.separator)
                .expect("between files, the separator's characters are in the vocabulary");
            let at = ids_at(header.sources[i].start + header.sources[i].len)
                - separator.bytes().len() as u64;
            crc.combine(&write_at(&mut out, at, separator.bytes()).map_err(io("write", path))?);
        }
    }
    for (text, source) in plan.texts.iter().zip(&header.sources) {
        let now = source_now(text.path()).map_err(io("read", text.path()))?;
        if now.bytes != source.bytes || now.modified_ns != source.modified_ns {
            return Err(TokenFileError::SourceChanged {
                path: text.path().to_path_buf(),
            });
        }
    }
    header.ids_crc32 = Header::crc_text(crc.finalize());
    let complete = header.encode();
    debug_assert_eq!(complete.len(), placeholder.len());
    // No fsync: a token file is derived data, checked in full whenever it is
    // opened, so one left damaged by a power cut is refused (or prepared
    // again), never read; and syncing would double the time to prepare it.
    write_at(&mut out, 0, &complete)
        .map(drop)
        .map_err(io("write", path))
}

/// Writes `bytes` at `offset`; returns their CRC-32.
fn write_at(file: &mut File, offset: u64, bytes: &[u8]) -> std::io::Result<crc32fast::Hasher> {
    file.seek(SeekFrom::Start(offset))?;
    file.write_all(bytes)?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(bytes);
    Ok(crc)
}

/// Turns text into ids at the file's width.
struct Encoder<'v> {
    vocab: &'v Vocab,
    id_bytes: u8,
}

impl Encoder<'_> {
    /// The ids of `text`, or `None` for a character not in the vocabulary
    /// (the file changed since the first pass).
    fn encode(&self, text: &str) -> Option<Ids> {
        match self.id_bytes {
            2 => self.encode_as(text, |id| id as u16).map(Ids::U16),
            _ => self.encode_as(text, |id| id).map(Ids::U32),
        }
    }

    fn encode_as<T>(&self, text: &str, narrow: impl Fn(u32) -> T) -> Option<Vec<T>> {
        let mut ids = Vec::with_capacity(text.len());
        for ch in text.chars() {
            ids.push(narrow(self.vocab.id(ch)?));
        }
        Some(ids)
    }
}

/// Encoded ids at the file's width.
enum Ids {
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Ids {
    fn len(&self) -> usize {
        match self {
            Self::U16(ids) => ids.len(),
            Self::U32(ids) => ids.len(),
        }
    }

    /// The ids' bytes: little-endian, as token files are (big-endian hosts
    /// are refused before anything is written).
    fn bytes(&self) -> &[u8] {
        match self {
            Self::U16(ids) => bytemuck::cast_slice(ids),
            Self::U32(ids) => bytemuck::cast_slice(ids),
        }
    }
}

/// Runs `work` on jobs `0..jobs` on every core, each worker with the state
/// `init` makes; `work` returns a job's result and the bytes it handled,
/// which this thread passes to `progress` as they add up. The results come
/// back in job order, with the workers' states.
fn on_all_cores<S: Send, T: Send>(
    jobs: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> Result<(T, u64), TokenFileError> + Sync,
    progress: &mut dyn FnMut(u64),
) -> (Vec<Result<T, TokenFileError>>, Vec<S>) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    // Workers wake this thread after each job, to report progress.
    let this = std::thread::current();
    let quit = AtomicUsize::new(0);
    let worker = || {
        let _wake_when_done = WakeOnDrop(&this, &quit);
        let mut state = init();
        let mut results = Vec::new();
        loop {
            let j = next.fetch_add(1, Ordering::Relaxed);
            if j >= jobs {
                break;
            }
            let result = work(&mut state, j).map(|(result, bytes)| {
                done.fetch_add(bytes, Ordering::Relaxed);
                result
            });
            results.push((j, result));
            this.unpark();
        }
        (state, results)
    };
    let finished = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores.min(jobs).max(1))
            .map(|_| scope.spawn(worker))
            .collect();
        let mut reported = 0;
        while quit.load(Ordering::Acquire) < workers.len() {
            std::thread::park_timeout(std::time::Duration::from_millis(100));
            let now = done.load(Ordering::Relaxed);
            progress(now - reported);
            reported = now;
        }
        progress(done.load(Ordering::Relaxed) - reported);
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect::<Vec<_>>()
    });
    let mut results: Vec<Option<Result<T, TokenFileError>>> = (0..jobs).map(|_| None).collect();
    let mut states = Vec::with_capacity(finished.len());
    for (state, done) in finished {
        for (j, result) in done {
            results[j] = Some(result);
        }
        states.push(state);
    }
    let results = results
        .into_iter()
        .map(|r| r.expect("every job ran"))
        .collect();
    (results, states)
}

/// Counts a worker out and wakes the reporting thread when dropped: a
/// worker's last word, even if it panics.
struct WakeOnDrop<'t>(&'t std::thread::Thread, &'t AtomicUsize);

impl Drop for WakeOnDrop<'_> {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::Release);
        self.0.unpark();
    }
}
