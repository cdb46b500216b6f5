//! Why training stopped early or could not start.

use std::path::PathBuf;

use charrnn_batch::TooShort;
use charrnn_corpus::{CorpusError, Fingerprint};
use charrnn_tokens::TokenFileError;

use crate::checkpoint::CheckpointError;
use crate::config::{ConfigError, CorpusNotFound};
use crate::memory::{human_bytes, human_count, MemoryNeed};
use crate::run_lock::LockError;

/// Why training stopped early or could not start.
///
/// In a run of several processes, an error every process meets at the same
/// point ([`TrainError::is_shared`]) is best reported by rank 0 alone.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The corpus path did not resolve.
    #[error(transparent)]
    CorpusNotFound(#[from] CorpusNotFound),
    /// The corpus could not be loaded.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// A token file could not be prepared or read.
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    /// The training or validation text is too short for the batch shape.
    #[error("{part} {source}")]
    TooShort {
        /// `training text` or `validation text`.
        part: &'static str,
        /// The shortfall.
        source: TooShort,
    },
    /// A checkpoint could not be written or read.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The streams of a batch cannot be shared evenly by the processes.
    #[error("train.batch_size = {batch_size} cannot be split evenly over {world} processes: use a batch_size divisible by the number of ranks, or start another number of them")]
    Indivisible {
        /// `train.batch_size`.
        batch_size: usize,
        /// The number of processes.
        world: usize,
    },
    /// Two processes of one run started from different inputs, or their
    /// weights drifted apart.
    #[error("rank {rank} differs from rank 0 in {what}: every rank must read the same config, corpus and checkpoint (the same files, on a shared folder) and run the same build")]
    RanksDisagree {
        /// The first rank that differs from rank 0.
        rank: usize,
        /// What differs.
        what: &'static str,
    },
    /// The corpus has changed since the checkpoint was written.
    #[error("the corpus {} has a different vocabulary ({now} characters) than the checkpoint ({then}): resume with the corpus the run was started on", corpus.display())]
    VocabChanged {
        /// The corpus.
        corpus: PathBuf,
        /// Its vocabulary size now.
        now: usize,
        /// The checkpoint's vocabulary size.
        then: usize,
    },
    /// The corpus's text changed since the checkpoint was written.
    #[error("the corpus {} has changed since the checkpoint was written (then {then}; now {now}), so the run's place in the text would point into different text: resume with the original corpus, or allow the change explicitly", corpus.display())]
    CorpusChanged {
        /// The corpus.
        corpus: PathBuf,
        /// Its fingerprint now.
        now: Fingerprint,
        /// The checkpoint's record of it.
        then: Fingerprint,
    },
    /// A fine-tuning config asks for another model shape than the checkpoint's.
    #[error("{key} is {configured} in the config but {trained} in {}: fine-tuning keeps the trained model's shape, so set {key} = {trained}", checkpoint.display())]
    ShapeMismatch {
        /// The differing key.
        key: &'static str,
        /// The checkpoint's value.
        trained: usize,
        /// The config's value.
        configured: usize,
        /// The checkpoint fine-tuned from.
        checkpoint: PathBuf,
    },
    /// Another trainer holds the run folder.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// The run would need more memory than the machine has.
    #[error("this run needs about {} for {} parameters ({}); this machine has {} available: make the model or the batch smaller", human_bytes(need.bytes), human_count(need.params), need.drivers, human_bytes(*available as u128))]
    TooBig {
        /// The estimate.
        need: MemoryNeed,
        /// Bytes available.
        available: u64,
    },
    /// The loss became NaN or infinite, or grew past `divergence_factor` times
    /// the first loss.
    #[error("training diverged at step {step}: loss is {loss} ({why}); lower train.learning_rate and resume from the last good checkpoint{}", last_good.as_ref().map(|p| format!(" ({})", p.display())).unwrap_or_default())]
    Diverged {
        /// The step.
        step: u64,
        /// The loss.
        loss: f64,
        /// Which rule stopped it.
        why: String,
        /// The newest checkpoint, written before the divergence.
        last_good: Option<PathBuf>,
    },
    /// A stop was requested (Ctrl-C, SIGTERM); a checkpoint was written first.
    #[error("interrupted at step {step}; checkpoint {} written; the run in {} can be resumed", checkpoint.display(), run_dir.display())]
    Interrupted {
        /// Steps taken.
        step: u64,
        /// The checkpoint written on the way out.
        checkpoint: PathBuf,
        /// The run folder to resume.
        run_dir: PathBuf,
    },
    /// A new run would write into a folder that holds another run's checkpoints.
    #[error("run folder {} already holds checkpoints (newest: {newest}); resume that run, or train into another folder (train.out_dir)", run_dir.display())]
    RunExists {
        /// The run folder.
        run_dir: PathBuf,
        /// Its newest checkpoint's name.
        newest: String,
    },
    /// The run folder or its logs could not be written.
    #[error("cannot write to run folder {}: {source}; check out_dir is writable", path.display())]
    RunDir {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl TrainError {
    /// Every process of a run meets this error at the same step, from
    /// numbers they agreed on: one report (rank 0's) says it all.
    pub fn is_shared(&self) -> bool {
        matches!(
            self,
            Self::Indivisible { .. }
                | Self::RanksDisagree { .. }
                | Self::Diverged { .. }
                | Self::Interrupted { .. }
        )
    }
}
