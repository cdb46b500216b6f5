//! One training run, a method per phase: restore, step, validate, log, save,
//! finish.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::record::Recorder;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ElementConversion;
use charrnn_batch::Batcher;
use charrnn_model::{CharRnn, CharRnnConfig, LstmBackend, LstmKernels, ModelState};
use tracing::info;

use crate::adam::FusedAdam;
use crate::batch_tensors::batch_tensors;
use crate::checkpoint::{self, CheckpointError, CheckpointMeta, TrainerState};
use crate::clip::clip_global_norm;
use crate::collective::{hidden_rows, Collective};
use crate::config::{RunConfig, ValSplit};
use crate::metrics::MetricsLog;
use crate::train_text::TrainText;

use super::error::TrainError;
use super::options::{TrainOptions, TrainSummary};
use super::parts::{
    every, initialize_now, rank_seed, state_from_vec, step_seed, write_sample, Clock, Optim,
    StepOutcome, TrainingData,
};
use super::setup::run_dir_error;

/// One training run: the model, its optimizer and where the run stands. Each
/// phase of a run is a method.
pub(crate) struct Trainer<'a, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    pub(crate) config: &'a RunConfig,
    pub(crate) options: &'a TrainOptions,
    pub(crate) device: &'a B::Device,
    pub(crate) data: TrainingData<'a>,
    pub(crate) run_dir: PathBuf,
    pub(crate) model_config: CharRnnConfig,
    /// Taken out only while the optimizer updates it in place.
    pub(crate) model: Option<CharRnn<B>>,
    pub(crate) optim: Optim<B>,
    pub(crate) state: TrainerState,
    pub(crate) hidden: ModelState<B>,
    pub(crate) total_steps: u64,
    pub(crate) clock: Clock,
    pub(crate) last_saved: Option<(PathBuf, u64)>,
    pub(crate) last_eval_step: Option<u64>,
    pub(crate) best_step: Option<u64>,
    /// `train.max_minutes` is spent: the run ends after this step.
    pub(crate) out_of_time: bool,
    /// The processes training this run together.
    pub(crate) world: Arc<dyn Collective>,
    /// This process's streams of the `train.batch_size`.
    pub(crate) rows: Range<usize>,
}

impl<'a, B> Trainer<'a, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    /// A fresh model and optimizer, seeded from the config.
    pub(crate) fn new(
        config: &'a RunConfig,
        options: &'a TrainOptions,
        device: &'a B::Device,
        data: TrainingData<'a>,
        run_dir: PathBuf,
    ) -> Result<Self, TrainError> {
        let tc = &config.train;
        let model_config = config.model_config(data.vocab.len());
        let world = options.world();
        let rows = Batcher::share(tc.batch_size, world.rank(), world.size());
        let data = TrainingData {
            batcher: data.batcher.shard(rows.clone()),
            ..data
        };
        B::seed(device, tc.seed);
        let model: CharRnn<B> = model_config.init(device);
        initialize_now(&model);
        let state = TrainerState {
            format: checkpoint::FORMAT_VERSION,
            step: 0,
            epoch: 0,
            batch: 0,
            train_loss: None,
            val_loss: None,
            elapsed_sec: 0.0,
            device: options.device.label().into(),
            hidden_shape: [
                model_config.num_layers,
                2,
                tc.batch_size,
                model_config.hidden_size,
            ],
            first_loss: None,
            best_val_loss: None,
            corpus: None,
            init_from: None,
        };
        let all = (tc.epochs * data.batcher.num_batches()) as u64;
        let total_steps = if tc.max_steps > 0 {
            all.min(tc.max_steps)
        } else {
            all
        };
        Ok(Self {
            hidden: ModelState::zeros(&model_config, rows.len(), device),
            config,
            options,
            device,
            data,
            run_dir,
            model_config,
            model: Some(model),
            optim: FusedAdam::new(1e-8).init(),
            state,
            total_steps,
            clock: Clock::new(0.0),
            last_saved: None,
            last_eval_step: None,
            best_step: None,
            out_of_time: false,
            world,
            rows,
        })
    }

    pub(crate) fn model(&self) -> &CharRnn<B> {
        self.model
            .as_ref()
            .expect("the model is in place between steps")
    }

    /// Continues from a checkpoint: weights, Adam moments, hidden state and
    /// where the run stood.
    pub(crate) fn restore(&mut self, meta: &CheckpointMeta) -> Result<(), TrainError> {
        let device = self.device;
        self.model = Some(checkpoint::load_model::<B>(meta, device)?);
        let record = checkpoint::bytes_recorder()
            .load(meta.optimizer_bytes()?, device)
            .map_err(|e| CheckpointError::Damaged {
                path: meta.dir.clone(),
                reason: format!(
                    "optimizer.mpk cannot be read ({})",
                    checkpoint::first_line(&e)
                ),
            })?;
        self.optim = FusedAdam::new(1e-8).init().load_record(record);
        if meta.state.hidden_shape != self.state.hidden_shape {
            return Err(CheckpointError::Damaged {
                path: meta.dir.clone(),
                reason: "its hidden state does not match train.batch_size".into(),
            }
            .into());
        }
        let hidden = checkpoint::load_hidden(meta)?;
        let [layers, _, batch_size, width] = self.state.hidden_shape;
        let mine = hidden_rows(&hidden, 2 * layers, batch_size, self.rows.clone());
        self.hidden = state_from_vec(&mine, [layers, 2, self.rows.len(), width], device);
        self.state = TrainerState {
            // Saved again in this build's layout, whatever it was read from.
            format: checkpoint::FORMAT_VERSION,
            device: self.options.device.label().into(),
            ..meta.state.clone()
        };
        self.clock = Clock::new(self.state.elapsed_sec);
        self.last_saved = Some((meta.dir.clone(), meta.state.step));
        info!(
            "resuming from {} at step {} (epoch {}, batch {})",
            meta.dir.display(),
            self.state.step,
            self.state.epoch + 1,
            self.state.batch
        );
        Ok(())
    }

    /// Starts from a trained model's weights (fine-tuning): its layers whole,
    /// its characters' embedding and output rows; new characters keep their
    /// fresh rows. Optimizer state and step count stay fresh.
    pub(crate) fn start_from(&mut self, init: &CheckpointMeta) -> Result<(), TrainError> {
        let trained = checkpoint::load_model::<B>(init, self.device)?;
        let fresh = self
            .model
            .take()
            .expect("the model is in place between steps");
        self.model = Some(fresh.with_weights_of(trained));
        let known = init.vocab.len();
        self.state.init_from = Some(checkpoint::StartedFrom {
            checkpoint: init.dir.clone(),
            step: init.state.step,
            vocab_size: known,
        });
        info!(
            "fine-tuning from {} (step {}): {known} characters known, {} new; optimizer state and step count start fresh",
            init.dir.display(),
            init.state.step,
            self.data.vocab.len() - known
        );
        Ok(())
    }

    /// Writes the run's config and opens its metrics log (appending on resume),
    /// once the model is restored: a checkpoint that cannot be read leaves
    /// both untouched.
    pub(crate) fn open_logs(
        &self,
        resume: Option<&CheckpointMeta>,
    ) -> Result<MetricsLog, TrainError> {
        let run_err = run_dir_error(&self.run_dir);
        std::fs::write(self.run_dir.join("config.toml"), self.config.to_toml()).map_err(run_err)?;
        MetricsLog::open(&self.run_dir, resume.map(|m| m.state.step))
            .map_err(run_dir_error(&self.run_dir))
    }

    pub(crate) fn announce(&self, corpus_path: &Path, corpus: &TrainText) {
        let split = match self.config.data.val_split {
            ValSplit::Tail => "the end of the text",
            ValSplit::PerDocument => "the end of each file",
        };
        let mapped = corpus
            .token_file()
            .map(|file| format!(", read from the token file {}", file.display()))
            .unwrap_or_default();
        info!(
            "training on {}{mapped} ({} files, {} chars, vocab {}, {} train / {} val from {split}), {} params, {} batches/epoch, {} steps",
            corpus_path.display(),
            corpus.documents().len(),
            corpus.tokens().len(),
            self.data.vocab.len(),
            self.data.train_len,
            self.data.val_ids.len(),
            self.model_config.num_params(),
            self.data.batcher.num_batches(),
            self.total_steps
        );
    }

    /// The epochs, then a final validation and checkpoint.
    pub(crate) fn run(
        mut self,
        mut metrics: Option<MetricsLog>,
    ) -> Result<TrainSummary, TrainError> {
        let num_batches = self.data.batcher.num_batches();
        let tc = &self.config.train;
        'epochs: while self.state.epoch < tc.epochs {
            if self.state.batch == 0 {
                // Each epoch starts from a zero state, as in the seed notebook.
                self.hidden = ModelState::zeros(&self.model_config, self.rows.len(), self.device);
            }
            while self.state.batch < num_batches {
                if tc.max_steps > 0 && self.state.step >= tc.max_steps {
                    break 'epochs;
                }
                if self.out_of_time {
                    info!(
                        "train.max_minutes = {} reached at step {}",
                        tc.max_minutes, self.state.step
                    );
                    break 'epochs;
                }
                let outcome = self.step()?;
                self.after_step(&outcome, &mut metrics)?;
            }
            self.state.epoch += 1;
            self.state.batch = 0;
        }
        self.finish()
    }

    /// One optimisation step on the next batch.
    pub(crate) fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let tc = &self.config.train;
        let started = Instant::now();
        // Backends that draw dropout masks from their own generator draw the
        // same ones on resume; each process draws its own streams' masks.
        let seed = rank_seed(step_seed(tc.seed, self.state.step), self.world.rank());
        B::seed(self.device, seed);
        let batch = self.data.batcher.batch(self.state.batch);
        let (inputs, targets) = batch_tensors::<B>(&batch, self.device);
        let hidden = std::mem::replace(&mut self.hidden, ModelState { layers: Vec::new() });
        let (logits, next) = self.model().forward_train(inputs, hidden, seed);
        let loss = self.model().loss(logits, targets);
        let loss_on_device = loss.clone().inner();
        let mut grads = GradientsParams::from_grads(loss.backward(), self.model());
        let agreed = self.agree_on_step(&mut grads, &loss_on_device);
        clip_global_norm::<B, _>(self.model(), &mut grads, tc.grad_clip);
        let lr = self.config.learning_rate(
            self.state.step,
            self.state.epoch,
            self.total_steps,
            agreed.elapsed,
        );
        // Moved, not cloned: the fused Adam updates parameters it owns in place.
        let model = self
            .model
            .take()
            .expect("the model is in place between steps");
        self.model = Some(self.optim.step(lr, model, grads));
        self.hidden = next.detach();
        // Read once the whole step is queued: on a GPU nothing in the step
        // waits for the host (unless processes had to agree on it). A
        // diverged step has updated the weights in memory, but no checkpoint
        // of it is ever written.
        let loss_value = agreed
            .loss
            .unwrap_or_else(|| loss_on_device.into_scalar().elem::<f64>());
        self.check_divergence(loss_value)?;

        self.state.step += 1;
        self.state.batch += 1;
        self.state.train_loss = Some(loss_value);
        self.state.elapsed_sec = self.clock.elapsed();
        self.clock.interval_steps += 1;
        self.clock.interval_train_sec += started.elapsed().as_secs_f64();
        self.clock.interval_all_reduce_sec += agreed.all_reduce_sec;
        Ok(StepOutcome {
            loss: loss_value,
            lr,
            started,
            elapsed: agreed.elapsed,
            stop: agreed.stop,
        })
    }

    /// Stops the run, before anything of the bad step is saved, when the loss
    /// is not finite or has grown past `divergence_factor` × the first loss.
    pub(crate) fn check_divergence(&mut self, loss: f64) -> Result<(), TrainError> {
        let factor = self.config.train.divergence_factor;
        let first = *self.state.first_loss.get_or_insert(loss);
        let why = if !loss.is_finite() {
            "not a finite number".to_string()
        } else if factor > 0.0 && loss > factor * first {
            format!("more than train.divergence_factor = {factor} times the first loss {first:.4}")
        } else {
            return Ok(());
        };
        Err(TrainError::Diverged {
            step: self.state.step + 1,
            loss,
            why,
            last_good: self.last_saved.as_ref().map(|(dir, _)| dir.clone()),
        })
    }

    /// Validation, progress, logs, checkpoints and samples due after a step;
    /// then honours a stop request.
    pub(crate) fn after_step(
        &mut self,
        outcome: &StepOutcome,
        metrics: &mut Option<MetricsLog>,
    ) -> Result<(), TrainError> {
        let tc = &self.config.train;
        let step = self.state.step;
        // Decided once per step, so that the last step of a timed run is
        // validated and logged like the last of a counted one.
        self.out_of_time = self.config.time_spent(outcome.elapsed) >= 1.0;
        let at_end = step == self.total_steps || self.out_of_time;
        let val_loss = if every(step, tc.eval_every) || at_end {
            Some(self.validate()?)
        } else {
            None
        };
        self.report_progress(outcome, val_loss);
        if every(step, tc.log_every) || val_loss.is_some() || at_end {
            self.log_step(outcome, val_loss, metrics)?;
        }
        let stop_requested = outcome.stop;
        // A new best is saved whatever save_every says, so that `best`
        // always names the best model validated so far.
        let new_best = val_loss.is_some() && self.best_step == Some(step);
        if every(step, tc.save_every) || stop_requested || new_best {
            self.save()?;
        }
        if every(step, tc.sample_every) && self.world.rank() == 0 {
            write_sample(
                &self.run_dir,
                &self.model().valid(),
                &self.data.vocab,
                self.config,
                step,
                val_loss,
            )
            .map_err(run_dir_error(&self.run_dir))?;
        }
        match (&self.last_saved, stop_requested) {
            (Some((checkpoint, _)), true) => Err(TrainError::Interrupted {
                step,
                checkpoint: checkpoint.clone(),
                run_dir: self.run_dir.clone(),
            }),
            _ => Ok(()),
        }
    }
}
