//! Fuzzing the checkpoint loader: random bytes, truncations, bit flips, empty
//! and deleted files in each file of a checkpoint. Every case must be one
//! error naming the damaged file: never a panic, and never a model that loads
//! as if nothing happened. What is loaded is what `sample` reads (meta and
//! weights) and what a resume reads on top (optimizer state, hidden state).
//! `FUZZ_CASES` sets the number of cases (default 256).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::backend::{Autodiff, Flex};
use charrnn_train::checkpoint::{self, Pick};
use charrnn_train::train;
use proptest::prelude::*;

type B = Autodiff<Flex>;

const FILES: [&str; 7] = [
    "model.mpk",
    "optimizer.mpk",
    "vocab.json",
    "config.toml",
    "state.json",
    "hidden.bin",
    "manifest.json",
];

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// One pristine checkpoint, trained once per test binary.
fn pristine() -> &'static Path {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let config = common::smoke_config(tmp.path(), &["train.max_steps=5"]);
        let summary = train::<B>(&config, &common::options(None), &Default::default()).unwrap();
        (tmp, summary.checkpoint)
    })
    .1
}

/// What can happen to a file.
#[derive(Debug, Clone)]
enum Fault {
    FlipBit(usize),
    Truncate(usize),
    RandomBytes(Vec<u8>),
    Empty,
    Delete,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => any::<usize>().prop_map(Fault::FlipBit),
        2 => any::<usize>().prop_map(Fault::Truncate),
        2 => prop::collection::vec(any::<u8>(), 0..300).prop_map(Fault::RandomBytes),
        1 => Just(Fault::Empty),
        1 => Just(Fault::Delete),
    ]
}

/// Damages `file` in `dir` as `fault` says; false when it changed nothing.
fn apply(dir: &Path, file: &str, fault: &Fault) -> bool {
    let path = dir.join(file);
    let bytes = std::fs::read(&path).unwrap();
    let damaged = match fault {
        Fault::FlipBit(at) => {
            let mut b = bytes.clone();
            let bit = at % (b.len() * 8);
            b[bit / 8] ^= 1 << (bit % 8);
            b
        }
        Fault::Truncate(at) => bytes[..at % bytes.len()].to_vec(),
        Fault::RandomBytes(b) => b.clone(),
        Fault::Empty => Vec::new(),
        Fault::Delete => {
            std::fs::remove_file(&path).unwrap();
            return true;
        }
    };
    std::fs::write(&path, &damaged).unwrap();
    damaged != bytes
}

/// Everything a reader and a resume load; the error message on failure.
fn load_everything(dir: &Path, run: &Path) -> Result<(), String> {
    let (meta, _model) = checkpoint::load_pick::<Flex>(dir, Pick::Latest, &Default::default())
        .map_err(|e| e.to_string())?;
    // Resume to the step it is at: everything is restored, nothing trained.
    let mut config = meta.config.clone();
    config.train.max_steps = meta.state.step;
    config.train.out_dir = run.to_path_buf();
    train::<B>(&config, &common::options(Some(dir)), &Default::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Copies checkpoint `from` into `run/checkpoints/step-N`, as a run holds it.
fn copy_checkpoint(from: &Path, run: &Path) -> PathBuf {
    let dir = run.join("checkpoints").join(from.file_name().unwrap());
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir
}

#[test]
fn the_pristine_checkpoint_loads() {
    let _serial = common::serial();
    let run = tempfile::tempdir().unwrap();
    let dir = copy_checkpoint(pristine(), run.path());
    load_everything(&dir, run.path()).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_damaged_file_is_one_error_naming_it(file in prop::sample::select(FILES.to_vec()), fault in fault()) {
        let _serial = common::serial();
        let run = tempfile::tempdir().unwrap();
        let dir = copy_checkpoint(pristine(), run.path());
        prop_assume!(apply(&dir, file, &fault));
        let err = match load_everything(&dir, run.path()) {
            Ok(()) => panic!("{file} damaged by {fault:?} loaded as if nothing happened"),
            Err(e) => e,
        };
        // state.json missing makes the folder no checkpoint at all.
        let named = err.contains(file) || (file == "state.json" && err.contains("not a checkpoint"));
        prop_assert!(named, "{file}, {fault:?}: {err}");
        prop_assert_eq!(err.lines().count(), 1, "{}", err);
    }
}
