//! `charrnn serve`: a model behind HTTP (the `charrnn-serve` crate), loaded
//! once, until Ctrl-C or SIGTERM.

use charrnn::sample::{Engine, Generator};
use charrnn::serve::{serve_until_signal, Limits, Served};

/// Environment variable holding the bearer token, so it stays out of `ps`.
const TOKEN_ENV: &str = "CHARRNN_TOKEN";

/// What `charrnn serve` was asked.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    model: crate::model_choice::ModelChoice,
    /// Address to listen on; another host than 127.0.0.1 serves the network.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: String,
    /// Require `Authorization: Bearer TOKEN` on every route but /health
    /// (or set CHARRNN_TOKEN).
    #[arg(long)]
    token: Option<String>,
    /// Most characters a sample may ask for.
    #[arg(long, default_value_t = Limits::default().max_length)]
    max_length: usize,
    /// Most samples a request may ask for.
    #[arg(long, default_value_t = Limits::default().max_samples)]
    max_samples: usize,
    /// Most requests generating at once (more get 429).
    #[arg(long, default_value_t = Limits::default().max_in_flight)]
    max_in_flight: usize,
    /// Largest request body, in bytes (larger get 413).
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
}

/// Runs `charrnn serve`.
pub fn cmd_serve(args: ServeArgs) -> anyhow::Result<()> {
    let (meta, model) = args.model.load()?;
    let token = args
        .token
        .or_else(|| std::env::var(TOKEN_ENV).ok())
        .filter(|t| !t.is_empty());
    let served = Served {
        generator: Generator::new(Engine::from_model(&model), meta.vocab.clone())?,
        defaults: meta.config.sample.clone(),
        model: charrnn::train::checkpoint::CheckpointInfo::of(&meta),
        checkpoint: meta.dir.display().to_string(),
        limits: Limits {
            max_length: args.max_length,
            max_samples: args.max_samples,
            max_in_flight: args.max_in_flight,
            max_body_bytes: args.max_body_bytes,
        },
        token,
    };
    let checkpoint = meta.dir.display().to_string();
    serve_until_signal(&args.addr, served, |addr| {
        tracing::info!(
            "serving {checkpoint} on http://{addr} (POST /v1/generate, GET /v1/model, GET /health)"
        );
    })
    .map_err(|e| anyhow::anyhow!("cannot serve on {}: {e}", args.addr))?;
    tracing::info!("stopped");
    Ok(())
}
