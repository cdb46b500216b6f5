//! `charrnn sample`: text from a checkpoint, one sample streamed or many as a
//! batch, as text or JSON.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use charrnn::corpus::read_text;
use charrnn::sample::{Engine, Generator, SampleError, SampleOverrides};
use clap::Args;

use crate::model_choice::ModelChoice;

#[derive(Args)]
pub(crate) struct SampleArgs {
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

/// A sampling error, with the flag that sets the option at fault.
pub(crate) fn with_flag(e: SampleError) -> anyhow::Error {
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

pub(crate) fn cmd_sample(args: SampleArgs) -> anyhow::Result<()> {
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
