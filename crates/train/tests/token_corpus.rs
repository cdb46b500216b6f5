//! Training on prepared token files: named in data.corpus or prepared into
//! the run folder for a large corpus; the same losses as from the text, an
//! exact resume, the cache kept current, and clear errors for bad token files.

mod common;

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use charrnn_corpus::Vocab;
use charrnn_tokens::{prepare, PrepareOptions, TokenFile, TokenFileError};
use charrnn_train::{read_metrics, train, TrainError, TrainOptions, TOKEN_CACHE};

type B = Autodiff<Flex>;

fn corpus_is(path: &Path) -> String {
    format!("data.corpus={:?}", path.display().to_string())
}

fn prepare_small_text(out: &Path, base: Option<&Vocab>) {
    let options = PrepareOptions {
        separator: "\n",
        base,
    };
    prepare(&[common::small_text()], out, options, &mut |_, _| {}).unwrap();
}

fn losses(run: &Path) -> Vec<(u64, f64, Option<f64>)> {
    read_metrics(&run.join("metrics.jsonl"))
        .unwrap()
        .iter()
        .map(|r| (r.step, r.train_loss, r.val_loss))
        .collect()
}

fn run_with(run: &Path, extra: &[&str], options: &TrainOptions) -> Result<(), TrainError> {
    let mut overrides = vec!["train.max_steps=12", "train.log_every=1"];
    overrides.extend_from_slice(extra);
    let config = common::smoke_config(run, &overrides);
    train::<B>(&config, options, &Default::default()).map(|_| ())
}

/// The same ids and batches whichever way the text is read: the same losses,
/// step by step, from the text, from a token file and from the run's cache.
#[test]
fn token_files_train_exactly_as_the_text_does() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("play.tokens");
    prepare_small_text(&tokens, None);
    let options = common::options(None);
    let from_text = tmp.path().join("text");
    run_with(&from_text, &[], &options).unwrap();
    let from_file = tmp.path().join("file");
    run_with(&from_file, &[&corpus_is(&tokens)], &options).unwrap();
    let cached = tmp.path().join("cached");
    run_with(&cached, &["data.prepare_above_mb=0"], &options).unwrap();
    assert!(TokenFile::open(&cached.join(TOKEN_CACHE)).is_ok());
    assert!(!from_text.join(TOKEN_CACHE).exists());
    let expected = losses(&from_text);
    assert_eq!(expected.len(), 12);
    for other in [losses(&from_file), losses(&cached)] {
        assert_eq!(other.len(), expected.len());
        for (x, y) in expected.iter().zip(&other) {
            assert_eq!((x.0, x.2.is_some()), (y.0, y.2.is_some()));
            assert!((x.1 - y.1).abs() < 1e-6, "step {}: {} vs {}", x.0, x.1, y.1);
        }
    }
}

/// Resume stays exact on a prepared corpus, and reuses the run's cache.
#[test]
fn a_run_on_a_prepared_corpus_resumes_exactly() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let cached = [
        "data.prepare_above_mb=0",
        "train.max_steps=20",
        "train.log_every=1",
    ];
    let config = common::smoke_config(&whole, &cached);
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();

    let split = tmp.path().join("split");
    let first = common::smoke_config(
        &split,
        &[
            "data.prepare_above_mb=0",
            "train.max_steps=8",
            "train.log_every=1",
        ],
    );
    train::<B>(&first, &common::options(None), &Default::default()).unwrap();
    let prepared_at = std::fs::metadata(split.join(TOKEN_CACHE))
        .unwrap()
        .modified()
        .unwrap();
    let checkpoint = split.join("checkpoints/step-000008");
    let rest = common::smoke_config(&split, &cached);
    train::<B>(
        &rest,
        &common::options(Some(&checkpoint)),
        &Default::default(),
    )
    .unwrap();
    let reused = std::fs::metadata(split.join(TOKEN_CACHE))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(prepared_at, reused, "the cache was prepared again");
    let (a, b) = (losses(&whole), losses(&split));
    assert_eq!(a.len(), 20);
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.0, y.0);
        assert!((x.1 - y.1).abs() < 1e-5, "step {}: {} vs {}", x.0, x.1, y.1);
    }
}

/// A changed source invalidates the cache; resuming then meets the changed
/// text and says so.
#[test]
fn a_changed_source_is_prepared_again_and_caught_on_resume() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("play.txt");
    std::fs::copy(common::small_text(), &text).unwrap();
    let run = tmp.path().join("run");
    let overrides = [corpus_is(&text), "data.prepare_above_mb=0".into()];
    let refs: Vec<&str> = overrides.iter().map(String::as_str).collect();
    run_with(&run, &refs, &common::options(None)).unwrap();
    let before = TokenFile::open(&run.join(TOKEN_CACHE))
        .unwrap()
        .fingerprint();
    let mut changed = std::fs::read_to_string(&text).unwrap();
    changed.replace_range(0..1, " ");
    std::fs::write(&text, changed).unwrap();
    let resumed = common::options(Some(&run));
    let err = run_with(&run, &refs, &resumed).unwrap_err();
    assert!(matches!(err, TrainError::CorpusChanged { .. }), "{err}");
    let after = TokenFile::open(&run.join(TOKEN_CACHE))
        .unwrap()
        .fingerprint();
    assert_ne!(before, after);
}

/// Bad token files as corpora: from another vocabulary, truncated, or
/// joined with other files. Each is one error naming the file.
#[test]
fn bad_token_files_are_named() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let trained = tmp.path().join("trained");
    run_with(&trained, &[], &common::options(None)).unwrap();

    let other = tmp.path().join("other.tokens");
    prepare_small_text(&other, Some(&Vocab::from_text("金瓶梅")));
    let fine_tune = TrainOptions {
        init_from: Some(trained.clone()),
        ..common::options(None)
    };
    let err = run_with(&tmp.path().join("tuned"), &[&corpus_is(&other)], &fine_tune).unwrap_err();
    assert!(
        matches!(
            err,
            TrainError::TokenFile(TokenFileError::OtherVocabulary { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("other.tokens"), "{err}");
    // Prepared in the checkpoint's vocabulary, it fine-tunes.
    let vocab = charrnn_train::checkpoint::load_meta(&trained)
        .unwrap()
        .vocab;
    let same = tmp.path().join("same.tokens");
    prepare_small_text(&same, Some(&vocab));
    run_with(&tmp.path().join("tuned2"), &[&corpus_is(&same)], &fine_tune).unwrap();

    let cut = tmp.path().join("cut.tokens");
    let bytes = std::fs::read(&same).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = run_with(
        &tmp.path().join("r1"),
        &[&corpus_is(&cut)],
        &common::options(None),
    )
    .unwrap_err();
    assert!(
        matches!(err, TrainError::TokenFile(TokenFileError::Truncated { .. })),
        "{err}"
    );

    let list = format!(
        "data.corpus=[{:?}, {:?}]",
        same.display().to_string(),
        common::small_text().display().to_string()
    );
    let err = run_with(&tmp.path().join("r2"), &[&list], &common::options(None)).unwrap_err();
    assert!(
        matches!(err, TrainError::TokenFile(TokenFileError::NotAlone { .. })),
        "{err}"
    );
}
