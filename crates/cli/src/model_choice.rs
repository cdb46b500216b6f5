//! Which checkpoint a command loads (`--run`, `--latest`, `--checkpoint`):
//! shared by sample, eval, chat and serve.

use std::path::PathBuf;

use burn::backend::Flex;
use charrnn::model::CharRnn;
use charrnn::train::checkpoint;
use clap::Args;

/// Which model a command loads: `--run` (its best checkpoint, or its newest
/// with `--latest`) or `--checkpoint`. Shared by sample, serve and chat.
#[derive(Args)]
pub struct ModelChoice {
    /// A run folder; its best checkpoint (lowest validation loss) is used,
    /// or its newest with --latest.
    #[arg(
        long,
        conflicts_with = "checkpoint",
        required_unless_present = "checkpoint"
    )]
    run: Option<PathBuf>,
    /// A checkpoint folder.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// With --run: use the newest checkpoint instead of the best one.
    #[arg(long)]
    latest: bool,
}

impl ModelChoice {
    /// The chosen checkpoint's metadata and model, on the CPU.
    pub fn load(&self) -> anyhow::Result<(checkpoint::CheckpointMeta, CharRnn<Flex>)> {
        let (path, pick) = match (&self.run, &self.checkpoint) {
            (Some(run), _) if self.latest => (run, checkpoint::Pick::Latest),
            (Some(run), _) => (run, checkpoint::Pick::Best),
            (None, Some(dir)) => (dir, checkpoint::Pick::Latest),
            (None, None) => anyhow::bail!("give --run RUN or --checkpoint DIR"),
        };
        Ok(checkpoint::load_pick::<Flex>(
            path,
            pick,
            &Default::default(),
        )?)
    }
}
