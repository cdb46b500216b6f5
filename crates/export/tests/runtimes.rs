//! charrnn's exports, run in runtimes that no one here wrote (numpy,
//! onnxruntime, from PyPI through `tests/python/requirements.txt`), give the
//! logits and states that charrnn's own engine gives, within 1e-4.

use std::path::{Path, PathBuf};
use std::process::Command;

use charrnn_corpus::Vocab;
use charrnn_export::{export, Format, Model};
use charrnn_sample::{Engine, LayerWeights, SampleOptions, Weights};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Sizes on both sides of a SIMD register's width, and one and two layers.
const SHAPES: [(usize, usize, usize, usize); 2] = [(23, 8, 32, 2), (5, 3, 7, 1)];

/// Weights drawn uniformly from ±0.5: large enough that the gates saturate
/// and the states grow, which small fresh weights would not test.
fn random_weights((vocab, embed, hidden, layers): (usize, usize, usize, usize)) -> Weights {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-0.5..0.5)).collect() };
    let layers = (0..layers)
        .map(|l| LayerWeights {
            w_ih: draw(if l == 0 { embed } else { hidden } * 4 * hidden),
            w_hh: draw(hidden * 4 * hidden),
            bias: draw(4 * hidden),
        })
        .collect();
    Weights {
        vocab_size: vocab,
        embed_size: embed,
        hidden_size: hidden,
        embedding: draw(vocab * embed),
        layers,
        output_weight: draw(hidden * vocab),
        output_bias: draw(vocab),
    }
}

fn vocab_of(size: usize) -> Vocab {
    Vocab::from_chars((0..size as u32).map(|i| char::from_u32('a' as u32 + i).unwrap()))
}

/// What charrnn's engine computes: each step's logits and states for 200
/// ids, and 200 greedy characters after a prime.
fn expected(weights: &Weights, vocab: &Vocab) -> serde_json::Value {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let ids: Vec<u32> = (0..200)
        .map(|_| rng.random_range(0..weights.vocab_size as u32))
        .collect();
    let mut engine = Engine::new(weights.clone());
    let (mut logits, mut h, mut c) = (vec![], vec![], vec![]);
    for &id in &ids {
        logits.push(engine.step(id).to_vec());
        let layers = 0..weights.layers.len();
        h.push(
            layers
                .clone()
                .map(|l| engine.state(l, 0).0.to_vec())
                .collect::<Vec<_>>(),
        );
        c.push(
            layers
                .map(|l| engine.state(l, 0).1.to_vec())
                .collect::<Vec<_>>(),
        );
    }
    let prime = &ids[..10];
    let mut engine = Engine::new(weights.clone());
    let mut next = prime
        .iter()
        .map(|&id| argmax(engine.step(id)))
        .last()
        .unwrap();
    let greedy: Vec<u32> = (0..200)
        .map(|_| {
            let drawn = next;
            next = argmax(engine.step(drawn));
            drawn
        })
        .collect();
    let chars: Vec<String> = vocab.chars().iter().map(char::to_string).collect();
    json!({"vocab": chars, "ids": ids, "logits": logits, "h": h, "c": c,
           "greedy_prime": prime, "greedy": greedy})
}

/// The first largest logit's index, as numpy's `argmax` picks it.
fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    best as u32
}

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// The test environment's Python, with numpy and onnxruntime.
fn python() -> PathBuf {
    let python = python_dir().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: the export tests run numpy and onnxruntime from it. \
         `cargo xtask test` makes it (python3 -m venv, then pip install -r requirements.txt)",
        python.display()
    );
    python
}

/// Exports each shape in `format` and runs `script` on it.
fn check_in_python(format: Format, script: &str) {
    for shape in SHAPES {
        let dir = tempfile::tempdir().unwrap();
        let (weights, vocab) = (random_weights(shape), vocab_of(shape.0));
        let out = dir.path().join("export");
        let sample = SampleOptions::default();
        let model = Model {
            weights: &weights,
            vocab: &vocab,
            sample: &sample,
        };
        export(format, &model, &out, false).unwrap();
        let expected_path = dir.path().join("expected.json");
        std::fs::write(&expected_path, expected(&weights, &vocab).to_string()).unwrap();
        let run = Command::new(python())
            .arg(python_dir().join(script))
            .args([&out, &expected_path])
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
        assert!(run.status.success(), "{script} on shape {shape:?}: {said}");
        eprintln!("{script} on shape {shape:?}: {said}");
    }
}

#[test]
fn numpy_runs_the_safetensors_export_as_charrnn_does() {
    check_in_python(Format::Safetensors, "check_safetensors.py");
}

#[test]
fn onnxruntime_runs_the_onnx_export_as_charrnn_does() {
    check_in_python(Format::Onnx, "check_onnx.py");
}

#[test]
fn a_safetensors_export_reads_back_and_a_broken_one_is_named() {
    let (weights, vocab) = (random_weights(SHAPES[0]), vocab_of(SHAPES[0].0));
    let sample = SampleOptions::default();
    let model = Model {
        weights: &weights,
        vocab: &vocab,
        sample: &sample,
    };
    let files = charrnn_export::files(Format::Safetensors, &model).unwrap();
    let bytes = &files[0].1;
    let (read, read_vocab) = charrnn_export::read_safetensors(bytes).unwrap();
    assert_eq!((read, read_vocab), (weights.clone(), vocab.clone()));

    let error = |bytes: &[u8]| {
        charrnn_export::read_safetensors(bytes)
            .unwrap_err()
            .to_string()
    };
    assert!(error(&bytes[..bytes.len() - 100]).contains("truncated"));
    assert!(error(b"<!DOCTYPE html>").contains("not a whole safetensors file"));
    // Another model's tensors under this model's manifest.
    let manifest = String::from_utf8(files[1].1.clone()).unwrap();
    let small = random_weights(SHAPES[1]);
    let data = small
        .embedding
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect::<Vec<u8>>();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![5, 3], &data);
    let metadata =
        std::collections::HashMap::from([(charrnn_export::MANIFEST.to_string(), manifest)]);
    let mixed = safetensors::serialize([("embedding", view.unwrap())], Some(metadata)).unwrap();
    assert!(
        error(&mixed).contains("tensor embedding: F32 [5, 3] where"),
        "{}",
        error(&mixed)
    );
    // Someone else's safetensors file.
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![5, 3], &data);
    let theirs = safetensors::serialize([("embedding", view.unwrap())], None).unwrap();
    assert!(error(&theirs).contains("not a charrnn export"));
}
