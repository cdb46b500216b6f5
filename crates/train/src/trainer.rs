//! The training loop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{GradientsParams, Optimizer};
use burn::record::Recorder;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Tensor, TensorData};
use charrnn_batch::{Batcher, TooShort};
use charrnn_corpus::{split_train_val, Corpus, CorpusError, Vocab};
use charrnn_model::{CharRnn, LayerState, LstmBackend, ModelState};
use tracing::info;

use crate::adam::FusedAdam;
use crate::checkpoint::{self, CheckpointError, CheckpointFiles, CheckpointMeta, TrainerState};
use crate::clip::clip_global_norm;
use crate::config::{ConfigError, CorpusNotFound, RunConfig};
use crate::eval::{batch_tensors, evaluate};
use crate::metrics::{bits_per_char, MetricsLog, MetricsRecord};

/// Why training stopped early or could not start.
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
    #[error("interrupted at step {step}; checkpoint {} written; continue with: charrnn train --resume {}", checkpoint.display(), run_dir.display())]
    Interrupted {
        /// Steps taken.
        step: u64,
        /// The checkpoint written on the way out.
        checkpoint: PathBuf,
        /// The run folder to resume.
        run_dir: PathBuf,
    },
    /// A new run would write into a folder that holds another run's checkpoints.
    #[error("run folder {} already holds checkpoints (newest: {newest}); continue it with --resume {}, or train into another folder with --set train.out_dir=runs/NEW", run_dir.display(), run_dir.display())]
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

/// How to run [`train`].
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from this checkpoint (or run folder's latest checkpoint).
    pub resume: Option<PathBuf>,
    /// Where the config file lives (corpus paths may be relative to it).
    pub config_dir: PathBuf,
    /// Name of the device, recorded in checkpoints (`cpu`, `cuda`).
    pub device_label: String,
    /// When set (e.g. by a Ctrl-C handler), training finishes the current step,
    /// writes a checkpoint and returns [`TrainError::Interrupted`].
    pub stop: Option<Arc<AtomicBool>>,
    /// Told about every step.
    pub progress: Option<Arc<dyn ProgressObserver>>,
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

type Optim<B> = burn::optim::adaptor::OptimizerAdaptor<FusedAdam, CharRnn<B>, B>;

/// Dropout masks are a function of (seed, step) alone, so a resumed run draws the
/// same masks as an uninterrupted one.
fn step_seed(seed: u64, step: u64) -> u64 {
    let mut x = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn state_to_vec<B: Backend>(state: &ModelState<B>) -> Vec<f32> {
    let mut out = Vec::new();
    for layer in &state.layers {
        for t in [&layer.hidden, &layer.cell] {
            out.extend(
                t.to_data()
                    .convert::<f32>()
                    .to_vec::<f32>()
                    .expect("f32 data"),
            );
        }
    }
    out
}

fn state_from_vec<B: Backend>(v: &[f32], shape: [usize; 4], device: &B::Device) -> ModelState<B> {
    let [layers, _, batch, hidden] = shape;
    let n = batch * hidden;
    let tensor = |i: usize| {
        Tensor::<B, 2>::from_data(
            TensorData::new(v[i * n..(i + 1) * n].to_vec(), [batch, hidden]),
            device,
        )
    };
    ModelState {
        layers: (0..layers)
            .map(|l| LayerState {
                hidden: tensor(2 * l),
                cell: tensor(2 * l + 1),
            })
            .collect(),
    }
}

/// True on every `n`-th step; never when `n` is 0 ("off").
fn every(step: u64, n: u64) -> bool {
    n > 0 && step.is_multiple_of(n)
}

/// Records a validation loss; remembers the step when it is the best so far.
fn record_validation(state: &mut TrainerState, val_loss: f64, best_step: &mut Option<u64>) {
    state.val_loss = Some(val_loss);
    if state.best_val_loss.is_none_or(|best| val_loss < best) {
        state.best_val_loss = Some(val_loss);
        *best_step = Some(state.step);
    }
}

/// Appends a short sample from the `[sample]` settings to `run_dir/samples.txt`.
fn write_sample<B: LstmBackend>(
    run_dir: &Path,
    model: &CharRnn<B>,
    vocab: &Vocab,
    config: &RunConfig,
    step: u64,
    val_loss: Option<f64>,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = config.sample.clone();
    options.length = options.length.min(200);
    let engine = charrnn_sample::Engine::from_model(model);
    let text = match charrnn_sample::Generator::new(engine, vocab.clone())
        .and_then(|mut g| g.generate(&options, |_| {}))
    {
        Ok(text) => text,
        Err(e) => format!("(no sample: {e})"),
    };
    let val = val_loss.map_or(String::new(), |v| format!(", val {v:.4}"));
    info!(
        "sample at step {step}: {}{}",
        options.prime,
        text.replace('\n', " ")
    );
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run_dir.join("samples.txt"))?;
    writeln!(
        file,
        "=== step {step}{val} ===\n{}{}\n",
        options.prime, text
    )
}

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
    B::InnerBackend: LstmBackend,
{
    let resume: Option<CheckpointMeta> = match &options.resume {
        Some(path) => Some(checkpoint::load_meta(path)?),
        None => None,
    };
    let corpus_path = config.resolve_corpus(&options.config_dir)?;
    let corpus = Corpus::load(&corpus_path)?;
    let vocab: Vocab = corpus.vocab().clone();
    if let Some(meta) = &resume {
        if meta.vocab != vocab {
            return Err(TrainError::VocabChanged {
                corpus: corpus_path,
                now: vocab.len(),
                then: meta.vocab.len(),
            });
        }
    }
    let (train_ids, val_ids) = split_train_val(corpus.ids(), config.data.val_fraction);
    let tc = &config.train;
    let batcher = Batcher::new(train_ids, tc.batch_size, tc.seq_len).map_err(|source| {
        TrainError::TooShort {
            part: "training text:",
            source,
        }
    })?;
    if val_ids.len() < 2 {
        return Err(TrainError::TooShort {
            part: "validation text:",
            source: TooShort {
                len: val_ids.len(),
                batch_size: 1,
                seq_len: 1,
                needed: 2,
            },
        });
    }

    let run_dir = match &resume {
        // A checkpoint lives in run_dir/checkpoints/step-N.
        Some(meta) => meta
            .dir
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| tc.out_dir.clone()),
        None => tc.out_dir.clone(),
    };
    let run_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::RunDir { path, source }
    };
    if resume.is_none() {
        // A fresh run would overwrite these checkpoints step by step.
        if let Some(newest) = checkpoint::list(&run_dir).pop() {
            return Err(TrainError::RunExists { run_dir, newest });
        }
    }
    std::fs::create_dir_all(&run_dir).map_err(run_err(&run_dir))?;

    let model_config = config.model_config(vocab.len());
    B::seed(device, tc.seed);
    let mut model: CharRnn<B> = model_config.init(device);
    let mut optim: Optim<B> = FusedAdam::new(1e-8).init();
    let mut state = TrainerState {
        format: checkpoint::FORMAT_VERSION,
        step: 0,
        epoch: 0,
        batch: 0,
        train_loss: None,
        val_loss: None,
        elapsed_sec: 0.0,
        device: options.device_label.clone(),
        hidden_shape: [
            model_config.num_layers,
            2,
            tc.batch_size,
            model_config.hidden_size,
        ],
        first_loss: None,
        best_val_loss: None,
    };
    let mut hidden = ModelState::<B>::zeros(&model_config, tc.batch_size, device);
    if let Some(meta) = &resume {
        model = checkpoint::load_model::<B>(meta, device)?;
        let record = checkpoint::recorder()
            .load(checkpoint::optimizer_path(&meta.dir), device)
            .map_err(|e| CheckpointError::Damaged {
                path: meta.dir.clone(),
                reason: format!(
                    "optimizer.mpk cannot be read ({})",
                    checkpoint::first_line(&e)
                ),
            })?;
        optim = optim.load_record(record);
        if meta.state.hidden_shape != state.hidden_shape {
            return Err(CheckpointError::Damaged {
                path: meta.dir.clone(),
                reason: "its hidden state does not match train.batch_size".into(),
            }
            .into());
        }
        hidden = state_from_vec(&checkpoint::load_hidden(meta)?, state.hidden_shape, device);
        state = TrainerState {
            device: options.device_label.clone(),
            ..meta.state.clone()
        };
        info!(
            "resuming from {} at step {} (epoch {}, batch {})",
            meta.dir.display(),
            state.step,
            state.epoch + 1,
            state.batch
        );
    }
    std::fs::write(run_dir.join("config.toml"), config.to_toml()).map_err(run_err(&run_dir))?;
    let mut metrics = MetricsLog::open(&run_dir, resume.as_ref().map(|m| m.state.step))
        .map_err(run_err(&run_dir))?;

    let num_batches = batcher.num_batches();
    let total_steps = {
        let all = (tc.epochs * num_batches) as u64;
        if tc.max_steps > 0 {
            all.min(tc.max_steps)
        } else {
            all
        }
    };
    info!(
        "training on {} ({} chars, vocab {}, {} train / {} val), {} params, {} batches/epoch, {} steps",
        corpus_path.display(),
        corpus.len(),
        vocab.len(),
        train_ids.len(),
        val_ids.len(),
        model_config.num_params(),
        num_batches,
        total_steps
    );

    let tokens_per_step = (tc.batch_size * tc.seq_len) as f64;
    let started = Instant::now();
    let base_elapsed = state.elapsed_sec;
    // Throughput counts training steps only: validation and checkpoints are not
    // training speed.
    let mut interval_train_sec = 0.0f64;
    let mut interval_steps = 0u64;
    let mut last_saved = resume.as_ref().map(|m| m.dir.clone());
    let mut last_saved_step = resume.as_ref().map(|m| m.state.step);
    let mut last_eval_step = None;
    let mut best_step = None;

    let save = |model: &CharRnn<B>,
                optim: &Optim<B>,
                state: &TrainerState,
                hidden: &ModelState<B>,
                is_best: bool|
     -> Result<PathBuf, TrainError> {
        let hidden = state_to_vec(hidden);
        let dir = checkpoint::save(
            &run_dir,
            CheckpointFiles {
                config,
                vocab: &vocab,
                state,
                hidden: &hidden,
                is_best,
                keep_last: tc.keep_last,
            },
            |tmp| {
                let rec = checkpoint::recorder();
                model
                    .clone()
                    .save_file(checkpoint::model_path(tmp), &rec)
                    .map_err(|e| e.to_string())?;
                rec.record(optim.to_record(), checkpoint::optimizer_path(tmp))
                    .map_err(|e| e.to_string())
            },
        )?;
        info!("saved checkpoint {}", dir.display());
        Ok(dir)
    };
    let validate = |model: &CharRnn<B>| -> Result<f64, TrainError> {
        evaluate(&model.valid(), val_ids, tc.batch_size, tc.seq_len, device).map_err(|source| {
            TrainError::TooShort {
                part: "validation text:",
                source,
            }
        })
    };

    'epochs: while state.epoch < tc.epochs {
        if state.batch >= num_batches {
            state.epoch += 1;
            state.batch = 0;
            continue;
        }
        if state.batch == 0 {
            // Each epoch starts from a zero state, as in the seed notebook.
            hidden = ModelState::zeros(&model_config, tc.batch_size, device);
        }
        while state.batch < num_batches {
            if tc.max_steps > 0 && state.step >= tc.max_steps {
                break 'epochs;
            }
            let step_started = Instant::now();
            B::seed(device, step_seed(tc.seed, state.step));
            let (inputs, targets) = batch_tensors::<B>(&batcher.batch(state.batch), device);
            let (logits, next) = model.forward(inputs, hidden);
            let loss = model.loss(logits, targets);
            let loss_value = loss.clone().into_scalar().elem::<f64>();
            let first = *state.first_loss.get_or_insert(loss_value);
            let why = if !loss_value.is_finite() {
                Some("not a finite number".to_string())
            } else if tc.divergence_factor > 0.0 && loss_value > tc.divergence_factor * first {
                Some(format!(
                    "more than train.divergence_factor = {} times the first loss {first:.4}",
                    tc.divergence_factor
                ))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(TrainError::Diverged {
                    step: state.step + 1,
                    loss: loss_value,
                    why,
                    last_good: last_saved.clone(),
                });
            }
            let mut grads = GradientsParams::from_grads(loss.backward(), &model);
            clip_global_norm::<B, _>(&model, &mut grads, tc.grad_clip);
            let lr = config.learning_rate(state.step, state.epoch, total_steps);
            model = optim.step(lr, model, grads);
            hidden = next.detach();

            state.step += 1;
            state.batch += 1;
            state.train_loss = Some(loss_value);
            state.elapsed_sec = base_elapsed + started.elapsed().as_secs_f64();
            interval_steps += 1;
            interval_train_sec += step_started.elapsed().as_secs_f64();

            let at_end = state.step == total_steps;
            let mut val_loss = None;
            if every(state.step, tc.eval_every) || at_end {
                let v = validate(&model)?;
                record_validation(&mut state, v, &mut best_step);
                val_loss = Some(v);
                last_eval_step = Some(state.step);
            }
            if let Some(observer) = &options.progress {
                observer.on_step(&StepProgress {
                    step: state.step,
                    total_steps,
                    epoch: state.epoch + 1,
                    epochs: tc.epochs,
                    batch: state.batch,
                    batches: num_batches,
                    loss: loss_value,
                    val_loss,
                    chars_per_step: tc.batch_size * tc.seq_len,
                    step_sec: step_started.elapsed().as_secs_f64(),
                });
            }
            if every(state.step, tc.log_every) || val_loss.is_some() || at_end {
                let secs = interval_train_sec;
                let chars_per_sec = tokens_per_step * interval_steps as f64 / secs.max(1e-9);
                let record = MetricsRecord::new(
                    state.step,
                    state.epoch + 1,
                    loss_value,
                    val_loss,
                    lr,
                    chars_per_sec,
                    state.elapsed_sec,
                );
                metrics.write(&record).map_err(run_err(metrics.path()))?;
                let val = val_loss.map_or(String::new(), |v| {
                    format!("  val {v:.4} ({:.3} bits/char)", bits_per_char(v))
                });
                info!(
                    "epoch {}/{}  step {}/{}  loss {:.4} ({:.3} bits/char){}  lr {:.2e}  {:.3} s/batch  {:.0} chars/s",
                    state.epoch + 1,
                    tc.epochs,
                    state.step,
                    total_steps,
                    loss_value,
                    bits_per_char(loss_value),
                    val,
                    lr,
                    secs / interval_steps as f64,
                    chars_per_sec
                );
                interval_train_sec = 0.0;
                interval_steps = 0;
            }
            let stop_requested = options
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::SeqCst));
            if every(state.step, tc.save_every) || stop_requested {
                let is_best = best_step == Some(state.step);
                last_saved = Some(save(&model, &optim, &state, &hidden, is_best)?);
                last_saved_step = Some(state.step);
            }
            if every(state.step, tc.sample_every) {
                write_sample(
                    &run_dir,
                    &model.valid(),
                    &vocab,
                    config,
                    state.step,
                    val_loss,
                )
                .map_err(run_err(&run_dir))?;
            }
            if stop_requested {
                return Err(TrainError::Interrupted {
                    step: state.step,
                    checkpoint: last_saved.clone().expect("saved just above"),
                    run_dir: run_dir.clone(),
                });
            }
        }
        state.epoch += 1;
        state.batch = 0;
    }

    if last_eval_step != Some(state.step) {
        let v = validate(&model)?;
        record_validation(&mut state, v, &mut best_step);
        info!(
            "final validation loss {:.4}",
            state.val_loss.unwrap_or(f64::NAN)
        );
    }
    let checkpoint = match (last_saved, last_saved_step) {
        (Some(dir), Some(step)) if step == state.step => dir,
        _ => save(
            &model,
            &optim,
            &state,
            &hidden,
            best_step == Some(state.step),
        )?,
    };
    Ok(TrainSummary {
        run_dir,
        checkpoint,
        step: state.step,
        train_loss: state.train_loss,
        val_loss: state.val_loss,
        elapsed_sec: state.elapsed_sec,
    })
}

#[cfg(test)]
mod tests {
    use super::step_seed;

    #[test]
    fn step_seeds_differ() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|s| step_seed(42, s)).collect();
        assert_eq!(seeds.len(), 1000);
    }
}
