//! Never lose a run, part two: one trainer per run folder, runs that cannot fit
//! refused before allocating, checkpoint layouts that say what they are, a
//! changed corpus refused on resume, and readers racing a pruning writer.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use burn::backend::{Autodiff, Flex};
use charrnn_corpus::{split_train_val, Corpus};
use charrnn_train::checkpoint::{self, CheckpointError, Pick};
use charrnn_train::{evaluate, train, LockError, RunLock, TrainError, TrainOptions};

type B = Autodiff<Flex>;

/// Copies the files of checkpoint `from` into a new folder `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
fn a_second_trainer_on_a_run_folder_is_refused_with_the_holders_pid() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(tmp.path(), &["train.max_steps=10"]);
    // Another trainer, as far as the folder can tell.
    let held = RunLock::acquire(tmp.path()).unwrap();
    let err = train::<B>(&config, &common::options(None), &Default::default()).unwrap_err();
    match &err {
        TrainError::Locked(LockError::Held { holder, run_dir }) => {
            assert_eq!(*holder, Some(std::process::id()));
            assert_eq!(run_dir, tmp.path());
        }
        other => panic!("expected the run folder to be locked, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("in use by another trainer (PID"),
        "{message}"
    );
    assert!(!tmp.path().join("metrics.jsonl").exists());
    drop(held);

    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    // A resume while the run is being written to is refused the same way.
    let held = RunLock::acquire(tmp.path()).unwrap();
    let lines = std::fs::read_to_string(tmp.path().join("metrics.jsonl")).unwrap();
    let resume = common::options(Some(tmp.path()));
    let longer = common::smoke_config(tmp.path(), &["train.max_steps=20"]);
    assert!(matches!(
        train::<B>(&longer, &resume, &Default::default()),
        Err(TrainError::Locked(LockError::Held { .. }))
    ));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("metrics.jsonl")).unwrap(),
        lines,
        "a refused trainer wrote to the run's log"
    );
    drop(held);
    assert_eq!(
        train::<B>(&longer, &resume, &Default::default())
            .unwrap()
            .step,
        20
    );
}

#[test]
fn a_model_that_cannot_fit_is_refused_before_allocating() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    // 200,000 for 2,000: a 480-billion-parameter model. Were it allocated, this
    // test would take the machine's memory down with it.
    let config = common::smoke_config(tmp.path(), &["model.hidden_size=200000"]);
    let err = train::<B>(&config, &common::options(None), &Default::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TrainError::TooBig { .. }), "{message}");
    for part in [
        "needs about",
        "billion parameters",
        "model.hidden_size = 200000",
        "available",
    ] {
        assert!(message.contains(part), "{part:?} in {message}");
    }
    assert!(checkpoint::list(tmp.path()).is_empty());

    // Absurd sizes are config errors, before any estimate.
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml");
    let err = charrnn_train::RunConfig::load(&smoke, &["model.num_layers=100000".to_string()])
        .unwrap_err();
    assert!(err.to_string().contains("model.num_layers"), "{err}");
    assert!(err.to_string().contains("at most 1024"), "{err}");
}

#[test]
fn resuming_on_a_changed_corpus_is_refused_unless_allowed() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("play.txt");
    std::fs::copy(common::small_text(), &corpus).unwrap();
    let run = tmp.path().join("run");
    let set_corpus = format!("data.corpus={:?}", corpus.display().to_string());
    let first = common::smoke_config(&run, &["train.max_steps=10", &set_corpus]);
    train::<B>(&first, &common::options(None), &Default::default()).unwrap();
    let saved = checkpoint::load_meta(&run).unwrap().state.corpus;
    assert_eq!(saved, Some(Corpus::load(&corpus).unwrap().fingerprint()));

    // The same characters, in another order: the vocabulary holds, the text
    // does not.
    let text = std::fs::read_to_string(&corpus).unwrap();
    std::fs::write(&corpus, text.replacen("ROMEO", "JULIET", 1)).unwrap();
    let more = common::smoke_config(&run, &["train.max_steps=20", &set_corpus]);
    let err = train::<B>(&more, &common::options(Some(&run)), &Default::default()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TrainError::CorpusChanged { .. }), "{message}");
    assert!(
        message.contains("play.txt") && message.contains("CRC-32"),
        "{message}"
    );
    assert_eq!(checkpoint::load_meta(&run).unwrap().state.step, 10);

    let allowed = TrainOptions {
        allow_changed_corpus: true,
        ..common::options(Some(&run))
    };
    assert_eq!(
        train::<B>(&more, &allowed, &Default::default())
            .unwrap()
            .step,
        20
    );
    // From now on the run is on the new text.
    let now = checkpoint::load_meta(&run).unwrap().state.corpus;
    assert_eq!(now, Some(Corpus::load(&corpus).unwrap().fingerprint()));
    assert_ne!(now, saved);
}

/// A checkpoint written by charrnn before layouts had a manifest (layout 1),
/// committed as a fixture: a tiny model trained 20 steps on the small play.
fn layout_1_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/checkpoint-format-1")
}

#[test]
fn a_layout_1_checkpoint_still_loads_evaluates_and_resumes() {
    let _serial = common::serial();
    let meta = checkpoint::load_meta(&layout_1_fixture()).unwrap();
    assert_eq!(meta.state.format, 1);
    assert_eq!(meta.state.corpus, None);
    let device = Default::default();
    let model = checkpoint::load_model::<Flex>(&meta, &device).unwrap();
    // The weights are the trained ones: they give the validation loss the
    // run logged when it saved them.
    let corpus = Corpus::load(&common::small_text()).unwrap();
    assert_eq!(*corpus.vocab(), meta.vocab);
    let (_, val) = split_train_val(corpus.ids(), meta.config.data.val_fraction);
    let t = &meta.config.train;
    let loss = evaluate(&model, val, t.batch_size, t.seq_len, &device).unwrap();
    let logged = meta.state.val_loss.unwrap();
    assert!((loss - logged).abs() < 1e-4, "{loss} vs logged {logged}");

    // Resumed (in a copy), it trains on and saves in today's layout.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&layout_1_fixture(), tmp.path());
    let mut config = meta.config.clone();
    config.train.max_steps = 25;
    let resume = TrainOptions {
        // The fixture names its corpus `small-play.txt`, found beside the config.
        corpus_dirs: vec![common::small_text().parent().unwrap().to_path_buf()],
        ..common::options(Some(tmp.path()))
    };
    assert_eq!(
        train::<B>(&config, &resume, &Default::default())
            .unwrap()
            .step,
        25
    );
    let resumed = checkpoint::load_meta(tmp.path()).unwrap();
    assert_eq!(resumed.state.format, checkpoint::FORMAT_VERSION);
    assert!(resumed.dir.join("manifest.json").is_file());
    assert_eq!(resumed.state.corpus, Some(corpus.fingerprint()));
}

#[test]
fn a_checkpoint_of_a_newer_or_unknown_layout_is_a_clear_error() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let config = common::smoke_config(tmp.path(), &["train.max_steps=5"]);
    let summary = train::<B>(&config, &common::options(None), &Default::default()).unwrap();

    // A newer charrnn's manifest, with a valid checksum of its own.
    let newer = tmp.path().join("newer");
    copy_dir(&summary.checkpoint, &newer);
    let text = std::fs::read_to_string(newer.join("manifest.json")).unwrap();
    let body = text[..text.rfind(",\"check\":").unwrap()].replacen(
        &format!("\"format\":{}", checkpoint::FORMAT_VERSION),
        "\"format\":7",
        1,
    );
    let rewritten = format!("{body},\"check\":{}}}\n", crc32fast::hash(body.as_bytes()));
    std::fs::write(newer.join("manifest.json"), rewritten).unwrap();
    let err = checkpoint::load_meta(&newer).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, CheckpointError::Format { found: 7, .. }),
        "{message}"
    );
    assert!(message.contains("newer charrnn"), "{message}");
    assert!(
        message.contains(&format!("versions 1 to {}", checkpoint::FORMAT_VERSION)),
        "{message}"
    );

    // A layout older than any this build reads.
    let ancient = tmp.path().join("ancient");
    copy_dir(&summary.checkpoint, &ancient);
    std::fs::remove_file(ancient.join("manifest.json")).unwrap();
    let state = std::fs::read_to_string(ancient.join("state.json")).unwrap();
    let state = state.replacen(
        &format!("\"format\": {}", checkpoint::FORMAT_VERSION),
        "\"format\": 0",
        1,
    );
    std::fs::write(ancient.join("state.json"), state).unwrap();
    let err = checkpoint::load_meta(&ancient).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Format { found: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("older than any"), "{err}");

    // Today's layout without its manifest is damaged, not legacy.
    let stripped = tmp.path().join("stripped");
    copy_dir(&summary.checkpoint, &stripped);
    std::fs::remove_file(stripped.join("manifest.json")).unwrap();
    let err = checkpoint::load_meta(&stripped).unwrap_err();
    assert!(
        err.to_string().contains("manifest.json is missing"),
        "{err}"
    );
}

#[test]
fn readers_racing_a_pruning_trainer_always_get_a_whole_checkpoint() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    // A checkpoint every step, only the newest kept: the worst case for readers.
    let config = common::smoke_config(
        tmp.path(),
        &[
            "train.max_steps=60",
            "train.save_every=1",
            "train.eval_every=1",
            "train.keep_last=1",
        ],
    );
    train::<B>(
        &common::smoke_config(tmp.path(), &["train.max_steps=1"]),
        &common::options(None),
        &Default::default(),
    )
    .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, run) = (done.clone(), tmp.path().to_path_buf());
        std::thread::spawn(move || {
            let result = train::<B>(&config, &common::options(Some(&run)), &Default::default());
            done.store(true, Ordering::SeqCst);
            result.map(|s| s.step)
        })
    };
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) {
        for pick in [Pick::Latest, Pick::Best] {
            let (meta, _model) =
                checkpoint::load_pick::<Flex>(tmp.path(), pick, &Default::default())
                    .unwrap_or_else(|e| panic!("read {reads}: {e}"));
            assert!(meta.state.step >= 1);
            reads += 1;
        }
    }
    assert_eq!(writer.join().unwrap().unwrap(), 60);
    assert!(reads > 10, "only {reads} reads raced the trainer");
    // The newest, and the best when that is another.
    assert!(checkpoint::list(tmp.path()).len() <= 2);
}
