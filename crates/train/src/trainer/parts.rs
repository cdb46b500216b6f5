//! What the phases work with: the data, the clock, the model's state as flat
//! vectors, samples.

use std::path::Path;
use std::time::Instant;

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use charrnn_batch::{Batcher, TooShort};
use charrnn_corpus::{Ids, Vocab};
use charrnn_model::{CharRnn, LayerState, LstmBackend, ModelState};
use tracing::info;

use crate::adam::FusedAdam;
use crate::config::{ConfigError, RunConfig};

use super::error::TrainError;

pub(crate) type Optim<B> = burn::optim::adaptor::OptimizerAdaptor<FusedAdam, CharRnn<B>, B>;

/// Dropout masks are a function of (seed, step) alone, so a resumed run draws the
/// same masks as an uninterrupted one.
pub(crate) fn step_seed(seed: u64, step: u64) -> u64 {
    charrnn_model::splitmix64(seed ^ step.wrapping_mul(charrnn_model::GOLDEN_GAMMA))
}

struct InitializeNow;

impl<B: Backend> burn::module::ModuleVisitor<B> for InitializeNow {
    fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<B, D>>) {
        drop(param.val());
    }
}

/// Draws every parameter's initial value now, in module order. burn draws a
/// parameter lazily, from the backend's generator as it stands at the
/// parameter's first use: without this, the weights a seed gives would
/// depend on what touches them first (the first step's reseeding, a
/// checksum taken by one process of several).
pub(crate) fn initialize_now<B: Backend>(model: &CharRnn<B>) {
    burn::module::Module::visit(model, &mut InitializeNow);
}

/// A process's dropout seed: rank 0 keeps the step's seed, so that one
/// process trains as it always has; the others mix their rank in.
pub(crate) fn rank_seed(seed: u64, rank: usize) -> u64 {
    match rank {
        0 => seed,
        _ => charrnn_model::splitmix64(
            seed ^ (rank as u64).wrapping_mul(charrnn_model::GOLDEN_GAMMA),
        ),
    }
}

pub(crate) fn state_to_vec<B: Backend>(state: &ModelState<B>) -> Vec<f32> {
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

pub(crate) fn state_from_vec<B: Backend>(
    v: &[f32],
    shape: [usize; 4],
    device: &B::Device,
) -> ModelState<B> {
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
pub(crate) fn every(step: u64, n: u64) -> bool {
    n > 0 && step.is_multiple_of(n)
}

/// Appends a short sample from the `[sample]` settings to `run_dir/samples.txt`.
pub(crate) fn write_sample<B: LstmBackend>(
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

/// The corpus split into training batches and validation text.
pub(crate) struct TrainingData<'a> {
    pub(crate) vocab: Vocab,
    pub(crate) batcher: Batcher<'a>,
    pub(crate) train_len: usize,
    pub(crate) val_ids: Ids<'a>,
}

impl<'a> TrainingData<'a> {
    pub(crate) fn new(
        config: &RunConfig,
        vocab: &Vocab,
        train_ids: Ids<'a>,
        val_ids: Ids<'a>,
    ) -> Result<Self, TrainError> {
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
        // The samples written during training draw among sample.top_n characters.
        let vocab_size = vocab.len();
        if config.sample.top_n > vocab_size {
            return Err(ConfigError::Range {
                key: "sample.top_n".into(),
                value: config.sample.top_n.to_string(),
                expected: format!("at most the corpus's vocabulary size {vocab_size}"),
            }
            .into());
        }
        Ok(Self {
            vocab: vocab.clone(),
            batcher,
            train_len: train_ids.len(),
            val_ids,
        })
    }
}

/// Throughput counts training steps only: validation and checkpoints are not
/// training speed.
pub(crate) struct Clock {
    pub(crate) started: Instant,
    /// Training time of the run before this process (on resume).
    pub(crate) base_elapsed: f64,
    pub(crate) interval_train_sec: f64,
    /// Of which, in the all-reduce of the processes' gradients.
    pub(crate) interval_all_reduce_sec: f64,
    pub(crate) interval_steps: u64,
}

impl Clock {
    pub(crate) fn new(base_elapsed: f64) -> Self {
        Self {
            started: Instant::now(),
            base_elapsed,
            interval_train_sec: 0.0,
            interval_all_reduce_sec: 0.0,
            interval_steps: 0,
        }
    }

    pub(crate) fn elapsed(&self) -> f64 {
        self.base_elapsed + self.started.elapsed().as_secs_f64()
    }

    /// The steps since the last call.
    pub(crate) fn take_interval(&mut self, chars_per_step: usize) -> Interval {
        let secs = self.interval_train_sec;
        let steps = self.interval_steps.max(1) as f64;
        let interval = Interval {
            sec_per_step: secs / steps,
            chars_per_sec: chars_per_step as f64 * self.interval_steps as f64 / secs.max(1e-9),
            all_reduce_share: self.interval_all_reduce_sec / secs.max(1e-9),
        };
        self.interval_train_sec = 0.0;
        self.interval_all_reduce_sec = 0.0;
        self.interval_steps = 0;
        interval
    }
}

/// Training speed over the steps between two log lines.
pub(crate) struct Interval {
    pub(crate) sec_per_step: f64,
    /// Of the whole batch (every process's streams).
    pub(crate) chars_per_sec: f64,
    /// The fraction of the time spent in the all-reduce of gradients.
    pub(crate) all_reduce_share: f64,
}

/// What one step produced, for the bookkeeping after it.
pub(crate) struct StepOutcome {
    /// The training loss, the mean over every process's streams.
    pub(crate) loss: f64,
    pub(crate) lr: f64,
    pub(crate) started: Instant,
    /// The run's training time at this step, by rank 0's clock.
    pub(crate) elapsed: f64,
    /// Some process was asked to stop (Ctrl-C, SIGTERM): all stop here.
    pub(crate) stop: bool,
}
