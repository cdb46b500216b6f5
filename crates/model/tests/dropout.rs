//! The dropout mask: inverted-dropout values, the asked-for keep rate, fixed by
//! its seed on the CPU backend, and the portable version alike.

use burn::backend::Flex;
use burn::tensor::{Shape, Tensor, TensorPrimitive};
use charrnn_model::LstmBackend;

fn mask_values(t: burn::tensor::ops::FloatTensor<Flex>) -> Vec<f32> {
    Tensor::<Flex, 3>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .to_vec::<f32>()
        .expect("f32")
}

fn check_mask(values: &[f32], prob: f64) {
    let scale = (1.0 / (1.0 - prob)) as f32;
    assert!(
        values.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6),
        "every element is 0 or 1/(1-p)"
    );
    let kept = values.iter().filter(|&&v| v != 0.0).count() as f64 / values.len() as f64;
    // 60,000 draws: the kept fraction is within 1% of 1 - p.
    assert!(
        (kept - (1.0 - prob)).abs() < 0.01,
        "kept {kept}, expected {}",
        1.0 - prob
    );
}

#[test]
fn flex_mask_keeps_the_right_share_and_is_fixed_by_its_seed() {
    let device = Default::default();
    let shape = Shape::new([30, 40, 50]);
    for prob in [0.2, 0.5] {
        let a = mask_values(Flex::dropout_mask(shape.clone(), prob, 7, &device));
        check_mask(&a, prob);
        let again = mask_values(Flex::dropout_mask(shape.clone(), prob, 7, &device));
        assert_eq!(a, again, "same seed, same mask");
        let other = mask_values(Flex::dropout_mask(shape.clone(), prob, 8, &device));
        let same = a.iter().zip(&other).filter(|(x, y)| x == y).count();
        assert!(same < a.len() * 9 / 10, "another seed gives another mask");
    }
}

#[test]
fn portable_mask_has_the_same_law() {
    let device = Default::default();
    let values = mask_values(charrnn_model::portable_dropout_mask::<Flex>(
        Shape::new([30, 40, 50]),
        0.3,
        &device,
    ));
    check_mask(&values, 0.3);
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}

/// Training draws its masks from a seed given by the host: the same seed gives
/// the same logits, another seed others, and inference drops nothing.
#[test]
fn training_dropout_follows_the_host_seed() {
    use burn::backend::Autodiff;
    use burn::tensor::Int;
    use charrnn_model::{CharRnnConfig, ModelState};
    type B = Autodiff<Flex>;
    let config = CharRnnConfig {
        vocab_size: 9,
        embed_size: 4,
        hidden_size: 12,
        num_layers: 2,
        dropout: 0.5,
    };
    let device = Default::default();
    let model = config.init::<B>(&device);
    let ids = || Tensor::<B, 1, Int>::from_ints([1, 2, 3, 4, 5, 6], &device).reshape([2, 3]);
    let state = || ModelState::zeros(&config, 2, &device);
    let logits = |seed: Option<u64>| {
        let (logits, _) = match seed {
            Some(seed) => model.forward_train(ids(), state(), seed),
            None => model.forward(ids(), state()),
        };
        logits.into_data().to_vec::<f32>().expect("f32")
    };
    assert_eq!(logits(Some(3)), logits(Some(3)), "same seed, same masks");
    assert_ne!(
        logits(Some(3)),
        logits(Some(4)),
        "another seed, other masks"
    );
    assert_ne!(logits(None), logits(Some(3)), "inference drops nothing");
    assert_eq!(logits(None), logits(None));
}
