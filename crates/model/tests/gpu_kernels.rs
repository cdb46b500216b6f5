//! The cube backends' LSTM kernels (`charrnn-gpu`, wired in `cube_kernels.rs`)
//! against the portable recurrence on the CPU: values and gradients, at shapes
//! that are multiples of nothing.
//!
//! On burn's wgpu backend, which on a machine without a GPU is Mesa's software
//! Vulkan driver, lavapipe; the tests fail, loudly, when no Vulkan driver is
//! installed. The same checks on CUDA are ignored tests (they need an NVIDIA
//! GPU): `xtask/scripts/gpu-check.sh` runs them with `--ignored`. CUDA's GEMMs
//! round their inputs to TF32 (10 bits of mantissa), hence their looser
//! tolerance.

mod support;

use burn::backend::wgpu::Wgpu;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Distribution, Tensor, TensorData, TensorPrimitive};
use charrnn_model::{
    portable_lstm_sequence, portable_lstm_sequence_backward, FusedLstm, LstmKernels,
};

/// Tolerance relative to the largest value compared: f32 arithmetic in
/// another order (wgpu), or TF32 GEMMs (CUDA).
const F32: f32 = 1e-4;
#[cfg(feature = "cuda")]
const TF32: f32 = 5e-3;

fn tensor<B: Backend, const D: usize>(data: &TensorData, device: &B::Device) -> FloatTensor<B> {
    Tensor::<B, D>::from_data(data.clone(), device)
        .into_primitive()
        .tensor()
}

fn data<B: Backend, const D: usize>(t: FloatTensor<B>) -> Vec<f32> {
    Tensor::<B, D>::from_primitive(TensorPrimitive::Float(t))
        .into_data()
        .to_vec::<f32>()
        .expect("f32 data")
}

/// Random data of `shape`, drawn on the CPU.
fn random<const D: usize>(shape: [usize; D], std: f64) -> TensorData {
    Tensor::<Flex, D>::random(shape, Distribution::Normal(0.0, std), &Default::default())
        .into_data()
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tolerance: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1.0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tolerance * scale,
            "{what}: element {i} is {g} on the GPU, {w} on the CPU (scale {scale})"
        );
    }
}

/// Forward (every cached tensor) and backward of one layer's recurrence, on
/// `G` at `gpu` and portably on the CPU.
fn recurrence_matches<G: LstmKernels>(
    gpu: &G::Device,
    tolerance: f32,
    [seq, batch, hidden]: [usize; 3],
) {
    let cpu = Default::default();
    let x = random([seq, batch, 4 * hidden], 1.0);
    let w = random([hidden, 4 * hidden], 0.3);
    let h0 = random([batch, hidden], 0.5);
    let c0 = random([batch, hidden], 0.5);
    let upstream = random([seq, batch, hidden], 1.0);

    let (out_g, cache_g) = G::lstm_forward_cached(
        tensor::<G, 3>(&x, gpu),
        tensor::<G, 2>(&w, gpu),
        tensor::<G, 2>(&h0, gpu),
        tensor::<G, 2>(&c0, gpu),
    );
    let (out_c, cache_c) = portable_lstm_sequence::<Flex>(
        tensor::<Flex, 3>(&x, &cpu),
        tensor::<Flex, 2>(&w, &cpu),
        tensor::<Flex, 2>(&h0, &cpu),
        tensor::<Flex, 2>(&c0, &cpu),
    );
    let shape = format!("seq {seq}, batch {batch}, hidden {hidden}");
    let check3 = |what: &str, g: FloatTensor<G>, c: FloatTensor<Flex>| {
        let what = format!("{what} ({shape})");
        assert_close(&what, &data::<G, 3>(g), &data::<Flex, 3>(c), tolerance)
    };
    let check2 = |what: &str, g: FloatTensor<G>, c: FloatTensor<Flex>| {
        let what = format!("{what} ({shape})");
        assert_close(&what, &data::<G, 2>(g), &data::<Flex, 2>(c), tolerance)
    };
    check3("hidden_seq", out_g.hidden_seq, out_c.hidden_seq);
    check2("last hidden", out_g.hidden, out_c.hidden);
    check2("last cell", out_g.cell, out_c.cell);
    check3("gates", cache_g.gates.clone(), cache_c.gates.clone());
    check3("cells", cache_g.cells.clone(), cache_c.cells.clone());
    check3(
        "hidden_in",
        cache_g.hidden_in.clone(),
        cache_c.hidden_in.clone(),
    );

    let (dx_g, dw_g) = G::lstm_backward(cache_g, tensor::<G, 3>(&upstream, gpu));
    let (dx_c, dw_c) =
        portable_lstm_sequence_backward::<Flex>(cache_c, tensor::<Flex, 3>(&upstream, &cpu));
    check3("d x_proj", dx_g, dx_c);
    check2("d w_hh", dw_g, dw_c);
}

/// Shapes that are multiples of nothing, one of them a single step of one row.
const SHAPES: [[usize; 3]; 4] = [[1, 1, 1], [7, 3, 13], [5, 9, 33], [3, 2, 70]];

#[test]
fn the_recurrence_matches_the_portable_one_on_wgpu() {
    let gpu = support::gpu::device();
    for shape in SHAPES {
        recurrence_matches::<Wgpu>(&gpu, F32, shape);
    }
}

#[test]
fn a_fused_layer_trains_the_same_on_wgpu_and_the_cpu() {
    layer_matches::<Wgpu>(&support::gpu::device(), F32);
}

#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs an NVIDIA GPU: xtask/scripts/gpu-check.sh runs it"]
fn the_recurrence_matches_the_portable_one_on_cuda() {
    for shape in SHAPES {
        recurrence_matches::<burn::backend::Cuda>(&Default::default(), TF32, shape);
    }
}

#[cfg(feature = "cuda")]
#[test]
#[ignore = "needs an NVIDIA GPU: xtask/scripts/gpu-check.sh runs it"]
fn a_fused_layer_trains_the_same_on_cuda_and_the_cpu() {
    layer_matches::<burn::backend::Cuda>(&Default::default(), TF32);
}

/// The whole layer under autodiff (input projection, recurrence, backward
/// through both) on the GPU and on the CPU, from the same weights.
fn layer_matches<G: LstmKernels>(gpu: &G::Device, tolerance: f32) {
    let (seq, batch, input, hidden) = (6, 5, 11, 17);
    let cpu = Default::default();
    let (layer_c, layer_g) = support::identical::same_on_both(
        (
            || FusedLstm::<Autodiff<Flex>>::new(input, hidden, &cpu),
            &cpu,
        ),
        (|| FusedLstm::<Autodiff<G>>::new(input, hidden, gpu), gpu),
    );

    let x = random([seq, batch, input], 1.0);
    let h0 = random([batch, hidden], 0.5);
    let c0 = random([batch, hidden], 0.5);
    let weights = random([seq, batch, hidden], 1.0);

    let run_c = {
        let x = Tensor::<Autodiff<Flex>, 3>::from_data(x.clone(), &cpu).require_grad();
        let (out, _, _) = layer_c.forward(
            x.clone(),
            Tensor::from_data(h0.clone(), &cpu),
            Tensor::from_data(c0.clone(), &cpu),
        );
        let grads = (out.clone() * Tensor::from_data(weights.clone(), &cpu))
            .sum()
            .backward();
        let dw = layer_c.w_hh.val().grad(&grads).expect("w_hh gradient");
        let dx = x.grad(&grads).expect("x gradient");
        (out.into_data(), dw.into_data(), dx.into_data())
    };
    let run_g = {
        let x = Tensor::<Autodiff<G>, 3>::from_data(x, gpu).require_grad();
        let (out, _, _) = layer_g.forward(
            x.clone(),
            Tensor::from_data(h0, gpu),
            Tensor::from_data(c0, gpu),
        );
        let grads = (out.clone() * Tensor::from_data(weights, gpu))
            .sum()
            .backward();
        let dw = layer_g.w_hh.val().grad(&grads).expect("w_hh gradient");
        let dx = x.grad(&grads).expect("x gradient");
        (out.into_data(), dw.into_data(), dx.into_data())
    };
    let v = |d: &TensorData| d.to_vec::<f32>().expect("f32");
    assert_close("layer output", &v(&run_g.0), &v(&run_c.0), tolerance);
    assert_close("d w_hh", &v(&run_g.1), &v(&run_c.1), tolerance);
    assert_close("d x", &v(&run_g.2), &v(&run_c.2), tolerance);
}
