//! Training for charrnn: run configs, the truncated-BPTT loop with Adam and
//! global-norm clipping, validation, `metrics.jsonl`, and crash-safe checkpoints
//! that resume exactly where a run stopped.
//!
//! The entry point is [`train`], generic over any burn autodiff backend whose
//! inner backend implements [`charrnn_model::LstmKernels`].

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod adam;
mod batch_tensors;
pub mod checkpoint;
pub mod clip;
pub mod config;
mod device;
pub mod eval;
pub mod memory;
pub mod metrics;
pub mod run_lock;
mod train_text;
mod trainer;

pub use adam::FusedAdam;
pub use checkpoint::{CheckpointError, CheckpointMeta, TrainerState};
pub use config::{ConfigError, CorpusSpec, RunConfig, ValSplit};
pub use device::Device;
pub use eval::evaluate;
pub use metrics::{bits_per_char, read_metrics, MetricsRecord, StepMeasures};
pub use run_lock::{LockError, RunLock, RunStart};
pub use train_text::{corpus_files, TOKEN_CACHE};
pub use trainer::{train, ProgressObserver, StepProgress, TrainError, TrainOptions, TrainSummary};
