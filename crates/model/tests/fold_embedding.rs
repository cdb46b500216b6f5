//! Folding the embedding into the first layer's input projection changes the
//! arithmetic, not the model: logits and every gradient agree with the plain
//! path, and `forward` folds exactly when a batch holds more characters than
//! the vocabulary.

#[path = "support/identical.rs"]
mod identical;

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Int, Tensor};
use charrnn_model::{CharRnn, CharRnnConfig, ModelState};

type B = Autodiff<Flex>;

const CONFIG: CharRnnConfig = CharRnnConfig {
    vocab_size: 11,
    embed_size: 6,
    hidden_size: 8,
    num_layers: 2,
    dropout: 0.0,
};

fn ids(batch: usize, seq: usize) -> Tensor<B, 2, Int> {
    let v: Vec<i64> = (0..batch * seq)
        .map(|i| ((i * 7 + 3) % 11) as i64)
        .collect();
    Tensor::<B, 1, Int>::from_ints(v.as_slice(), &Default::default()).reshape([batch, seq])
}

fn values<const D: usize>(t: Tensor<Flex, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().expect("f32")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn folded_and_plain_paths_agree_in_value_and_gradient() {
    let (folded_model, plain_model) = identical::two_models(&CONFIG);
    let (batch, seq) = (3, 5);
    let run = |model: &CharRnn<B>, fold: bool| {
        let state = ModelState::zeros(&CONFIG, batch, &Default::default());
        let (logits, _) = model.forward_with(ids(batch, seq), state, fold, None);
        let loss = model.loss(logits.clone(), ids(batch, seq));
        let grads = loss.backward();
        let first = &model.layers[0];
        (
            values(logits.inner()),
            [
                values(
                    model
                        .embedding
                        .weight
                        .grad(&grads)
                        .expect("embedding gradient"),
                ),
                values(first.w_ih.grad(&grads).expect("w_ih gradient")),
                values(first.bias.grad(&grads).expect("bias gradient")),
                values(first.w_hh.grad(&grads).expect("w_hh gradient")),
            ],
        )
    };
    let (folded, folded_grads) = run(&folded_model, true);
    let (plain, plain_grads) = run(&plain_model, false);
    assert!(max_diff(&folded, &plain) < 1e-5, "logits differ");
    for (name, (a, b)) in ["embedding", "w_ih", "bias", "w_hh"]
        .iter()
        .zip(folded_grads.iter().zip(&plain_grads))
    {
        assert!(a.iter().any(|&g| g != 0.0), "{name} has a gradient");
        let d = max_diff(a, b);
        assert!(d < 1e-5, "{name} gradient differs by {d}");
    }
}

#[test]
fn forward_folds_only_when_a_batch_outnumbers_the_vocabulary() {
    let (model, _) = identical::two_models(&CONFIG);
    for (batch, seq) in [(2, 3), (3, 5)] {
        let state = || ModelState::zeros(&CONFIG, batch, &Default::default());
        let (auto, _) = model.forward(ids(batch, seq), state());
        let fold = batch * seq > CONFIG.vocab_size;
        let (chosen, _) = model.forward_with(ids(batch, seq), state(), fold, None);
        let (auto, chosen) = (values(auto.inner()), values(chosen.inner()));
        assert_eq!(
            auto,
            chosen,
            "{batch}x{seq}: forward takes the {} path",
            if fold { "folded" } else { "plain" }
        );
    }
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}
