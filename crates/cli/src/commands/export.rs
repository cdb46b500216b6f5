//! `charrnn export`: a checkpoint's model in a format other runtimes read.

use std::path::PathBuf;

use anyhow::Context;
use charrnn::export::{export, Format, Model, WebEngine};
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
    /// index.html, the engine in WebAssembly and the model: a page that
    /// writes in the visitor's browser (serve the folder with any static
    /// file server).
    Web,
}

/// The web page's engine, when this binary was built with it
/// (`cargo xtask build --web`; see build.rs).
#[cfg(web_engine)]
const WEB_ENGINE: Option<WebEngine> = Some(WebEngine {
    js: include_bytes!(concat!(env!("OUT_DIR"), "/charrnn_web.js")),
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/charrnn_web_bg.wasm")),
});
#[cfg(not(web_engine))]
const WEB_ENGINE: Option<WebEngine> = None;

impl FormatArg {
    fn format(self) -> anyhow::Result<Format> {
        Ok(match self {
            FormatArg::Onnx => Format::Onnx,
            FormatArg::Safetensors => Format::Safetensors,
            FormatArg::Web => Format::Web(WEB_ENGINE.context(
                "this charrnn was built without the web page's engine; build it with `cargo xtask build --web`",
            )?),
        })
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
    let format = args.format.format()?;
    let (meta, model) = args.model.load()?;
    let weights = Weights::from_model(&model);
    let model = Model {
        weights: &weights,
        vocab: &meta.vocab,
        sample: &meta.config.sample,
    };
    export(format, &model, &args.out, args.force)?;
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
