//! The fused Adam step: the CPU backend's in-place kernel gives exactly the
//! portable version's numbers (the same `f32` operations in the same order),
//! on the serial and the parallel path, and never writes through a tensor that
//! something else still holds.

use burn::backend::Flex;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};
use charrnn_model::{portable_adam_step, AdamStep, LstmKernels};

/// `n` pseudo-random values in [-1, 1) fixed by `seed`. Not burn's generator:
/// it is global, and tests run in parallel.
fn random(n: usize, seed: u64) -> Tensor<Flex, 2> {
    let values: Vec<f32> = (0..n as u64)
        .map(|i| {
            let x =
                (i ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::<Flex, 1>::from_floats(values.as_slice(), &Default::default()).reshape([n / 10, 10])
}

fn prim(t: Tensor<Flex, 2>) -> FloatTensor<Flex> {
    t.into_primitive().tensor()
}

fn values(t: FloatTensor<Flex>) -> Vec<f32> {
    Tensor::<Flex, 2>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .to_vec::<f32>()
        .expect("f32")
}

type Moments = Option<(FloatTensor<Flex>, FloatTensor<Flex>)>;

/// Three steps from no state, by `step_fn`; the parameter and moments after each.
fn run(
    n: usize,
    step_fn: impl Fn(FloatTensor<Flex>, FloatTensor<Flex>, Moments, &AdamStep) -> [FloatTensor<Flex>; 3],
) -> Vec<[Vec<f32>; 3]> {
    let mut param = prim(random(n, 1));
    let mut moments: Moments = None;
    let mut out = Vec::new();
    for time in 1..=3 {
        let step = AdamStep {
            lr: 2e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            time,
        };
        let grad = prim(random(n, 10 + time as u64).mul_scalar(0.1 * time as f64));
        let [p, m, v] = step_fn(param, grad, moments, &step);
        out.push([values(p.clone()), values(m.clone()), values(v.clone())]);
        param = p;
        moments = Some((m, v));
    }
    out
}

#[test]
fn flex_kernel_matches_the_portable_step_exactly() {
    // 120 elements: one serial chunk; 100,000: split across threads.
    for n in [120, 100_000] {
        let fused = run(n, |p, g, m, s| {
            let (p, m, v) = Flex::adam_step(p, g, m, s);
            [p, m, v]
        });
        let portable = run(n, |p, g, m, s| {
            let (p, m, v) = portable_adam_step::<Flex>(p, g, m, s);
            [p, m, v]
        });
        assert_eq!(fused, portable, "n = {n}");
        let moved = fused[2][0]
            .iter()
            .zip(&values(prim(random(n, 1))))
            .filter(|(a, b)| a != b)
            .count();
        assert!(moved > n * 9 / 10, "the parameters moved ({moved} of {n})");
    }
}

#[test]
fn a_shared_parameter_is_copied_not_overwritten() {
    let param = random(50_000, 3);
    let before = param.clone().into_data().to_vec::<f32>().expect("f32");
    let held_elsewhere = param.clone();
    let step = AdamStep {
        lr: 0.1,
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-8,
        time: 1,
    };
    let (updated, _, _) = Flex::adam_step(prim(param), prim(random(50_000, 4)), None, &step);
    assert_ne!(values(updated), before, "the update changed the parameter");
    let after = held_elsewhere.into_data().to_vec::<f32>().expect("f32");
    assert_eq!(after, before, "the other holder's tensor is untouched");
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}
