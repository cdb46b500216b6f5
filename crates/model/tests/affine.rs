//! The affine map `x · w + b` as one backend operation: the CPU kernel, the
//! portable implementation and burn's own `matmul` + `add` must agree on the
//! value and on all three gradients.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor, TensorPrimitive};
use charrnn_model::{portable_affine, portable_affine_backward, LstmBackend, LstmKernels};

type B = Autodiff<Flex>;

fn normal<Bk: Backend, const D: usize>(dims: [usize; D], device: &Bk::Device) -> Tensor<Bk, D> {
    Tensor::random(dims, Distribution::Normal(0.0, 1.0), device)
}

fn max_diff<const D: usize>(a: Tensor<Flex, D>, b: Tensor<Flex, D>) -> f32 {
    (a - b).abs().max().into_scalar()
}

fn float<Bk: Backend, const D: usize>(t: burn::tensor::ops::FloatTensor<Bk>) -> Tensor<Bk, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// Shapes with ragged edges for the GEMM's tiles, one large enough to run on
/// several threads.
const SHAPES: [(usize, usize, usize); 3] = [(3, 5, 7), (37, 70, 45), (300, 64, 257)];

#[test]
fn affine_value_and_gradients_match_matmul_and_add() {
    let device = Default::default();
    Flex::seed(&device, 5);
    for (n, input, output) in SHAPES {
        let x = normal::<B, 2>([n, input], &device).require_grad();
        let w = normal::<B, 2>([input, output], &device).require_grad();
        let b = normal::<B, 1>([output], &device).require_grad();
        let weight = normal::<B, 2>([n, output], &device);

        let fused: Tensor<B, 2> = float(B::affine(
            x.clone().into_primitive().tensor(),
            w.clone().into_primitive().tensor(),
            b.clone().into_primitive().tensor(),
        ));
        let reference = x.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>();
        let d = max_diff(fused.clone().inner(), reference.clone().inner());
        assert!(d < 1e-4, "{n}x{input}x{output}: value differs by {d}");

        let grads = (fused * weight.clone()).sum().backward();
        let ref_grads = (reference * weight).sum().backward();
        for (what, a, b) in [
            ("x", x.grad(&grads), x.grad(&ref_grads)),
            ("w", w.grad(&grads), w.grad(&ref_grads)),
        ] {
            let d = max_diff(a.expect("tracked"), b.expect("tracked"));
            assert!(d < 1e-3, "{n}x{input}x{output}: d{what} differs by {d}");
        }
        let d = max_diff(
            b.grad(&grads).expect("tracked").unsqueeze::<2>(),
            b.grad(&ref_grads).expect("tracked").unsqueeze::<2>(),
        );
        assert!(d < 1e-3, "{n}x{input}x{output}: db differs by {d}");
    }
}

#[test]
fn flex_kernel_matches_portable_affine() {
    let device = Default::default();
    Flex::seed(&device, 9);
    for (n, input, output) in SHAPES {
        let x = normal::<Flex, 2>([n, input], &device);
        let w = normal::<Flex, 2>([input, output], &device);
        let b = normal::<Flex, 1>([output], &device);
        let dy = normal::<Flex, 2>([n, output], &device);
        let p = |t: Tensor<Flex, 2>| t.into_primitive().tensor();
        let ours: Tensor<Flex, 2> = float(Flex::affine(
            p(x.clone()),
            p(w.clone()),
            b.clone().into_primitive().tensor(),
        ));
        let theirs: Tensor<Flex, 2> = float(portable_affine::<Flex>(
            p(x.clone()),
            p(w.clone()),
            b.into_primitive().tensor(),
        ));
        assert!(max_diff(ours, theirs) < 1e-4);
        let (dx, dw, db) = Flex::affine_backward(p(x.clone()), p(w.clone()), p(dy.clone()));
        let (rx, rw, rb) = portable_affine_backward::<Flex>(p(x), p(w), p(dy));
        assert!(max_diff(float::<Flex, 2>(dx), float(rx)) < 1e-3);
        assert!(max_diff(float::<Flex, 2>(dw), float(rw)) < 1e-3);
        assert!(max_diff(float::<Flex, 1>(db), float(rb)) < 1e-3);
    }
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}
