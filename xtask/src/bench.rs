//! `cargo xtask bench`: charrnn against a PyTorch reference of the same model and
//! batching, back to back on this machine. Prints a table, writes JSON, appends a
//! dated row to BENCHMARKS.md. Benchmarks, not tests: nothing here asserts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{build, workspace_root, ConfigFile};

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

/// A finished child process: its stdout and its peak resident memory.
struct Measured {
    stdout: String,
    peak_rss_mb: f64,
}

/// Runs `cmd` to completion and reads its peak RSS from `wait4`, the same way
/// for both programs.
fn measure(cmd: &mut Command) -> Result<Measured> {
    use std::os::unix::process::ExitStatusExt;
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child never blocks on a full pipe.
    let mut out_pipe = child.stdout.expect("piped");
    let mut err_pipe = child.stderr.expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out_pipe, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err_pipe, &mut s).map(|_| s)
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above: `pid` is our own child, and `status` and `usage` are
    // valid for the kernel to write.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let stdout = out.join().expect("reader thread")?;
    let stderr = err.join().expect("reader thread")?;
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        bail!(
            "{:?} failed ({exit}):\n{}",
            cmd.get_program(),
            tail(&stderr, 2000)
        );
    }
    Ok(Measured {
        stdout,
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    })
}

fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[start..]
}

fn last_json(stdout: &str) -> Result<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line in the output")?;
    Ok(serde_json::from_str(line)?)
}

fn corpus_dir() -> Result<PathBuf> {
    crate::corpora::find_standard_data_dir(&workspace_root())
        .map_err(|tried| anyhow::anyhow!("no corpora in {tried:?}: run `cargo xtask fetch-data`"))
}

/// The Python to run the reference with; installs PyTorch into `.bench-venv`
/// when no Python with torch is found.
fn python(args: &BenchArgs) -> Result<PathBuf> {
    let has_torch = |py: &Path| {
        Command::new(py)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(py) = &args.python {
        if !has_torch(py) {
            bail!("{} cannot import torch", py.display());
        }
        return Ok(py.clone());
    }
    let venv = workspace_root().join(".bench-venv");
    let venv_py = venv.join("bin/python");
    if has_torch(&venv_py) {
        return Ok(venv_py);
    }
    if has_torch(Path::new("python3")) {
        return Ok("python3".into());
    }
    eprintln!(
        "xtask: PyTorch not found; installing it from PyPI into {} (first time only: a few minutes, about 4 GB with its CUDA libraries)",
        venv.display()
    );
    crate::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    crate::status(Command::new(&venv_py).args(["-m", "pip", "install", "--quiet", "torch"]))?;
    if !has_torch(&venv_py) {
        bail!(
            "installed torch into {} but it does not import",
            venv.display()
        );
    }
    Ok(venv_py)
}

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

/// One line of the table: a figure of each program and how to compare them.
struct Row {
    label: String,
    ours: Value,
    theirs: Value,
    /// The JSON field compared.
    key: &'static str,
    /// Throughput: higher is better; memory: lower is better.
    higher_is_better: bool,
    /// The target for the ratio.
    target: f64,
}

/// What the runs measured so far: the table's rows and the raw JSON.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    results: serde_json::Map<String, Value>,
}

impl Report {
    /// Adds a measured pair of runs: a throughput row, a peak-memory row, and
    /// the raw JSON of both programs under `id`.
    fn add_pair(
        &mut self,
        id: String,
        labels: [String; 2],
        (ours, theirs): (Value, Value),
        (key, target): (&'static str, f64),
    ) {
        let [speed, memory] = labels;
        for (label, key, higher_is_better, target) in [
            (speed, key, true, target),
            (memory, "peak_rss_mb", false, 1.0),
        ] {
            self.rows.push(Row {
                label,
                ours: ours.clone(),
                theirs: theirs.clone(),
                key,
                higher_is_better,
                target,
            });
        }
        let pair = json!({"charrnn": ours, "pytorch": theirs});
        // Each figure as soon as it is measured: a run cut short still leaves them.
        eprintln!("xtask: {id}: {pair}");
        self.results.insert(id, pair);
    }

    /// The PyTorch version the reference reported.
    fn torch(&self) -> String {
        self.results["train_seed"]["pytorch"]["torch"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }

    /// The rows as a Markdown table of ratios against targets.
    fn table(&self) -> String {
        let mut table = format!(
            "| figure | charrnn | PyTorch {} | ratio (higher = charrnn better) | target |\n|---|---|---|---|---|\n",
            self.torch()
        );
        for row in &self.rows {
            let key = row.key;
            let r = ratio(&row.ours, &row.theirs, key, row.higher_is_better);
            let (target_text, met) = match key {
                "peak_rss_mb" => ("≥ 1× (≤ PyTorch)".to_string(), r >= row.target),
                "mb_per_sec" => (
                    "≥ 100 MB/s".to_string(),
                    row.ours[key].as_f64().unwrap_or(0.0) >= 100.0,
                ),
                _ => (format!("≥ {}×", row.target), r >= row.target),
            };
            let _ = writeln!(
                table,
                "| {} | {:.0} | {:.0} | {r:.2}× {} | {target_text} |",
                row.label,
                row.ours[key].as_f64().unwrap_or(f64::NAN),
                row.theirs[key].as_f64().unwrap_or(f64::NAN),
                if met { "✓" } else { "✗" }
            );
        }
        table
    }
}

/// The run with the median `key` (the upper one of an even count), with every
/// run's `key` under `"runs"` and the largest peak RSS of all runs.
fn median_run(mut runs: Vec<Value>, key: &str) -> Value {
    let value = |r: &Value| r[key].as_f64().unwrap_or(f64::NAN);
    let all: Vec<f64> = runs.iter().map(value).collect();
    let peak = runs
        .iter()
        .filter_map(|r| r["peak_rss_mb"].as_f64())
        .fold(f64::NAN, f64::max);
    runs.sort_by(|a, b| value(a).total_cmp(&value(b)));
    let mut median = runs.swap_remove(runs.len() / 2);
    median["runs"] = json!(all);
    if !peak.is_nan() {
        median["peak_rss_mb"] = json!(peak);
    }
    median
}

/// Runs `ours` (given the run number, from 1) and `theirs` `repeats` times,
/// alternating, and returns each side's [`median_run`] by `chars_per_sec`.
fn alternate(
    repeats: usize,
    mut ours: impl FnMut(usize) -> Result<Value>,
    mut theirs: impl FnMut() -> Result<Value>,
) -> Result<(Value, Value)> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for run in 1..=repeats {
        a.push(ours(run)?);
        b.push(theirs()?);
    }
    Ok((
        median_run(a, "chars_per_sec"),
        median_run(b, "chars_per_sec"),
    ))
}

fn ratio(ours: &Value, theirs: &Value, key: &str, higher_is_better: bool) -> f64 {
    let (a, b) = (
        ours[key].as_f64().unwrap_or(f64::NAN),
        theirs[key].as_f64().unwrap_or(f64::NAN),
    );
    if higher_is_better {
        a / b
    } else {
        b / a
    }
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

/// Appends one row to the `cargo xtask bench` table at the end of BENCHMARKS.md.
fn record(date: &str, machine: &str, commit: &str, torch: &str, rows: &[Row]) -> Result<()> {
    let path = workspace_root().join("BENCHMARKS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    const HEADER: &str = "## `cargo xtask bench` runs";
    if !text.contains(HEADER) {
        write!(
            text,
            "\n{HEADER}\n\nOne row per run; each cell is charrnn / PyTorch and the ratio (higher = charrnn better; for memory, PyTorch's peak RSS over ours).\n\n| date | machine | commit | PyTorch |{}\n|---|---|---|---|{}\n",
            rows.iter().map(|r| format!(" {} |", r.label)).collect::<String>(),
            "---|".repeat(rows.len())
        )?;
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let cells: String = rows
        .iter()
        .map(|r| {
            format!(
                " {:.0} / {:.0} ({:.2}×) |",
                r.ours[r.key].as_f64().unwrap_or(f64::NAN),
                r.theirs[r.key].as_f64().unwrap_or(f64::NAN),
                ratio(&r.ours, &r.theirs, r.key, r.higher_is_better)
            )
        })
        .collect();
    writeln!(text, "| {date} | {machine} | {commit} | {torch} |{cells}")?;
    std::fs::write(&path, text)?;
    eprintln!("xtask: appended a row to {}", path.display());
    Ok(())
}

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_date() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d %H:%M")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model and core count, plus the GPU's name for `--device cuda`.
fn machine(device: &str) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut m = format!("{cpu}, {cores} cores");
    if device == "cuda" {
        if let Ok(o) = Command::new("nvidia-smi")
            .args(["--query-gpu=name", "--format=csv,noheader"])
            .output()
        {
            write!(m, ", {}", String::from_utf8_lossy(&o.stdout).trim()).ok();
        }
    }
    m
}

#[cfg(test)]
mod tests;
