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
use charrnn_corpus::{CorpusError, Fingerprint, Ids, Vocab};
use charrnn_model::{CharRnn, CharRnnConfig, LayerState, LstmBackend, LstmKernels, ModelState};
use charrnn_tokens::TokenFileError;
use tracing::{info, warn};

use crate::adam::FusedAdam;
use crate::batch_tensors::batch_tensors;
use crate::checkpoint::{self, CheckpointError, CheckpointFiles, CheckpointMeta, TrainerState};
use crate::clip::clip_global_norm;
use crate::config::{ConfigError, CorpusNotFound, RunConfig, ValSplit};
use crate::device::Device;
use crate::eval::evaluate;
use crate::memory::{self, human_bytes, human_count, MemoryNeed};
use crate::metrics::{bits_per_char, MetricsLog, MetricsRecord, StepMeasures};
use crate::run_lock::{LockError, RunStart};
use crate::train_text::{corpus_files, TrainText};

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
    /// Folders a relative corpus path is looked up in, in order (an
    /// absolute one is used as it is; the empty path is the working folder).
    /// `charrnn train` gives `$CHARRNN_DATA_DIR`, `data/`, the config's
    /// folder, then the working folder.
    pub corpus_dirs: Vec<PathBuf>,
    /// The device it trains on, recorded in checkpoints.
    pub device: Device,
    /// When set (e.g. by a Ctrl-C handler), training finishes the current step,
    /// writes a checkpoint and returns [`TrainError::Interrupted`].
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
    charrnn_model::splitmix64(seed ^ step.wrapping_mul(charrnn_model::GOLDEN_GAMMA))
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
    B::InnerBackend: LstmKernels,
{
    let run_dir = run_dir_of(config, options.resume.as_deref())?;
    // The lock comes before any checkpoint is read: a trainer that finished
    // meanwhile may have written a newer `latest`. Until the run starts, a
    // failure on the inputs removes what this start made.
    let mut start = RunStart::begin(&run_dir).map_err(|e| match e {
        LockError::CreateDir { run_dir, source } => TrainError::RunDir {
            path: run_dir,
            source,
        },
        other => other.into(),
    })?;
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
    let corpus = TrainText::load(config, &files, base, &run_dir)?;
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
    let metrics = trainer.open_logs(resume.as_ref())?;
    start.started();
    trainer.announce(&corpus_path, &corpus);
    trainer.run(metrics)
}

/// Fine-tuning keeps the trained model's shape.
fn check_same_shape(config: &RunConfig, init: &CheckpointMeta) -> Result<(), TrainError> {
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
fn check_memory(config: &RunConfig, vocab_size: usize, device: Device) -> Result<(), TrainError> {
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
fn check_same_corpus(
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
fn run_dir_of(config: &RunConfig, resume: Option<&Path>) -> Result<PathBuf, TrainError> {
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

fn run_dir_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.to_path_buf();
    move |source| TrainError::RunDir { path, source }
}

/// The corpus split into training batches and validation text.
struct TrainingData<'a> {
    vocab: Vocab,
    batcher: Batcher<'a>,
    train_len: usize,
    val_ids: Ids<'a>,
}

impl<'a> TrainingData<'a> {
    fn new(
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
struct Clock {
    started: Instant,
    /// Training time of the run before this process (on resume).
    base_elapsed: f64,
    interval_train_sec: f64,
    interval_steps: u64,
}

impl Clock {
    fn new(base_elapsed: f64) -> Self {
        Self {
            started: Instant::now(),
            base_elapsed,
            interval_train_sec: 0.0,
            interval_steps: 0,
        }
    }

    fn elapsed(&self) -> f64 {
        self.base_elapsed + self.started.elapsed().as_secs_f64()
    }

    /// `(seconds per step, characters per second)` since the last call.
    fn take_interval(&mut self, chars_per_step: usize) -> (f64, f64) {
        let secs = self.interval_train_sec;
        let steps = self.interval_steps.max(1) as f64;
        let chars_per_sec = chars_per_step as f64 * self.interval_steps as f64 / secs.max(1e-9);
        self.interval_train_sec = 0.0;
        self.interval_steps = 0;
        (secs / steps, chars_per_sec)
    }
}

/// What one step produced, for the bookkeeping after it.
struct StepOutcome {
    loss: f64,
    lr: f64,
    started: Instant,
}

/// One training run: the model, its optimizer and where the run stands. Each
/// phase of a run is a method.
struct Trainer<'a, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    config: &'a RunConfig,
    options: &'a TrainOptions,
    device: &'a B::Device,
    data: TrainingData<'a>,
    run_dir: PathBuf,
    model_config: CharRnnConfig,
    /// Taken out only while the optimizer updates it in place.
    model: Option<CharRnn<B>>,
    optim: Optim<B>,
    state: TrainerState,
    hidden: ModelState<B>,
    total_steps: u64,
    clock: Clock,
    last_saved: Option<(PathBuf, u64)>,
    last_eval_step: Option<u64>,
    best_step: Option<u64>,
    /// `train.max_minutes` is spent: the run ends after this step.
    out_of_time: bool,
}

impl<'a, B> Trainer<'a, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    /// A fresh model and optimizer, seeded from the config.
    fn new(
        config: &'a RunConfig,
        options: &'a TrainOptions,
        device: &'a B::Device,
        data: TrainingData<'a>,
        run_dir: PathBuf,
    ) -> Result<Self, TrainError> {
        let tc = &config.train;
        let model_config = config.model_config(data.vocab.len());
        B::seed(device, tc.seed);
        let model: CharRnn<B> = model_config.init(device);
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
            hidden: ModelState::zeros(&model_config, tc.batch_size, device),
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
        })
    }

    fn model(&self) -> &CharRnn<B> {
        self.model
            .as_ref()
            .expect("the model is in place between steps")
    }

    /// Continues from a checkpoint: weights, Adam moments, hidden state and
    /// where the run stood.
    fn restore(&mut self, meta: &CheckpointMeta) -> Result<(), TrainError> {
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
        self.hidden = state_from_vec(&hidden, self.state.hidden_shape, device);
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
    fn start_from(&mut self, init: &CheckpointMeta) -> Result<(), TrainError> {
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
    fn open_logs(&self, resume: Option<&CheckpointMeta>) -> Result<MetricsLog, TrainError> {
        let run_err = run_dir_error(&self.run_dir);
        std::fs::write(self.run_dir.join("config.toml"), self.config.to_toml()).map_err(run_err)?;
        MetricsLog::open(&self.run_dir, resume.map(|m| m.state.step))
            .map_err(run_dir_error(&self.run_dir))
    }

    fn announce(&self, corpus_path: &Path, corpus: &TrainText) {
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
    fn run(mut self, mut metrics: MetricsLog) -> Result<TrainSummary, TrainError> {
        let num_batches = self.data.batcher.num_batches();
        let tc = &self.config.train;
        'epochs: while self.state.epoch < tc.epochs {
            if self.state.batch == 0 {
                // Each epoch starts from a zero state, as in the seed notebook.
                self.hidden = ModelState::zeros(&self.model_config, tc.batch_size, self.device);
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
    fn step(&mut self) -> Result<StepOutcome, TrainError> {
        let tc = &self.config.train;
        let started = Instant::now();
        // Backends that draw dropout masks from their own generator draw the
        // same ones on resume.
        let seed = step_seed(tc.seed, self.state.step);
        B::seed(self.device, seed);
        let batch = self.data.batcher.batch(self.state.batch);
        let (inputs, targets) = batch_tensors::<B>(&batch, self.device);
        let hidden = std::mem::replace(&mut self.hidden, ModelState { layers: Vec::new() });
        let (logits, next) = self.model().forward_train(inputs, hidden, seed);
        let loss = self.model().loss(logits, targets);
        let loss_on_device = loss.clone().inner();
        let mut grads = GradientsParams::from_grads(loss.backward(), self.model());
        clip_global_norm::<B, _>(self.model(), &mut grads, tc.grad_clip);
        let lr = self.config.learning_rate(
            self.state.step,
            self.state.epoch,
            self.total_steps,
            self.clock.elapsed(),
        );
        // Moved, not cloned: the fused Adam updates parameters it owns in place.
        let model = self
            .model
            .take()
            .expect("the model is in place between steps");
        self.model = Some(self.optim.step(lr, model, grads));
        self.hidden = next.detach();
        // Read once the whole step is queued: on a GPU nothing in the step
        // waits for the host. A diverged step has updated the weights in
        // memory, but no checkpoint of it is ever written.
        let loss_value = loss_on_device.into_scalar().elem::<f64>();
        self.check_divergence(loss_value)?;

        self.state.step += 1;
        self.state.batch += 1;
        self.state.train_loss = Some(loss_value);
        self.state.elapsed_sec = self.clock.elapsed();
        self.clock.interval_steps += 1;
        self.clock.interval_train_sec += started.elapsed().as_secs_f64();
        Ok(StepOutcome {
            loss: loss_value,
            lr,
            started,
        })
    }

    /// Stops the run, before anything of the bad step is saved, when the loss
    /// is not finite or has grown past `divergence_factor` × the first loss.
    fn check_divergence(&mut self, loss: f64) -> Result<(), TrainError> {
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
    fn after_step(
        &mut self,
        outcome: &StepOutcome,
        metrics: &mut MetricsLog,
    ) -> Result<(), TrainError> {
        let tc = &self.config.train;
        let step = self.state.step;
        // Decided once per step, so that the last step of a timed run is
        // validated and logged like the last of a counted one.
        self.out_of_time = self.config.time_spent(self.clock.elapsed()) >= 1.0;
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
        let stop_requested = self
            .options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst));
        // A new best is saved whatever save_every says, so that `best`
        // always names the best model validated so far.
        let new_best = val_loss.is_some() && self.best_step == Some(step);
        if every(step, tc.save_every) || stop_requested || new_best {
            self.save()?;
        }
        if every(step, tc.sample_every) {
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

    fn report_progress(&self, outcome: &StepOutcome, val_loss: Option<f64>) {
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
    fn log_step(
        &mut self,
        outcome: &StepOutcome,
        val_loss: Option<f64>,
        metrics: &mut MetricsLog,
    ) -> Result<(), TrainError> {
        let tc = &self.config.train;
        let (sec_per_step, chars_per_sec) = self.clock.take_interval(tc.batch_size * tc.seq_len);
        let state = &self.state;
        let record = MetricsRecord::new(StepMeasures {
            step: state.step,
            epoch: state.epoch + 1,
            train_loss: outcome.loss,
            val_loss,
            learning_rate: outcome.lr,
            chars_per_sec,
            elapsed_sec: state.elapsed_sec,
        });
        metrics
            .write(&record)
            .map_err(run_dir_error(metrics.path()))?;
        let val = val_loss.map_or(String::new(), |v| {
            format!("  val {v:.4} ({:.3} bits/char)", bits_per_char(v))
        });
        info!(
            "epoch {}/{}  step {}/{}  loss {:.4} ({:.3} bits/char){}  lr {:.2e}  {:.3} s/batch  {:.0} chars/s",
            state.epoch + 1,
            tc.epochs,
            state.step,
            self.total_steps,
            outcome.loss,
            bits_per_char(outcome.loss),
            val,
            outcome.lr,
            sec_per_step,
            chars_per_sec
        );
        Ok(())
    }

    /// The validation loss now; remembers the step when it is the best so far.
    fn validate(&mut self) -> Result<f64, TrainError> {
        let tc = &self.config.train;
        let loss = evaluate(
            &self.model().valid(),
            self.data.val_ids,
            tc.batch_size,
            tc.seq_len,
            self.device,
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

    /// Writes a checkpoint of the current step.
    fn save(&mut self) -> Result<PathBuf, TrainError> {
        let (model, optim) = (self.model(), &self.optim);
        let hidden = state_to_vec(&self.hidden);
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
    fn finish(mut self) -> Result<TrainSummary, TrainError> {
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

#[cfg(test)]
mod tests {
    use super::step_seed;

    #[test]
    fn step_seeds_differ() {
        let seeds: std::collections::HashSet<u64> = (0..1000).map(|s| step_seed(42, s)).collect();
        assert_eq!(seeds.len(), 1000);
    }
}
