//! The LSTM backend extension for burn's cube backends (CUDA, wgpu): the
//! recurrence runs `charrnn-gpu`'s cell kernels, two launches per time step
//! (one GEMM, one cell kernel) into buffers allocated once per sequence.
//!
//! burn's portable recurrence costs about 17 tensor operations a step forward
//! and 45 backward, plus a `stack` of every step; on a GPU each is a kernel
//! launch doing microseconds of work, so the host, not the GPU, set the pace.

use burn::tensor::ops::{FloatTensor, FloatTensorOps};
use burn::tensor::{Shape, Slice, TensorMetadata};
use burn_cubecl::ops::numeric::{empty_device_dtype, zeros_client};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use crate::backend::{LstmCache, LstmKernels, LstmSequence};

type Cube<R, F, I, BT> = CubeBackend<R, F, I, BT>;

impl<R, F, I, BT> LstmKernels for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    fn lstm_forward(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        forward::<R, F, I, BT>(x_proj, w_hh, h0, c0).0
    }

    fn lstm_forward_cached(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> (LstmSequence<Self>, LstmCache<Self>) {
        forward::<R, F, I, BT>(x_proj, w_hh, h0, c0)
    }

    fn lstm_backward(
        cache: LstmCache<Self>,
        grad_hidden_seq: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        backward::<R, F, I, BT>(cache, grad_hidden_seq)
    }
}

/// An uninitialised tensor of `shape` on `like`'s device.
fn empty<R: CubeRuntime>(like: &CubeTensor<R>, shape: impl Into<Shape>) -> CubeTensor<R> {
    empty_device_dtype(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        like.dtype,
    )
}

fn zeros<R: CubeRuntime>(like: &CubeTensor<R>, shape: impl Into<Shape>) -> CubeTensor<R> {
    zeros_client(
        like.client.clone(),
        like.device.clone(),
        shape.into(),
        like.dtype,
    )
}

/// `[steps, batch, units]` buffer whose slot 0 is `first` (`[batch, units]`)
/// and whose other slots the cell kernel writes.
fn with_first_slot<R, F, I, BT>(first: CubeTensor<R>, steps: usize) -> CubeTensor<R>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let [batch, units] = first.shape().dims();
    let buffer = empty(&first, [steps, batch, units]);
    let first = Cube::<R, F, I, BT>::float_reshape(first, Shape::new([1, batch, units]));
    Cube::<R, F, I, BT>::float_slice_assign(buffer, &[Slice::from(0..1)], first)
}

/// The recurrence over a sequence: per step one GEMM `h_{t-1} · W_hh` and one
/// cell kernel writing into the whole-sequence buffers.
#[allow(clippy::type_complexity)]
fn forward<R, F, I, BT>(
    x_proj: CubeTensor<R>,
    w_hh: CubeTensor<R>,
    h0: CubeTensor<R>,
    c0: CubeTensor<R>,
) -> (
    LstmSequence<Cube<R, F, I, BT>>,
    LstmCache<Cube<R, F, I, BT>>,
)
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let [seq, batch, four_h] = x_proj.shape().dims();
    let units = four_h / 4;
    assert!(seq > 0, "an LSTM sequence needs at least one step");
    let gates = empty(&x_proj, [seq, batch, four_h]);
    let cells = with_first_slot::<R, F, I, BT>(c0, seq + 1);
    let hidden = with_first_slot::<R, F, I, BT>(h0.clone(), seq + 1);
    let client = x_proj.client.clone();
    let (count, dim) = charrnn_gpu::launch_dims(&client, batch * units);
    let mut h_prev = h0;
    for step in 0..seq {
        let hw = Cube::<R, F, I, BT>::float_matmul(h_prev, w_hh.clone());
        let h_out = empty(&hw, [batch, units]);
        charrnn_gpu::lstm_cell_forward::launch::<F, R>(
            &client,
            count.clone(),
            dim,
            x_proj.clone().into_tensor_arg(),
            hw.into_tensor_arg(),
            gates.clone().into_tensor_arg(),
            cells.clone().into_tensor_arg(),
            hidden.clone().into_tensor_arg(),
            h_out.clone().into_tensor_arg(),
            step,
            batch,
            units,
        );
        h_prev = h_out;
    }
    let steps = |range: std::ops::Range<usize>| [Slice::from(range)];
    let hidden_seq = Cube::<R, F, I, BT>::float_slice(hidden.clone(), &steps(1..seq + 1));
    let hidden_in = Cube::<R, F, I, BT>::float_slice(hidden, &steps(0..seq));
    let last_cell = Cube::<R, F, I, BT>::float_slice(cells.clone(), &steps(seq..seq + 1));
    let last_cell = Cube::<R, F, I, BT>::float_reshape(last_cell, Shape::new([batch, units]));
    (
        LstmSequence {
            hidden_seq,
            hidden: h_prev,
            cell: last_cell,
        },
        LstmCache {
            gates,
            cells,
            hidden_in,
            w_hh,
        },
    )
}

/// Truncated BPTT over the cached sequence: per step one cell-backward kernel
/// and one GEMM `dz_t · W_hhᵀ`; `dW_hh` as one GEMM over all steps.
fn backward<R, F, I, BT>(
    cache: LstmCache<Cube<R, F, I, BT>>,
    grad_hidden_seq: CubeTensor<R>,
) -> (CubeTensor<R>, CubeTensor<R>)
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
{
    let LstmCache {
        gates,
        cells,
        hidden_in,
        w_hh,
    } = cache;
    let [seq, batch, four_h] = gates.shape().dims();
    let units = four_h / 4;
    let dz = empty(&gates, [seq, batch, four_h]);
    let dc = zeros(&gates, [batch, units]);
    let mut dh_next = zeros(&gates, [batch, units]);
    let w_hh_t = Cube::<R, F, I, BT>::float_transpose(w_hh);
    let client = gates.client.clone();
    let (count, dim) = charrnn_gpu::launch_dims(&client, batch * units);
    for step in (0..seq).rev() {
        let dz_out = empty(&gates, [batch, four_h]);
        charrnn_gpu::lstm_cell_backward::launch::<F, R>(
            &client,
            count.clone(),
            dim,
            gates.clone().into_tensor_arg(),
            cells.clone().into_tensor_arg(),
            grad_hidden_seq.clone().into_tensor_arg(),
            dh_next.into_tensor_arg(),
            dc.clone().into_tensor_arg(),
            dz.clone().into_tensor_arg(),
            dz_out.clone().into_tensor_arg(),
            step,
            batch,
            units,
        );
        dh_next = if step > 0 {
            Cube::<R, F, I, BT>::float_matmul(dz_out, w_hh_t.clone())
        } else {
            dz_out
        };
    }
    // dW_hh = sum_t h_{t-1}^T dz_t, as one GEMM over all steps.
    let rows = seq * batch;
    let hidden_in = Cube::<R, F, I, BT>::float_reshape(hidden_in, Shape::new([rows, units]));
    let dz_rows = Cube::<R, F, I, BT>::float_reshape(dz.clone(), Shape::new([rows, four_h]));
    let grad_w_hh =
        Cube::<R, F, I, BT>::float_matmul(Cube::<R, F, I, BT>::float_transpose(hidden_in), dz_rows);
    (dz, grad_w_hh)
}
