//! `charrnn`: train a character-level LSTM on any UTF-8 text, sample from it,
//! evaluate it, inspect its checkpoints. A thin layer over the charrnn crates.
#![deny(unsafe_op_in_unsafe_fn)]

mod advice;
mod commands;
mod corpus_dirs;
mod device;
mod model_choice;
mod progress;
mod world;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use charrnn::train::{RunConfig, TrainError};
use clap::{Args, Parser, Subcommand};

use commands::{chat, corpus, eval, export, info, plot, prepare, sample, serve, train};

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
    Train(train::TrainArgs),
    /// Generate text from a trained model.
    Sample(sample::SampleArgs),
    /// Mean cross-entropy of a text under a model, in nats per character.
    Eval(eval::EvalArgs),
    /// Export a model for other runtimes: safetensors (PyTorch, numpy) or
    /// ONNX (onnxruntime), with its vocabulary and shape in charrnn.json.
    Export(export::ExportArgs),
    /// Describe a checkpoint or run.
    Info(info::InfoArgs),
    /// Draw a run's training and validation loss into runs/X/loss.png and .svg.
    Plot(plot::PlotArgs),
    /// Check a text file before training: size, vocabulary, commonest characters,
    /// and how fast it loads and encodes.
    Corpus(corpus::CorpusArgs),
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
    // Of the processes a launcher started, rank 0 speaks for the job.
    let rank = world::rank();
    init_logging(match (rank, cli.quiet) {
        (1.., _) => "error",
        (0, true) => "warn",
        (0, false) => "info",
    });
    let quiet = cli.quiet || rank > 0;
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal failure: {info}; please report this");
    }));
    // A bad CHARRNN_SIMD is a usage error here, not a panic in the first kernel.
    if let Err(e) = charrnn::cpu::SimdLevel::from_env() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let result = run(cli.command, quiet);
    let Err(e) = result else {
        return ExitCode::SUCCESS;
    };
    let interrupted = matches!(e.downcast_ref(), Some(TrainError::Interrupted { .. }));
    // What every process met, rank 0 reports; the others name themselves.
    let everyone_met = e.downcast_ref().is_some_and(TrainError::is_shared)
        || e.downcast_ref::<world::NoMpi>().is_some();
    if rank == 0 || !everyone_met {
        let who = if rank > 0 {
            format!("rank {rank}: ")
        } else {
            String::new()
        };
        match interrupted {
            true => eprintln!("{who}{}", advice::with_advice(e.to_string(), &e)),
            false => eprintln!("{who}error: {}", advice::with_advice(one_line(&e), &e)),
        }
    }
    match interrupted {
        true => ExitCode::from(130),
        false => ExitCode::FAILURE,
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

/// Logs at `default` ("info", "warn", "error") unless `RUST_LOG` says otherwise.
fn init_logging(default: &str) {
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
        Command::Train(args) => train::cmd_train(args, quiet),
        Command::Plot(args) => plot::cmd_plot(args),
        Command::Corpus(args) => corpus::cmd_corpus(args),
        Command::Prepare(args) => prepare::cmd_prepare(args, quiet),
        Command::Serve(args) => serve::cmd_serve(args),
        Command::Chat(args) => chat::cmd_chat(args),
        Command::Sample(args) => sample::cmd_sample(args),
        Command::Eval(args) => eval::cmd_eval(args),
        Command::Info(args) => info::cmd_info(args),
        Command::Export(args) => export::cmd_export(args),
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
