//! `charrnn`: train a character-level LSTM on any UTF-8 text, sample from it,
//! evaluate it, inspect its checkpoints. A thin layer over the charrnn crates.
#![deny(unsafe_op_in_unsafe_fn)]

mod advice;
mod chat;
mod corpus_dirs;
mod device;
mod prepare;
mod progress;
mod serve;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use burn::backend::Flex;
use burn::tensor::backend::AutodiffBackend;
use charrnn::corpus::{read_text, split_train_val};
use charrnn::model::{CharRnn, LstmBackend, LstmKernels};
use charrnn::sample::{Engine, Generator, SampleError, SampleOverrides};
use charrnn::train::{
    bits_per_char, checkpoint, evaluate, train, RunConfig, TrainError, TrainOptions, TrainSummary,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use corpus_dirs::corpus_dirs;
use device::{DeviceArg, OnBackend};

/// What the exit status means, for every command.
const EXIT_CODES: &str = "Exit status: 0 done, 1 error (one `error:` line says what and what to do), 2 usage (a bad flag or argument), 130 interrupted (a checkpoint was written first). NO_COLOR turns colour off.";

#[derive(Parser)]
#[command(
    name = "charrnn",
    version,
    about = "Character-level LSTM language models: train, sample, evaluate.",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Print only warnings and errors (RUST_LOG overrides).
    #[arg(long, short, global = true)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a TOML config (or resume a run).
    Train(TrainArgs),
    /// Generate text from a trained model.
    Sample(SampleArgs),
    /// Mean cross-entropy of a text under a model, in nats per character.
    Eval(EvalArgs),
    /// Describe a checkpoint or run.
    Info(InfoArgs),
    /// Draw a run's training and validation loss into runs/X/loss.png and .svg.
    Plot(PlotArgs),
    /// Check a text file before training: size, vocabulary, commonest characters,
    /// and how fast it loads and encodes.
    Corpus(CorpusArgs),
    /// Write with a model at a prompt: each line is a prime whose continuation
    /// streams out; /temperature, /top-n, /length, /seed set the options.
    Chat(chat::ChatArgs),
    /// Serve a model over HTTP: POST /v1/generate (JSON, or Server-Sent Events
    /// with "stream": true), GET /v1/model, GET /health.
    Serve(serve::ServeArgs),
    /// Encode a corpus once into a token file that training reads by memory
    /// map: for corpora larger than memory (name the file in data.corpus).
    Prepare(prepare::PrepareArgs),
    /// Print a shell completion script: charrnn completions bash > /etc/bash_completion.d/charrnn
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): charrnn man > charrnn.1
    Man,
    /// Print a run config with its defaults filled in and overrides applied, as
    /// TOML (what `train` would use).
    Config(ConfigArgs),
}

#[derive(Args)]
struct ConfigArgs {
    /// Run config (configs/X.toml).
    #[arg(long)]
    config: PathBuf,
    /// Override a config value: --set train.max_steps=100 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
}

#[derive(Args)]
struct TrainArgs {
    /// Run config (configs/X.toml). With --resume, the checkpoint's config is used.
    #[arg(long, required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Override a config value: --set train.max_steps=100 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Where to train.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Continue a run (runs/X) or a checkpoint (runs/X/checkpoints/step-N).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// With --resume: continue even though the corpus's text has changed
    /// since the checkpoint (its vocabulary must be the same).
    #[arg(long, requires = "resume")]
    allow_changed_corpus: bool,
    /// Fine-tune: start a new run from a trained checkpoint's weights (a run
    /// folder: its best). Its vocabulary comes first; new characters are
    /// added after it. The config's [model] sizes must match the checkpoint's.
    #[arg(long, value_name = "CHECKPOINT_OR_RUN", conflicts_with = "resume")]
    init_from: Option<PathBuf>,
}

#[derive(Args)]
struct SampleArgs {
    #[command(flatten)]
    model: ModelChoice,
    /// Text to start from (default: the config's `[sample]` prime).
    #[arg(long, conflicts_with = "prime_file")]
    prime: Option<String>,
    /// Start from the text of a UTF-8 file (nanoGPT's FILE:prompt.txt).
    #[arg(long, value_name = "FILE")]
    prime_file: Option<PathBuf>,
    /// Characters to generate.
    #[arg(long)]
    length: Option<usize>,
    /// Draw among the N most likely characters (1 = greedy).
    #[arg(long)]
    top_n: Option<usize>,
    /// Softmax temperature (> 0).
    #[arg(long)]
    temperature: Option<f64>,
    /// Random seed (sample i uses seed + i).
    #[arg(long)]
    seed: Option<u64>,
    /// Nucleus sampling: keep the most likely characters whose probability adds
    /// up to P (within --top-n).
    #[arg(long)]
    top_p: Option<f64>,
    /// Stop a sample once it ends with TEXT (e.g. "。").
    #[arg(long)]
    stop_at: Option<String>,
    /// How many samples to generate, as one batch (sample i uses seed + i).
    #[arg(long, default_value_t = 1)]
    num_samples: usize,
    /// Print one JSON object per sample instead of plain text.
    #[arg(long)]
    json: bool,
}

/// Which model a command loads: `--run` (its best checkpoint, or its newest
/// with `--latest`) or `--checkpoint`. Shared by sample, serve and chat.
#[derive(Args)]
pub struct ModelChoice {
    /// A run folder; its best checkpoint (lowest validation loss) is used,
    /// or its newest with --latest.
    #[arg(
        long,
        conflicts_with = "checkpoint",
        required_unless_present = "checkpoint"
    )]
    run: Option<PathBuf>,
    /// A checkpoint folder.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// With --run: use the newest checkpoint instead of the best one.
    #[arg(long)]
    latest: bool,
}

impl ModelChoice {
    /// The chosen checkpoint's metadata and model, on the CPU.
    pub fn load(&self) -> anyhow::Result<(checkpoint::CheckpointMeta, CharRnn<Flex>)> {
        let (path, pick) = match (&self.run, &self.checkpoint) {
            (Some(run), _) if self.latest => (run, checkpoint::Pick::Latest),
            (Some(run), _) => (run, checkpoint::Pick::Best),
            (None, Some(dir)) => (dir, checkpoint::Pick::Latest),
            (None, None) => anyhow::bail!("give --run RUN or --checkpoint DIR"),
        };
        Ok(checkpoint::load_pick::<Flex>(
            path,
            pick,
            &Default::default(),
        )?)
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Split {
    /// The whole text.
    All,
    /// The text before the validation tail.
    Train,
    /// The validation tail (the run's data.val_fraction).
    Val,
}

#[derive(Args)]
struct EvalArgs {
    /// A checkpoint folder or run folder.
    #[arg(long)]
    checkpoint: PathBuf,
    /// A UTF-8 text file.
    #[arg(long)]
    corpus: PathBuf,
    /// Which part of the text to score.
    #[arg(long, value_enum, default_value = "all")]
    split: Split,
    /// Where to evaluate.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CorpusArgs {
    /// A UTF-8 text file, a folder of them (every *.txt, recursively), or a
    /// token file written by `charrnn prepare`.
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct PlotArgs {
    /// A run folder (holding metrics.jsonl).
    run: PathBuf,
}

#[derive(Args)]
struct InfoArgs {
    /// A checkpoint folder or run folder.
    path: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// mimalloc keeps freed memory for reuse; the system allocator returns every
/// large tensor (tens to hundreds of MB) to the kernel and faults it back in on
/// the next step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's option enum (not named by the -sys crate).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Never hand freed pages back to the OS mid-run: every training step
    // allocates and frees the same large buffers. Peak memory is unchanged.
    // SAFETY: sets a plain integer option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = Cli::parse();
    init_logging(cli.quiet);
    let quiet = cli.quiet;
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal failure: {info}; please report this");
    }));
    // A bad CHARRNN_SIMD is a usage error here, not a panic in the first kernel.
    if let Err(e) = charrnn::cpu::SimdLevel::from_env() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    match run(cli.command, quiet) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if matches!(e.downcast_ref(), Some(TrainError::Interrupted { .. })) => {
            eprintln!("{}", advice::with_advice(e.to_string(), &e));
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("error: {}", advice::with_advice(one_line(&e), &e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line; a cause already quoted by the message
/// above it is not repeated.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn init_logging(quiet: bool) {
    let default = if quiet { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(progress::colour_wanted())
        .with_writer(progress::LogWriter::default)
        .init();
}

fn run(command: Command, quiet: bool) -> anyhow::Result<()> {
    match command {
        Command::Train(args) => cmd_train(args, quiet),
        Command::Plot(args) => cmd_plot(args),
        Command::Corpus(args) => cmd_corpus(args),
        Command::Prepare(args) => prepare::cmd_prepare(args, quiet),
        Command::Serve(args) => serve::cmd_serve(args),
        Command::Chat(args) => chat::cmd_chat(args),
        Command::Sample(args) => cmd_sample(args),
        Command::Eval(args) => cmd_eval(args),
        Command::Info(args) => cmd_info(args),
        Command::Completions { shell } => {
            // Into memory first: generate() panics when its writer fails.
            let mut script = Vec::new();
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "charrnn", &mut script);
            std::io::stdout().write_all(&script)?;
            Ok(())
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Config(args) => {
            let config = RunConfig::load(&args.config, &args.overrides)?;
            print!("{}", config.to_toml());
            Ok(())
        }
    }
}

fn cmd_train(args: TrainArgs, quiet: bool) -> anyhow::Result<()> {
    let (config, config_dir) = match (&args.resume, &args.config) {
        (Some(resume), _) => {
            let meta = checkpoint::load_meta(resume)?;
            let config = RunConfig::parse(
                &meta.config.to_toml(),
                &meta.dir.join("config.toml"),
                &args.overrides,
            )?;
            (config, PathBuf::from("."))
        }
        (None, Some(path)) => {
            let config = RunConfig::load(path, &args.overrides)?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (config, dir)
        }
        (None, None) => anyhow::bail!("give --config FILE or --resume RUN"),
    };
    let device = device::select(args.device)?;
    let bars = progress::wanted(quiet).then(|| Arc::new(progress::EpochBars::default()));
    let options = TrainOptions {
        resume: args.resume,
        corpus_dirs: corpus_dirs(&config_dir),
        device,
        stop: Some(stop_on_signal()?),
        progress: bars
            .clone()
            .map(|b| b as Arc<dyn charrnn::train::ProgressObserver>),
        allow_changed_corpus: args.allow_changed_corpus,
        init_from: args.init_from,
    };
    let result = device::run_on(
        device,
        Train {
            config: &config,
            options: &options,
        },
    );
    if let Some(bars) = bars {
        bars.finish();
    }
    // The curves are worth having after an interrupt too; a failed plot never
    // fails the training that preceded it.
    let run_dir = match &result {
        Ok(summary) => Some(summary.run_dir.clone()),
        Err(TrainError::Interrupted { run_dir, .. }) => Some(run_dir.clone()),
        Err(_) => None,
    };
    if let Some(run_dir) = run_dir {
        match plot_run(&run_dir) {
            Ok(files) => tracing::info!("loss plot: {}", files.png.display()),
            Err(e) => tracing::warn!("no loss plot: {}", one_line(&e)),
        }
    }
    let summary = result?;
    let val = summary.val_loss.map_or("n/a".into(), |v| {
        format!("{v:.4} nats/char ({:.3} bits/char)", bits_per_char(v))
    });
    println!(
        "done: {} steps in {:.0} s, validation loss {val}; checkpoint {}",
        summary.step,
        summary.elapsed_sec,
        summary.checkpoint.display()
    );
    Ok(())
}

/// The first Ctrl-C (or SIGTERM) asks training to checkpoint and stop after the
/// current step; a second one exits at once (checkpoints are written atomically,
/// so nothing is left half-written).
fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting now");
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to quit now)"
        );
    })
    .context("cannot install the Ctrl-C handler")?;
    Ok(stop)
}

/// A sampling error, with the flag that sets the option at fault.
fn with_flag(e: SampleError) -> anyhow::Error {
    match &e {
        SampleError::Invalid(invalid) => {
            let flag = invalid.key.replace('_', "-");
            anyhow::anyhow!("{e}; set it with --{flag}")
        }
        SampleError::TooBig { .. } => anyhow::anyhow!("{e} (--num-samples, --length)"),
        _ => e.into(),
    }
}

/// What a generation may take here: the memory available now.
pub(crate) fn memory_limits() -> charrnn::sample::Limits {
    let available = charrnn::train::memory::available_memory().unwrap_or(u64::MAX);
    charrnn::sample::Limits::memory(available)
}

fn cmd_sample(args: SampleArgs) -> anyhow::Result<()> {
    let (meta, model) = args.model.load()?;
    let defaults = &meta.config.sample;
    let prime = match (args.prime, &args.prime_file) {
        (None, Some(file)) => Some(read_text(file).context("--prime-file")?),
        (prime, _) => prime,
    };
    let options = SampleOverrides {
        prime,
        length: args.length,
        top_n: args.top_n,
        temperature: args.temperature,
        seed: args.seed,
        top_p: args.top_p,
        stop_at: args.stop_at,
    }
    .over(defaults);
    let mut generator = Generator::new(Engine::from_model(&model), meta.vocab.clone())?;
    generator.check(&options).map_err(with_flag)?;
    memory_limits()
        .check(generator.bytes_per_stream(), &options, args.num_samples)
        .map_err(with_flag)?;
    tracing::info!("sampling from {}", meta.dir.display());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let started = std::time::Instant::now();
    // One sample streams to the terminal as it is drawn; several are drawn as a
    // batch and printed when done.
    let texts = if args.num_samples == 1 && !args.json {
        write!(out, "{}", options.prime)?;
        let mut failed = None;
        let text = generator.generate(&options, |c| {
            if failed.is_none() {
                let mut buf = [0u8; 4];
                let bytes = c.encode_utf8(&mut buf).as_bytes();
                if let Err(e) = out.write_all(bytes).and_then(|_| out.flush()) {
                    failed = Some(e);
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e).context("writing the sample to stdout");
        }
        writeln!(out)?;
        vec![text]
    } else {
        generator.generate_many(&options, args.num_samples, |_, _| {})?
    };
    let secs = started.elapsed().as_secs_f64();
    let chars: usize = texts.iter().map(|t| t.chars().count()).sum();
    tracing::info!(
        "{chars} characters in {secs:.3} s ({:.0} chars/s)",
        chars as f64 / secs.max(1e-9)
    );
    if args.json || args.num_samples > 1 {
        for (i, text) in texts.iter().enumerate() {
            if args.json {
                let record = serde_json::json!({
                    "checkpoint": meta.dir,
                    "prime": options.prime,
                    "text": text,
                    "seed": options.seed.wrapping_add(i as u64),
                    "chars": text.chars().count(),
                    "seconds": secs,
                    "chars_per_sec": chars as f64 / secs.max(1e-9),
                });
                writeln!(out, "{record}")?;
            } else {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "{}{text}", options.prime)?;
            }
        }
    }
    Ok(())
}

fn cmd_eval(args: EvalArgs) -> anyhow::Result<()> {
    let meta = checkpoint::load_meta(&args.checkpoint)?;
    let text = read_text(&args.corpus)?;
    let ids = meta
        .vocab
        .encode(&text)
        .with_context(|| format!("{} cannot be scored by this model", args.corpus.display()))?;
    let (train_ids, val_ids) = split_train_val(&ids, meta.config.data.val_fraction);
    let ids = match args.split {
        Split::All => &ids[..],
        Split::Train => train_ids,
        Split::Val => val_ids,
    };
    let device = device::select(args.device)?;
    let loss = device::run_on(device, Eval { meta: &meta, ids })?;
    if args.json {
        let split = match args.split {
            Split::All => "all",
            Split::Train => "train",
            Split::Val => "val",
        };
        let record = serde_json::json!({
            "checkpoint": meta.dir,
            "corpus": args.corpus,
            "split": split,
            "chars": ids.len(),
            "nats_per_char": loss,
            "bits_per_char": bits_per_char(loss),
            "perplexity": loss.exp(),
        });
        println!("{record}");
        return Ok(());
    }
    println!(
        "{loss:.6} nats/char ({:.4} bits/char, perplexity {:.2}) over {} characters",
        bits_per_char(loss),
        loss.exp(),
        ids.len()
    );
    Ok(())
}

/// Training, as a job for any backend.
struct Train<'a> {
    config: &'a RunConfig,
    options: &'a TrainOptions,
}

impl OnBackend for Train<'_> {
    type Output = Result<TrainSummary, TrainError>;

    fn run<B>(self, device: &B::Device) -> Self::Output
    where
        B: AutodiffBackend + LstmBackend,
        B::InnerBackend: LstmKernels,
    {
        train::<B>(self.config, self.options, device)
    }
}

/// A checkpoint's mean cross-entropy over `ids`, as a job for any backend.
struct Eval<'a> {
    meta: &'a checkpoint::CheckpointMeta,
    ids: &'a [u32],
}

impl OnBackend for Eval<'_> {
    type Output = anyhow::Result<f64>;

    fn run<B>(self, device: &B::Device) -> Self::Output
    where
        B: AutodiffBackend + LstmBackend,
        B::InnerBackend: LstmKernels,
    {
        let model = checkpoint::load_model::<B::InnerBackend>(self.meta, device)?;
        let t = &self.meta.config.train;
        Ok(evaluate(&model, self.ids, t.batch_size, t.seq_len, device)?)
    }
}

/// Draws `run_dir/metrics.jsonl` into `run_dir/loss.png` and `loss.svg`.
fn plot_run(run_dir: &Path) -> anyhow::Result<charrnn::plot::PlotFiles> {
    let metrics = run_dir.join("metrics.jsonl");
    let records = charrnn::train::read_metrics(&metrics).with_context(|| {
        format!(
            "cannot read {}: give a run folder (runs/X) that has trained for a few steps",
            metrics.display()
        )
    })?;
    let points: Vec<charrnn::plot::LossPoint> = records
        .iter()
        .map(|r| charrnn::plot::LossPoint {
            step: r.step,
            train_loss: r.train_loss,
            val_loss: r.val_loss,
        })
        .collect();
    let name = std::fs::canonicalize(run_dir)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| run_dir.display().to_string());
    Ok(charrnn::plot::plot_losses(
        &points,
        &format!("{name}: loss per character"),
        &run_dir.join("loss"),
    )?)
}

fn cmd_plot(args: PlotArgs) -> anyhow::Result<()> {
    let files = plot_run(&args.run)?;
    println!("{}\n{}", files.png.display(), files.svg.display());
    Ok(())
}

fn cmd_corpus(args: CorpusArgs) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    if charrnn::tokens::is_token_file(&args.file) {
        let file = charrnn::tokens::TokenFile::open(&args.file)?;
        let header = file.header();
        let counts = char_counts(file.tokens(), file.vocab().len());
        let shape = (header.sources.len(), header.text.bytes);
        let work = "open, check the checksums, count; sizes are of the text it encodes";
        return describe_corpus(&args, shape, file.vocab(), &counts, (started, work));
    }
    let files = charrnn::corpus::files_of(&args.file)?;
    let corpus = charrnn::corpus::Corpus::load_documents(&files, "\n", None)?;
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()))
        .sum::<std::io::Result<u64>>()?;
    let counts = char_counts(corpus.ids().into(), corpus.vocab().len());
    describe_corpus(
        &args,
        (files.len(), bytes),
        corpus.vocab(),
        &counts,
        (started, "read, check UTF-8, build the vocabulary, encode"),
    )
}

/// How often each id occurs.
fn char_counts(ids: charrnn::corpus::Ids<'_>, vocab_size: usize) -> Vec<u64> {
    let mut counts = vec![0u64; vocab_size];
    for i in 0..ids.len() {
        counts[ids.get(i) as usize] += 1;
    }
    counts
}

/// Prints what `charrnn corpus` says of `files` files of `bytes` bytes, read
/// since `started` doing `work`.
fn describe_corpus(
    args: &CorpusArgs,
    (files, bytes): (usize, u64),
    vocab: &charrnn::corpus::Vocab,
    counts: &[u64],
    (started, work): (std::time::Instant, &str),
) -> anyhow::Result<()> {
    let secs = started.elapsed().as_secs_f64();
    let chars: u64 = counts.iter().sum();
    let mut commonest: Vec<(u64, char)> = counts
        .iter()
        .zip(vocab.chars())
        .map(|(&n, &c)| (n, c))
        .collect();
    commonest.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    commonest.truncate(10);
    let mb_per_sec = bytes as f64 / 1e6 / secs.max(1e-9);
    if args.json {
        let record = serde_json::json!({
            "file": &args.file,
            "files": files,
            "bytes": bytes,
            "chars": chars,
            "vocab": vocab.len(),
            "seconds": secs,
            "mb_per_sec": mb_per_sec,
            "commonest": commonest.iter().map(|(n, c)| (c.to_string(), n)).collect::<Vec<_>>(),
        });
        println!("{record}");
        return Ok(());
    }
    println!("file         {}", args.file.display());
    if files > 1 || args.file.is_dir() {
        println!("files        {files} (*.txt, joined by newlines)");
    }
    println!(
        "size         {:.1} MB, {} characters",
        bytes as f64 / 1e6,
        chars
    );
    println!("vocabulary   {} distinct characters", vocab.len());
    let shown: Vec<String> = commonest
        .iter()
        .map(|(n, c)| format!("{c:?} {:.1}%", 100.0 * *n as f64 / chars.max(1) as f64))
        .collect();
    println!("commonest    {}", shown.join(", "));
    println!("loaded in    {secs:.3} s ({mb_per_sec:.0} MB/s: {work})");
    Ok(())
}

/// What `charrnn info --json` says of a checkpoint.
fn info_json(meta: &checkpoint::CheckpointMeta) -> serde_json::Value {
    let (mc, s) = (meta.model_config(), &meta.state);
    serde_json::json!({
        "checkpoint": meta.dir,
        "step": s.step,
        "epoch": s.epoch,
        "batch": s.batch,
        "train_loss": s.train_loss,
        "val_loss": s.val_loss,
        "device": s.device,
        "elapsed_sec": s.elapsed_sec,
        "vocab_size": meta.vocab.len(),
        "corpus": meta.config.data.corpus.to_string(),
        "corpus_fingerprint": s.corpus,
        "format": s.format,
        "init_from": s.init_from,
        "model": {
            "embed_size": mc.embed_size,
            "hidden_size": mc.hidden_size,
            "num_layers": mc.num_layers,
            "dropout": mc.dropout,
            "params": mc.num_params(),
        },
        "size_on_disk": checkpoint::size_on_disk(&meta.dir),
        "config": meta.config,
    })
}

fn cmd_info(args: InfoArgs) -> anyhow::Result<()> {
    let meta = checkpoint::load_meta(&args.path)?;
    if args.json {
        println!("{}", info_json(&meta));
        return Ok(());
    }
    let mc = meta.model_config();
    let s = &meta.state;
    let loss = |l: Option<f64>| {
        l.map_or("n/a".into(), |v| {
            format!(
                "{v:.4} nats/char, {:.4} bits/char, perplexity {:.2}",
                bits_per_char(v),
                v.exp()
            )
        })
    };
    println!("checkpoint   {}", meta.dir.display());
    if s.batch == 0 {
        println!("step         {} ({} epochs done)", s.step, s.epoch);
    } else {
        println!(
            "step         {} (epoch {}, batch {})",
            s.step,
            s.epoch + 1,
            s.batch
        );
    }
    println!("train loss   {}", loss(s.train_loss));
    println!("val loss     {}", loss(s.val_loss));
    println!("device       {}", s.device);
    println!("trained for  {:.1} s", s.elapsed_sec);
    println!("vocabulary   {} characters", meta.vocab.len());
    let corpus = s.corpus.map_or("not recorded".into(), |f| f.to_string());
    println!("corpus       {} ({corpus})", meta.config.data.corpus);
    println!("layout       {} (checkpoint format version)", s.format);
    if let Some(from) = &s.init_from {
        println!(
            "fine-tuned   from {} (step {}, {} characters)",
            from.checkpoint.display(),
            from.step,
            from.vocab_size
        );
    }
    println!(
        "model        embed {} -> {} x LSTM {} -> {} ({} parameters, dropout {})",
        mc.embed_size,
        mc.num_layers,
        mc.hidden_size,
        mc.vocab_size,
        mc.num_params(),
        mc.dropout
    );
    println!(
        "size on disk {:.1} MB",
        checkpoint::size_on_disk(&meta.dir) as f64 / 1e6
    );
    println!("--- config.toml ---\n{}", meta.config.to_toml().trim_end());
    Ok(())
}
