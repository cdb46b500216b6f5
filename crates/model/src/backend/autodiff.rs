//! [`LstmBackend`](crate::LstmBackend) for [`Autodiff`](burn::backend::Autodiff): each operation recorded as one graph
//! node whose backward calls the inner backend's kernels.

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::Shape;

use super::{LstmBackend, LstmCache, LstmKernels, LstmSequence};

#[derive(Debug)]
struct LstmSequenceBackward;

impl<B: LstmKernels> Backward<B, 2> for LstmSequenceBackward {
    type State = LstmCache<B>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_hidden_seq = grads.consume::<B>(&ops.node);
        let (grad_x_proj, grad_w_hh) = B::lstm_backward(ops.state, grad_hidden_seq);
        let [x_proj_node, w_hh_node] = ops.parents;
        if let Some(node) = x_proj_node {
            grads.register::<B>(node.id, grad_x_proj);
        }
        if let Some(node) = w_hh_node {
            grads.register::<B>(node.id, grad_w_hh);
        }
    }
}

/// Under autodiff the whole recurrence is one graph node.
impl<B: LstmKernels, C: CheckpointStrategy> LstmBackend for Autodiff<B, C> {
    fn lstm_sequence(
        x_proj: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        h0: FloatTensor<Self>,
        c0: FloatTensor<Self>,
    ) -> LstmSequence<Self> {
        let h0 = Self::inner(h0);
        let c0 = Self::inner(c0);
        let prep = LstmSequenceBackward
            .prepare::<C>([x_proj.node.clone(), w_hh.node.clone()])
            .compute_bound()
            .stateful();
        let (hidden_seq, last) = match prep {
            OpsKind::Tracked(prep) => {
                let (out, cache) = B::lstm_forward_cached(x_proj.primitive, w_hh.primitive, h0, c0);
                (prep.finish(cache, out.hidden_seq), (out.hidden, out.cell))
            }
            OpsKind::UnTracked(prep) => {
                let out = B::lstm_forward(x_proj.primitive, w_hh.primitive, h0, c0);
                (prep.finish(out.hidden_seq), (out.hidden, out.cell))
            }
        };
        LstmSequence {
            hidden_seq,
            hidden: Self::from_inner(last.0),
            cell: Self::from_inner(last.1),
        }
    }

    fn affine(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let prep = AffineBackward
            .prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()])
            .compute_bound()
            .stateful();
        match prep {
            OpsKind::Tracked(prep) => {
                let out = B::affine_forward(x.primitive.clone(), w.primitive.clone(), b.primitive);
                prep.finish((x.primitive, w.primitive), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::affine_forward(x.primitive, w.primitive, b.primitive))
            }
        }
    }

    fn cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>) -> FloatTensor<Self> {
        tracked_cross_entropy::<B, C>(logits, targets)
    }

    /// The inner backend's mask, as a constant of the graph.
    fn dropout_mask(
        shape: Shape,
        prob: f64,
        seed: u64,
        device: &burn::tensor::Device<Self>,
    ) -> FloatTensor<Self> {
        Self::from_inner(B::draw_dropout_mask(shape, prob, seed, device))
    }
}

#[derive(Debug)]
struct AffineBackward;

impl<B: LstmKernels> Backward<B, 3> for AffineBackward {
    /// The input and the weights.
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<B>(&ops.node);
        let (x, w) = ops.state;
        let (dx, dw, db) = B::affine_backward(x, w, dy);
        for (node, grad) in ops.parents.into_iter().zip([dx, dw, db]) {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: LstmKernels> Backward<B, 1> for CrossEntropyBackward {
    /// The gradient of the loss with respect to the logits.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let seed = grads.consume::<B>(&ops.node);
        let [logits_node] = ops.parents;
        if let Some(node) = logits_node {
            grads.register::<B>(node.id, B::scale_loss_grad(ops.state, seed));
        }
    }
}

/// The fused loss as one autodiff node whose saved state is its own gradient.
fn tracked_cross_entropy<B: LstmKernels, C: CheckpointStrategy>(
    logits: FloatTensor<Autodiff<B, C>>,
    targets: IntTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let prep = CrossEntropyBackward
        .prepare::<C>([logits.node.clone()])
        .compute_bound()
        .stateful();
    match prep {
        OpsKind::Tracked(prep) => {
            let (loss, grad) = B::cross_entropy_with_grad(logits.primitive, targets);
            prep.finish(grad, loss)
        }
        OpsKind::UnTracked(prep) => {
            prep.finish(B::cross_entropy_forward(logits.primitive, targets))
        }
    }
}
