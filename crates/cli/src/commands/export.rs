//! `charrnn export`: a checkpoint's model in a format other runtimes read.

use std::path::PathBuf;

use charrnn::export::{export, Format};
use charrnn::sample::Weights;
use clap::{Args, ValueEnum};

use crate::model_choice::ModelChoice;

/// The formats, as the command line names them.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FormatArg {
    /// model.onnx: ids and states in, logits and states out (onnxruntime).
    Onnx,
    /// model.safetensors: every tensor by name (PyTorch, numpy).
    Safetensors,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Onnx => Format::Onnx,
            FormatArg::Safetensors => Format::Safetensors,
        }
    }
}

#[derive(Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    model: ModelChoice,
    /// The format.
    #[arg(long, value_enum)]
    format: FormatArg,
    /// The folder to write: the weights file and charrnn.json (the
    /// vocabulary and the model's shape).
    #[arg(long)]
    out: PathBuf,
    /// Replace the folder if it exists (the old one stays until the new one
    /// is whole).
    #[arg(long)]
    force: bool,
}

/// Runs `charrnn export`.
pub(crate) fn cmd_export(args: ExportArgs) -> anyhow::Result<()> {
    let (meta, model) = args.model.load()?;
    let format = Format::from(args.format);
    let weights = Weights::from_model(&model);
    export(format, &weights, &meta.vocab, &args.out, args.force)?;
    let size: u64 = std::fs::read_dir(&args.out)?
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!(
        "exported {} as {} into {} ({:.1} MB)",
        meta.dir.display(),
        format.name(),
        args.out.display(),
        size as f64 / 1e6
    );
    Ok(())
}
