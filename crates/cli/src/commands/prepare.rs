//! `charrnn prepare`: a corpus encoded once into a token file, with a bar on
//! a terminal.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use charrnn::tokens::{is_token_file, prepare, PrepareOptions, Prepared};
use charrnn::train::{checkpoint, corpus_files};
use indicatif::ProgressBar;

/// What `charrnn prepare` was asked.
#[derive(clap::Args)]
pub struct PrepareArgs {
    /// Files, folders (every *.txt in them, recursively) and globs, joined in
    /// this order, as data.corpus takes them.
    #[arg(required = true, value_name = "CORPUS")]
    corpus: Vec<String>,
    /// The token file to write. An existing token file there is replaced;
    /// any other file is refused.
    #[arg(long)]
    out: PathBuf,
    /// Text put between files (data.separator; give a newline as $'\n').
    #[arg(long, default_value = "\n")]
    separator: String,
    /// Start from a checkpoint's vocabulary (a run folder: its best), so that
    /// a run can resume from it or fine-tune it on this token file.
    #[arg(long, value_name = "CHECKPOINT_OR_RUN")]
    vocab_from: Option<PathBuf>,
}

/// Runs `charrnn prepare`.
pub fn cmd_prepare(args: PrepareArgs, quiet: bool) -> anyhow::Result<()> {
    if args.out.exists() && !is_token_file(&args.out) {
        bail!(
            "{} exists and is not a token file: give --out a new path (prepare never overwrites other files)",
            args.out.display()
        );
    }
    let files = corpus_files(
        &args.corpus,
        &crate::corpus_dirs::corpus_dirs(Path::new("")),
    )?;
    let base = match &args.vocab_from {
        Some(path) => Some(checkpoint::load_meta_pick(path, checkpoint::Pick::Best)?.vocab),
        None => None,
    };
    let bar = crate::progress::wanted(quiet).then(new_bar);
    let options = PrepareOptions {
        separator: &args.separator,
        base: base.as_ref(),
    };
    let prepared = prepare(&files, &args.out, options, &mut |done, total| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(done);
        }
    });
    if let Some(bar) = &bar {
        bar.finish();
    }
    let prepared = prepared.with_context(|| format!("cannot prepare {}", args.out.display()))?;
    report(&args.out, files.len(), &prepared);
    Ok(())
}

fn new_bar() -> ProgressBar {
    let style = crate::progress::bar_style(
        "preparing [{bar:30.cyan/blue}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
    );
    let bar = ProgressBar::new(0).with_style(style);
    bar.tick();
    bar
}

fn report(out: &Path, files: usize, p: &Prepared) {
    let size = std::fs::metadata(out).map_or(0, |m| m.len());
    println!(
        "prepared {} ({:.1} MB): {files} file{}, {:.1} MB of text, {} characters, vocabulary {}, {}-byte ids, in {:.2} s ({:.0} MB/s)",
        out.display(),
        size as f64 / 1e6,
        if files == 1 { "" } else { "s" },
        p.text_bytes as f64 / 1e6,
        p.tokens,
        p.vocab,
        p.id_bytes,
        p.seconds,
        p.text_bytes as f64 / 1e6 / p.seconds.max(1e-9)
    );
}
