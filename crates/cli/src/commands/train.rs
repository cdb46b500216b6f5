//! `charrnn train`: a run from a config, resumed or fine-tuned, on the device
//! asked for; Ctrl-C writes a checkpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::corpus_dirs::corpus_dirs;
use crate::device::{DeviceArg, OnBackend};
use anyhow::Context;
use burn::tensor::backend::AutodiffBackend;
use charrnn::model::{LstmBackend, LstmKernels};
use charrnn::train::{
    bits_per_char, checkpoint, train, RunConfig, TrainError, TrainOptions, TrainSummary,
};
use clap::Args;

use super::plot::plot_run;
use crate::one_line;

#[derive(Args)]
pub(crate) struct TrainArgs {
    /// Run config (configs/X.toml). With --resume, the checkpoint's config is used.
    #[arg(long, required_unless_present = "resume")]
    config: Option<PathBuf>,
    /// Override a config value: --set train.max_steps=100 (repeatable).
    #[arg(long = "set", value_name = "SECTION.KEY=VALUE")]
    overrides: Vec<String>,
    /// Where to train.
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Continue a run (runs/X) or a checkpoint (runs/X/checkpoints/step-N).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// With --resume: continue even though the corpus's text has changed
    /// since the checkpoint (its vocabulary must be the same).
    #[arg(long, requires = "resume")]
    allow_changed_corpus: bool,
    /// Fine-tune: start a new run from a trained checkpoint's weights (a run
    /// folder: its best). Its vocabulary comes first; new characters are
    /// added after it. The config's [model] sizes must match the checkpoint's.
    #[arg(long, value_name = "CHECKPOINT_OR_RUN", conflicts_with = "resume")]
    init_from: Option<PathBuf>,
}

pub(crate) fn cmd_train(args: TrainArgs, quiet: bool) -> anyhow::Result<()> {
    let (config, config_dir) = match (&args.resume, &args.config) {
        (Some(resume), _) => {
            let meta = checkpoint::load_meta(resume)?;
            let config = RunConfig::parse(
                &meta.config.to_toml(),
                &meta.dir.join("config.toml"),
                &args.overrides,
            )?;
            (config, PathBuf::from("."))
        }
        (None, Some(path)) => {
            let config = RunConfig::load(path, &args.overrides)?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (config, dir)
        }
        (None, None) => anyhow::bail!("give --config FILE or --resume RUN"),
    };
    let joined = crate::world::join()?;
    let rank0 = joined.world.as_ref().is_none_or(|w| w.rank() == 0);
    let device = crate::device::select(args.device)?;
    let bars = (rank0 && crate::progress::wanted(quiet))
        .then(|| Arc::new(crate::progress::EpochBars::default()));
    let options = TrainOptions {
        resume: args.resume,
        corpus_dirs: corpus_dirs(&config_dir),
        device,
        stop: Some(stop_on_signal()?),
        progress: bars
            .clone()
            .map(|b| b as Arc<dyn charrnn::train::ProgressObserver>),
        allow_changed_corpus: args.allow_changed_corpus,
        init_from: args.init_from,
        world: joined.world.clone(),
    };
    let result = crate::device::run_on(
        device,
        Train {
            config: &config,
            options: &options,
        },
    );
    if let Some(bars) = bars {
        bars.finish();
    }
    joined.leave(result.as_ref().map_or_else(TrainError::is_shared, |_| true));
    if !rank0 {
        return result.map(drop).map_err(Into::into);
    }
    // The curves are worth having after an interrupt too; a failed plot never
    // fails the training that preceded it.
    let run_dir = match &result {
        Ok(summary) => Some(summary.run_dir.clone()),
        Err(TrainError::Interrupted { run_dir, .. }) => Some(run_dir.clone()),
        Err(_) => None,
    };
    if let Some(run_dir) = run_dir {
        match plot_run(&run_dir) {
            Ok(files) => tracing::info!("loss plot: {}", files.png.display()),
            Err(e) => tracing::warn!("no loss plot: {}", one_line(&e)),
        }
    }
    let summary = result?;
    let val = summary.val_loss.map_or("n/a".into(), |v| {
        format!("{v:.4} nats/char ({:.3} bits/char)", bits_per_char(v))
    });
    println!(
        "done: {} steps in {:.0} s, validation loss {val}; checkpoint {}",
        summary.step,
        summary.elapsed_sec,
        summary.checkpoint.display()
    );
    Ok(())
}

/// The first Ctrl-C (or SIGTERM) asks training to checkpoint and stop after the
/// current step; a second one exits at once (checkpoints are written atomically,
/// so nothing is left half-written). SIGUSR1 asks the same: it is the signal
/// `mpirun` passes on to every process (on Ctrl-C, mpirun ends the job
/// itself, giving each process one second).
pub(crate) fn stop_on_signal() -> anyhow::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted again: exiting now");
            std::process::exit(130);
        }
        eprintln!(
            "\ninterrupt: finishing this step and writing a checkpoint (Ctrl-C again to quit now)"
        );
    })
    .context("cannot install the Ctrl-C handler")?;
    #[cfg(unix)]
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, stop.clone())
        .context("cannot install the SIGUSR1 handler")?;
    Ok(stop)
}

/// Training, as a job for any backend.
pub(crate) struct Train<'a> {
    config: &'a RunConfig,
    options: &'a TrainOptions,
}

impl OnBackend for Train<'_> {
    type Output = Result<TrainSummary, TrainError>;

    fn run<B>(self, device: &B::Device) -> Self::Output
    where
        B: AutodiffBackend + LstmBackend,
        B::InnerBackend: LstmKernels,
    {
        train::<B>(self.config, self.options, device)
    }
}
