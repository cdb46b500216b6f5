//! `cargo xtask bench`: charrnn against a PyTorch reference of the same model and
//! batching, back to back on this machine. Prints a table, writes JSON, appends a
//! dated row to BENCHMARKS.md. Benchmarks, not tests: nothing here asserts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::{build, workspace_root, ConfigFile};

mod measure;
mod report;

use measure::{corpus_dir, last_json, measure, python};
use report::{alternate, git, git_date, machine, record, Report};

/// What `cargo xtask bench` was asked for.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// cpu, or cuda (PyTorch then uses cuDNN).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The Python with PyTorch (default: .bench-venv, made on first use, or a
    /// python3 that already has torch).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Timed training steps on the seed config (after one warm-up step; four on CUDA).
    #[arg(long, default_value_t = 4)]
    seed_steps: u64,
    /// Timed training steps on the small config (after two warm-up steps; four on CUDA).
    #[arg(long, default_value_t = 30)]
    small_steps: u64,
    /// Runs of each training and sampling measurement, charrnn and PyTorch
    /// alternating; each side's figure is its median run. This machine's speed
    /// drifts by 15-30 % from one minute to the next, so single runs decide
    /// ratios by luck.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Characters generated per sampling measurement.
    #[arg(long, default_value_t = 2000)]
    sample_length: usize,
    /// Size of the synthetic corpus for the encoding figure, in MB.
    #[arg(long, default_value_t = 100)]
    encode_mb: usize,
    /// Do not append the row to BENCHMARKS.md.
    #[arg(long)]
    no_record: bool,
    /// Benchmark this charrnn binary instead of building target/release/charrnn.
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// One model shape, from a config file plus overrides.
struct Shape {
    name: &'static str,
    config: &'static str,
    overrides: &'static [&'static str],
    warmup: u64,
}

const SEED: Shape = Shape {
    name: "seed",
    config: "configs/jinpingmei.toml",
    overrides: &[],
    warmup: 1,
};
/// The small config: batch 32, seq 64, embed 256, 2 x 256.
const SMALL: Shape = Shape {
    name: "small",
    config: "configs/jinpingmei-cpu.toml",
    overrides: &["model.embed_size=256"],
    warmup: 2,
};

struct Ctx {
    bin: PathBuf,
    python: PathBuf,
    device: String,
    work: PathBuf,
    data: PathBuf,
}

impl Ctx {
    /// Untimed steps before the timed ones, the same for both programs. On CUDA
    /// charrnn compiles kernels with NVRTC as each is first used, which on an
    /// H200 spread over the first three steps (BENCHMARKS.md).
    fn warmup(&self, shape: &Shape) -> u64 {
        if self.device == "cuda" {
            shape.warmup.max(4)
        } else {
            shape.warmup
        }
    }

    fn ours_train(&self, shape: &Shape, steps: u64) -> Result<(Value, PathBuf)> {
        let out_dir = self.work.join(shape.name);
        let _ = std::fs::remove_dir_all(&out_dir);
        let mut cmd = Command::new(&self.bin);
        cmd.args(["train", "--quiet", "--device", &self.device, "--config"])
            .arg(workspace_root().join(shape.config))
            .env(crate::corpora::DATA_DIR_ENV, &self.data);
        let sets = [
            format!("train.max_steps={}", self.warmup(shape) + steps),
            "train.log_every=1".into(),
            "train.eval_every=0".into(),
            "train.save_every=0".into(),
            "train.sample_every=0".into(),
            format!("train.out_dir={:?}", out_dir.display().to_string()),
        ];
        for s in shape.overrides.iter().map(|s| s.to_string()).chain(sets) {
            cmd.args(["--set", &s]);
        }
        let m = measure(&mut cmd)?;
        let records: Vec<Value> = std::fs::read_to_string(out_dir.join("metrics.jsonl"))?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let timed: Vec<&Value> = records
            .iter()
            .filter(|r| r["step"].as_u64().unwrap_or(0) > self.warmup(shape))
            .collect();
        let config = shape.config_file(&self.bin)?;
        let chars_per_step: f64 = config.value("train.batch_size")?.parse::<f64>()?
            * config.value("train.seq_len")?.parse::<f64>()?;
        let secs: f64 = timed
            .iter()
            .map(|r| chars_per_step / r["chars_per_sec"].as_f64().unwrap_or(f64::NAN))
            .sum();
        let checkpoint = std::fs::read_dir(out_dir.join("checkpoints"))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
            })
            .max()
            .context("the benchmark run wrote no checkpoint")?;
        Ok((
            json!({
                "chars_per_sec": chars_per_step * timed.len() as f64 / secs,
                "sec_per_step": secs / timed.len() as f64,
                "steps": timed.len(),
                "peak_rss_mb": m.peak_rss_mb,
            }),
            checkpoint,
        ))
    }

    fn reference(&self, mode: &str, shape: &Shape, extra: &[&str]) -> Result<Value> {
        let config = shape.config_file(&self.bin)?;
        let v = |k: &str| config.value(k);
        let corpus = self.data.join(v("data.corpus")?);
        let mut cmd = Command::new(&self.python);
        cmd.arg(workspace_root().join("bench/pytorch_reference.py"))
            .args(["--mode", mode, "--device", &self.device, "--corpus"])
            .arg(&corpus);
        for (flag, key) in [
            ("--batch", "train.batch_size"),
            ("--seq", "train.seq_len"),
            ("--embed", "model.embed_size"),
            ("--hidden", "model.hidden_size"),
            ("--layers", "model.num_layers"),
            ("--dropout", "model.dropout"),
            ("--lr", "train.learning_rate"),
            ("--clip", "train.grad_clip"),
            ("--val-fraction", "data.val_fraction"),
        ] {
            cmd.args([flag, &v(key)?]);
        }
        cmd.args(extra);
        let m = measure(&mut cmd)?;
        let mut result = last_json(&m.stdout)?;
        result["peak_rss_mb"] = json!(m.peak_rss_mb);
        Ok(result)
    }

    fn ours_sample(&self, checkpoint: &Path, length: usize) -> Result<Value> {
        let mut cmd = Command::new(&self.bin);
        cmd.args([
            "sample",
            "--json",
            "--top-n",
            "5",
            "--length",
            &length.to_string(),
            "--checkpoint",
        ])
        .arg(checkpoint);
        let m = measure(&mut cmd)?;
        let r = last_json(&m.stdout)?;
        Ok(json!({
            "chars_per_sec": r["chars_per_sec"],
            "peak_rss_mb": m.peak_rss_mb,
        }))
    }
}

impl Shape {
    /// The shape's config with its overrides, as `bin` resolves it.
    fn config_file(&self, bin: &Path) -> Result<ConfigFile> {
        let overrides: Vec<String> = self.overrides.iter().map(|s| s.to_string()).collect();
        ConfigFile::resolve(bin, &workspace_root().join(self.config), &overrides)
    }
}

/// A 100 MB-ish UTF-8 file: the two corpora (3-byte CJK and 1-byte ASCII text)
/// repeated, cut at a character boundary.
fn synthetic_corpus(data: &Path, work: &Path, mb: usize) -> Result<PathBuf> {
    let path = work.join(format!("synthetic-{mb}mb.txt"));
    let want = mb * 1_000_000;
    if std::fs::metadata(&path).is_ok_and(|m| m.len() as usize >= want - 4) {
        return Ok(path);
    }
    let mut pieces = Vec::new();
    for name in ["jinpingmei.txt", "tinyshakespeare.txt"] {
        let p = data.join(name);
        pieces.push(
            std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display()))?,
        );
    }
    let mut text = String::with_capacity(want + 4);
    'fill: loop {
        for piece in &pieces {
            for ch in piece.chars() {
                if text.len() + ch.len_utf8() > want {
                    break 'fill;
                }
                text.push(ch);
            }
        }
    }
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Runs the benchmark.
pub fn bench(args: &BenchArgs) -> Result<()> {
    let bin = match &args.bin {
        Some(bin) => bin.clone(),
        None => build()?,
    };
    let work = workspace_root().join("target/bench");
    std::fs::create_dir_all(&work)?;
    let ctx = Ctx {
        bin,
        python: python(args)?,
        device: args.device.clone(),
        work: work.clone(),
        data: corpus_dir()?,
    };
    let started = Instant::now();
    let mut report = Report::default();
    for (shape, steps) in [(&SEED, args.seed_steps), (&SMALL, args.small_steps)] {
        let checkpoint = bench_training(&ctx, args, shape, steps, &mut report)?;
        bench_sampling(&ctx, args, shape, &checkpoint, &mut report)?;
    }
    bench_encoding(&ctx, args, &mut report)?;

    let machine = machine(&args.device);
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let date = git_date();
    println!("\n{machine}, commit {commit}, {date}\n\n{}", report.table());
    let json = json!({
        "date": date,
        "machine": machine,
        "commit": commit,
        "device": args.device,
        "seconds": started.elapsed().as_secs_f64(),
        "results": report.results,
    });
    let json_path = work.join("bench.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(&json)?)?;
    eprintln!("xtask: wrote {}", json_path.display());
    if !args.no_record {
        record(&date, &machine, &commit, &report.torch(), &report.rows)?;
    }
    Ok(())
}

/// Trains `shape` with both programs, alternating; returns the checkpoint of
/// charrnn's last run, for the sampling benchmark.
fn bench_training(
    ctx: &Ctx,
    args: &BenchArgs,
    shape: &Shape,
    steps: u64,
    report: &mut Report,
) -> Result<PathBuf> {
    let repeats = args.repeats.max(1);
    let mut checkpoint = None;
    let warmup = ctx.warmup(shape).to_string();
    let (ours, theirs) = alternate(
        repeats,
        |run| {
            eprintln!(
                "xtask: training, {} config, run {run}/{repeats}: charrnn, then PyTorch",
                shape.name
            );
            let (result, saved) = ctx.ours_train(shape, steps)?;
            checkpoint = Some(saved);
            Ok(result)
        },
        || {
            let steps = steps.to_string();
            ctx.reference("train", shape, &["--steps", &steps, "--warmup", &warmup])
        },
    )?;
    report.add_pair(
        format!("train_{}", shape.name),
        [
            format!("train chars/s, {} config", shape.name),
            format!("train peak RSS MB, {} config", shape.name),
        ],
        (ours, theirs),
        ("chars_per_sec", 1.25),
    );
    Ok(checkpoint.expect("at least one run"))
}

/// Samples from the trained `shape` model with both programs, alternating.
fn bench_sampling(
    ctx: &Ctx,
    args: &BenchArgs,
    shape: &Shape,
    checkpoint: &Path,
    report: &mut Report,
) -> Result<()> {
    let repeats = args.repeats.max(1);
    eprintln!("xtask: sampling, {} model, {repeats} runs each", shape.name);
    let length = args.sample_length.to_string();
    let (ours, theirs) = alternate(
        repeats,
        |_| ctx.ours_sample(checkpoint, args.sample_length),
        || ctx.reference("sample", shape, &["--length", &length, "--top-n", "5"]),
    )?;
    report.add_pair(
        format!("sample_{}", shape.name),
        [
            format!("sample chars/s (batch 1, top-5), {} model", shape.name),
            format!("sample peak RSS MB, {} model", shape.name),
        ],
        (ours, theirs),
        ("chars_per_sec", 5.0),
    );
    Ok(())
}

/// Encodes a synthetic corpus with both programs.
fn bench_encoding(ctx: &Ctx, args: &BenchArgs, report: &mut Report) -> Result<()> {
    eprintln!("xtask: encoding a {} MB synthetic corpus", args.encode_mb);
    let synthetic = synthetic_corpus(&ctx.data, &ctx.work, args.encode_mb)?;
    // Both programs read it from the page cache, not from disk; each figure is
    // the best of three runs (one run swings by 2x right after the reference
    // has freed gigabytes).
    std::fs::read(&synthetic)?;
    let best_of_3 = |make: &dyn Fn() -> Command| -> Result<Value> {
        let mut best: Option<Value> = None;
        for _ in 0..3 {
            let m = measure(&mut make())?;
            let mut r = last_json(&m.stdout)?;
            r["peak_rss_mb"] = json!(m.peak_rss_mb);
            let speed = |v: &Value| v["mb_per_sec"].as_f64().unwrap_or(0.0);
            if best.as_ref().is_none_or(|b| speed(&r) > speed(b)) {
                best = Some(r);
            }
        }
        Ok(best.expect("three runs"))
    };
    let ours = best_of_3(&|| {
        let mut cmd = Command::new(&ctx.bin);
        cmd.args(["corpus", "--json"]).arg(&synthetic);
        cmd
    })?;
    let theirs = best_of_3(&|| {
        let mut cmd = Command::new(&ctx.python);
        cmd.arg(workspace_root().join("bench/pytorch_reference.py"))
            .args(["--mode", "encode", "--corpus"])
            .arg(&synthetic);
        cmd
    })?;
    report.add_pair(
        "encode".into(),
        ["encoding MB/s".into(), "encoding peak RSS MB".into()],
        (ours, theirs),
        ("mb_per_sec", 1.0),
    );
    Ok(())
}

#[cfg(test)]
mod tests;
