#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod http;
mod scheduler;

use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::sync::{mpsc, Arc, Mutex};

use charrnn_sample::{Generator, SampleOptions};
use serde::Serialize;

pub use charrnn_sample::StopReason;

/// What one server takes at most.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Characters a sample may ask for.
    pub max_length: usize,
    /// Samples a request may ask for.
    pub max_samples: usize,
    /// Requests generating at once; more are refused with 429.
    pub max_in_flight: usize,
    /// Bytes of a request body; more are refused with 413.
    pub max_body_bytes: usize,
}

impl Limits {
    /// The caps on what one request generates, in the terms of
    /// [`charrnn_sample::Limits`], the one check every front end uses.
    pub fn sampling(&self) -> charrnn_sample::Limits {
        charrnn_sample::Limits {
            max_length: self.max_length,
            max_samples: self.max_samples,
            // The caps above bound a request's memory.
            max_bytes: u64::MAX,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_length: 10_000,
            max_samples: 16,
            max_in_flight: 256,
            max_body_bytes: 64 << 10,
        }
    }
}

/// A loaded model and how to serve it; `M` describes the model.
pub struct Served<M> {
    /// The model's generator (moved to the generating thread).
    pub generator: Generator,
    /// Sampling defaults: the run's `[sample]` section.
    pub defaults: SampleOptions,
    /// What `GET /v1/model` answers (`charrnn info --json`'s description).
    pub model: M,
    /// The checkpoint served, named in every answer.
    pub checkpoint: String,
    /// The limits.
    pub limits: Limits,
    /// A bearer token every route but `/health` requires, when set.
    pub token: Option<String>,
}

/// Whether the generating thread still runs; once it has failed, why.
#[derive(Debug, Default)]
pub(crate) struct Health {
    failed: Mutex<Option<String>>,
}

impl Health {
    /// Why generation failed, if it has.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fail(&self, why: String) {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The scheduler's loop, as [`serve_with`] takes it.
type Schedule = fn(Generator, mpsc::Receiver<scheduler::Message>);

/// Serves `served` on `listener` until `shutdown` completes; then the
/// requests in flight end (their streams say `shutdown`) and it returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    served: Served<impl Serialize>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, served, shutdown, scheduler::run).await
}

/// [`serve`] with `schedule` as the generating thread's loop. A panic there
/// is logged, and `/health` answers 503 with its message from then on.
async fn serve_with(
    listener: tokio::net::TcpListener,
    served: Served<impl Serialize>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    schedule: Schedule,
) -> std::io::Result<()> {
    let model = serde_json::to_value(&served.model).map_err(std::io::Error::other)?;
    let (to_scheduler, messages) = mpsc::channel();
    let bytes_per_stream = served.generator.bytes_per_stream();
    let vocab = served.generator.vocab().clone();
    let generator = served.generator;
    let health = Arc::new(Health::default());
    let watched = health.clone();
    let generating = std::thread::spawn(move || {
        let run = std::panic::AssertUnwindSafe(|| schedule(generator, messages));
        if let Err(payload) = std::panic::catch_unwind(run) {
            let why = format!("the generating thread failed: {}", panic_message(&*payload));
            tracing::error!("{why}; /health answers 503 from now on");
            watched.fail(why);
        }
    });
    let app = Arc::new(http::App {
        vocab,
        defaults: served.defaults,
        model,
        checkpoint: served.checkpoint,
        limits: served.limits,
        token: served.token,
        scheduler: Mutex::new(to_scheduler.clone()),
        in_flight: AtomicUsize::new(0),
        bytes_per_stream,
        health,
    });
    let stop = async move {
        shutdown.await;
        // Every stream in flight ends now, so their connections close.
        let _ = to_scheduler.send(scheduler::Message::Shutdown);
    };
    let served = axum::serve(listener, http::router(app))
        .with_graceful_shutdown(stop)
        .await;
    let _ = tokio::task::spawn_blocking(move || generating.join()).await;
    served
}

/// Binds `addr`, serves `served` until Ctrl-C or SIGTERM, then lets the
/// requests in flight end and returns: the whole of `charrnn serve`, on a
/// runtime of its own. `listening` is told the address bound (port 0 picks one).
pub fn serve_until_signal(
    addr: &str,
    served: Served<impl Serialize>,
    listening: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        listening(listener.local_addr()?);
        serve(listener, served, signal()).await
    })
}

/// Ctrl-C, or SIGTERM where there is one.
async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn fails(_: Generator, _: mpsc::Receiver<scheduler::Message>) {
        panic!("injected failure");
    }

    fn served() -> Served<serde_json::Value> {
        use burn::backend::Flex;
        let config = charrnn_model::CharRnnConfig {
            vocab_size: 3,
            embed_size: 4,
            hidden_size: 4,
            num_layers: 1,
            dropout: 0.0,
        };
        let model = config.init::<Flex>(&Default::default());
        Served {
            generator: Generator::new(
                charrnn_sample::Engine::from_model(&model),
                charrnn_corpus::Vocab::from_text("abc"),
            )
            .unwrap(),
            // Options this 3-character model can serve, so that only the
            // failed thread stands between a request and its answer.
            defaults: SampleOptions {
                prime: "a".into(),
                top_n: 2,
                ..SampleOptions::default()
            },
            model: serde_json::json!({}),
            checkpoint: "test".into(),
            limits: Limits::default(),
            token: None,
        }
    }

    async fn ask(addr: std::net::SocketAddr, head: &str, body: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{head} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        reply
    }

    /// A generating thread that died is not hidden: `/health` answers 503
    /// with the reason, and a request says why it cannot be served.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn health_fails_once_the_generating_thread_has_failed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_with(
            listener,
            served(),
            async {
                let _ = stopped.await;
            },
            fails,
        ));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let health = loop {
            let reply = ask(addr, "GET /health", "").await;
            if !reply.starts_with("HTTP/1.1 200") {
                break reply;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "waited 10 s for /health to report the failed generating thread"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(health.starts_with("HTTP/1.1 503"), "{health}");
        assert!(health.contains("injected failure"), "{health}");
        let generate = ask(addr, "POST /v1/generate", "{}").await;
        assert!(generate.starts_with("HTTP/1.1 503"), "{generate}");
        assert!(generate.contains("injected failure"), "{generate}");
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }
}
