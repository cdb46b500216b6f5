#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod adam;
mod batch_tensors;
pub mod checkpoint;
pub mod clip;
pub mod collective;
pub mod config;
pub mod data_parallel;
mod device;
pub mod eval;
pub mod memory;
pub mod metrics;
pub mod run_lock;
mod train_text;
mod trainer;

pub use adam::FusedAdam;
pub use checkpoint::{CheckpointError, CheckpointMeta, TrainerState};
pub use collective::{Collective, SingleProcess};
pub use config::{ConfigError, CorpusSpec, RunConfig, ValSplit};
pub use device::Device;
pub use eval::evaluate;
pub use metrics::{bits_per_char, read_metrics, MetricsRecord, StepMeasures};
pub use run_lock::{LockError, RunLock, RunStart};
pub use train_text::{corpus_files, TOKEN_CACHE};
pub use trainer::{train, ProgressObserver, StepProgress, TrainError, TrainOptions, TrainSummary};
