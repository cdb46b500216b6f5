//! The server end to end, over real sockets with a small HTTP client of the
//! test's own: texts that do not depend on what else runs, Server-Sent
//! Events, tokens, hostile requests answered with 4xx, disconnects and
//! shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use burn::backend::Flex;
use charrnn_corpus::Vocab;
use charrnn_model::CharRnnConfig;
use charrnn_sample::{Engine, Generator, SampleOptions};
use charrnn_serve::{serve, Limits, Served};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "../../sample/tests/support/wide_model.rs"]
mod wide_model;
use wide_model::{drawn_alone, engine_on, wide};

const TOKEN: &str = "s3cret";

fn served(limits: Limits) -> Served<serde_json::Value> {
    let config = CharRnnConfig {
        vocab_size: 11,
        embed_size: 8,
        hidden_size: 16,
        num_layers: 2,
        dropout: 0.0,
    };
    let device = Default::default();
    <Flex as burn::tensor::backend::Backend>::seed(&device, 5);
    let model = config.init::<Flex>(&device);
    Served {
        generator: Generator::new(Engine::from_model(&model), Vocab::from_text("abcdefghij\n"))
            .unwrap(),
        defaults: SampleOptions {
            prime: "abc".into(),
            length: 40,
            ..SampleOptions::default()
        },
        model: json!({ "vocab_size": 11 }),
        checkpoint: "test-checkpoint".into(),
        limits,
        token: Some(TOKEN.into()),
    }
}

/// A running server and the sender that stops it.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(limits: Limits) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(serve(listener, served(limits), async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

/// Status and body of one request (`Connection: close`; chunked bodies decoded).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> (u16, Vec<u8>) {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full head");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    out
}

async fn generate(addr: SocketAddr, body: Value) -> Value {
    let (status, reply) = request(
        addr,
        "POST",
        "/v1/generate",
        Some(TOKEN),
        body.to_string().as_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&reply));
    serde_json::from_slice(&reply).unwrap()
}

/// `chunk` texts joined per sample, and the `done` event's data.
fn read_events(body: &[u8]) -> (Vec<String>, Value) {
    let text = String::from_utf8_lossy(body);
    let (mut texts, mut done) = (Vec::<String>::new(), Value::Null);
    for event in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let name = event
            .lines()
            .find_map(|l| l.strip_prefix("event: "))
            .unwrap_or("");
        let data: Value = serde_json::from_str(
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap(),
        )
        .unwrap();
        match name {
            "chunk" => {
                let i = data["sample"].as_u64().unwrap() as usize;
                if texts.len() <= i {
                    texts.resize(i + 1, String::new());
                }
                texts[i].push_str(data["text"].as_str().unwrap());
            }
            "done" => done = data,
            other => panic!("unexpected event {other:?}"),
        }
    }
    (texts, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_text_does_not_depend_on_what_else_runs() {
    let server = start(Limits::default()).await;
    let addr = server.addr;
    let alone: Vec<Value> = {
        let mut texts = Vec::new();
        for seed in 0..12u64 {
            texts.push(
                generate(addr, json!({ "seed": seed, "length": 30 + seed * 5 })).await["texts"][0]
                    .clone(),
            );
        }
        texts
    };
    assert!(alone.iter().collect::<std::collections::HashSet<_>>().len() > 1);
    // The same requests at once, joining and leaving a running batch (of
    // more than 8 streams at first, where the gates and draws are split
    // across threads).
    let together = futures_join(
        (0..12u64)
            .map(|seed| {
                tokio::spawn(async move {
                    generate(addr, json!({ "seed": seed, "length": 30 + seed * 5 })).await
                })
            })
            .collect(),
    )
    .await;
    for (seed, reply) in together.iter().enumerate() {
        assert_eq!(reply["texts"][0], alone[seed], "seed {seed}");
        assert_eq!(
            reply["texts"][0].as_str().unwrap().chars().count(),
            30 + seed * 5
        );
        assert_eq!(reply["stop_reasons"][0], "length");
        assert_eq!(reply["checkpoint"], "test-checkpoint");
    }
    // Sample i of a request is the request alone with seed + i.
    let three = generate(addr, json!({ "seed": 2, "length": 40, "num_samples": 3 })).await;
    assert_eq!(three["texts"][0], alone[2]);
    let seed3 = generate(addr, json!({ "seed": 3, "length": 40 })).await;
    assert_eq!(three["texts"][1], seed3["texts"][0]);
    // Streamed, the same text.
    let body = json!({ "seed": 4, "length": 50, "stream": true }).to_string();
    let (status, events) =
        request(addr, "POST", "/v1/generate", Some(TOKEN), body.as_bytes()).await;
    assert_eq!(status, 200);
    let (texts, done) = read_events(&events);
    assert_eq!(texts[0], alone[4].as_str().unwrap());
    assert_eq!(done["stop_reasons"][0], "length");
    assert!(done["timings"]["first_char_ms"].as_f64().is_some());
    stop(server).await;
}

async fn futures_join(handles: Vec<tokio::task::JoinHandle<Value>>) -> Vec<Value> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

async fn stop(mut server: Running) {
    server.stop.take().unwrap().send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.done)
        .await
        .expect("the server stops within 5 s")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_a_4xx_naming_the_field_and_the_server_stays_up() {
    let limits = Limits {
        max_length: 1000,
        max_body_bytes: 4096,
        ..Limits::default()
    };
    let server = start(limits).await;
    let addr = server.addr;
    let (status, _) = request(addr, "GET", "/health", None, b"").await;
    assert_eq!(status, 200);
    assert_eq!(request(addr, "GET", "/v1/model", None, b"").await.0, 401);
    assert_eq!(
        request(addr, "GET", "/v1/model", Some("wrong"), b"")
            .await
            .0,
        401
    );
    let (status, model) = request(addr, "GET", "/v1/model", Some(TOKEN), b"").await;
    assert_eq!(
        (
            status,
            serde_json::from_slice::<Value>(&model).unwrap()["vocab_size"].clone()
        ),
        (200, json!(11))
    );
    let cases: Vec<(Vec<u8>, u16, Option<&str>)> = vec![
        (b"{".to_vec(), 400, None),
        (b"[1,2]".to_vec(), 400, None),
        (br#"{"lenght": 5}"#.to_vec(), 400, None),
        (br#"{"length": "five"}"#.to_vec(), 400, Some("length")),
        (br#"{"length": -1}"#.to_vec(), 400, Some("length")),
        (
            br#"{"length": 100000000000000000000000}"#.to_vec(),
            400,
            Some("length"),
        ),
        (br#"{"length": 1001}"#.to_vec(), 400, Some("length")),
        (br#"{"num_samples": 0}"#.to_vec(), 400, Some("num_samples")),
        (br#"{"num_samples": 17}"#.to_vec(), 400, Some("num_samples")),
        (br#"{"top_p": 1.5}"#.to_vec(), 400, Some("top_p")),
        (br#"{"top_n": 12}"#.to_vec(), 400, Some("top_n")),
        (br#"{"temperature": 0}"#.to_vec(), 400, Some("temperature")),
        (br#"{"prime": "xyz"}"#.to_vec(), 400, Some("prime")),
        (br#"{"prime": ""}"#.to_vec(), 400, Some("prime")),
        (
            vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'],
            400,
            None,
        ),
        (vec![b' '; 5000], 413, None),
    ];
    for (body, want, field) in cases {
        let (status, reply) = request(addr, "POST", "/v1/generate", Some(TOKEN), &body).await;
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        assert_eq!(status, want, "{shown}: {}", String::from_utf8_lossy(&reply));
        // Every refusal, 413 included, is JSON with an error message.
        let reply: Value = serde_json::from_slice(&reply)
            .unwrap_or_else(|e| panic!("{shown}: a {status} that is not JSON ({e})"));
        assert!(
            reply["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{shown}: {reply}"
        );
        if let Some(field) = field {
            assert_eq!(reply["field"], field, "{shown}: {reply}");
        }
    }
    // A body far over the limit, sent whole as common clients do before
    // they read: the server reads it away and the client gets its 413.
    let (status, reply) = request(
        addr,
        "POST",
        "/v1/generate",
        Some(TOKEN),
        &vec![b' '; 8 << 20],
    )
    .await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&reply));
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert!(reply["error"].as_str().unwrap().contains("4096"), "{reply}");
    // Random bytes and random JSON-ish text: always a 4xx, never a 5xx.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = br#"{}[]":,0123456789.-eE truefalsnul"lengthprimetop_nseed\"#;
    for round in 0..200 {
        let len = (next() % 200) as usize;
        let body: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    next() as u8
                } else {
                    alphabet[(next() % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        let (status, _) = request(addr, "POST", "/v1/generate", Some(TOKEN), &body).await;
        let accepted = status == 200 && serde_json::from_slice::<Value>(&body).is_ok();
        assert!(
            (400..500).contains(&status) || accepted,
            "{status} for {body:?}"
        );
    }
    // A slow client: half a request, then silence; others are still served.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"len")
        .await
        .unwrap();
    assert_eq!(request(addr, "GET", "/health", None, b"").await.0, 200);
    drop(slow);
    assert_eq!(
        generate(addr, json!({ "length": 5 })).await["texts"][0]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        5
    );
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_frees_its_stream_and_shutdown_ends_the_rest() {
    // Long enough to be running still when the test acts (the small
    // model makes some 70,000 characters a second).
    const LONG: usize = 5_000_000;
    let limits = Limits {
        max_in_flight: 1,
        max_length: LONG,
        ..Limits::default()
    };
    let server = start(limits).await;
    let addr = server.addr;
    // A long stream, dropped after its first bytes.
    let mut leaving = TcpStream::connect(addr).await.unwrap();
    let body = json!({ "length": LONG, "stream": true }).to_string();
    let head = format!(
        "POST /v1/generate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    leaving.write_all(head.as_bytes()).await.unwrap();
    let mut first = [0u8; 64];
    let _ = leaving.read(&mut first).await.unwrap();
    // While it runs, the one place in flight is taken.
    assert_eq!(
        request(addr, "POST", "/v1/generate", Some(TOKEN), b"{}")
            .await
            .0,
        429
    );
    drop(leaving);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _) = request(
            addr,
            "POST",
            "/v1/generate",
            Some(TOKEN),
            br#"{"length": 3}"#,
        )
        .await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dropped stream was never freed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A long request in flight when the server stops: it ends, saying so.
    // The server stops once the stream's first characters have arrived.
    let mut streaming = TcpStream::connect(addr).await.unwrap();
    streaming.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&raw).contains("event: chunk") {
        let read = tokio::time::timeout(Duration::from_secs(10), streaming.read(&mut buf))
            .await
            .expect("the stream's first chunk within 10 s")
            .unwrap();
        assert!(
            read > 0,
            "the stream ended before its first chunk: {}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..read]);
    }
    let stopped = Instant::now();
    stop(server).await;
    assert!(stopped.elapsed() < Duration::from_secs(5));
    streaming.read_to_end(&mut raw).await.unwrap();
    let (status, events) = parse_response(&raw);
    assert_eq!(status, 200);
    let (texts, done) = read_events(&events);
    assert_eq!(done["stop_reasons"][0], "shutdown", "{done}");
    assert!(texts[0].chars().count() < LONG);
}

/// The page at `/` in a real browser (Debian's chromium, driven by
/// playwright-core from `tests/browser`): a person gives the token, types a
/// prime, presses Generate and sees the text stream in. Set
/// `CHARRNN_SCREENSHOT=FILE.png` to keep a picture of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_streams_text_in_a_real_browser() {
    let browser_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "the page test needs Debian's chromium at {chromium}: apt-get install chromium (.ci/run installs it)"
    );
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "the page test needs playwright-core: npm install --no-package-lock --prefix {} (.ci/run does)",
        browser_dir.display()
    );
    let limits = Limits {
        max_length: 100_000,
        ..Limits::default()
    };
    let server = start(limits).await;
    let (status, page) = request(server.addr, "GET", "/", None, b"").await;
    let page = String::from_utf8(page).unwrap();
    assert_eq!(status, 200);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page loads nothing from elsewhere"
    );
    let url = format!("http://{}/", server.addr);
    let shot = std::env::var("CHARRNN_SCREENSHOT").unwrap_or_default();
    let script = browser_dir.join("drive-page.mjs");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            // Long enough to watch it grow: the small model is fast.
            .args([url.as_str(), TOKEN, shot.as_str(), "abc", "20000"])
            .env("CHROMIUM", chromium)
            .output()
            .expect("node runs (it is on every machine of this project)")
    })
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(said.trim().lines().last().unwrap()).unwrap();
    let text = seen["text"].as_str().unwrap();
    assert!(text.starts_with("abc"), "{seen}");
    assert_eq!(text.chars().count(), 3 + 20000, "{}", seen["status"]);
    assert!(
        seen["grew"].as_str().unwrap().starts_with("generating"),
        "text appeared while generating: {seen}"
    );
    assert!(
        seen["updates"].as_u64().unwrap() >= 2,
        "the text grew in steps, not at once: {seen}"
    );
    assert!(
        seen["status"]
            .as_str()
            .unwrap()
            .starts_with("done (length)"),
        "{seen}"
    );
    stop(server).await;
}

/// What `charrnn sample --seed S --num-samples N` writes ([`Generator`]:
/// one stream reads a bfloat16 bound first, a batch runs packed GEMMs) is
/// what the server writes for the same options, with a vocabulary as large
/// as 金瓶梅's (more columns than one block of the GEMM kernel), whether the
/// engines run on one thread or on two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_writes_what_charrnn_sample_writes_on_one_thread_and_on_two() {
    let (model, vocab) = wide(4400, 48, 2);
    let on_threads = |threads: usize| engine_on(threads, &model);
    let text: String = vocab.chars().iter().take(3).collect();
    let options = SampleOptions {
        prime: text,
        length: 120,
        top_n: 5,
        seed: 7,
        ..SampleOptions::default()
    };
    for threads in [1, 2] {
        let mut sampler = Generator::new(on_threads(threads), vocab.clone()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = Served {
            generator: Generator::new(on_threads(3 - threads), vocab.clone()).unwrap(),
            defaults: options.clone(),
            ..served(Limits::default())
        };
        let done = tokio::spawn(serve(listener, served, async {
            let _ = stopped.await;
        }));
        for count in [1usize, 4, 9] {
            let reply = generate(addr, json!({ "num_samples": count })).await;
            let batch = sampler.generate_many(&options, count, |_, _| {}).unwrap();
            for (i, text) in batch.iter().enumerate() {
                let alone = drawn_alone(&mut sampler, &options, i);
                let what = format!("sample {i} of {count}, sampler on {threads} threads");
                assert_eq!(text, &alone, "{what}: batch and alone");
                assert_eq!(reply["texts"][i], json!(alone), "{what}: server");
            }
        }
        stop(Running {
            addr,
            stop: Some(stop_tx),
            done,
        })
        .await;
    }
}
