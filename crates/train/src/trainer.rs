//! The training loop: [`train`] checks what it is given, then runs the
//! phases of a [`phases::Trainer`].

use std::path::PathBuf;

use burn::tensor::backend::AutodiffBackend;
use charrnn_model::{LstmBackend, LstmKernels};

use crate::checkpoint::{self};
use crate::collective::{fingerprint, first_disagreement, Agreed, Collective};
use crate::config::RunConfig;
use crate::data_parallel::weights_fingerprint;
use crate::run_lock::{LockError, RunStart};
use crate::train_text::{corpus_files, TrainText};

mod error;
mod options;
mod parts;
mod phases;
mod records;
mod setup;
mod shared_step;

pub use error::TrainError;
pub use options::{ProgressObserver, StepProgress, TrainOptions, TrainSummary};
use parts::TrainingData;
use phases::Trainer;
use setup::{check_memory, check_same_corpus, check_same_shape, run_dir_of};

/// Trains a model as `config` says, on `device`; resumes when `options.resume`
/// names a checkpoint.
///
/// Runs are reproducible because the backend's random generator is reseeded every
/// step; burn's backends keep one generator per process, so two trainings running
/// at the same time in one process disturb each other's dropout masks.
pub fn train<B>(
    config: &RunConfig,
    options: &TrainOptions,
    device: &B::Device,
) -> Result<TrainSummary, TrainError>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    let world = options.world();
    let rank0 = world.rank() == 0;
    // Before anything that depends on the config: ranks with different
    // configs could not even agree on the size of what they exchange.
    agree(
        &*world,
        &[(Agreed::Config, fingerprint(config.to_toml().bytes()))],
    )?;
    if !config.train.batch_size.is_multiple_of(world.size()) {
        return Err(TrainError::Indivisible {
            batch_size: config.train.batch_size,
            world: world.size(),
        });
    }
    let run_dir = run_dir_of(config, options.resume.as_deref())?;
    // The lock comes before any checkpoint is read: a trainer that finished
    // meanwhile may have written a newer `latest`. Until the run starts, a
    // failure on the inputs removes what this start made. Rank 0 alone
    // writes the run folder.
    let mut start = match rank0 {
        true => Some(RunStart::begin(&run_dir).map_err(|e| match e {
            LockError::CreateDir { run_dir, source } => TrainError::RunDir {
                path: run_dir,
                source,
            },
            other => other.into(),
        })?),
        false => None,
    };
    let resume = match &options.resume {
        Some(path) => Some(checkpoint::load_meta(path)?),
        None => None,
    };
    let init = match &options.init_from {
        Some(path) => Some(checkpoint::load_meta_pick(path, checkpoint::Pick::Best)?),
        None => None,
    };
    if resume.is_none() {
        // A fresh run would overwrite these checkpoints step by step.
        if let Some(newest) = checkpoint::list(&run_dir).pop() {
            return Err(TrainError::RunExists { run_dir, newest });
        }
    }
    let files = corpus_files(&config.data.corpus.entries(), &options.corpus_dirs)?;
    // Messages name the corpus as the config does.
    let corpus_path = PathBuf::from(config.data.corpus.to_string());
    // Ids keep their meaning: a resumed or fine-tuned run's vocabulary starts
    // with its checkpoint's.
    let base = resume.as_ref().or(init.as_ref()).map(|meta| &meta.vocab);
    // Rank 0 prepares a large corpus's token file; the others then read it.
    let corpus = in_turn(&*world, || TrainText::load(config, &files, base, &run_dir))?;
    if let Some(meta) = &resume {
        check_same_corpus(meta, &corpus_path, &corpus, options)?;
    }
    if let Some(meta) = &init {
        check_same_shape(config, meta)?;
    }
    check_memory(config, corpus.vocab().len(), options.device)?;
    let (train_ids, val_ids) = corpus.split(config);
    let data = TrainingData::new(config, corpus.vocab(), train_ids.tokens(), val_ids.tokens())?;
    let mut trainer = Trainer::<B>::new(config, options, device, data, run_dir)?;
    if let Some(meta) = &resume {
        trainer.restore(meta)?;
    } else if let Some(meta) = &init {
        trainer.start_from(meta)?;
    }
    // What this run trains on from here, after an allowed change too.
    trainer.state.corpus = Some(corpus.fingerprint());
    if world.size() > 1 {
        let started_from = resume.as_ref().or(init.as_ref()).map_or(0, |meta| {
            fingerprint(serde_json::to_vec(&meta.state).unwrap_or_default())
        });
        agree(
            &*world,
            &[
                (
                    Agreed::Corpus,
                    fingerprint(corpus.fingerprint().to_string().bytes()),
                ),
                (Agreed::Checkpoint, started_from),
                (Agreed::Weights, weights_fingerprint(trainer.model())),
            ],
        )?;
    }
    let metrics = match rank0 {
        true => Some(trainer.open_logs(resume.as_ref())?),
        false => None,
    };
    if let Some(start) = &mut start {
        start.started();
    }
    trainer.announce(&corpus_path, &corpus);
    trainer.run(metrics)
}

/// Fails, the same on every process, when a process's fingerprints differ
/// from rank 0's.
pub(crate) fn agree(world: &dyn Collective, items: &[(Agreed, u64)]) -> Result<(), TrainError> {
    match first_disagreement(world, items) {
        Some((rank, what)) => Err(TrainError::RanksDisagree {
            rank,
            what: what.describe(),
        }),
        None => Ok(()),
    }
}

/// Rank 0 runs `load` first, then the other processes: what rank 0 prepares
/// for the run, they find ready.
fn in_turn<T>(world: &dyn Collective, load: impl FnOnce() -> T) -> T {
    if world.rank() == 0 {
        let loaded = load();
        world.all_reduce_sum(&mut [0.0]);
        loaded
    } else {
        world.all_reduce_sum(&mut [0.0]);
        load()
    }
}

#[cfg(test)]
mod tests;
