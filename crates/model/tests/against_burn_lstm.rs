//! The fused LSTM must compute what burn's own `nn::Lstm` computes, values and
//! gradients, when given the same weights.

use burn::backend::{Autodiff, Flex};
use burn::module::Param;
use burn::nn::{Lstm, LstmConfig, LstmState};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use charrnn_model::FusedLstm;

type B = Autodiff<Flex>;

const T: usize = 7;
const BATCH: usize = 3;
const INPUT: usize = 5;
const HIDDEN: usize = 4;

/// The four gates of burn's LSTM in our fused order: input, forget, output, cell.
fn gates(lstm: &Lstm<B>) -> [&burn::nn::GateController<B>; 4] {
    [
        &lstm.input_gate,
        &lstm.forget_gate,
        &lstm.output_gate,
        &lstm.cell_gate,
    ]
}

fn fused_from(lstm: &Lstm<B>) -> FusedLstm<B> {
    let cat2 = |f: &dyn Fn(&burn::nn::GateController<B>) -> Tensor<B, 2>| {
        Tensor::cat(gates(lstm).iter().map(|g| f(g)).collect(), 1).detach()
    };
    let bias = Tensor::cat(
        gates(lstm)
            .iter()
            .map(|g| {
                g.input_transform.bias.as_ref().unwrap().val()
                    + g.hidden_transform.bias.as_ref().unwrap().val()
            })
            .collect(),
        0,
    )
    .detach();
    FusedLstm {
        w_ih: Param::from_tensor(cat2(&|g| g.input_transform.weight.val())),
        w_hh: Param::from_tensor(cat2(&|g| g.hidden_transform.weight.val())),
        bias: Param::from_tensor(bias),
    }
}

fn assert_close<const D: usize>(
    what: &str,
    ours: Tensor<<B as burn::tensor::backend::AutodiffBackend>::InnerBackend, D>,
    theirs: Tensor<<B as burn::tensor::backend::AutodiffBackend>::InnerBackend, D>,
) {
    let diff = (ours.clone() - theirs.clone()).abs().max().into_scalar();
    let scale = theirs.abs().max().into_scalar().max(1e-3);
    assert!(
        diff <= 1e-4 * scale.max(1.0),
        "{what}: max abs difference {diff} (scale {scale})"
    );
}

#[test]
fn values_and_gradients_match_burn_lstm() {
    let device = Default::default();
    B::seed(&device, 7);
    let lstm: Lstm<B> = LstmConfig::new(INPUT, HIDDEN, true)
        .with_batch_first(false)
        .init(&device);
    let fused = fused_from(&lstm);

    let x = Tensor::<B, 3>::random([T, BATCH, INPUT], Distribution::Normal(0.0, 1.0), &device);
    let h0 = Tensor::<B, 2>::random([BATCH, HIDDEN], Distribution::Normal(0.0, 0.5), &device);
    let c0 = Tensor::<B, 2>::random([BATCH, HIDDEN], Distribution::Normal(0.0, 0.5), &device);
    let weights =
        Tensor::<B, 3>::random([T, BATCH, HIDDEN], Distribution::Normal(0.0, 1.0), &device);

    let x_ours = x.clone().detach().require_grad();
    let (seq, h, c) = fused.forward(x_ours.clone(), h0.clone(), c0.clone());
    let grads_ours = (seq.clone() * weights.clone()).sum().backward();

    let x_theirs = x.detach().require_grad();
    let (seq_ref, state) = lstm.forward(x_theirs.clone(), Some(LstmState::new(c0, h0)));
    let grads_theirs = (seq_ref.clone() * weights).sum().backward();

    assert_close("hidden sequence", seq.inner(), seq_ref.inner());
    assert_close("final hidden", h.inner(), state.hidden.inner());
    assert_close("final cell", c.inner(), state.cell.inner());
    assert_close(
        "d input",
        x_ours.grad(&grads_ours).unwrap(),
        x_theirs.grad(&grads_theirs).unwrap(),
    );

    let cat_grads = |f: &dyn Fn(&burn::nn::GateController<B>) -> Tensor<B, 2>| {
        Tensor::cat(
            gates(&lstm)
                .iter()
                .map(|g| f(g).grad(&grads_theirs).unwrap())
                .collect(),
            1,
        )
    };
    assert_close(
        "d w_ih",
        fused.w_ih.val().grad(&grads_ours).unwrap(),
        cat_grads(&|g| g.input_transform.weight.val()),
    );
    assert_close(
        "d w_hh",
        fused.w_hh.val().grad(&grads_ours).unwrap(),
        cat_grads(&|g| g.hidden_transform.weight.val()),
    );
    let bias_ref = Tensor::cat(
        gates(&lstm)
            .iter()
            .map(|g| {
                g.input_transform
                    .bias
                    .as_ref()
                    .unwrap()
                    .val()
                    .grad(&grads_theirs)
                    .unwrap()
            })
            .collect(),
        0,
    );
    assert_close(
        "d bias",
        fused.bias.val().grad(&grads_ours).unwrap(),
        bias_ref,
    );
}

#[test]
fn inference_backend_matches_autodiff_forward() {
    let device = Default::default();
    Flex::seed(&device, 3);
    let fused = FusedLstm::<Flex>::new(INPUT, HIDDEN, &device);
    let x = Tensor::<Flex, 3>::random([T, BATCH, INPUT], Distribution::Normal(0.0, 1.0), &device);
    let zeros = Tensor::<Flex, 2>::zeros([BATCH, HIDDEN], &device);
    let (seq, _, _) = fused.forward(x.clone(), zeros.clone(), zeros.clone());
    // Running the sequence in two halves with the state carried must agree.
    let (a, h, c) = fused.forward(x.clone().narrow(0, 0, 3), zeros.clone(), zeros);
    let (b, _, _) = fused.forward(x.narrow(0, 3, T - 3), h, c);
    let diff = (Tensor::cat(vec![a, b], 0) - seq).abs().max().into_scalar();
    assert!(diff < 1e-6, "split run differs by {diff}");
}

/// The CPU kernel (used above through autodiff) must agree with the portable
/// tensor-op implementation that other backends, CUDA among them, run: with
/// one row group, and with a batch that the kernel splits into groups of rows
/// run on different threads (the second group a ragged one).
#[test]
fn flex_kernel_matches_portable_implementation() {
    for batch in [BATCH, 21] {
        flex_kernel_matches_portable_with(T, batch, HIDDEN);
    }
}

/// Layers wider than every block of the CPU GEMM: `4 × hidden` gate columns
/// past one block of 4080 (and past two panels' worth of blocks), recurrent
/// depth past 512. A kernel that read the wrong panels here trained to other
/// losses at each SIMD level.
#[test]
fn flex_kernel_matches_portable_in_layers_wider_than_a_block() {
    for hidden in [1100, 1537] {
        flex_kernel_matches_portable_with(3, 2, hidden);
    }
}

fn flex_kernel_matches_portable_with(steps: usize, batch: usize, hidden: usize) {
    use charrnn_model::{portable_lstm_sequence, portable_lstm_sequence_backward, LstmKernels};
    let device = Default::default();
    Flex::seed(&device, 11);
    let normal =
        |dims: [usize; 3]| Tensor::<Flex, 3>::random(dims, Distribution::Normal(0.0, 1.0), &device);
    let x_proj = normal([steps, batch, 4 * hidden]);
    let w_hh = normal([1, hidden, 4 * hidden]).reshape([hidden, 4 * hidden]);
    let h0 = normal([1, batch, hidden]).reshape([batch, hidden]);
    let c0 = normal([1, batch, hidden]).reshape([batch, hidden]);
    let grad = normal([steps, batch, hidden]);
    let p = |t: Tensor<Flex, 3>| t.into_primitive().tensor();
    let p2 = |t: Tensor<Flex, 2>| t.into_primitive().tensor();
    let f3 = |t| Tensor::<Flex, 3>::from_primitive(burn::tensor::TensorPrimitive::Float(t));
    let f2 = |t| Tensor::<Flex, 2>::from_primitive(burn::tensor::TensorPrimitive::Float(t));

    let (ours, cache) = Flex::lstm_forward_cached(
        p(x_proj.clone()),
        p2(w_hh.clone()),
        p2(h0.clone()),
        p2(c0.clone()),
    );
    let (reference, ref_cache) =
        portable_lstm_sequence::<Flex>(p(x_proj), p2(w_hh), p2(h0), p2(c0));
    let close3 = |what: &str, a: Tensor<Flex, 3>, b: Tensor<Flex, 3>| {
        let scale = b.clone().abs().max().into_scalar().max(1.0);
        let d = (a - b).abs().max().into_scalar();
        assert!(
            d < 1e-4 * scale,
            "{what}: differs by {d} (batch {batch}, hidden {hidden})"
        );
    };
    close3(
        "hidden sequence",
        f3(ours.hidden_seq),
        f3(reference.hidden_seq),
    );
    let d = (f2(ours.cell) - f2(reference.cell))
        .abs()
        .max()
        .into_scalar();
    assert!(d < 1e-4, "final cell differs by {d}");

    let (dx, dw) = Flex::lstm_backward(cache, p(grad.clone()));
    let (dx_ref, dw_ref) = portable_lstm_sequence_backward::<Flex>(ref_cache, p(grad));
    close3("d x_proj", f3(dx), f3(dx_ref));
    let scale = f2(dw_ref.clone()).abs().max().into_scalar().max(1.0);
    let d = (f2(dw) - f2(dw_ref)).abs().max().into_scalar();
    assert!(
        d < 1e-4 * scale,
        "d w_hh differs by {d} (scale {scale}, hidden {hidden})"
    );
}

#[test]
fn kernels_at_every_simd_level() {
    charrnn_cpu::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}
