//! Corpora of many files: a folder, a list of files and globs, validation from
//! the end of each file, and a clear error for each bad source.

mod common;

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use charrnn_corpus::Corpus;
use charrnn_train::{checkpoint, train, TrainError};

type B = Autodiff<Flex>;

/// The small play cut into `n` files under `dir/acts`, in name order.
fn acts(dir: &Path, n: usize) -> Vec<String> {
    let play = std::fs::read_to_string(common::small_text()).unwrap();
    let lines: Vec<&str> = play.lines().collect();
    let per = lines.len() / n;
    let acts = dir.join("acts");
    std::fs::create_dir_all(acts.join("later")).unwrap();
    (0..n)
        .map(|i| {
            let sub = if i >= n / 2 { "later/" } else { "" };
            let text = lines[i * per..(i + 1) * per].join("\n");
            std::fs::write(acts.join(format!("{sub}act{i}.txt")), &text).unwrap();
            text
        })
        .collect()
}

fn set_corpus(value: &str) -> String {
    format!("data.corpus={value}")
}

#[test]
fn a_folder_trains_with_each_files_tail_held_out() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let texts = acts(tmp.path(), 4);
    let folder = format!("{:?}", tmp.path().join("acts").display().to_string());
    let run = tmp.path().join("run");
    let config = common::smoke_config(
        &run,
        &[
            &set_corpus(&folder),
            "data.val_split=\"per-document\"",
            "data.val_fraction=0.1",
            "train.max_steps=6",
        ],
    );
    let summary = train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    assert_eq!(summary.step, 6);
    assert!(summary.val_loss.is_some_and(f64::is_finite));
    // The files, in path order (`later/` sorts after `act1.txt`), joined by
    // one newline: the fingerprint of exactly that text.
    let joined = texts.join("\n");
    let saved = checkpoint::load_meta(&run).unwrap().state.corpus.unwrap();
    let direct = Corpus::from_text(Path::new("x"), &joined).fingerprint();
    assert_eq!(saved, direct);
}

#[test]
fn a_list_of_files_and_globs_joins_in_list_order() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let texts = acts(tmp.path(), 4);
    let acts_dir = tmp.path().join("acts");
    let list = format!(
        "[{:?}, {:?}]",
        acts_dir.join("later/*.txt").display().to_string(),
        acts_dir.join("act0.txt").display().to_string()
    );
    let run = tmp.path().join("run");
    let config = common::smoke_config(
        &run,
        &[
            &set_corpus(&list),
            "data.separator=\"\\n\\n\"",
            "train.max_steps=2",
        ],
    );
    train::<B>(&config, &common::options(None), &Default::default()).unwrap();
    let joined = [texts[2].as_str(), texts[3].as_str(), texts[0].as_str()].join("\n\n");
    let saved = checkpoint::load_meta(&run).unwrap().state.corpus.unwrap();
    assert_eq!(
        saved,
        Corpus::from_text(Path::new("x"), &joined).fingerprint()
    );
}

#[test]
fn bad_sources_are_one_clear_error_each() {
    let _serial = common::serial();
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let binary_dir = tmp.path().join("mixed");
    std::fs::create_dir(&binary_dir).unwrap();
    std::fs::write(binary_dir.join("good.txt"), "some text\n".repeat(500)).unwrap();
    std::fs::write(
        binary_dir.join("image.txt"),
        [0x89u8, b'P', b'N', b'G', 0xff, 0],
    )
    .unwrap();
    let quoted = |p: &Path| format!("{:?}", p.display().to_string());
    let glob = format!(
        "[{:?}]",
        tmp.path().join("nothing/*.txt").display().to_string()
    );
    for (value, want) in [
        (quoted(&empty), "has no *.txt files"),
        (glob, "matches no file"),
        (quoted(&binary_dir), "image.txt is not valid UTF-8"),
        ("[]".to_string(), "data.corpus"),
    ] {
        let run = tmp.path().join("run");
        let result = charrnn_train::RunConfig::load(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/smoke.toml"),
            &[
                set_corpus(&value),
                format!("train.out_dir={:?}", run.display().to_string()),
            ],
        );
        let message = match result {
            Err(e) => e.to_string(),
            Ok(config) => match train::<B>(&config, &common::options(None), &Default::default()) {
                Err(e @ (TrainError::Corpus(_) | TrainError::CorpusNotFound(_))) => e.to_string(),
                other => panic!("{value}: expected a corpus error, got {other:?}"),
            },
        };
        assert!(message.contains(want), "{value}: {message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
}
