//! The cube backends' LSTM kernels (`charrnn-gpu`, wired in `cube_kernels.rs`)
//! against the portable recurrence on the CPU: values and gradients, at shapes
//! that are multiples of nothing, on burn's wgpu backend. On a machine without
//! a GPU that is Mesa's software Vulkan driver, lavapipe; the tests fail, loudly,
//! when no Vulkan driver is installed.

mod support;

use burn::backend::wgpu::Wgpu;
use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Distribution, Tensor, TensorData, TensorPrimitive};
use charrnn_model::{
    portable_lstm_sequence, portable_lstm_sequence_backward, FusedLstm, LstmBackend,
};

type G = Wgpu;

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

fn assert_close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1.0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * scale,
            "{what}: element {i} is {g} on the GPU, {w} on the CPU (scale {scale})"
        );
    }
}

/// Forward (every cached tensor) and backward of one layer's recurrence.
fn recurrence_matches(seq: usize, batch: usize, hidden: usize) {
    let gpu = support::gpu::device();
    let cpu = Default::default();
    let x = random([seq, batch, 4 * hidden], 1.0);
    let w = random([hidden, 4 * hidden], 0.3);
    let h0 = random([batch, hidden], 0.5);
    let c0 = random([batch, hidden], 0.5);
    let upstream = random([seq, batch, hidden], 1.0);

    let (out_g, cache_g) = G::lstm_sequence_cached(
        tensor::<G, 3>(&x, &gpu),
        tensor::<G, 2>(&w, &gpu),
        tensor::<G, 2>(&h0, &gpu),
        tensor::<G, 2>(&c0, &gpu),
    );
    let (out_c, cache_c) = portable_lstm_sequence::<Flex>(
        tensor::<Flex, 3>(&x, &cpu),
        tensor::<Flex, 2>(&w, &cpu),
        tensor::<Flex, 2>(&h0, &cpu),
        tensor::<Flex, 2>(&c0, &cpu),
    );
    let shape = format!("seq {seq}, batch {batch}, hidden {hidden}");
    let check3 = |what: &str, g: FloatTensor<G>, c: FloatTensor<Flex>| {
        assert_close(
            &format!("{what} ({shape})"),
            &data::<G, 3>(g),
            &data::<Flex, 3>(c),
        )
    };
    let check2 = |what: &str, g: FloatTensor<G>, c: FloatTensor<Flex>| {
        assert_close(
            &format!("{what} ({shape})"),
            &data::<G, 2>(g),
            &data::<Flex, 2>(c),
        )
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

    let (dx_g, dw_g) = G::lstm_sequence_backward(cache_g, tensor::<G, 3>(&upstream, &gpu));
    let (dx_c, dw_c) =
        portable_lstm_sequence_backward::<Flex>(cache_c, tensor::<Flex, 3>(&upstream, &cpu));
    check3("d x_proj", dx_g, dx_c);
    check2("d w_hh", dw_g, dw_c);
}

#[test]
fn the_recurrence_matches_the_portable_one_at_odd_shapes() {
    for (seq, batch, hidden) in [(1, 1, 1), (7, 3, 13), (5, 9, 33), (3, 2, 70)] {
        recurrence_matches(seq, batch, hidden);
    }
}

/// The whole layer under autodiff (input projection, recurrence, backward
/// through both) on the GPU and on the CPU, from the same weights.
#[test]
fn a_fused_layer_trains_the_same_on_gpu_and_cpu() {
    let (seq, batch, input, hidden) = (6, 5, 11, 17);
    let gpu = support::gpu::device();
    let cpu = Default::default();
    let (layer_c, layer_g) = support::gpu::same_on_both(
        (
            || FusedLstm::<Autodiff<Flex>>::new(input, hidden, &cpu),
            &cpu,
        ),
        (|| FusedLstm::<Autodiff<G>>::new(input, hidden, &gpu), &gpu),
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
        let x = Tensor::<Autodiff<G>, 3>::from_data(x, &gpu).require_grad();
        let (out, _, _) = layer_g.forward(
            x.clone(),
            Tensor::from_data(h0, &gpu),
            Tensor::from_data(c0, &gpu),
        );
        let grads = (out.clone() * Tensor::from_data(weights, &gpu))
            .sum()
            .backward();
        let dw = layer_g.w_hh.val().grad(&grads).expect("w_hh gradient");
        let dx = x.grad(&grads).expect("x gradient");
        (out.into_data(), dw.into_data(), dx.into_data())
    };
    let v = |d: &TensorData| d.to_vec::<f32>().expect("f32");
    assert_close("layer output", &v(&run_g.0), &v(&run_c.0));
    assert_close("d w_hh", &v(&run_g.1), &v(&run_c.1));
    assert_close("d x", &v(&run_g.2), &v(&run_c.2));
}
