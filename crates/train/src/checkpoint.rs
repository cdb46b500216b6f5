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

use std::fs;
use std::path::{Path, PathBuf};

use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder};
use charrnn_corpus::{Fingerprint, Vocab};
use charrnn_model::CharRnnConfig;
use serde::{Deserialize, Serialize};

use crate::config::RunConfig;

mod info;
mod manifest;
mod read;
mod write;

pub use info::{CheckpointInfo, ModelSummary};
pub(crate) use manifest::Manifest;
pub(crate) use read::{first_line, load_hidden};
pub use read::{load_meta, load_meta_pick, load_model, load_pick, resolve_pick};
pub(crate) use write::{save, CheckpointFiles};

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

/// Where a run's checkpoint of step `step` is written.
pub fn step_dir(run_dir: &Path, step: u64) -> PathBuf {
    checkpoints_dir(run_dir).join(step_name(step))
}

fn step_name(step: u64) -> String {
    format!("step-{step:06}")
}

/// Which checkpoint of a run folder to pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The newest (`latest`).
    Latest,
    /// The lowest validation loss (`best`), else the newest.
    Best,
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
mod tests;
