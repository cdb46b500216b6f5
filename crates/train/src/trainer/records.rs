//! What a run keeps of its steps: progress, metrics and log lines, validation,
//! checkpoints, and the summary at its end.

use std::path::PathBuf;

use burn::module::{AutodiffModule, Module};
use burn::optim::Optimizer;
use burn::record::Recorder;
use burn::tensor::backend::AutodiffBackend;
use charrnn_model::{LstmBackend, LstmKernels};
use tracing::info;

use crate::checkpoint::{self, CheckpointFiles};
use crate::collective::{join_hidden, Agreed};
use crate::data_parallel::weights_fingerprint;
use crate::eval::evaluate_shared;
use crate::metrics::{bits_per_char, MetricsLog, MetricsRecord, StepMeasures};

use super::agree;
use super::error::TrainError;
use super::options::{StepProgress, TrainSummary};
use super::parts::{state_to_vec, StepOutcome};
use super::phases::Trainer;
use super::setup::run_dir_error;

impl<B> Trainer<'_, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    pub(crate) fn report_progress(&self, outcome: &StepOutcome, val_loss: Option<f64>) {
        let Some(observer) = &self.options.progress else {
            return;
        };
        let tc = &self.config.train;
        observer.on_step(&StepProgress {
            step: self.state.step,
            total_steps: self.total_steps,
            epoch: self.state.epoch + 1,
            epochs: tc.epochs,
            batch: self.state.batch,
            batches: self.data.batcher.num_batches(),
            loss: outcome.loss,
            val_loss,
            chars_per_step: tc.batch_size * tc.seq_len,
            step_sec: outcome.started.elapsed().as_secs_f64(),
        });
    }

    /// One metrics record and one log line.
    pub(crate) fn log_step(
        &mut self,
        outcome: &StepOutcome,
        val_loss: Option<f64>,
        metrics: &mut Option<MetricsLog>,
    ) -> Result<(), TrainError> {
        let tc = &self.config.train;
        let interval = self.clock.take_interval(tc.batch_size * tc.seq_len);
        let state = &self.state;
        let record = MetricsRecord::new(StepMeasures {
            step: state.step,
            epoch: state.epoch + 1,
            train_loss: outcome.loss,
            val_loss,
            learning_rate: outcome.lr,
            chars_per_sec: interval.chars_per_sec,
            elapsed_sec: state.elapsed_sec,
        });
        if let Some(metrics) = metrics {
            metrics
                .write(&record)
                .map_err(run_dir_error(metrics.path()))?;
        }
        let val = val_loss.map_or(String::new(), |v| {
            format!("  val {v:.4} ({:.3} bits/char)", bits_per_char(v))
        });
        let all_reduce = match self.world.size() {
            1 => String::new(),
            _ => format!("  all-reduce {:.1}%", 100.0 * interval.all_reduce_share),
        };
        info!(
            "epoch {}/{}  step {}/{}  loss {:.4} ({:.3} bits/char){}  lr {:.2e}  {:.3} s/batch  {:.0} chars/s{}",
            state.epoch + 1,
            tc.epochs,
            state.step,
            self.total_steps,
            outcome.loss,
            bits_per_char(outcome.loss),
            val,
            outcome.lr,
            interval.sec_per_step,
            interval.chars_per_sec,
            all_reduce
        );
        Ok(())
    }

    /// The validation loss now; remembers the step when it is the best so far.
    pub(crate) fn validate(&mut self) -> Result<f64, TrainError> {
        let tc = &self.config.train;
        let loss = evaluate_shared(
            &self.model().valid(),
            self.data.val_ids,
            (tc.batch_size, tc.seq_len),
            self.device,
            &*self.world,
        )
        .map_err(|source| TrainError::TooShort {
            part: "validation text:",
            source,
        })?;
        let state = &mut self.state;
        state.val_loss = Some(loss);
        if state.best_val_loss.is_none_or(|best| loss < best) {
            state.best_val_loss = Some(loss);
            self.best_step = Some(state.step);
        }
        self.last_eval_step = Some(state.step);
        Ok(loss)
    }

    /// Writes a checkpoint of the current step (rank 0, with every
    /// process's hidden state; every process calls it at the same step).
    pub(crate) fn save(&mut self) -> Result<PathBuf, TrainError> {
        let world = &*self.world;
        if world.size() > 1 {
            agree(
                world,
                &[(Agreed::Weights, weights_fingerprint(self.model()))],
            )?;
        }
        let (model, optim) = (self.model(), &self.optim);
        let parts = world.gather(&state_to_vec(&self.hidden));
        let Some(parts) = parts else {
            let dir = checkpoint::step_dir(&self.run_dir, self.state.step);
            self.last_saved = Some((dir.clone(), self.state.step));
            return Ok(dir);
        };
        let hidden = join_hidden(&parts, world.size(), 2 * self.model_config.num_layers);
        let dir = checkpoint::save(
            &self.run_dir,
            CheckpointFiles {
                config: self.config,
                vocab: &self.data.vocab,
                state: &self.state,
                hidden: &hidden,
                is_best: self.best_step == Some(self.state.step),
                keep_last: self.config.train.keep_last,
            },
            || {
                let rec = checkpoint::bytes_recorder();
                Ok(checkpoint::Records {
                    model: rec.record(model.clone().into_record(), ())?,
                    optimizer: rec.record(optim.to_record(), ())?,
                })
            },
        )?;
        info!("saved checkpoint {}", dir.display());
        self.last_saved = Some((dir.clone(), self.state.step));
        Ok(dir)
    }

    /// Validates and checkpoints the last step unless that was done already.
    pub(crate) fn finish(mut self) -> Result<TrainSummary, TrainError> {
        if self.last_eval_step != Some(self.state.step) {
            let loss = self.validate()?;
            info!("final validation loss {loss:.4}");
        }
        let checkpoint = match &self.last_saved {
            Some((dir, step)) if *step == self.state.step => dir.clone(),
            _ => self.save()?,
        };
        Ok(TrainSummary {
            run_dir: self.run_dir,
            checkpoint,
            step: self.state.step,
            train_loss: self.state.train_loss,
            val_loss: self.state.val_loss,
            elapsed_sec: self.state.elapsed_sec,
        })
    }
}
