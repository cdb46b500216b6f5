//! End-to-end training on the CPU backend: a run, an exact resume, evaluation
//! agreeing with the logged validation loss, and damaged checkpoints refused.

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use burn::backend::{Autodiff, Flex};
use charrnn_corpus::{split_train_val, Corpus};
use charrnn_train::checkpoint::{self, CheckpointError};
use charrnn_train::{
    evaluate, read_metrics, train, ProgressObserver, StepProgress, TrainError, TrainOptions,
};

type B = Autodiff<Flex>;

#[test]
fn resumed_run_logs_the_same_losses_as_an_uninterrupted_one() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let whole_dir = tmp.path().join("whole");
    let whole = common::smoke_config(&whole_dir, &["train.max_steps=24", "train.log_every=1"]);
    let summary = train::<B>(&whole, &common::options(None), &Default::default()).unwrap();
    assert_eq!(summary.step, 24);

    // The same run, stopped at step 10 and resumed from that checkpoint.
    let split_dir = tmp.path().join("split");
    let first = common::smoke_config(&split_dir, &["train.max_steps=10", "train.log_every=1"]);
    train::<B>(&first, &common::options(None), &Default::default()).unwrap();
    let ckpt = split_dir.join("checkpoints/step-000010");
    let resumed = common::smoke_config(&split_dir, &["train.max_steps=24", "train.log_every=1"]);
    train::<B>(&resumed, &common::options(Some(&ckpt)), &Default::default()).unwrap();

    let a = read_metrics(&whole_dir.join("metrics.jsonl")).unwrap();
    let b = read_metrics(&split_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(a.len(), 24);
    assert_eq!(
        a.iter().map(|r| r.step).collect::<Vec<_>>(),
        b.iter().map(|r| r.step).collect::<Vec<_>>()
    );
    for (x, y) in a.iter().zip(&b) {
        assert!(
            (x.train_loss - y.train_loss).abs() < 1e-5,
            "step {}: {} vs {}",
            x.step,
            x.train_loss,
            y.train_loss
        );
        assert_eq!(x.epoch, y.epoch);
    }
    // Losses must actually change, or the comparison above proves nothing.
    assert!((a[0].train_loss - a[23].train_loss).abs() > 0.1);
}

#[test]
fn evaluation_agrees_with_the_logged_validation_loss() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(tmp.path(), &["train.max_steps=12"]);
    let summary = train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let meta = checkpoint::load_meta(tmp.path()).unwrap();
    assert_eq!(meta.dir, summary.checkpoint);
    assert_eq!(meta.state.step, 12);

    let device = Default::default();
    let model = checkpoint::load_model::<Flex>(&meta, &device).unwrap();
    let corpus = Corpus::load(Path::new(&config.data.corpus.to_string())).unwrap();
    let (_, val) = split_train_val(corpus.ids(), config.data.val_fraction);
    let t = &config.train;
    let loss = evaluate(&model, val, t.batch_size, t.seq_len, &device).unwrap();
    let logged = meta.state.val_loss.unwrap();
    assert!(
        (loss - logged).abs() < 1e-5,
        "eval {loss} vs logged {logged}"
    );
}

#[test]
fn damaged_checkpoints_are_refused_with_a_reason() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(tmp.path(), &["train.max_steps=10"]);
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let good = tmp.path().join("checkpoints/step-000010");
    let device = Default::default();

    let copy = |name: &str| {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&good).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
        dir
    };
    let load = |dir: &Path| -> Result<(), CheckpointError> {
        let meta = checkpoint::load_meta(dir)?;
        checkpoint::load_model::<Flex>(&meta, &device).map(|_| ())
    };
    load(&good).unwrap();

    let missing = load(&tmp.path().join("nope")).unwrap_err();
    assert!(
        matches!(missing, CheckpointError::NotFound { .. }),
        "{missing}"
    );

    let truncated = copy("truncated");
    let bytes = std::fs::read(truncated.join("model.mpk")).unwrap();
    std::fs::write(truncated.join("model.mpk"), &bytes[..bytes.len() / 2]).unwrap();
    let err = load(&truncated).unwrap_err();
    assert!(err.to_string().contains("model.mpk"), "{err}");

    let garbage = copy("garbage");
    std::fs::write(garbage.join("model.mpk"), b"not a model").unwrap();
    assert!(matches!(
        load(&garbage),
        Err(CheckpointError::Damaged { .. })
    ));

    // An edited file fails the manifest; without one (layout 1), the weights'
    // shapes are still checked against the config and the vocabulary.
    for legacy in [false, true] {
        let other_arch = copy(&format!("other-arch-{legacy}"));
        let cfg = std::fs::read_to_string(other_arch.join("config.toml")).unwrap();
        std::fs::write(
            other_arch.join("config.toml"),
            cfg.replace("hidden_size = 32", "hidden_size = 48"),
        )
        .unwrap();
        let other_vocab = copy(&format!("other-vocab-{legacy}"));
        std::fs::write(other_vocab.join("vocab.json"), r#"{"chars":["a","b","c"]}"#).unwrap();
        for (dir, file) in [(&other_arch, "config.toml"), (&other_vocab, "vocab.json")] {
            if legacy {
                make_layout_1(dir);
            }
            let err = load(dir).unwrap_err().to_string();
            let want = if legacy { "does not match" } else { file };
            assert!(err.contains(want), "{err}");
        }
    }

    let no_state = copy("no-state");
    std::fs::remove_file(no_state.join("state.json")).unwrap();
    assert!(matches!(
        load(&no_state),
        Err(CheckpointError::NotFound { .. })
    ));
}

/// Turns a checkpoint folder into layout 1: no manifest, `format: 1`.
fn make_layout_1(dir: &Path) {
    std::fs::remove_file(dir.join("manifest.json")).unwrap();
    let state = std::fs::read_to_string(dir.join("state.json")).unwrap();
    let state = state.replace(
        &format!("\"format\": {}", checkpoint::FORMAT_VERSION),
        "\"format\": 1",
    );
    std::fs::write(dir.join("state.json"), state).unwrap();
}

#[test]
fn short_or_missing_corpus_is_an_error_not_a_panic() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let short = tmp.path().join("short.txt");
    std::fs::write(&short, "just a few characters").unwrap();
    let mut config = common::smoke_config(tmp.path(), &[]);
    config.data.corpus = short.into();
    match train::<B>(&config, &common::options(None), &Default::default()) {
        Err(e @ TrainError::TooShort { .. }) => assert!(e.to_string().contains("at least"), "{e}"),
        other => panic!("expected TooShort, got {other:?}"),
    }
    config.data.corpus = tmp.path().join("absent.txt").into();
    assert!(matches!(
        train::<B>(&config, &common::options(None), &Default::default()),
        Err(TrainError::CorpusNotFound(_))
    ));
}

#[test]
fn best_checkpoint_is_tracked_old_ones_pruned_and_samples_written() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=30",
            "train.eval_every=5",
            "train.save_every=5",
            "train.keep_last=2",
            "train.sample_every=10",
            "sample.length=20",
        ],
    );
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let root = tmp.path().join("checkpoints");
    let best_name = std::fs::read_to_string(root.join("best")).unwrap();
    let best = checkpoint::load_meta(&root.join(best_name.trim())).unwrap();
    let metrics = read_metrics(&tmp.path().join("metrics.jsonl")).unwrap();
    let lowest = metrics
        .iter()
        .filter_map(|r| r.val_loss.map(|v| (v, r.step)))
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap();
    assert_eq!(
        best.state.step, lowest.1,
        "best must be the lowest validation loss"
    );
    assert_eq!(best.state.val_loss, Some(lowest.0));

    let mut kept: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("step-"))
        .collect();
    kept.sort();
    let mut expected = vec!["step-000025".to_string(), "step-000030".to_string()];
    if !expected.contains(&best_name.trim().to_string()) {
        expected.insert(0, best_name.trim().to_string());
    }
    assert_eq!(kept, expected);
    assert_eq!(
        checkpoint::resolve_pick(tmp.path(), checkpoint::Pick::Best).unwrap(),
        root.join(best_name.trim())
    );

    let samples = std::fs::read_to_string(tmp.path().join("samples.txt")).unwrap();
    assert_eq!(samples.matches("=== step").count(), 3, "{samples}");
    assert!(samples.contains("=== step 10"));
    assert!(metrics
        .iter()
        .all(|r| (r.train_bits_per_char - r.train_loss / std::f64::consts::LN_2).abs() < 1e-9));
}

#[test]
fn divergence_stops_training_and_keeps_the_last_good_checkpoint() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    // An absurd learning rate makes the loss explode within a few steps.
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.learning_rate=50.0",
            "train.grad_clip=0",
            "train.divergence_factor=1.5",
            "train.max_steps=200",
            "train.save_every=1",
            "train.eval_every=0",
        ],
    );
    let err = train::<B>(&config, &common::options(None), &Default::default()).unwrap_err();
    let TrainError::Diverged {
        step, last_good, ..
    } = &err
    else {
        panic!("expected Diverged, got {err}");
    };
    assert!(
        err.to_string()
            .contains("resume from the last good checkpoint"),
        "{err}"
    );
    let latest = checkpoint::load_meta(tmp.path()).unwrap();
    assert_eq!(
        latest.state.step,
        step - 1,
        "latest must be the step before the divergence"
    );
    assert_eq!(last_good.as_deref(), Some(latest.dir.as_path()));
    checkpoint::load_model::<Flex>(&latest, &Default::default()).unwrap();
}

#[test]
fn unwritable_out_dir_is_an_error() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "not a folder").unwrap();
    let config = common::smoke_config(&file.join("run"), &["train.max_steps=2"]);
    match train::<B>(&config, &common::options(None), &Default::default()) {
        Err(e @ TrainError::RunDir { .. }) => assert!(e.to_string().contains("out_dir"), "{e}"),
        other => panic!("expected RunDir, got {other:?}"),
    }
}

#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<StepProgress>>);

impl ProgressObserver for Recorder {
    fn on_step(&self, progress: &StepProgress) {
        self.0.lock().unwrap().push(*progress);
    }
}

#[test]
fn progress_observer_sees_every_step_with_epoch_and_totals() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=0",
            "train.epochs=2",
            "train.batch_size=128",
            "train.seq_len=256",
            "data.val_fraction=0.1",
            "train.eval_every=0",
            "train.save_every=0",
        ],
    );
    let recorder = Arc::new(Recorder::default());
    let options = TrainOptions {
        progress: Some(recorder.clone()),
        ..common::options(None)
    };
    let summary = train::<B>(&config, &options, &Default::default()).unwrap();
    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.len() as u64, summary.step);
    let batches = seen[0].batches;
    assert_eq!(summary.step, 2 * batches as u64);
    for (i, p) in seen.iter().enumerate() {
        assert_eq!(p.step, i as u64 + 1);
        assert_eq!(p.total_steps, summary.step);
        assert_eq!((p.epoch, p.epochs), (i / batches + 1, 2));
        assert_eq!(p.batch, i % batches + 1);
        assert!(p.loss.is_finite() && p.step_sec > 0.0);
    }
    assert_eq!(seen.last().unwrap().val_loss, summary.val_loss);
}

#[test]
fn a_new_run_never_overwrites_another_runs_checkpoints() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(tmp.path(), &["train.max_steps=10"]);
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let model = tmp.path().join("checkpoints/step-000010/model.mpk");
    let before = std::fs::read(&model).unwrap();

    let again = common::smoke_config(tmp.path(), &["train.max_steps=10", "train.seed=8"]);
    let err = train::<B>(&again, &common::options(None), &Default::default()).unwrap_err();
    assert!(matches!(err, TrainError::RunExists { ref newest, .. } if newest == "step-000010"));
    assert!(err.to_string().contains("resume that run"), "{err}");
    assert_eq!(
        std::fs::read(&model).unwrap(),
        before,
        "the old checkpoint changed"
    );
}

#[test]
fn the_logged_learning_rate_follows_the_schedule() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=20",
            "train.log_every=1",
            "train.learning_rate=0.01",
            "train.lr_schedule=\"cosine\"",
            "train.warmup_steps=5",
        ],
    );
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let records = read_metrics(&tmp.path().join("metrics.jsonl")).unwrap();
    assert_eq!(records.len(), 20);
    for r in &records {
        // Record `step` is written after the step that used `step - 1`'s rate.
        let want = config.learning_rate(r.step - 1, r.epoch - 1, 20, 0.0);
        assert!(
            (r.learning_rate - want).abs() < 1e-12,
            "step {}: {} vs {want}",
            r.step,
            r.learning_rate
        );
    }
    let lr: Vec<f64> = records.iter().map(|r| r.learning_rate).collect();
    assert!(
        lr[0] < lr[4] && (lr[4] - 0.01).abs() < 1e-12,
        "warm-up: {lr:?}"
    );
    assert!(
        lr[5..].windows(2).all(|w| w[1] < w[0]) && lr[19] < 1e-3,
        "cosine decay: {lr:?}"
    );
}

#[test]
fn a_time_limit_stops_the_run_with_a_validated_checkpoint() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    // A limit of 30 ms: a few steps at most, far fewer than the 10,000 asked.
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=10000",
            "train.max_minutes=0.0005",
            "train.lr_schedule=\"cosine\"",
        ],
    );
    let summary = train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    assert!(
        summary.step >= 1 && summary.step < 10000,
        "{}",
        summary.step
    );
    assert!(summary.val_loss.is_some());
    let meta = checkpoint::load_meta(tmp.path()).unwrap();
    assert_eq!(meta.state.step, summary.step);
}

/// `best` names the checkpoint of the lowest validation loss even when
/// validation runs more often than checkpoints are saved: a new best is
/// saved then and there.
#[test]
fn best_names_the_best_validated_step_whatever_save_every_says() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=14",
            "train.eval_every=3",
            "train.save_every=100",
            "train.log_every=1",
            "train.keep_last=100",
        ],
    );
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let validated: Vec<(u64, f64)> = read_metrics(&tmp.path().join("metrics.jsonl"))
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.step, r.val_loss?)))
        .collect();
    assert!(validated.len() >= 4, "validations: {validated:?}");
    let &(best_step, best_loss) = validated.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    // Every validation that beat the ones before it left its checkpoint.
    let mut lowest = f64::INFINITY;
    for &(step, loss) in &validated {
        if loss < lowest {
            lowest = loss;
            let dir = tmp.path().join(format!("checkpoints/step-{step:06}"));
            assert!(
                dir.is_dir(),
                "step {step} was a new best ({loss}) but has no checkpoint"
            );
        }
    }
    let best = checkpoint::load_meta_pick(tmp.path(), checkpoint::Pick::Best).unwrap();
    assert_eq!(
        best.state.step, best_step,
        "best names step {} but the lowest validation loss ({best_loss}) was at step {best_step}: {validated:?}",
        best.state.step
    );
}
