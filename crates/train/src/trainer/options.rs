//! How a run is asked for and what it reports: its options, the progress of
//! each step, the summary.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::collective::{Collective, SingleProcess};
use crate::device::Device;

/// Where a run stands after a step: what a progress display needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepProgress {
    /// Steps taken in total.
    pub step: u64,
    /// Steps the run will take in total.
    pub total_steps: u64,
    /// The current epoch, 1-based.
    pub epoch: usize,
    /// Epochs in the run.
    pub epochs: usize,
    /// Batches done in this epoch.
    pub batch: usize,
    /// Batches in an epoch.
    pub batches: usize,
    /// Training loss of the step (nats/char).
    pub loss: f64,
    /// Validation loss, when it was measured after this step.
    pub val_loss: Option<f64>,
    /// Characters (targets) in one step's batch.
    pub chars_per_step: usize,
    /// Wall-clock seconds the step took, with the validation run after it, if
    /// any (what an ETA should count).
    pub step_sec: f64,
}

/// Receives a [`StepProgress`] after every step (a progress bar, a dashboard).
/// It is called on the training thread, so it should return quickly.
pub trait ProgressObserver: std::fmt::Debug + Send + Sync {
    /// Called after each step.
    fn on_step(&self, progress: &StepProgress);
}

/// How to run [`train`](crate::train).
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from this checkpoint (or run folder's latest checkpoint).
    pub resume: Option<PathBuf>,
    /// Folders a relative corpus path is looked up in, in order (an
    /// absolute one is used as it is; the empty path is the working folder).
    /// `charrnn train` gives `$CHARRNN_DATA_DIR`, `data/`, the config's
    /// folder, then the working folder.
    pub corpus_dirs: Vec<PathBuf>,
    /// The device it trains on, recorded in checkpoints.
    pub device: Device,
    /// When set (e.g. by a Ctrl-C handler), training finishes the current step,
    /// writes a checkpoint and returns [`TrainError::Interrupted`](crate::TrainError::Interrupted).
    pub stop: Option<Arc<AtomicBool>>,
    /// Told about every step.
    pub progress: Option<Arc<dyn ProgressObserver>>,
    /// Resume even when the corpus's text differs from the checkpoint's
    /// record of it (the vocabulary must still be the same).
    pub allow_changed_corpus: bool,
    /// Start a new run from this trained checkpoint's weights (or a run
    /// folder's best): fine-tuning. Its vocabulary comes first in the new
    /// run's; optimizer state and step count start fresh.
    pub init_from: Option<PathBuf>,
    /// The processes training this run together (data parallel); `None`
    /// is this process alone.
    pub world: Option<Arc<dyn Collective>>,
}

impl TrainOptions {
    /// The processes training this run: [`TrainOptions::world`], or this
    /// process alone.
    pub fn world(&self) -> Arc<dyn Collective> {
        self.world
            .clone()
            .unwrap_or_else(|| Arc::new(SingleProcess))
    }
}

/// What a finished run produced.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The final checkpoint.
    pub checkpoint: PathBuf,
    /// Steps taken in total.
    pub step: u64,
    /// Last training loss (nats/char).
    pub train_loss: Option<f64>,
    /// Final validation loss (nats/char).
    pub val_loss: Option<f64>,
    /// Training time in total, in seconds.
    pub elapsed_sec: f64,
}
