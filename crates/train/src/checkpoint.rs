//! Checkpoints: one folder per save, written completely before it becomes visible.
//!
//! ```text
//! out_dir/checkpoints/
//!   latest              -> "step-000400" (replaced atomically)
//!   best                -> the checkpoint with the lowest validation loss
//!   step-000200/  model.mpk optimizer.mpk vocab.json config.toml state.json
//!                 hidden.bin manifest.json
//!   step-000400/  ...
//! ```
//!
//! A checkpoint is written into a hidden temporary folder, every file and the
//! folder are fsynced, and only then is it renamed into place and `latest`
//! rewritten (write to a temporary file, fsync, rename). A process killed at any
//! moment leaves every visible checkpoint complete and `latest` naming one.
//!
//! `manifest.json` holds the layout version and every other file's size and
//! CRC-32, and ends with a CRC-32 of itself, so a damaged file of any kind is
//! an error naming that file, never a silently different model. Its first
//! field is always `"format"` and its last always `"check"`, the CRC-32 of
//! the bytes before `,"check":`, so that any later layout can be told apart
//! from a damaged one. Checkpoints of layout 1 (no manifest) still load.
//!
//! A reader never sees a half-removed checkpoint: pruning renames a folder
//! out of sight before deleting it, and only once `latest` and `best` name
//! others; a reader whose checkpoint was pruned under it follows the pointers
//! again.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::Backend;
use charrnn_corpus::{Fingerprint, Vocab};
use charrnn_model::{CharRnn, CharRnnConfig};
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

/// Version of the checkpoint layout this build writes, stored in `state.json`
/// and `manifest.json`. 1: no manifest; 2: `manifest.json`, and the corpus's
/// fingerprint in `state.json`.
pub const FORMAT_VERSION: u32 = 2;
/// The oldest layout this build reads.
pub const OLDEST_FORMAT: u32 = 1;

const MODEL: &str = "model.mpk";
const OPTIMIZER: &str = "optimizer.mpk";
const VOCAB: &str = "vocab.json";
const CONFIG: &str = "config.toml";
const STATE: &str = "state.json";
const HIDDEN: &str = "hidden.bin";
const MANIFEST: &str = "manifest.json";
/// Where a manifest's checksum starts; the checksum covers the bytes before it.
const CHECK_KEY: &str = ",\"check\":";
const LATEST: &str = "latest";
const BEST: &str = "best";

/// A checkpoint that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Nothing checkpoint-like at the path.
    #[error("{} is not a checkpoint or a run folder with checkpoints: give a run folder (runs/X) or a checkpoint folder (runs/X/checkpoints/step-N)", path.display())]
    NotFound {
        /// The path given.
        path: PathBuf,
    },
    /// A file of the checkpoint is missing, truncated or corrupted.
    #[error("checkpoint {} is damaged: {reason}; use another checkpoint of the run", path.display())]
    Damaged {
        /// The checkpoint folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A layout this build does not read.
    #[error("checkpoint {} has layout version {found}; {}", path.display(), format_advice(*found))]
    Format {
        /// The checkpoint folder.
        path: PathBuf,
        /// Its layout version.
        found: u32,
    },
    /// The checkpoint named was removed while it was being read.
    #[error("checkpoint {} was removed while being read, by the trainer pruning old checkpoints (train.keep_last); give the run folder instead, whose latest and best checkpoints are never pruned", path.display())]
    Removed {
        /// The checkpoint folder.
        path: PathBuf,
    },
    /// Writing failed (the previous checkpoints are untouched).
    #[error("cannot write checkpoint in {}: {source}; earlier checkpoints are intact", path.display())]
    Write {
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn format_advice(found: u32) -> String {
    if found > FORMAT_VERSION {
        format!("this charrnn reads versions {OLDEST_FORMAT} to {FORMAT_VERSION}: it was written by a newer charrnn, so upgrade charrnn to use it")
    } else {
        format!("this charrnn reads versions {OLDEST_FORMAT} to {FORMAT_VERSION}: the checkpoint is older than any it can read")
    }
}

/// Every file of a checkpoint but itself, with its size and CRC-32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    format: u32,
    files: BTreeMap<String, Fingerprint>,
}

impl Manifest {
    /// The manifest's text: the JSON object, its last field the checksum of
    /// the bytes before that field.
    fn to_text(&self) -> String {
        let json = serde_json::to_string(self).expect("a manifest serialises");
        let body = json.strip_suffix('}').expect("a JSON object ends with }");
        format!("{body}{CHECK_KEY}{}}}\n", crc32fast::hash(body.as_bytes()))
    }

    /// Reads a manifest's text, checking its own checksum and then its layout
    /// version.
    fn from_text(text: &str) -> Result<Self, ManifestError> {
        use ManifestError::{Damaged, Format};
        let at = text
            .rfind(CHECK_KEY)
            .ok_or_else(|| Damaged(format!("{MANIFEST} has no checksum")))?;
        let (body, tail) = text.split_at(at);
        // Byte for byte as written: the last byte is checked too.
        let check = tail[CHECK_KEY.len()..]
            .strip_suffix("}\n")
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| Damaged(format!("{MANIFEST} has a malformed checksum")))?;
        if crc32fast::hash(body.as_bytes()) != check {
            return Err(Damaged(format!("{MANIFEST} fails its own checksum")));
        }
        let json = format!("{body}}}");
        let malformed = |e: serde_json::Error| Damaged(format!("{MANIFEST}: {e}"));
        let layout: LayoutOnly = serde_json::from_str(&json).map_err(malformed)?;
        if layout.format != FORMAT_VERSION {
            return Err(Format(layout.format));
        }
        serde_json::from_str(&json).map_err(malformed)
    }

    /// Checks `bytes`, read from file `name`, against the manifest.
    fn check(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let want = self
            .files
            .get(name)
            .ok_or_else(|| format!("{MANIFEST} does not list {name}"))?;
        let got = Fingerprint::of(bytes);
        if got != *want {
            return Err(format!(
                "{name} is not the file that was saved (it has {got}; {MANIFEST} says {want})"
            ));
        }
        Ok(())
    }
}

/// The layout version of a manifest or a state file, whatever else it holds.
#[derive(Deserialize)]
struct LayoutOnly {
    format: u32,
}

/// Why a manifest was refused.
enum ManifestError {
    Damaged(String),
    Format(u32),
}

/// Where training stood when a checkpoint was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Checkpoint layout version.
    pub format: u32,
    /// Optimiser steps taken.
    pub step: u64,
    /// Epoch (0-based) of the next batch.
    pub epoch: usize,
    /// Index within the epoch of the next batch.
    pub batch: usize,
    /// Training loss of the last step (nats/char).
    pub train_loss: Option<f64>,
    /// Last validation loss (nats/char).
    pub val_loss: Option<f64>,
    /// Training time so far, in seconds.
    pub elapsed_sec: f64,
    /// The device trained on, e.g. `cpu` or `cuda`.
    pub device: String,
    /// Shape of the saved hidden state: `[layers, 2 (h, c), batch, hidden]`.
    pub hidden_shape: [usize; 4],
    /// Loss of the run's first step (the divergence guard's reference).
    #[serde(default)]
    pub first_loss: Option<f64>,
    /// Lowest validation loss of the run so far.
    #[serde(default)]
    pub best_val_loss: Option<f64>,
    /// The corpus trained on (none in layout 1): resuming on a changed text
    /// would put the stream position in different text.
    #[serde(default)]
    pub corpus: Option<Fingerprint>,
    /// The trained model a fine-tuned run started from.
    #[serde(default)]
    pub init_from: Option<StartedFrom>,
}

/// Where a fine-tuned run's weights came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartedFrom {
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    /// Its step.
    pub step: u64,
    /// Characters its vocabulary had (the first ids of this run's).
    pub vocab_size: usize,
}

/// Everything but the weights: what a checkpoint says about itself.
#[derive(Debug, Clone)]
pub struct CheckpointMeta {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// The run configuration.
    pub config: RunConfig,
    /// The vocabulary.
    pub vocab: Vocab,
    /// Where training stood.
    pub state: TrainerState,
    /// The files' checksums (none in layout 1).
    pub(crate) manifest: Option<Manifest>,
}

impl CheckpointMeta {
    /// The model shape.
    pub fn model_config(&self) -> CharRnnConfig {
        self.config.model_config(self.vocab.len())
    }
}

/// The recorder of weights and optimiser state: named MessagePack, full
/// precision, to and from bytes that `checkpoint.rs` writes and checks.
pub(crate) fn bytes_recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::new()
}

/// The model's and the optimizer's records, serialised.
pub(crate) struct Records {
    /// `model.mpk`.
    pub model: Vec<u8>,
    /// `optimizer.mpk`.
    pub optimizer: Vec<u8>,
}

/// The names of the checkpoints (`step-N`) in a run folder, oldest first.
pub fn list(run_dir: &Path) -> Vec<String> {
    step_names(&checkpoints_dir(run_dir))
}

/// The `step-N` entries of a checkpoints folder, oldest first: sorted by
/// the number, since the names' zero padding runs out at step 1,000,000.
fn step_names(root: &Path) -> Vec<String> {
    let mut steps: Vec<(u64, String)> = fs::read_dir(root)
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| Some((step_number(&n)?, n)))
                .collect()
        })
        .unwrap_or_default();
    steps.sort();
    steps.into_iter().map(|(_, name)| name).collect()
}

/// The step a checkpoint's folder name (`step-N`) stands for.
fn step_number(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("step-")?;
    digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())?
}

/// The folder holding a run's checkpoints.
pub fn checkpoints_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("checkpoints")
}

fn step_name(step: u64) -> String {
    format!("step-{step:06}")
}

/// The files of a checkpoint that the trainer hands over to be written.
pub(crate) struct CheckpointFiles<'a> {
    pub config: &'a RunConfig,
    pub vocab: &'a Vocab,
    pub state: &'a TrainerState,
    pub hidden: &'a [f32],
    /// Whether this checkpoint has the lowest validation loss so far.
    pub is_best: bool,
    /// Keep only this many newest checkpoints besides `best` (0 = all).
    pub keep_last: usize,
}

/// Writes a checkpoint atomically; `write_records` saves the model and optimiser
/// records into the folder it is given. Returns the checkpoint folder.
pub(crate) fn save(
    run_dir: &Path,
    files: CheckpointFiles<'_>,
    records: impl FnOnce() -> Result<Records, burn::record::RecorderError>,
) -> Result<PathBuf, CheckpointError> {
    let root = checkpoints_dir(run_dir);
    let werr = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckpointError::Write { path, source }
    };
    fs::create_dir_all(&root).map_err(werr(&root))?;
    let name = step_name(files.state.step);
    let tmp = root.join(format!(".tmp-{name}-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(werr(&tmp))?;
    }
    fs::create_dir(&tmp).map_err(werr(&tmp))?;
    let result = (|| {
        let records = records().map_err(|e| CheckpointError::Write {
            path: tmp.clone(),
            // The recorder's error stays the source, as an I/O error's payload.
            source: std::io::Error::other(e),
        })?;
        let state = serde_json::to_vec_pretty(files.state).expect("state serialises");
        let hidden: Vec<u8> = files.hidden.iter().flat_map(|v| v.to_le_bytes()).collect();
        let (vocab, config) = (files.vocab.to_json(), files.config.to_toml());
        let contents: [(&str, &[u8]); 6] = [
            (MODEL, &records.model),
            (OPTIMIZER, &records.optimizer),
            (VOCAB, vocab.as_bytes()),
            (CONFIG, config.as_bytes()),
            (STATE, &state),
            (HIDDEN, &hidden),
        ];
        let mut manifest = Manifest {
            format: FORMAT_VERSION,
            files: BTreeMap::new(),
        };
        // Written here rather than by burn's file recorder, whose errors lose
        // the I/O error (a full disk must say so).
        for (name, bytes) in contents {
            write_synced(&tmp.join(name), bytes)?;
            manifest
                .files
                .insert(name.to_string(), Fingerprint::of(bytes));
        }
        write_synced(&tmp.join(MANIFEST), manifest.to_text().as_bytes())?;
        sync_dir(&tmp)?;
        let dest = root.join(&name);
        if dest.exists() {
            // Saving the same step again (after a resume): the new copy replaces it.
            let old = root.join(format!(".old-{name}-{}", std::process::id()));
            fs::rename(&dest, &old).map_err(werr(&dest))?;
            fs::rename(&tmp, &dest).map_err(werr(&dest))?;
            let _ = fs::remove_dir_all(&old);
        } else {
            fs::rename(&tmp, &dest).map_err(werr(&dest))?;
        }
        sync_dir(&root)?;
        write_pointer(&root, LATEST, &name)?;
        if files.is_best {
            write_pointer(&root, BEST, &name)?;
        }
        if files.keep_last > 0 {
            prune(&root, files.keep_last);
        }
        Ok(dest)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

/// Points `root/pointer` at checkpoint `name`, atomically and durably.
fn write_pointer(root: &Path, pointer: &str, name: &str) -> Result<(), CheckpointError> {
    let path = root.join(pointer);
    charrnn_fs::write(&path, name.as_bytes())
        .map_err(|source| CheckpointError::Write { path, source })
}

/// Removes all but the newest `keep` checkpoints, never the ones `latest` or
/// `best` name. Failures are ignored: pruning is housekeeping.
fn prune(root: &Path, keep: usize) {
    let pinned: Vec<String> = [LATEST, BEST]
        .iter()
        .filter_map(|p| fs::read_to_string(root.join(p)).ok())
        .map(|n| n.trim().to_string())
        .collect();
    let steps = step_names(root);
    let excess = steps.len().saturating_sub(keep);
    for name in steps.into_iter().take(excess) {
        if !pinned.contains(&name) {
            // Out of sight first, in one rename: a reader finds the whole
            // checkpoint or none of it.
            let doomed = root.join(format!(".pruned-{name}-{}", std::process::id()));
            if fs::rename(root.join(&name), &doomed).is_ok() {
                let _ = fs::remove_dir_all(doomed);
            }
        }
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    charrnn_fs::write_synced(path, bytes).map_err(|source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn sync_dir(path: &Path) -> Result<(), CheckpointError> {
    charrnn_fs::sync_dir(path).map_err(|source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Which checkpoint of a run folder to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The newest (`latest`).
    Latest,
    /// The lowest validation loss (`best`), else the newest.
    Best,
}

/// Resolves a run folder (its checkpoint named by `pick`), a `checkpoints`
/// folder, or a checkpoint folder to a checkpoint folder.
pub fn resolve_pick(path: &Path, pick: Pick) -> Result<PathBuf, CheckpointError> {
    if path.join(STATE).is_file() {
        return Ok(path.to_path_buf());
    }
    let pointers: &[&str] = match pick {
        Pick::Latest => &[LATEST],
        Pick::Best => &[BEST, LATEST],
    };
    for root in [checkpoints_dir(path), path.to_path_buf()] {
        for pointer in pointers {
            if let Ok(name) = fs::read_to_string(root.join(pointer)) {
                let dir = root.join(name.trim());
                if dir.join(STATE).is_file() {
                    return Ok(dir);
                }
            }
        }
    }
    Err(CheckpointError::NotFound {
        path: path.to_path_buf(),
    })
}

/// Reads a checkpoint's config, vocabulary and state, checking they agree.
pub fn load_meta(path: &Path) -> Result<CheckpointMeta, CheckpointError> {
    load_meta_pick(path, Pick::Latest)
}

/// Like [`load_meta`], choosing a run's checkpoint by `pick`.
pub fn load_meta_pick(path: &Path, pick: Pick) -> Result<CheckpointMeta, CheckpointError> {
    with_retry(path, pick, read_meta)
}

/// Runs `read` on the checkpoint `path` resolves to. When a running trainer
/// prunes that checkpoint meanwhile, resolves again: `latest` and `best` then
/// name a newer one.
fn with_retry<T>(
    path: &Path,
    pick: Pick,
    read: impl Fn(&Path) -> Result<T, CheckpointError>,
) -> Result<T, CheckpointError> {
    const ATTEMPTS: usize = 5;
    for _ in 1..ATTEMPTS {
        // A pointer read just before the checkpoint it named was pruned
        // leads nowhere: read it again.
        let Ok(dir) = resolve_pick(path, pick) else {
            continue;
        };
        match read(&dir) {
            Err(CheckpointError::Removed { .. }) if dir != path => continue,
            other => return other,
        }
    }
    read(&resolve_pick(path, pick)?)
}

/// Reads the config, vocabulary and state of the checkpoint folder `dir`.
fn read_meta(dir: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    let manifest = read_manifest(dir)?;
    let read = |name: &str| {
        let bytes = read_checked(dir, manifest.as_ref(), name)?;
        String::from_utf8(bytes).map_err(|_| damaged(format!("{name} is not UTF-8 text")))
    };
    let config_text = read(CONFIG)?;
    let config = RunConfig::parse(&config_text, &dir.join(CONFIG), &[])
        .map_err(|e| damaged(format!("{CONFIG}: {e}")))?;
    let vocab =
        Vocab::from_json(&read(VOCAB)?, &dir.join(VOCAB)).map_err(|e| damaged(e.to_string()))?;
    let state: TrainerState =
        serde_json::from_str(&read(STATE)?).map_err(|e| damaged(format!("{STATE}: {e}")))?;
    let layout = if manifest.is_some() {
        FORMAT_VERSION
    } else {
        1
    };
    if state.format != layout {
        return Err(damaged(format!(
            "{STATE} says layout {} but the checkpoint has layout {layout}",
            state.format
        )));
    }
    Ok(CheckpointMeta {
        dir: dir.to_path_buf(),
        config,
        vocab,
        state,
        manifest,
    })
}

/// The manifest of the checkpoint folder `dir`: `None` for layout 1, which
/// has none; an error for a damaged one or a layout this build does not read.
fn read_manifest(dir: &Path) -> Result<Option<Manifest>, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    match fs::read(dir.join(MANIFEST)) {
        Err(_) if !dir.exists() => Err(CheckpointError::Removed {
            path: dir.to_path_buf(),
        }),
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| damaged(format!("{MANIFEST} is not UTF-8 text")))?;
            match Manifest::from_text(&text) {
                Ok(manifest) => Ok(Some(manifest)),
                Err(ManifestError::Damaged(reason)) => Err(damaged(reason)),
                Err(ManifestError::Format(found)) => Err(CheckpointError::Format {
                    path: dir.to_path_buf(),
                    found,
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Layout 1 had no manifest; any later one must have it.
            let state = fs::read_to_string(dir.join(STATE))
                .map_err(|e| damaged(format!("cannot read {STATE}: {e}")))?;
            let layout: LayoutOnly =
                serde_json::from_str(&state).map_err(|e| damaged(format!("{STATE}: {e}")))?;
            match layout.format {
                1 => Ok(None),
                found if found < OLDEST_FORMAT => Err(CheckpointError::Format {
                    path: dir.to_path_buf(),
                    found,
                }),
                _ => Err(damaged(format!("{MANIFEST} is missing"))),
            }
        }
        Err(e) => Err(damaged(format!("cannot read {MANIFEST}: {e}"))),
    }
}

/// The bytes of file `name` of checkpoint `dir`, checked against `manifest`.
fn read_checked(
    dir: &Path,
    manifest: Option<&Manifest>,
    name: &str,
) -> Result<Vec<u8>, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    let bytes = fs::read(dir.join(name)).map_err(|e| match dir.exists() {
        true => damaged(format!("cannot read {name}: {e}")),
        false => CheckpointError::Removed {
            path: dir.to_path_buf(),
        },
    })?;
    if let Some(manifest) = manifest {
        manifest.check(name, &bytes).map_err(damaged)?;
    }
    Ok(bytes)
}

impl CheckpointMeta {
    /// The bytes of the checkpoint's file `name`, checked against its manifest.
    fn read(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        read_checked(&self.dir, self.manifest.as_ref(), name)
    }

    /// The serialised optimizer record, checked.
    pub(crate) fn optimizer_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        self.read(OPTIMIZER)
    }
}

/// Reads a checkpoint and its weights onto `device`, as [`load_meta_pick`]
/// and [`load_model`] would, following the pointers again if a running trainer
/// prunes the checkpoint meanwhile. What `sample`, `eval` and `info` use.
pub fn load_pick<B: Backend>(
    path: &Path,
    pick: Pick,
    device: &B::Device,
) -> Result<(CheckpointMeta, CharRnn<B>), CheckpointError> {
    with_retry(path, pick, |dir| {
        let meta = read_meta(dir)?;
        let model = load_model::<B>(&meta, device)?;
        Ok((meta, model))
    })
}

/// Loads the model weights of a checkpoint onto `device`, checking their shapes.
pub fn load_model<B: Backend>(
    meta: &CheckpointMeta,
    device: &B::Device,
) -> Result<CharRnn<B>, CheckpointError> {
    let expected = meta.model_config();
    let model = expected.init::<B>(device);
    let damaged = |reason: String| CheckpointError::Damaged {
        path: meta.dir.clone(),
        reason,
    };
    let record = bytes_recorder()
        .load(meta.read(MODEL)?, device)
        .map_err(|e| damaged(format!("{MODEL} cannot be read ({})", first_line(&e))))?;
    let model = model.load_record(record);
    check_shapes(&model, &expected).map_err(damaged)?;
    Ok(model)
}

/// The first line of an error: burn's record errors append paragraphs of
/// migration advice that do not apply to a damaged file.
pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Verifies that loaded weights have the shapes the config promises.
fn check_shapes<B: Backend>(model: &CharRnn<B>, expected: &CharRnnConfig) -> Result<(), String> {
    let mismatch = |what: &str, got: &[usize], want: &[usize]| {
        Err(format!(
            "{MODEL} does not match config.toml/vocab.json: {what} is {got:?}, expected {want:?} (weights from another architecture or vocabulary?)"
        ))
    };
    let (v, e, h) = (
        expected.vocab_size,
        expected.embed_size,
        expected.hidden_size,
    );
    let emb = model.embedding.weight.dims();
    if emb != [v, e] {
        return mismatch("embedding", &emb, &[v, e]);
    }
    for (l, layer) in model.layers.iter().enumerate() {
        let input = if l == 0 { e } else { h };
        let (ih, hh) = (layer.w_ih.dims(), layer.w_hh.dims());
        if ih != [input, 4 * h] {
            return mismatch(&format!("layer {l} w_ih"), &ih, &[input, 4 * h]);
        }
        if hh != [h, 4 * h] {
            return mismatch(&format!("layer {l} w_hh"), &hh, &[h, 4 * h]);
        }
    }
    let out = model.output.weight.dims();
    if out != [h, v] {
        return mismatch("output", &out, &[h, v]);
    }
    Ok(())
}

/// Reads the saved hidden state.
pub(crate) fn load_hidden(meta: &CheckpointMeta) -> Result<Vec<f32>, CheckpointError> {
    let bytes = meta.read(HIDDEN)?;
    let want: usize = meta.state.hidden_shape.iter().product::<usize>() * 4;
    if bytes.len() != want {
        return Err(CheckpointError::Damaged {
            path: meta.dir.clone(),
            reason: format!("{HIDDEN} has {} bytes, expected {want}", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Size on disk of a checkpoint folder, in bytes.
pub fn size_on_disk(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past step 999,999 the names outgrow their zero padding
    /// (`step-1000000` sorts before `step-999999` as text): pruning must
    /// still drop the oldest and keep the newest.
    #[test]
    fn checkpoints_are_ordered_by_step_past_a_million() {
        let run = tempfile::tempdir().unwrap();
        let root = checkpoints_dir(run.path());
        for step in [999_998u64, 1_000_000, 999_999, 10_000_000] {
            fs::create_dir_all(root.join(step_name(step))).unwrap();
        }
        fs::create_dir_all(root.join("step-x1")).unwrap();
        assert_eq!(
            list(run.path()),
            [
                "step-999998",
                "step-999999",
                "step-1000000",
                "step-10000000"
            ]
        );
        prune(&root, 2);
        assert_eq!(list(run.path()), ["step-1000000", "step-10000000"]);
    }
}
