//! Unit tests of `src/config.rs`.

use super::*;

fn parse(text: &str, overrides: &[&str]) -> Result<RunConfig, ConfigError> {
    let o: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    RunConfig::parse(text, Path::new("x.toml"), &o)
}

const MINIMAL: &str = "[data]\ncorpus = \"a.txt\"\n";

#[test]
fn defaults_are_the_seed_notebook_values() {
    let c = parse(MINIMAL, &[]).unwrap();
    assert_eq!(c.train.batch_size, 128);
    assert_eq!(c.train.seq_len, 100);
    assert_eq!(c.train.grad_clip, 5.0);
    assert_eq!(c.model.dropout, 0.5);
    assert_eq!(c.data.val_fraction, 0.05);
    assert_eq!(c.sample.top_n, 5);
}

#[test]
fn overrides_apply_with_types() {
    let c = parse(
        MINIMAL,
        &[
            "train.max_steps=7",
            "sample.prime=第一回",
            "model.dropout=0.25",
        ],
    )
    .unwrap();
    assert_eq!(c.train.max_steps, 7);
    assert_eq!(c.sample.prime, "第一回");
    assert_eq!(c.model.dropout, 0.25);
    assert!(matches!(
        parse(MINIMAL, &["nodot=3"]),
        Err(ConfigError::Override(_))
    ));
}

#[test]
fn errors_name_the_key() {
    let err = parse(&format!("{MINIMAL}[model]\nhidden_sz = 3\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("model"), "{err}");
    assert!(err.to_string().contains("hidden_sz"), "{err}");

    let err = parse(&format!("{MINIMAL}[train]\nbatch_size = \"big\"\n"), &[]).unwrap_err();
    assert!(err.to_string().contains("train.batch_size"), "{err}");

    for (o, key) in [
        ("model.hidden_size=0", "model.hidden_size"),
        ("model.dropout=1.0", "model.dropout"),
        ("sample.top_p=1.5", "sample.top_p"),
        ("sample.top_n=0", "sample.top_n"),
        ("train.learning_rate=0", "train.learning_rate"),
        ("data.val_fraction=1.5", "data.val_fraction"),
        ("data.val_fraction=0", "data.val_fraction"),
        ("train.seq_len=100000000000", "train.batch_size"),
        ("train.batch_size=9223372036854775807", "train.batch_size"),
        ("model.hidden_size=2000000", "model.hidden_size"),
        ("model.num_layers=5000", "model.num_layers"),
        ("data.corpus=[]", "data.corpus"),
        ("data.corpus=\"\"", "data.corpus"),
        ("data.corpus=[\"a.txt\", \" \"]", "data.corpus"),
        ("data.val_split=\"middle\"", "data.val_split"),
    ] {
        let err = parse(MINIMAL, &[o]).unwrap_err();
        assert!(err.to_string().contains(key), "{o}: {err}");
    }
}

#[test]
fn syntax_errors_give_the_line() {
    let err = parse("[data]\ncorpus = \"a.txt\"\n[train\n", &[]).unwrap_err();
    match err {
        ConfigError::Syntax { line, .. } => assert_eq!(line, 3),
        other => panic!("expected a syntax error, got {other}"),
    }
}

#[test]
fn learning_rate_schedules() {
    let c = parse(MINIMAL, &["train.learning_rate=1.0"]).unwrap();
    assert_eq!(c.learning_rate(500, 30, 1000, 0.0), 1.0);
    let s = parse(
        MINIMAL,
        &[
            "train.learning_rate=1.0",
            "train.lr_schedule=\"step\"",
            "train.lr_decay=0.5",
            "train.lr_decay_after=2",
        ],
    )
    .unwrap();
    // Decay starts once epoch `lr_decay_after` (1-based) is complete.
    assert_eq!(s.learning_rate(0, 1, 100, 0.0), 1.0);
    assert_eq!(s.learning_rate(0, 2, 100, 0.0), 0.5);
    assert_eq!(s.learning_rate(0, 3, 100, 0.0), 0.25);
    let cos = parse(
        MINIMAL,
        &[
            "train.learning_rate=1.0",
            "train.lr_schedule=\"cosine\"",
            "train.warmup_steps=10",
        ],
    )
    .unwrap();
    assert!((cos.learning_rate(0, 0, 110, 0.0) - 0.1).abs() < 1e-12);
    assert_eq!(cos.learning_rate(10, 0, 110, 0.0), 1.0);
    assert!((cos.learning_rate(60, 0, 110, 0.0) - 0.5).abs() < 1e-12);
    assert!(cos.learning_rate(109, 0, 110, 0.0) < 0.01);
    assert!(parse(MINIMAL, &["train.lr_schedule=\"linear\""]).is_err());
}

#[test]
fn a_time_limit_decays_the_cosine_by_whichever_runs_out_first() {
    let timed = parse(
        MINIMAL,
        &[
            "train.learning_rate=1.0",
            "train.lr_schedule=\"cosine\"",
            "train.max_minutes=10",
        ],
    )
    .unwrap();
    // Half the minutes spent, a tenth of the steps: halfway down.
    assert!((timed.learning_rate(10, 0, 100, 300.0) - 0.5).abs() < 1e-12);
    // Half the steps, a tenth of the minutes: halfway down too.
    assert!((timed.learning_rate(50, 0, 100, 60.0) - 0.5).abs() < 1e-12);
    assert_eq!(timed.learning_rate(10, 0, 100, 900.0), 0.0);
    assert_eq!(timed.time_spent(300.0), 0.5);
    let untimed = parse(MINIMAL, &["train.learning_rate=1.0"]).unwrap();
    assert_eq!(untimed.time_spent(1e9), 0.0);
    for bad in ["train.max_minutes=-1", "train.max_minutes=nan"] {
        let err = parse(MINIMAL, &[bad]).unwrap_err();
        assert!(
            err.to_string().contains("train.max_minutes"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn round_trips_through_toml() {
    let c = parse(MINIMAL, &["train.max_steps=3"]).unwrap();
    assert_eq!(parse(&c.to_toml(), &[]).unwrap(), c);
}
