//! Run configuration: the TOML file with `[data]`, `[model]`, `[train]` and
//! `[sample]` sections, `--set section.key=value` overrides, and validation.

use std::path::{Path, PathBuf};

use charrnn_model::{CharRnnConfig, InvalidValue};
use charrnn_sample::SampleOptions;
use serde::{Deserialize, Serialize};

mod error;

pub use error::ConfigError;

pub use charrnn_corpus::CorpusNotFound;

/// `[data]`: where the text comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// The corpus: a file, a folder, or a list of files, folders and globs. A
    /// relative path is looked up in the folders the caller names
    /// ([`TrainOptions::corpus_dirs`](crate::TrainOptions::corpus_dirs)).
    pub corpus: CorpusSpec,
    /// Fraction of the text held out for validation.
    #[serde(default = "default_val_fraction")]
    pub val_fraction: f64,
    /// Which text is held out: the end of the joined text, or of each document.
    #[serde(default)]
    pub val_split: ValSplit,
    /// Text put between documents, so that none runs into the next.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Text of at least this many megabytes (10⁶ bytes) is prepared once
    /// into a token file in the run folder and read from there by memory
    /// map, instead of being loaded whole.
    #[serde(default = "default_prepare_above_mb")]
    pub prepare_above_mb: u64,
}

fn default_prepare_above_mb() -> u64 {
    256
}

fn default_val_fraction() -> f64 {
    0.05
}

fn default_separator() -> String {
    "\n".into()
}

/// `data.corpus`: one path, or a list of paths and globs (`letters/*.txt`).
/// A folder stands for its `*.txt` files, recursively, in path order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CorpusSpec {
    /// A file or a folder.
    One(PathBuf),
    /// Files, folders and globs, joined in this order.
    Many(Vec<String>),
}

impl CorpusSpec {
    /// The entries, each a path or a glob.
    pub fn entries(&self) -> Vec<String> {
        match self {
            Self::One(path) => vec![path.to_string_lossy().into_owned()],
            Self::Many(list) => list.clone(),
        }
    }
}

impl From<PathBuf> for CorpusSpec {
    fn from(path: PathBuf) -> Self {
        Self::One(path)
    }
}

impl std::fmt::Display for CorpusSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.entries().join(", "))
    }
}

/// `data.val_split`: where validation text comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValSplit {
    /// The last `val_fraction` of the joined text.
    #[default]
    Tail,
    /// The last `val_fraction` of each document.
    PerDocument,
}

/// `[model]`: the network's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Character embedding width.
    pub embed_size: usize,
    /// Hidden units per LSTM layer.
    pub hidden_size: usize,
    /// Stacked LSTM layers.
    pub num_layers: usize,
    /// Dropout probability after each LSTM layer (the seed's `1 - keep_prob`).
    pub dropout: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            embed_size: 128,
            hidden_size: 512,
            num_layers: 2,
            dropout: 0.5,
        }
    }
}

/// How the learning rate changes over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate throughout (the seed notebook).
    #[default]
    Constant,
    /// char-rnn's decay: multiply by `lr_decay` after every epoch from
    /// `lr_decay_after` on.
    Step,
    /// Cosine decay to zero over the run, after `warmup_steps`.
    Cosine,
}

/// `[train]`: the optimisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Parallel streams per batch (the seed's `n_seqs`).
    pub batch_size: usize,
    /// Steps per stream per batch (the seed's `n_steps`).
    pub seq_len: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Maximum global gradient norm; 0 disables clipping.
    pub grad_clip: f64,
    /// `constant`, `step` or `cosine`.
    pub lr_schedule: LrSchedule,
    /// Factor applied per epoch by the `step` schedule.
    pub lr_decay: f64,
    /// First epoch (1-based) after which the `step` schedule decays.
    pub lr_decay_after: usize,
    /// Steps of linear warm-up from 0 (any schedule).
    pub warmup_steps: u64,
    /// Passes over the training text.
    pub epochs: usize,
    /// Stop after this many steps in total (0 = no limit).
    pub max_steps: u64,
    /// Stop after this many minutes of wall-clock training, validation
    /// included, counted across resumes (0 = no limit). The `cosine` schedule
    /// then decays over whichever of the steps and the minutes runs out first.
    /// Handy for fixed-time comparisons; a run meant to be reproduced step for
    /// step states its steps instead.
    pub max_minutes: f64,
    /// Validate every this many steps (0 = only at the end).
    pub eval_every: u64,
    /// Checkpoint every this many steps (0 = only at the end).
    pub save_every: u64,
    /// Log a line (and a metrics.jsonl record) every this many steps.
    pub log_every: u64,
    /// Write a short sample to `samples.txt` every this many steps (0 = never).
    pub sample_every: u64,
    /// Keep only the newest this many checkpoints, besides `best` (0 = keep all).
    pub keep_last: usize,
    /// Stop when the loss exceeds this many times the first loss (char-rnn's
    /// rule); 0 disables it. NaN or infinite losses always stop training.
    pub divergence_factor: f64,
    /// Seed of initialisation and dropout.
    pub seed: u64,
    /// Run folder: checkpoints, metrics, samples.
    pub out_dir: PathBuf,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            batch_size: 128,
            seq_len: 100,
            learning_rate: 3e-4,
            grad_clip: 5.0,
            lr_schedule: LrSchedule::Constant,
            lr_decay: 0.97,
            lr_decay_after: 10,
            warmup_steps: 0,
            epochs: 50,
            max_steps: 0,
            max_minutes: 0.0,
            eval_every: 200,
            save_every: 200,
            log_every: 1,
            sample_every: 0,
            keep_last: 0,
            divergence_factor: 3.0,
            seed: 42,
            out_dir: PathBuf::from("runs/default"),
        }
    }
}

/// The most characters one training step may hold (`batch_size × seq_len`).
pub const MAX_CHARS_PER_STEP: usize = u32::MAX as usize;

/// A whole run configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// `[data]`.
    pub data: DataConfig,
    /// `[model]`.
    #[serde(default)]
    pub model: ModelConfig,
    /// `[train]`.
    #[serde(default)]
    pub train: TrainConfig,
    /// `[sample]`.
    #[serde(default)]
    pub sample: SampleOptions,
}

impl RunConfig {
    /// Reads `path`, applies `overrides` (`section.key=value`), and validates.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, overrides)
    }

    /// Parses TOML text (`path` names it in errors), applies overrides, validates.
    pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_column(text, s.start))
                .unwrap_or((1, 1));
            ConfigError::Syntax {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        for o in overrides {
            apply_override(&mut table, o)?;
        }
        let config: RunConfig = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| ConfigError::Key {
                key: e.path().to_string(),
                // toml appends "in `section`" on a second line; the key says it.
                message: e
                    .inner()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string(),
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks every value's range, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let range = |key: &str, value: String, expected: &str| ConfigError::Range {
            key: key.into(),
            value,
            expected: expected.into(),
        };
        let vf = self.data.val_fraction;
        if !(vf > 0.0 && vf < 1.0) {
            return Err(range(
                "data.val_fraction",
                vf.to_string(),
                "between 0 and 1 (exclusive)",
            ));
        }
        let entries = self.data.corpus.entries();
        if entries.is_empty() || entries.iter().any(|e| e.trim().is_empty()) {
            return Err(range(
                "data.corpus",
                format!("{entries:?}"),
                "a file, a folder, or a non-empty list of files, folders and globs",
            ));
        }
        let positive = "a whole number greater than 0";
        for (key, v) in [
            ("train.batch_size", self.train.batch_size),
            ("train.seq_len", self.train.seq_len),
            ("train.epochs", self.train.epochs),
        ] {
            if v == 0 {
                return Err(range(key, v.to_string(), positive));
            }
        }
        // A step's characters are counted in usize everywhere; far above
        // anything that fits in memory, and so never overflowing.
        let per_step = self.train.batch_size.checked_mul(self.train.seq_len);
        if per_step.is_none_or(|n| n > MAX_CHARS_PER_STEP) {
            return Err(range(
                "train.batch_size",
                format!(
                    "{} (× train.seq_len = {})",
                    self.train.batch_size, self.train.seq_len
                ),
                &format!("such that batch_size × seq_len is at most {MAX_CHARS_PER_STEP}"),
            ));
        }
        if self.train.log_every == 0 {
            return Err(range("train.log_every", "0".into(), positive));
        }
        // The model's and the sampler's own rules, under their section names.
        let in_section = |section: &str, e: InvalidValue| ConfigError::Range {
            key: format!("{section}.{}", e.key),
            value: e.value,
            expected: e.expected,
        };
        // Any vocabulary size passes here; the corpus sets the real one.
        self.model_config(1)
            .validate()
            .map_err(|e| in_section("model", e))?;
        self.sample
            .validate()
            .map_err(|e| in_section("sample", e))?;
        let lr = self.train.learning_rate;
        if !(lr.is_finite() && lr > 0.0) {
            return Err(range(
                "train.learning_rate",
                lr.to_string(),
                "a number greater than 0",
            ));
        }
        let clip = self.train.grad_clip;
        if !(clip.is_finite() && clip >= 0.0) {
            return Err(range(
                "train.grad_clip",
                clip.to_string(),
                "0 (off) or a positive number",
            ));
        }
        let decay = self.train.lr_decay;
        if !(decay > 0.0 && decay <= 1.0) {
            return Err(range("train.lr_decay", decay.to_string(), "in (0, 1]"));
        }
        let minutes = self.train.max_minutes;
        if !(minutes.is_finite() && minutes >= 0.0) {
            return Err(range(
                "train.max_minutes",
                minutes.to_string(),
                "0 (no limit) or a positive number of minutes",
            ));
        }
        let df = self.train.divergence_factor;
        if !(df.is_finite() && (df == 0.0 || df > 1.0)) {
            return Err(range(
                "train.divergence_factor",
                df.to_string(),
                "0 (off) or a number greater than 1",
            ));
        }
        Ok(())
    }

    /// The model shape for a vocabulary of `vocab_size` characters.
    pub fn model_config(&self, vocab_size: usize) -> CharRnnConfig {
        CharRnnConfig {
            vocab_size,
            embed_size: self.model.embed_size,
            hidden_size: self.model.hidden_size,
            num_layers: self.model.num_layers,
            dropout: self.model.dropout,
        }
    }

    /// The learning rate at `step` (0-based, the step about to be taken) in
    /// `epoch` (0-based) of a run of `total_steps` steps, `elapsed_sec` into
    /// training (which matters only under `train.max_minutes`).
    pub fn learning_rate(
        &self,
        step: u64,
        epoch: usize,
        total_steps: u64,
        elapsed_sec: f64,
    ) -> f64 {
        let t = &self.train;
        let warm = t.warmup_steps;
        if step < warm {
            return t.learning_rate * (step + 1) as f64 / warm as f64;
        }
        match t.lr_schedule {
            LrSchedule::Constant => t.learning_rate,
            LrSchedule::Step => {
                let decays = (epoch + 1).saturating_sub(t.lr_decay_after);
                t.learning_rate * t.lr_decay.powi(decays as i32)
            }
            LrSchedule::Cosine => {
                let span = total_steps.saturating_sub(warm).max(1) as f64;
                let by_steps = (step - warm) as f64 / span;
                let progress = by_steps.max(self.time_spent(elapsed_sec)).min(1.0);
                t.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }

    /// The share of `train.max_minutes` that `elapsed_sec` has used: 0 when
    /// there is no time limit, 1 or more once it is spent.
    pub fn time_spent(&self, elapsed_sec: f64) -> f64 {
        match self.train.max_minutes {
            m if m > 0.0 => elapsed_sec / (m * 60.0),
            _ => 0.0,
        }
    }

    /// The config as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a run config always serialises")
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn apply_override(table: &mut toml::Table, spec: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::Override(spec.to_string());
    let (key, raw) = spec.split_once('=').ok_or_else(bad)?;
    let (section, field) = key.trim().split_once('.').ok_or_else(bad)?;
    if section.is_empty() || field.is_empty() {
        return Err(bad());
    }
    // A value is TOML (`3`, `0.5`, `"x"`, `true`); anything else is a bare string.
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()));
    let entry = table
        .entry(section.to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    let toml::Value::Table(section_table) = entry else {
        return Err(ConfigError::Key {
            key: section.into(),
            message: "is not a section".into(),
        });
    };
    section_table.insert(field.to_string(), value);
    Ok(())
}

#[cfg(test)]
mod tests;
