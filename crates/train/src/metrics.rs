//! `metrics.jsonl`: one JSON object per logged step.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A loss in nats per character, in bits per character.
pub fn bits_per_char(nats: f64) -> f64 {
    nats / std::f64::consts::LN_2
}

/// One logged step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    /// Optimiser steps taken.
    pub step: u64,
    /// Epoch (1-based) the step belongs to.
    pub epoch: usize,
    /// Training loss of the step (nats/char).
    pub train_loss: f64,
    /// Validation loss, when evaluated at this step (nats/char).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    /// Learning rate of the step (what the schedule gave).
    #[serde(default)]
    pub learning_rate: f64,
    /// Training throughput since the previous record.
    pub chars_per_sec: f64,
    /// Training time so far.
    pub elapsed_sec: f64,
    /// Training loss in bits per character.
    #[serde(default)]
    pub train_bits_per_char: f64,
    /// Training perplexity.
    #[serde(default)]
    pub train_perplexity: f64,
    /// Validation loss in bits per character, when evaluated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_bits_per_char: Option<f64>,
    /// Validation perplexity, when evaluated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_perplexity: Option<f64>,
}

/// What one logged step measured: a [`MetricsRecord`]'s own fields, named,
/// so that its adjacent numbers cannot be swapped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepMeasures {
    /// Optimiser steps taken.
    pub step: u64,
    /// Epoch (1-based) the step belongs to.
    pub epoch: usize,
    /// Training loss of the step (nats/char).
    pub train_loss: f64,
    /// Validation loss, when evaluated at this step (nats/char).
    pub val_loss: Option<f64>,
    /// Learning rate of the step.
    pub learning_rate: f64,
    /// Training throughput since the previous record.
    pub chars_per_sec: f64,
    /// Training time so far.
    pub elapsed_sec: f64,
}

impl MetricsRecord {
    /// A record of what `m` measured, with the bits-per-char and perplexity forms
    /// filled in.
    pub fn new(m: StepMeasures) -> Self {
        let (train_loss, val_loss) = (m.train_loss, m.val_loss);
        Self {
            step: m.step,
            epoch: m.epoch,
            train_loss,
            val_loss,
            learning_rate: m.learning_rate,
            chars_per_sec: m.chars_per_sec,
            elapsed_sec: m.elapsed_sec,
            train_bits_per_char: bits_per_char(train_loss),
            train_perplexity: train_loss.exp(),
            val_bits_per_char: val_loss.map(bits_per_char),
            val_perplexity: val_loss.map(f64::exp),
        }
    }
}

/// Appends records to a run's `metrics.jsonl`.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Opens `run_dir/metrics.jsonl` for appending. When resuming from
    /// `resume_step`, records after that step (from the interrupted run) are dropped
    /// first, so the file reads as one uninterrupted run.
    pub fn open(run_dir: &Path, resume_step: Option<u64>) -> std::io::Result<Self> {
        let path = run_dir.join("metrics.jsonl");
        if let Some(step) = resume_step {
            truncate_after(&path, step)?;
        } else if path.exists() {
            std::fs::remove_file(&path)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self { path, file })
    }

    /// Appends one record and flushes it.
    pub fn write(&mut self, record: &MetricsRecord) -> std::io::Result<()> {
        let mut line = serde_json::to_string(record).expect("records serialise");
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.file.flush()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of a `metrics.jsonl` (lines that do not parse are skipped:
/// a line cut short by a crash must not hide the rest).
pub fn read_metrics(path: &Path) -> std::io::Result<Vec<MetricsRecord>> {
    let file = File::open(path)?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect())
}

fn truncate_after(path: &Path, step: u64) -> std::io::Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let kept: Vec<MetricsRecord> = read_metrics(path)?
        .into_iter()
        .filter(|r| r.step <= step)
        .collect();
    let tmp = path.with_extension("jsonl.tmp");
    let mut out = File::create(&tmp)?;
    for r in &kept {
        writeln!(
            out,
            "{}",
            serde_json::to_string(r).expect("records serialise")
        )?;
    }
    out.sync_all()?;
    std::fs::rename(tmp, path)
}
