//! The results: medians of alternating runs, ratios against the reference, and
//! the BENCHMARKS.md entry.

use std::fmt::Write as _;
use std::process::Command;

use anyhow::Result;
use serde_json::{json, Value};

use crate::workspace_root;

/// One line of the table: a figure of each program and how to compare them.
pub(crate) struct Row {
    pub(crate) label: String,
    pub(crate) ours: Value,
    pub(crate) theirs: Value,
    /// The JSON field compared.
    pub(crate) key: &'static str,
    /// Throughput: higher is better; memory: lower is better.
    pub(crate) higher_is_better: bool,
    /// The target for the ratio.
    pub(crate) target: f64,
}

/// What the runs measured so far: the table's rows and the raw JSON.
#[derive(Default)]
pub(crate) struct Report {
    pub(crate) rows: Vec<Row>,
    pub(crate) results: serde_json::Map<String, Value>,
}

impl Report {
    /// Adds a measured pair of runs: a throughput row, a peak-memory row, and
    /// the raw JSON of both programs under `id`.
    pub(crate) fn add_pair(
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
    pub(crate) fn torch(&self) -> String {
        self.results["train_seed"]["pytorch"]["torch"]
            .as_str()
            .unwrap_or("?")
            .to_string()
    }

    /// The rows as a Markdown table of ratios against targets.
    pub(crate) fn table(&self) -> String {
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
pub(crate) fn median_run(mut runs: Vec<Value>, key: &str) -> Value {
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
pub(crate) fn alternate(
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

pub(crate) fn ratio(ours: &Value, theirs: &Value, key: &str, higher_is_better: bool) -> f64 {
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

/// Appends one row to the `cargo xtask bench` table at the end of BENCHMARKS.md.
pub(crate) fn record(
    date: &str,
    machine: &str,
    commit: &str,
    torch: &str,
    rows: &[Row],
) -> Result<()> {
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

pub(crate) fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(workspace_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub(crate) fn git_date() -> String {
    Command::new("date")
        .arg("+%Y-%m-%d %H:%M")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// CPU model and core count, plus the GPU's name for `--device cuda`.
pub(crate) fn machine(device: &str) -> String {
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
