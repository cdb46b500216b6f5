//! `charrnn plot`: a run's loss curves as PNG and SVG.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

#[derive(Args)]
pub(crate) struct PlotArgs {
    /// A run folder (holding metrics.jsonl).
    run: PathBuf,
}

/// Draws `run_dir/metrics.jsonl` into `run_dir/loss.png` and `loss.svg`.
pub(crate) fn plot_run(run_dir: &Path) -> anyhow::Result<charrnn::plot::PlotFiles> {
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

pub(crate) fn cmd_plot(args: PlotArgs) -> anyhow::Result<()> {
    let files = plot_run(&args.run)?;
    println!("{}\n{}", files.png.display(), files.svg.display());
    Ok(())
}
