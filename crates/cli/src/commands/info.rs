//! `charrnn info`: what a checkpoint holds, as text or JSON.

use std::path::PathBuf;

use charrnn::train::{bits_per_char, checkpoint};
use clap::Args;

#[derive(Args)]
pub(crate) struct InfoArgs {
    /// A checkpoint folder or run folder.
    path: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs `charrnn info`.
pub(crate) fn cmd_info(args: InfoArgs) -> anyhow::Result<()> {
    let meta = checkpoint::load_meta(&args.path)?;
    if args.json {
        // Through a JSON value: keys in sorted order, as ever.
        let info = serde_json::to_value(checkpoint::CheckpointInfo::of(&meta))?;
        println!("{info}");
        return Ok(());
    }
    let mc = meta.model_config();
    let s = &meta.state;
    let loss = |l: Option<f64>| {
        l.map_or("n/a".into(), |v| {
            format!(
                "{v:.4} nats/char, {:.4} bits/char, perplexity {:.2}",
                bits_per_char(v),
                v.exp()
            )
        })
    };
    println!("checkpoint   {}", meta.dir.display());
    if s.batch == 0 {
        println!("step         {} ({} epochs done)", s.step, s.epoch);
    } else {
        println!(
            "step         {} (epoch {}, batch {})",
            s.step,
            s.epoch + 1,
            s.batch
        );
    }
    println!("train loss   {}", loss(s.train_loss));
    println!("val loss     {}", loss(s.val_loss));
    println!("device       {}", s.device);
    println!("trained for  {:.1} s", s.elapsed_sec);
    println!("vocabulary   {} characters", meta.vocab.len());
    let corpus = s.corpus.map_or("not recorded".into(), |f| f.to_string());
    println!("corpus       {} ({corpus})", meta.config.data.corpus);
    println!("layout       {} (checkpoint format version)", s.format);
    if let Some(from) = &s.init_from {
        println!(
            "fine-tuned   from {} (step {}, {} characters)",
            from.checkpoint.display(),
            from.step,
            from.vocab_size
        );
    }
    println!(
        "model        embed {} -> {} x LSTM {} -> {} ({} parameters, dropout {})",
        mc.embed_size,
        mc.num_layers,
        mc.hidden_size,
        mc.vocab_size,
        mc.num_params(),
        mc.dropout
    );
    println!(
        "size on disk {:.1} MB",
        checkpoint::size_on_disk(&meta.dir) as f64 / 1e6
    );
    println!("--- config.toml ---\n{}", meta.config.to_toml().trim_end());
    Ok(())
}
