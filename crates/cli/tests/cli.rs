//! The `charrnn` binary end to end: every bad input gets a one-line error and a
//! non-zero exit, never a panic; a smoke run trains, samples, evaluates.

mod common;

use std::path::Path;
use std::process::Command;

use common::{assert_fails, charrnn, smoke_run};

/// `charrnn ARGS` (a shell command line) on a terminal of its own.
///
/// util-linux `script` runs the line through `$SHELL -c`. `exec` puts charrnn
/// in the shell's place: otherwise a shell that waits for it (dash, when
/// `SHELL` is unset) dies of the terminal's Ctrl-C and `script` reports the
/// shell's status, not charrnn's.
fn on_a_terminal(args: &str, cwd: &Path) -> Command {
    let line = format!("exec '{}' {args}", env!("CARGO_BIN_EXE_charrnn"));
    let mut script = Command::new("script");
    script
        .args(["-qefc", &line, "/dev/null"])
        .current_dir(cwd)
        .env_remove("RUST_LOG");
    script
}

#[test]
fn bad_configs_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = tmp.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let t = |args: &[&str], needle: &str| assert_fails(&charrnn(args, tmp.path()), needle);

    t(&["train", "--config", "missing.toml"], "missing.toml");
    let syntax = write("syntax.toml", "[data]\ncorpus = \"x.txt\"\n[train\n");
    t(&["train", "--config", &syntax], "syntax.toml:3");
    let unknown = write(
        "unknown.toml",
        "[data]\ncorpus = \"tinyshakespeare.txt\"\n[model]\nhiden_size = 3\n",
    );
    t(&["train", "--config", &unknown], "hiden_size");
    let ok = write("ok.toml", "[data]\ncorpus = \"tinyshakespeare.txt\"\n");
    t(
        &["train", "--config", &ok, "--set", "train.batch_size=\"x\""],
        "train.batch_size",
    );
    t(
        &["train", "--config", &ok, "--set", "model.hidden_size=0"],
        "model.hidden_size",
    );
    t(
        &["train", "--config", &ok, "--set", "model.dropout=1.5"],
        "model.dropout",
    );
    t(
        &["train", "--config", &ok, "--set", "train.learning_rate=-1"],
        "train.learning_rate",
    );
    t(
        &["train", "--config", &ok, "--set", "data.val_fraction=0"],
        "data.val_fraction",
    );
    t(&["train", "--config", &ok, "--set", "nodot"], "--set");
}

#[test]
fn bad_corpora_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = |name: &str, bytes: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        let c = tmp.path().join(format!("{name}.toml"));
        std::fs::write(
            &c,
            format!("[data]\ncorpus = {:?}\n", p.display().to_string()),
        )
        .unwrap();
        c.display().to_string()
    };
    let t = |config: &str, needle: &str| {
        assert_fails(
            &charrnn(
                &["train", "--config", config, "--device", "cpu"],
                tmp.path(),
            ),
            needle,
        )
    };
    t(&corpus("empty.txt", b""), "is empty");
    t(
        &corpus("latin1.txt", b"caf\xe9 au lait"),
        "not valid UTF-8 (first bad byte at offset 3)",
    );
    t(
        &corpus("short.txt", "金瓶梅".as_bytes()),
        "needs at least 12801 characters",
    );
    let missing = tmp.path().join("missing.toml");
    std::fs::write(&missing, "[data]\ncorpus = \"no-such-corpus.txt\"\n").unwrap();
    t(missing.to_str().unwrap(), "no-such-corpus.txt");
    // A start refused on its inputs leaves nothing behind: no run folder,
    // and no lock file in a folder that was there before.
    let new_run = tmp.path().join("runs/new");
    let kept = tmp.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    for out_dir in [&new_run, &kept] {
        let set = format!("train.out_dir={:?}", out_dir.display().to_string());
        let out = charrnn(
            &[
                "train",
                "--config",
                missing.to_str().unwrap(),
                "--device",
                "cpu",
                "--set",
                &set,
            ],
            tmp.path(),
        );
        assert_fails(&out, "no-such-corpus.txt");
    }
    assert!(
        !tmp.path().join("runs").exists(),
        "a failed start left runs/new behind"
    );
    let left: Vec<_> = std::fs::read_dir(&kept).unwrap().collect();
    assert!(
        left.is_empty(),
        "a failed start left {left:?} in an existing folder"
    );
}

#[test]
fn smoke_run_trains_samples_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let run = smoke_run(tmp.path());
    let run_s = run.to_str().unwrap();

    // A second fresh run into the same folder is refused; the CLI says what to type.
    let config = common::repo().join("configs/smoke.toml");
    let out_dir = format!("train.out_dir={:?}", run_s);
    let again = charrnn(
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--set",
            &common::small_text_override(),
            "--set",
            &out_dir,
        ],
        tmp.path(),
    );
    assert_fails(&again, &format!("continue it with --resume {run_s}"));
    assert_fails(&again, "--set train.out_dir=runs/NEW");

    let out = charrnn(
        &[
            "sample", "--run", run_s, "--length", "40", "--prime", "KING",
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("KING"));
    assert_eq!(text.trim_end_matches('\n').chars().count(), 44);

    // A batch of samples as JSON: one object per sample, seeds seed, seed + 1, ...
    let out = charrnn(
        &[
            "sample",
            "--run",
            run_s,
            "--length",
            "30",
            "--num-samples",
            "3",
            "--json",
            "--seed",
            "7",
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seed"], 7 + i as u64);
        assert_eq!(r["text"].as_str().unwrap().chars().count(), 30);
    }
    // The second sample of the batch is what seed 8 gives alone.
    let out = charrnn(
        &[
            "sample", "--run", run_s, "--length", "30", "--json", "--seed", "8",
        ],
        tmp.path(),
    );
    let alone: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(alone["text"], records[1]["text"]);
    // More samples than memory holds: one line, before anything is allocated.
    let started = std::time::Instant::now();
    let out = charrnn(
        &[
            "sample",
            "--run",
            run_s,
            "--length",
            "10",
            "--num-samples",
            "1000000000",
        ],
        tmp.path(),
    );
    assert_fails(&out, "of memory, more than");
    assert_fails(&out, "--num-samples");
    assert!(
        started.elapsed().as_secs() < 20,
        "refused only after {:?}",
        started.elapsed()
    );
    // And no samples at all: the same check, naming the flag.
    let none = charrnn(
        &["sample", "--run", run_s, "--num-samples", "0"],
        tmp.path(),
    );
    assert_fails(&none, "num_samples is 0");
    assert_fails(&none, "--num-samples");

    let corpus = common::small_text();
    let out = charrnn(
        &[
            "eval",
            "--checkpoint",
            run_s,
            "--corpus",
            corpus.to_str().unwrap(),
            "--split",
            "val",
        ],
        tmp.path(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: f64 = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run.join("checkpoints/step-000010/state.json")).unwrap(),
    )
    .unwrap();
    let logged = state["val_loss"].as_f64().unwrap();
    assert!(
        (printed - logged).abs() < 1e-5,
        "eval {printed} vs logged {logged}"
    );

    let out = charrnn(&["info", run_s], tmp.path());
    let info = String::from_utf8(out.stdout).unwrap();
    assert!(info.contains("step         10"), "{info}");

    // Training drew its loss curves; `plot` redraws them on demand.
    let png = run.join("loss.png");
    let svg = run.join("loss.svg");
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    std::fs::remove_file(&png).unwrap();
    std::fs::remove_file(&svg).unwrap();
    let out = charrnn(&["plot", run_s], tmp.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(
        printed.contains("loss.png") && printed.contains("loss.svg"),
        "{printed}"
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .contains("validation"));

    // Bad sampling requests.
    let t = |args: &[&str], needle: &str| assert_fails(&charrnn(args, tmp.path()), needle);
    t(&["sample", "--run", run_s, "--prime", "金"], "'金'");
    t(&["sample", "--run", run_s, "--length", "0"], "length is 0");
    t(
        &["sample", "--run", run_s, "--top-n", "1000"],
        "top_n is 1000",
    );
    t(
        &["sample", "--run", run_s, "--temperature", "0"],
        "temperature",
    );
    t(
        &[
            "sample",
            "--run",
            tmp.path().join("nothing").to_str().unwrap(),
        ],
        "is not a checkpoint",
    );
    t(
        &["eval", "--checkpoint", run_s, "--corpus", "nope.txt"],
        "nope.txt",
    );
    t(&["plot", tmp.path().to_str().unwrap()], "metrics.jsonl");
}

/// Off a terminal (here: a pipe) training prints plain log lines and no bar.
#[test]
fn piped_training_logs_plain_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let args = common::smoke_training_args("cpu", &run, 10);
    let out = charrnn(&common::strs(&args), tmp.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("step 5/10") && stderr.contains("chars/s"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("ETA") && !stderr.contains('\x1b'),
        "a bar was drawn into a pipe: {stderr}"
    );
}

/// On a terminal (a pseudo-terminal from `script`) training draws a bar with the
/// epoch, step, loss, chars/sec and ETA; log lines still appear; `--quiet`
/// silences both.
#[test]
fn terminal_training_draws_a_progress_bar() {
    let tmp = tempfile::tempdir().unwrap();
    let config = common::repo().join("configs/smoke.toml");
    let run = tmp.path().join("run");
    let command = |extra: &str| {
        format!(
            "train --config {} --device cpu --set 'train.out_dir=\"{}\"' --set '{}' --set train.max_steps=30 {extra}",
            config.display(),
            run.display(),
            common::small_text_override()
        )
    };
    let on_a_tty = |cmd: String| {
        let out = on_a_terminal(&cmd, tmp.path())
            .output()
            .expect("`script` (util-linux) is needed to give the test a terminal");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        text
    };
    let screen = on_a_tty(command(""));
    for needle in [
        "epoch 1/1",
        "step 30/30",
        "loss ",
        "chars/s",
        "ETA",
        "saved checkpoint",
        "done: 30 steps",
    ] {
        assert!(
            screen.contains(needle),
            "{needle:?} not on the terminal: {screen}"
        );
    }
    std::fs::remove_dir_all(&run).unwrap();
    let quiet = on_a_tty(command("--quiet"));
    assert!(
        !quiet.contains("ETA") && !quiet.contains("saved checkpoint"),
        "{quiet}"
    );
    assert!(quiet.contains("done: 30 steps"), "{quiet}");
}

#[test]
fn cuda_without_a_gpu_is_a_clear_error() {
    if std::path::Path::new("/dev/nvidia0").exists() {
        return; // this machine has a GPU: the error case cannot happen here
    }
    let tmp = tempfile::tempdir().unwrap();
    let config = common::repo().join("configs/smoke.toml");
    let out = charrnn(
        &[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--device",
            "cuda",
        ],
        tmp.path(),
    );
    assert_fails(&out, "--device cuda");
}

#[test]
fn a_bad_simd_level_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("tiny.txt");
    std::fs::write(&corpus, "hello world").unwrap();
    let run = |level: &str| {
        Command::new(env!("CARGO_BIN_EXE_charrnn"))
            .args(["corpus", corpus.to_str().unwrap()])
            .env("CHARRNN_SIMD", level)
            .output()
            .expect("charrnn runs")
    };
    assert_fails(
        &run("avx9000"),
        "CHARRNN_SIMD=\"avx9000\" names no SIMD level",
    );
    assert!(run("baseline").status.success());
}

/// `prepare` writes a token file that `corpus` describes and `train` reads;
/// each bad source or token file is one error line; on a terminal it draws
/// a bar.
#[test]
fn prepare_writes_a_token_file_and_names_bad_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let play = common::small_text().display().to_string();
    let out = dir.join("play.tokens");
    let out_s = out.to_str().unwrap();
    let prepared = charrnn(&["prepare", &play, "--out", out_s], dir);
    assert!(prepared.status.success(), "{prepared:?}");
    let said = String::from_utf8_lossy(&prepared.stdout);
    assert!(
        said.contains("2-byte ids") && said.contains("MB/s"),
        "{said}"
    );
    let described = charrnn(&["corpus", out_s, "--json"], dir);
    let from_file: serde_json::Value = serde_json::from_slice(&described.stdout).unwrap();
    let from_text: serde_json::Value =
        serde_json::from_slice(&charrnn(&["corpus", &play, "--json"], dir).stdout).unwrap();
    for key in ["chars", "vocab", "bytes", "commonest"] {
        assert_eq!(from_file[key], from_text[key], "{key}");
    }

    std::fs::create_dir(dir.join("empty")).unwrap();
    let binary = dir.join("binary");
    std::fs::create_dir(&binary).unwrap();
    std::fs::write(
        binary.join("blob.txt"),
        [0x7fu8, 0x45, 0x4c, 0x46, 0xff, 0x00],
    )
    .unwrap();
    let other = dir.join("other.tokens");
    let t = |args: &[&str], needle: &str| assert_fails(&charrnn(args, dir), needle);
    t(
        &["prepare", "empty", "--out", "x.tokens"],
        "has no *.txt files",
    );
    t(
        &["prepare", "nothing/*.txt", "--out", "x.tokens"],
        "matches no file",
    );
    t(
        &["prepare", "binary", "--out", "x.tokens"],
        "blob.txt is not valid UTF-8",
    );
    t(&["prepare", &play, "--out", &play], "is not a token file");
    assert!(!dir.join("x.tokens").exists());

    // Damaged token files, as training corpora.
    let bytes = std::fs::read(&out).unwrap();
    std::fs::write(&other, &bytes[..bytes.len() - 100]).unwrap();
    let config = common::repo()
        .join("configs/smoke.toml")
        .display()
        .to_string();
    let train_on = |file: &Path| {
        charrnn(
            &[
                "train",
                "--config",
                &config,
                "--device",
                "cpu",
                "--set",
                &format!("data.corpus={:?}", file.display().to_string()),
                "--set",
                &format!("train.out_dir={:?}", dir.join("run").display().to_string()),
            ],
            dir,
        )
    };
    let out_cut = train_on(&other);
    assert_fails(&out_cut, "is truncated");
    assert_fails(&out_cut, "charrnn prepare CORPUS --out");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    std::fs::write(&other, &flipped).unwrap();
    assert_fails(&train_on(&other), "ids do not match their checksum");

    let prepare = format!("prepare {play} --out {}", dir.join("tty.tokens").display());
    let on_a_tty = on_a_terminal(&prepare, dir)
        .output()
        .expect("`script` (util-linux) is needed to give the test a terminal");
    let screen = String::from_utf8_lossy(&on_a_tty.stdout);
    assert!(on_a_tty.status.success(), "{screen}");
    assert!(
        screen.contains("preparing [") && screen.contains("prepared "),
        "{screen}"
    );
}

/// The conventions of a command-line tool: completions and a man page,
/// `--json` for info and eval, `--prime-file`, exit status 2 for usage
/// errors, and NO_COLOR.
#[test]
fn completions_man_json_prime_file_exit_codes_and_no_color() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = charrnn(&["completions", shell], dir);
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("charrnn") && script.contains("prepare"),
            "{shell}"
        );
    }
    let man = charrnn(&["man"], dir);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH charrnn 1"));
    let help = String::from_utf8_lossy(&charrnn(&["--help"], dir).stdout).into_owned();
    assert!(help.contains("130 interrupted"), "{help}");

    let run = smoke_run(dir);
    let run_s = run.to_str().unwrap();
    let info: serde_json::Value =
        serde_json::from_slice(&charrnn(&["info", run_s, "--json"], dir).stdout).unwrap();
    assert_eq!(info["step"], 10);
    assert_eq!(info["config"]["train"]["max_steps"], 10);
    assert!(info["model"]["params"].as_u64().unwrap() > 0);
    let play = common::small_text().display().to_string();
    let eval = charrnn(
        &[
            "eval",
            "--checkpoint",
            run_s,
            "--corpus",
            &play,
            "--split",
            "val",
            "--json",
        ],
        dir,
    );
    let eval: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    let nats = eval["nats_per_char"].as_f64().unwrap();
    assert!(nats.is_finite() && nats > 0.0, "{eval}");
    assert!((eval["bits_per_char"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9);

    let prime = dir.join("prompt.txt");
    std::fs::write(&prime, "ROMEO:\n").unwrap();
    let prime_s = prime.to_str().unwrap();
    let sampled = charrnn(
        &[
            "sample",
            "--run",
            run_s,
            "--prime-file",
            prime_s,
            "--length",
            "20",
        ],
        dir,
    );
    assert!(sampled.status.success(), "{sampled:?}");
    assert!(String::from_utf8_lossy(&sampled.stdout).starts_with("ROMEO:\n"));
    let both = charrnn(
        &[
            "sample",
            "--run",
            run_s,
            "--prime",
            "x",
            "--prime-file",
            prime_s,
        ],
        dir,
    );
    assert_eq!(both.status.code(), Some(2), "a usage error exits 2");
    assert_fails(
        &charrnn(
            &["sample", "--run", run_s, "--prime-file", "absent.txt"],
            dir,
        ),
        "absent.txt",
    );

    // Colour on a terminal, none with NO_COLOR.
    let sgr = |no_color: bool| {
        let mut command = on_a_terminal(&format!("sample --run {run_s} --length 5"), dir);
        command.env_remove("NO_COLOR");
        if no_color {
            command.env("NO_COLOR", "1");
        }
        let out = command
            .output()
            .expect("`script` (util-linux) gives the test a terminal");
        let screen = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(screen.contains("sampling from"), "{screen}");
        screen.contains("\x1b[3") || screen.contains("\x1b[1m") || screen.contains("\x1b[2m")
    };
    assert!(
        sgr(false),
        "no colour on a terminal: the NO_COLOR check below proves nothing"
    );
    assert!(!sgr(true), "NO_COLOR=1 still coloured");
}

/// `charrnn serve` answers over HTTP and exits 0 on SIGTERM.
#[test]
fn serve_answers_and_stops_on_sigterm() {
    use std::io::{BufRead, Read, Write};
    let tmp = tempfile::tempdir().unwrap();
    let run = smoke_run(tmp.path());
    let mut server = Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args([
            "serve",
            "--run",
            run.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
        ])
        .env("CHARRNN_TOKEN", "t0k")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = std::io::BufReader::new(server.stderr.take().unwrap());
    let addr = loop {
        let mut line = String::new();
        assert!(
            log.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(at) = line.find("on http://") {
            break line[at + 10..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
    };
    let ask = |head: &str, body: &str| {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            s,
            "{head}\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        reply
    };
    assert!(ask("GET /health HTTP/1.1", "").starts_with("HTTP/1.1 200"));
    assert!(ask("GET /v1/model HTTP/1.1", "").starts_with("HTTP/1.1 401"));
    let reply = ask(
        "POST /v1/generate HTTP/1.1\r\nAuthorization: Bearer t0k",
        r#"{"prime": "ROMEO:", "length": 12}"#,
    );
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    let body: serde_json::Value =
        serde_json::from_str(reply.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["texts"][0].as_str().unwrap().chars().count(), 12);
    let model = ask("GET /v1/model HTTP/1.1\r\nAuthorization: Bearer t0k", "");
    assert!(model.contains("\"step\":10"), "{model}");
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed().as_secs() < 5,
            "serve did not stop within 5 s of SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
}

/// `charrnn chat` on a terminal: a prime streams its continuation, a command
/// changes an option, a bad one is explained, Ctrl-D leaves.
#[test]
fn chat_continues_primes_takes_commands_and_leaves_on_ctrl_d() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let run = smoke_run(tmp.path());
    let mut chat = on_a_terminal(&format!("chat --run {}", run.display()), tmp.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("`script` (util-linux) gives the test a terminal");
    let mut input = chat.stdin.take().unwrap();
    // The terminal as it fills, read on a thread of its own.
    let screen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let mut stdout = chat.stdout.take().unwrap();
    let filling = screen.clone();
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        while let Ok(read @ 1..) = stdout.read(&mut buf) {
            filling.lock().unwrap().extend_from_slice(&buf[..read]);
        }
    });
    let shown = || String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    let prompts = || shown().matches("> ").count();
    let wait = |what: &str, ready: &dyn Fn() -> bool| {
        common::wait_for(what, 60, ready, || format!("the screen: {}", shown()));
    };
    // Each line is typed once the prompt asks for it; Ctrl-D (0x04) ends
    // the session.
    for (i, line) in [
        "/length 25",
        "/temperature zero",
        "ROMEO:",
        "/seed 3",
        "JULIET:",
        "/length 1000000",
        "ROMEO:",
    ]
    .into_iter()
    .enumerate()
    {
        wait(&format!("prompt {} (for {line:?})", i + 1), &|| {
            prompts() > i
        });
        writeln!(input, "{line}").unwrap();
        input.flush().unwrap();
    }
    // Ctrl-C (0x03) stops the million-character continuation once it runs.
    let typed = shown().len();
    wait("the long continuation to stream", &|| {
        shown().len() > typed + 200
    });
    input.write_all(&[3]).unwrap();
    input.flush().unwrap();
    wait("[stopped] and the next prompt", &|| {
        shown().contains("[stopped]") && prompts() > 7
    });
    input.write_all(&[4]).unwrap();
    input.flush().unwrap();
    let status = chat.wait().unwrap();
    reader.join().unwrap();
    let screen = shown();
    assert!(status.success(), "{status}: {screen}");
    for needle in [
        "charrnn chat:",
        "length 25",
        "/temperature takes a number",
        "seed 3",
        "[stopped]",
    ] {
        assert!(
            screen.contains(needle),
            "{needle:?} not on the terminal: {screen}"
        );
    }
    // The primes are continued: text beyond the prompts and messages.
    let said = [
        "charrnn chat",
        "length ",
        "seed 3",
        "/temperature",
        "[stopped]",
    ];
    let continued: usize = screen
        .lines()
        .filter(|l| !l.trim_start().starts_with('>') && !said.iter().any(|s| l.contains(s)))
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).count())
        .sum();
    assert!(continued >= 30, "no continuation: {screen}");
}
