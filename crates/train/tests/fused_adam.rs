//! `FusedAdam` trains a model exactly as burn's `Adam` does, and the two read
//! each other's optimizer records: checkpoints written before the fused
//! optimizer resume with it.

#[path = "../../model/tests/support/identical.rs"]
mod identical;

use burn::backend::{Autodiff, Flex};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::{BinFileRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::{Int, Tensor};
use charrnn_model::{CharRnn, CharRnnConfig, ModelState};
use charrnn_train::FusedAdam;

type B = Autodiff<Flex>;

const CONFIG: CharRnnConfig = CharRnnConfig {
    vocab_size: 23,
    embed_size: 8,
    hidden_size: 16,
    num_layers: 2,
    dropout: 0.0,
};

fn batch(step: u64) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let device = Default::default();
    let ids = |shift: u64| {
        let v: Vec<i64> = (0..24)
            .map(|i| ((i * 7 + step * 5 + shift) % 23) as i64)
            .collect();
        Tensor::<B, 1, Int>::from_ints(v.as_slice(), &device).reshape([4, 6])
    };
    (ids(0), ids(1))
}

/// One training step of `model` by `optim` on batch `step`.
fn step<O: Optimizer<CharRnn<B>, B>>(model: CharRnn<B>, optim: &mut O, step: u64) -> CharRnn<B> {
    let (inputs, targets) = batch(step);
    let state = ModelState::zeros(&CONFIG, 4, &Default::default());
    let (logits, _) = model.forward(inputs, state);
    let loss = model.loss(logits, targets);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    optim.step(2e-2, model, grads)
}

fn weights(model: &CharRnn<B>) -> Vec<f32> {
    model.layers[1]
        .w_hh
        .val()
        .into_data()
        .to_vec::<f32>()
        .expect("f32")
        .into_iter()
        .chain(
            model
                .output
                .weight
                .val()
                .into_data()
                .to_vec::<f32>()
                .expect("f32"),
        )
        .collect()
}

#[test]
fn fused_adam_takes_burns_adam_steps() {
    let (mut ours, mut theirs) = identical::two_models(&CONFIG);
    let mut fused = FusedAdam::new(1e-8).init::<B, CharRnn<B>>();
    let mut adam = AdamConfig::new().with_epsilon(1e-8).init::<B, CharRnn<B>>();
    let start = weights(&ours);
    for s in 0..4 {
        ours = step(ours, &mut fused, s);
        theirs = step(theirs, &mut adam, s);
    }
    assert_ne!(weights(&ours), start, "the weights moved");
    assert_eq!(weights(&ours), weights(&theirs));
}

#[test]
fn optimizer_records_are_interchangeable_with_burns_adam() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("optimizer");
    let recorder = BinFileRecorder::<FullPrecisionSettings>::new();
    let device = Default::default();

    // Two steps with burn's Adam, saved; then one more step with each optimizer.
    let mut adam = AdamConfig::new().with_epsilon(1e-8).init::<B, CharRnn<B>>();
    let (mut trained, _) = identical::two_models(&CONFIG);
    for s in 0..2 {
        trained = step(trained, &mut adam, s);
    }
    recorder
        .record(adam.to_record(), path.clone())
        .expect("save the optimizer");
    let mut fused = FusedAdam::new(1e-8).init::<B, CharRnn<B>>();
    fused = fused.load_record(recorder.load(path, &device).expect("load the optimizer"));

    let weights_before = weights(&trained);
    let ours = step(trained.clone(), &mut fused, 2);
    let theirs = step(trained, &mut adam, 2);
    assert_ne!(weights(&ours), weights_before, "the weights moved");
    assert_eq!(weights(&ours), weights(&theirs));
}
