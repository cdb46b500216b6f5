//! `charrnn eval`: the loss of a text, or of a run's own split, under a model.

use std::path::PathBuf;

use crate::device::{DeviceArg, OnBackend};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use charrnn::corpus::{read_text, split_train_val};
use charrnn::model::{LstmBackend, LstmKernels};
use charrnn::train::{bits_per_char, checkpoint, evaluate};
use clap::{Args, ValueEnum};

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Split {
    /// The whole text.
    All,
    /// The text before the validation tail.
    Train,
    /// The validation tail (the run's data.val_fraction).
    Val,
}

#[derive(Args)]
pub(crate) struct EvalArgs {
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

pub(crate) fn cmd_eval(args: EvalArgs) -> anyhow::Result<()> {
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
    let device = crate::device::select(args.device)?;
    let loss = crate::device::run_on(device, Eval { meta: &meta, ids })?;
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

/// A checkpoint's mean cross-entropy over `ids`, as a job for any backend.
pub(crate) struct Eval<'a> {
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
