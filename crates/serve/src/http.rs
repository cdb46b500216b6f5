//! The routes: `POST /v1/generate` (JSON, or Server-Sent Events with
//! `"stream": true`), `GET /v1/model`, `GET /health`.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use charrnn_corpus::Vocab;
use charrnn_sample::{
    check_against, Event, SampleError, SampleOptions, SampleOverrides, StopReason,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use crate::scheduler::{Job, Message};
use crate::Limits;

/// The page at `/`: a prime, length and temperature, and the text streaming
/// in. Self-contained: no external scripts, styles or fonts.
const PAGE: &str = include_str!("page.html");

/// What every handler shares.
pub(crate) struct App {
    pub(crate) vocab: Vocab,
    pub(crate) defaults: SampleOptions,
    pub(crate) model: Value,
    pub(crate) checkpoint: String,
    pub(crate) limits: Limits,
    pub(crate) token: Option<String>,
    pub(crate) scheduler: Mutex<mpsc::Sender<Message>>,
    pub(crate) in_flight: AtomicUsize,
    /// Bytes each stream of the engine takes, for the memory check.
    pub(crate) bytes_per_stream: usize,
    /// Whether the generating thread is alive.
    pub(crate) health: Arc<crate::Health>,
}

/// The routes over `app`.
pub(crate) fn router(app: Arc<App>) -> Router {
    let protected = Router::new()
        .route("/v1/generate", post(generate))
        .route("/v1/model", get(model))
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), bearer));
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/health", get(health))
        .merge(protected)
        // `generate` reads its body itself, with the limit and a drain.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(app)
}

/// 200 while the generating thread runs; 503, saying why, once it failed.
async fn health(State(app): State<Arc<App>>) -> Response {
    match app.health.failure() {
        None => Json(json!({ "status": "ok" })).into_response(),
        Some(why) => {
            let body = json!({ "status": "failed", "error": why });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Bytes of an oversized body read and dropped before the 413 is sent, so
/// that a client still writing its body reads the answer instead of a reset
/// connection (nginx's lingering close); a larger body is cut off.
const DRAIN_BYTES: usize = 64 << 20;

/// The request body, at most `max` bytes; a larger one is read on (up to
/// [`DRAIN_BYTES`]) and dropped, then refused with 413.
async fn read_body(body: Body, max: usize) -> Result<Bytes, Refusal> {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let (mut kept, mut total) = (Vec::new(), 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let message = format!("the request body could not be read: {e}");
            refuse(StatusCode::BAD_REQUEST, None, message)
        })?;
        total = total.saturating_add(chunk.len());
        if total <= max {
            kept.extend_from_slice(&chunk);
        } else if total > DRAIN_BYTES.max(max) {
            break;
        }
    }
    if total > max {
        let message = format!("the request body has more than {max} bytes, this server's limit");
        return Err(refuse(StatusCode::PAYLOAD_TOO_LARGE, None, message));
    }
    Ok(kept.into())
}

/// A refused request: answered `{"error": message, "field": field}`.
struct Refusal {
    status: StatusCode,
    field: Option<String>,
    message: String,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "field": self.field });
        (self.status, Json(body)).into_response()
    }
}

fn refuse(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        field: field.map(str::to_string),
        message: message.into(),
    }
}

async fn bearer(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    if let Some(token) = &app.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return refuse(
                StatusCode::UNAUTHORIZED,
                None,
                "this server needs `Authorization: Bearer TOKEN`",
            )
            .into_response();
        }
    }
    next.run(request).await
}

async fn model(State(app): State<Arc<App>>) -> Json<Value> {
    Json(app.model.clone())
}

/// The body of `POST /v1/generate` besides its sampling overrides: how many
/// samples, and whether to stream them.
#[derive(Debug, Deserialize)]
struct GenerateRequest {
    num_samples: Option<usize>,
    #[serde(default)]
    stream: bool,
}

/// A body's two parts: the request's own keys, and the rest, which must be
/// [`SampleOverrides`] (so an unknown key is refused by name).
fn split_body(body: &[u8]) -> Result<(GenerateRequest, SampleOverrides), Refusal> {
    let mut fields: serde_json::Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| refuse(StatusCode::BAD_REQUEST, None, e.to_string()))?;
    let mut own = serde_json::Map::new();
    for key in ["num_samples", "stream"] {
        if let Some(value) = fields.remove(key) {
            own.insert(key.to_string(), value);
        }
    }
    Ok((from_fields(own)?, from_fields(fields)?))
}

/// `T` from a body's `fields`; a refusal names the field that is wrong.
fn from_fields<T: serde::de::DeserializeOwned>(
    fields: serde_json::Map<String, Value>,
) -> Result<T, Refusal> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let path = e.path().to_string();
        let field = (path != ".").then_some(path);
        refuse(
            StatusCode::BAD_REQUEST,
            field.as_deref(),
            e.inner().to_string(),
        )
    })
}

/// A checked request: its options, prime ids and sample count.
struct Checked {
    options: SampleOptions,
    prime: Vec<u32>,
    samples: usize,
    stream: bool,
}

fn check(app: &App, body: &[u8]) -> Result<Checked, Refusal> {
    let (request, overrides) = split_body(body)?;
    let options = overrides.over(&app.defaults);
    let samples = request.num_samples.unwrap_or(1);
    let field_of = |e: &SampleError| match e {
        SampleError::Invalid(invalid) => invalid.key,
        SampleError::TooBig { .. } => "num_samples",
        _ => "prime",
    };
    let refusal =
        |e: SampleError| refuse(StatusCode::BAD_REQUEST, Some(field_of(&e)), e.to_string());
    app.limits
        .sampling()
        .check(app.bytes_per_stream, &options, samples)
        .map_err(refusal)?;
    let prime = check_against(&options, &app.vocab).map_err(refusal)?;
    Ok(Checked {
        options,
        prime,
        samples,
        stream: request.stream,
    })
}

/// Counts a request in flight for as long as it lives.
struct InFlight(Arc<App>);

impl InFlight {
    fn enter(app: &Arc<App>) -> Option<Self> {
        let before = app.in_flight.fetch_add(1, Ordering::AcqRel);
        let guard = Self(app.clone());
        (before < app.limits.max_in_flight).then_some(guard)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn generate(State(app): State<Arc<App>>, body: Body) -> Response {
    let body = match read_body(body, app.limits.max_body_bytes).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let checked = match check(&app, &body) {
        Ok(checked) => checked,
        Err(refused) => return refused.into_response(),
    };
    let Some(guard) = InFlight::enter(&app) else {
        let message = format!(
            "{} requests are in flight, this server's limit: retry later",
            app.limits.max_in_flight
        );
        return refuse(StatusCode::TOO_MANY_REQUESTS, None, message).into_response();
    };
    let (events, received) = unbounded_channel();
    {
        let scheduler = app.scheduler.lock().unwrap_or_else(|e| e.into_inner());
        for index in 0..checked.samples {
            let job = Job {
                prime: checked.prime.clone(),
                options: checked.options.clone(),
                index: index as u64,
                events: events.clone(),
            };
            if scheduler.send(Message::Start(job)).is_err() {
                let why = app.health.failure().map_or_else(
                    || "the server is shutting down".to_string(),
                    |why| format!("the server cannot generate: {why}"),
                );
                return refuse(StatusCode::SERVICE_UNAVAILABLE, None, why).into_response();
            }
        }
    }
    drop(events);
    let collector = Collector::new(checked.samples, received, guard);
    if checked.stream {
        sse(collector, app.checkpoint.clone()).into_response()
    } else {
        Json(collector.all(&app.checkpoint).await).into_response()
    }
}

/// A request's samples as their characters arrive.
struct Collector {
    texts: Vec<String>,
    reasons: Vec<Option<StopReason>>,
    received: UnboundedReceiver<(usize, Event)>,
    started: Instant,
    first_char: Option<f64>,
    _in_flight: InFlight,
}

impl Collector {
    fn new(
        samples: usize,
        received: UnboundedReceiver<(usize, Event)>,
        in_flight: InFlight,
    ) -> Self {
        Self {
            texts: vec![String::new(); samples],
            reasons: vec![None; samples],
            received,
            started: Instant::now(),
            first_char: None,
            _in_flight: in_flight,
        }
    }

    fn finished(&self) -> bool {
        self.reasons.iter().all(Option::is_some)
    }

    /// Waits for the next events; returns what each sample gained (empty
    /// when nothing), or `None` when the scheduler is gone.
    async fn next_chunk(&mut self) -> Option<Vec<String>> {
        let first = self.received.recv().await?;
        let mut gained = vec![String::new(); self.texts.len()];
        let mut take = |(i, event): (usize, Event), this: &mut Self| match event {
            Event::Char(ch) => {
                this.first_char
                    .get_or_insert(this.started.elapsed().as_secs_f64() * 1e3);
                this.texts[i].push(ch);
                gained[i].push(ch);
            }
            Event::Done(reason) => this.reasons[i] = Some(reason),
        };
        take(first, self);
        while let Ok(more) = self.received.try_recv() {
            take(more, self);
        }
        Some(gained)
    }

    fn summary(&self, checkpoint: &str) -> Value {
        let seconds = self.started.elapsed().as_secs_f64();
        let chars: usize = self.texts.iter().map(|t| t.chars().count()).sum();
        let reasons: Vec<StopReason> = self
            .reasons
            .iter()
            .map(|r| r.unwrap_or(StopReason::Shutdown))
            .collect();
        json!({
            "texts": self.texts,
            "stop_reasons": reasons,
            "checkpoint": checkpoint,
            "timings": {
                "seconds": seconds,
                "first_char_ms": self.first_char,
                "chars_per_sec": chars as f64 / seconds.max(1e-9),
            },
        })
    }

    async fn all(mut self, checkpoint: &str) -> Value {
        while !self.finished() {
            if self.next_chunk().await.is_none() {
                break;
            }
        }
        self.summary(checkpoint)
    }
}

/// One `chunk` event per sample per batch of characters as they are made,
/// then a `done` event with the texts, stop reasons and timings.
fn sse(
    collector: Collector,
    checkpoint: String,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let events = futures_util::stream::unfold(Some(collector), move |state| {
        let checkpoint = checkpoint.clone();
        async move {
            let mut collector = state?;
            let gained = match collector.finished() {
                true => None,
                false => collector.next_chunk().await,
            };
            // Finished, or the scheduler is gone: the summary ends the stream.
            let Some(gained) = gained else {
                let done = SseEvent::default()
                    .event("done")
                    .data(collector.summary(&checkpoint).to_string());
                return Some((vec![done], None));
            };
            let chunks = gained
                .into_iter()
                .enumerate()
                .filter(|(_, text)| !text.is_empty())
                .map(|(sample, text)| {
                    SseEvent::default()
                        .event("chunk")
                        .data(json!({ "sample": sample, "text": text }).to_string())
                })
                .collect();
            Some((chunks, Some(collector)))
        }
    });
    use futures_util::StreamExt;
    Sse::new(events.flat_map(|batch| futures_util::stream::iter(batch.into_iter().map(Ok))))
}
