//! The checks before a run starts: the shape of a fine-tuned model, memory, a
//! resumed run's corpus, the run folder.

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::checkpoint::{self, CheckpointMeta};
use crate::config::RunConfig;
use crate::device::Device;
use crate::memory::{self};
use crate::train_text::TrainText;

use super::error::TrainError;
use super::options::TrainOptions;

/// Fine-tuning keeps the trained model's shape.
pub(crate) fn check_same_shape(
    config: &RunConfig,
    init: &CheckpointMeta,
) -> Result<(), TrainError> {
    let (want, have) = (&init.config.model, &config.model);
    for (key, trained, configured) in [
        ("model.embed_size", want.embed_size, have.embed_size),
        ("model.hidden_size", want.hidden_size, have.hidden_size),
        ("model.num_layers", want.num_layers, have.num_layers),
    ] {
        if trained != configured {
            return Err(TrainError::ShapeMismatch {
                key,
                trained,
                configured,
                checkpoint: init.dir.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses, before anything is allocated, a run that needs more memory than
/// is available. Only on the CPU: GPU memory is not queried yet.
pub(crate) fn check_memory(
    config: &RunConfig,
    vocab_size: usize,
    device: Device,
) -> Result<(), TrainError> {
    if !device.uses_host_memory() {
        return Ok(());
    }
    let need = memory::estimate(config, vocab_size);
    match memory::available_memory() {
        Some(available) if need.bytes > available as u128 => {
            Err(TrainError::TooBig { need, available })
        }
        _ => Ok(()),
    }
}

/// On resume: the corpus must still have the checkpoint's vocabulary and,
/// unless a change is allowed, the same text.
pub(crate) fn check_same_corpus(
    meta: &CheckpointMeta,
    corpus_path: &Path,
    corpus: &TrainText,
    options: &TrainOptions,
) -> Result<(), TrainError> {
    if meta.vocab != *corpus.vocab() {
        return Err(TrainError::VocabChanged {
            corpus: corpus_path.to_path_buf(),
            now: corpus.vocab().len(),
            then: meta.vocab.len(),
        });
    }
    let now = corpus.fingerprint();
    match meta.state.corpus {
        Some(then) if then != now && !options.allow_changed_corpus => {
            Err(TrainError::CorpusChanged {
                corpus: corpus_path.to_path_buf(),
                now,
                then,
            })
        }
        Some(then) if then != now => {
            warn!(
                "the corpus {} has changed since the checkpoint (then {then}; now {now}); continuing on it, as allowed",
                corpus_path.display()
            );
            Ok(())
        }
        Some(_) => Ok(()),
        None => {
            warn!(
                "checkpoint {} predates corpus fingerprints (layout 1): cannot check that the corpus is unchanged",
                meta.dir.display()
            );
            Ok(())
        }
    }
}

/// The run folder: the resumed checkpoint's, or `train.out_dir` for a fresh run.
pub(crate) fn run_dir_of(config: &RunConfig, resume: Option<&Path>) -> Result<PathBuf, TrainError> {
    let Some(path) = resume else {
        return Ok(config.train.out_dir.clone());
    };
    // A checkpoint lives in run_dir/checkpoints/step-N.
    let checkpoint = checkpoint::resolve_pick(path, checkpoint::Pick::Latest)?;
    Ok(checkpoint
        .parent()
        .and_then(Path::parent)
        .map_or_else(|| config.train.out_dir.clone(), Path::to_path_buf))
}

pub(crate) fn run_dir_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.to_path_buf();
    move |source| TrainError::RunDir { path, source }
}
