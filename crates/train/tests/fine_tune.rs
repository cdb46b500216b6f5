//! Fine-tuning: a new run from a trained model's weights on another text. Known
//! characters keep their ids and rows, new ones are appended, and the run
//! records where it came from.

mod common;

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use charrnn_train::checkpoint;
use charrnn_train::{read_metrics, train, TrainError, TrainOptions};

type B = Autodiff<Flex>;

fn options(init_from: Option<&Path>, resume: Option<&Path>) -> TrainOptions {
    TrainOptions {
        init_from: init_from.map(Path::to_path_buf),
        ..common::options(resume)
    }
}

#[test]
fn fine_tuning_keeps_known_ids_appends_new_characters_and_starts_ahead() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let trained_dir = tmp.path().join("trained");
    let trained = common::smoke_config(&trained_dir, &["train.max_steps=60"]);
    train::<B>(&trained, &options(None, None), &Default::default()).unwrap();
    let base = checkpoint::load_meta_pick(&trained_dir, checkpoint::Pick::Best).unwrap();

    // The play again, with characters the trained model never saw.
    let new_text = tmp.path().join("new.txt");
    let play = std::fs::read_to_string(common::small_text()).unwrap();
    // '#' sorts before every known character: the fine-tuned vocabulary is
    // not in code-point order, and its checkpoint must still load.
    std::fs::write(&new_text, play.replace("NURSE", "金瓶梅 #NURSE")).unwrap();
    let set_corpus = format!("data.corpus={:?}", new_text.display().to_string());
    let tuned_dir = tmp.path().join("tuned");
    let tuned = common::smoke_config(
        &tuned_dir,
        &["train.max_steps=5", "train.log_every=1", &set_corpus],
    );
    train::<B>(
        &tuned,
        &options(Some(&trained_dir), None),
        &Default::default(),
    )
    .unwrap();

    let meta = checkpoint::load_meta(&tuned_dir).unwrap();
    let known = base.vocab.chars();
    assert_eq!(
        &meta.vocab.chars()[..known.len()],
        known,
        "known ids keep their characters"
    );
    let added: String = meta.vocab.chars()[known.len()..].iter().collect();
    // In code-point order: # U+0023, 梅 U+6885, 瓶 U+74F6, 金 U+91D1 (the
    // space is known).
    assert!(!known.contains(&'#'));
    assert_eq!(added, "#梅瓶金");
    assert_eq!(meta.state.step, 5, "the step count starts fresh");
    let from = meta
        .state
        .init_from
        .as_ref()
        .expect("the run records its origin");
    assert_eq!(from.checkpoint, base.dir);
    assert_eq!((from.step, from.vocab_size), (base.state.step, known.len()));

    // Trained weights: the first step's loss is far below a fresh model's.
    let scratch_dir = tmp.path().join("scratch");
    let scratch = common::smoke_config(
        &scratch_dir,
        &["train.max_steps=5", "train.log_every=1", &set_corpus],
    );
    train::<B>(&scratch, &options(None, None), &Default::default()).unwrap();
    let first_loss = |dir: &Path| read_metrics(&dir.join("metrics.jsonl")).unwrap()[0].train_loss;
    let (tuned_loss, scratch_loss) = (first_loss(&tuned_dir), first_loss(&scratch_dir));
    assert!(
        tuned_loss < scratch_loss - 0.3,
        "fine-tuned {tuned_loss} vs scratch {scratch_loss}"
    );

    // A fine-tuned run resumes in its own vocabulary.
    let more = common::smoke_config(&tuned_dir, &["train.max_steps=8", &set_corpus]);
    let resumed = train::<B>(&more, &options(None, Some(&tuned_dir)), &Default::default()).unwrap();
    assert_eq!(resumed.step, 8);
    assert_eq!(checkpoint::load_meta(&tuned_dir).unwrap().vocab, meta.vocab);
}

#[test]
fn fine_tuning_into_another_shape_names_the_key() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let trained_dir = tmp.path().join("trained");
    let trained = common::smoke_config(&trained_dir, &["train.max_steps=3"]);
    train::<B>(&trained, &options(None, None), &Default::default()).unwrap();
    let other = common::smoke_config(&tmp.path().join("tuned"), &["model.hidden_size=48"]);
    let err = train::<B>(
        &other,
        &options(Some(&trained_dir), None),
        &Default::default(),
    )
    .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, TrainError::ShapeMismatch { .. }), "{message}");
    assert!(
        message.contains("model.hidden_size is 48 in the config but 32"),
        "{message}"
    );
}
