//! `charrnn export --format web` in a real browser (Debian's chromium, driven
//! by playwright-core from `crates/serve/tests/browser`), the folder served
//! by a static file server (Python's `http.server`), as a user would serve
//! it: the page writes in the browser what `charrnn sample` writes, and names
//! a broken model file instead of freezing. Set `CHARRNN_SCREENSHOT=FILE.png`
//! to keep a picture of it.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::smoke_run;

/// A static file server on a free port of 127.0.0.1 for `dir`, stopped on drop.
struct StaticServer {
    child: Child,
    url: String,
}

impl StaticServer {
    fn serve(dir: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs (the export tests need it too)");
        let url = format!("http://127.0.0.1:{port}/");
        common::wait_for(
            "the static file server",
            10,
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            String::new,
        );
        Self { child, url }
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browser_dir() -> PathBuf {
    common::repo().join("crates/serve/tests/browser")
}

/// Runs the page driver on `url` with `args`; returns what it saw.
fn drive(url: &str, args: &[&str]) -> serde_json::Value {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the page test needs Debian's chromium at {chromium}: apt-get install chromium (cargo xtask test installs it)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "the page test needs playwright-core: cargo xtask test installs it into {}",
        browser_dir().display()
    );
    let out = Command::new("node")
        .arg(browser_dir().join("web-page.mjs"))
        .arg(url)
        .args(args)
        .env("CHROMIUM", chromium)
        .output()
        .expect("node runs (it is on every machine of this project)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(said.trim().lines().last().unwrap()).unwrap()
}

fn export_web(run: &Path, out: &Path) {
    let done = common::export(run, "web", out, &[]);
    assert!(
        done.status.success(),
        "{} (the binary embeds the page's engine when built by cargo xtask test or cargo xtask build --web)",
        String::from_utf8_lossy(&done.stderr)
    );
}

#[test]
fn the_web_page_writes_in_the_browser_what_charrnn_sample_writes() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(dir.path());
    let page = dir.path().join("page");
    export_web(&run, &page);
    let expected = [
        "charrnn.json",
        "charrnn_web.js",
        "charrnn_web_bg.wasm",
        "index.html",
        "model.safetensors",
        "worker.js",
    ];
    assert_eq!(common::names_in(&page), expected);
    let index = std::fs::read_to_string(page.join("index.html")).unwrap();
    assert!(
        !index.contains("http://") && !index.contains("https://"),
        "the page loads nothing from elsewhere"
    );

    let server = StaticServer::serve(&page);
    let options = [
        ("--prime", "ROMEO:"),
        ("--length", "400"),
        ("--temperature", "0.8"),
        ("--top-n", "5"),
        ("--seed", "9"),
    ];
    let shot = std::env::var("CHARRNN_SCREENSHOT").unwrap_or_default();
    let mut page_args: Vec<&str> = options.iter().map(|(_, v)| *v).collect();
    page_args.push(&shot);
    let seen = drive(&server.url, &page_args);
    assert!(
        seen["status"]
            .as_str()
            .unwrap()
            .starts_with("done: 400 characters"),
        "{seen}"
    );
    assert!(
        seen["grew"].as_bool().unwrap(),
        "text appeared while writing: {seen}"
    );

    // The page's arithmetic is the portable path's: charrnn's at the
    // baseline SIMD level gives the same text for the seed.
    let run = run.display().to_string();
    let mut args = vec!["sample", "--run", &run];
    args.extend(options.iter().flat_map(|(k, v)| [*k, *v]));
    let native = Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args(&args)
        .env("CHARRNN_SIMD", "baseline")
        .output()
        .unwrap();
    assert!(
        native.status.success(),
        "{}",
        String::from_utf8_lossy(&native.stderr)
    );
    let native = String::from_utf8(native.stdout).unwrap();
    assert_eq!(
        seen["text"].as_str().unwrap(),
        native.trim_end_matches('\n')
    );
}

#[test]
fn the_web_page_names_a_broken_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(dir.path());
    let page = dir.path().join("page");
    export_web(&run, &page);
    let model = page.join("model.safetensors");
    let whole = std::fs::read(&model).unwrap();
    let server = StaticServer::serve(&page);
    let cases: [(&str, Vec<u8>, &str); 2] = [
        (
            "cut short",
            whole[..whole.len() * 2 / 3].to_vec(),
            "truncated",
        ),
        (
            "another kind of file",
            b"<!doctype html><p>not a model".to_vec(),
            "not a whole safetensors file",
        ),
    ];
    for (what, bytes, says) in cases {
        std::fs::write(&model, bytes).unwrap();
        let seen = drive(&server.url, &["--load-only"]);
        let status = seen["status"].as_str().unwrap();
        assert!(
            status.starts_with("error: the model file cannot be used"),
            "{what}: {seen}"
        );
        assert!(status.contains(says), "{what}: {seen}");
    }
}
