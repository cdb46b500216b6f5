//! The fused softmax cross-entropy must equal burn's `log_softmax` + `gather`,
//! value and gradient, on the CPU kernel and on the portable path.

use burn::backend::{Autodiff, Flex};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Int, Tensor, TensorData};
use charrnn_model::{portable_cross_entropy_with_grad, LstmBackend, LstmKernels};

type B = Autodiff<Flex>;
const N: usize = 37;
const V: usize = 53;

fn inputs() -> (Tensor<B, 2>, Tensor<B, 1, Int>) {
    let device = Default::default();
    Flex::seed(&device, 11);
    let logits = Tensor::<B, 2>::random([N, V], Distribution::Normal(0.0, 3.0), &device);
    let ids: Vec<i64> = (0..N as i64).map(|i| (i * 17 + 3) % V as i64).collect();
    (
        logits,
        Tensor::from_data(TensorData::new(ids, [N]), &device),
    )
}

fn max_diff(a: Tensor<Flex, 2>, b: Tensor<Flex, 2>) -> f32 {
    (a - b).abs().max().into_scalar()
}

#[test]
fn fused_loss_and_gradient_match_log_softmax_gather() {
    let (logits, targets) = inputs();

    let reference_input = logits.clone().detach().require_grad();
    let reference = log_softmax(reference_input.clone(), 1)
        .gather(1, targets.clone().reshape([N, 1]))
        .mean()
        .neg();
    let reference_grad = reference_input.grad(&reference.backward()).unwrap();

    let fused_input = logits.detach().require_grad();
    let fused: Tensor<B, 1> =
        Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(B::cross_entropy(
            fused_input.clone().into_primitive().tensor(),
            targets.into_primitive(),
        )));
    let fused_grad = fused_input.grad(&fused.backward()).unwrap();

    let (a, b) = (fused.into_scalar(), reference.into_scalar());
    assert!((a - b).abs() < 1e-5 * b.abs().max(1.0), "loss {a} vs {b}");
    assert!(
        a > 1.0,
        "a random guess over {V} classes costs more than a nat"
    );
    let d = max_diff(fused_grad, reference_grad);
    assert!(d < 1e-6, "gradient differs by {d}");
}

#[test]
fn flex_kernel_matches_portable_cross_entropy() {
    let (logits, targets) = inputs();
    let logits = logits.inner();
    let targets = Tensor::<Flex, 1, Int>::from_data(targets.into_data(), &Default::default());
    let (loss, grad) = Flex::cross_entropy_with_grad(
        logits.clone().into_primitive().tensor(),
        targets.clone().into_primitive(),
    );
    let (p_loss, p_grad) = portable_cross_entropy_with_grad::<Flex>(
        logits.clone().into_primitive().tensor(),
        targets.clone().into_primitive(),
    );
    let wrap1 = |t| Tensor::<Flex, 1>::from_primitive(burn::tensor::TensorPrimitive::Float(t));
    let wrap2 = |t| Tensor::<Flex, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(t));
    let (a, b) = (wrap1(loss).into_scalar(), wrap1(p_loss).into_scalar());
    assert!((a - b).abs() < 1e-5, "loss {a} vs {b}");
    let d = max_diff(wrap2(grad), wrap2(p_grad));
    assert!(d < 1e-6, "gradient differs by {d}");
    // The loss alone (inference) agrees too.
    let alone = wrap1(Flex::cross_entropy(
        logits.into_primitive().tensor(),
        targets.into_primitive(),
    ));
    assert!((alone.into_scalar() - a).abs() < 1e-6);
}

#[test]
fn a_scaled_loss_scales_the_gradient() {
    let (logits, targets) = inputs();
    let grad_of = |scale: f64| {
        let input = logits.clone().detach().require_grad();
        let loss: Tensor<B, 1> =
            Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(B::cross_entropy(
                input.clone().into_primitive().tensor(),
                targets.clone().into_primitive(),
            )));
        input.grad(&loss.mul_scalar(scale).backward()).unwrap()
    };
    let (once, scaled) = (grad_of(1.0), grad_of(2.5));
    let d = max_diff(scaled, once.mul_scalar(2.5));
    assert!(
        d < 1e-6,
        "gradient of 2.5 × loss differs from 2.5 × gradient by {d}"
    );
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}
