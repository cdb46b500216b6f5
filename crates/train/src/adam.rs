//! Adam as one fused pass per parameter.
//!
//! burn's `Adam` makes about a dozen elementwise passes over every parameter
//! per step, each allocating a tensor, on one thread (BENCHMARKS.md has what
//! that cost). [`FusedAdam`] computes the same update with
//! [`LstmKernels::adam_step`] (one parallel pass, in place on the CPU backend)
//! and keeps burn's `AdamState`, so optimizer checkpoints are unchanged.

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, SimpleOptimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorPrimitive};
use charrnn_model::{AdamStep, LstmKernels};

/// Adam without weight decay, with burn's defaults (`beta_1` 0.9, `beta_2`
/// 0.999) and arithmetic.
#[derive(Debug, Clone, Copy)]
pub struct FusedAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
}

impl FusedAdam {
    /// Adam with burn's default betas and this `epsilon`.
    pub fn new(epsilon: f32) -> Self {
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
        }
    }

    /// The optimizer for a whole module, as burn's `AdamConfig::init` makes it.
    pub fn init<B, M>(self) -> OptimizerAdaptor<Self, M, B>
    where
        B: AutodiffBackend,
        B::InnerBackend: LstmKernels,
        M: AutodiffModule<B>,
    {
        OptimizerAdaptor::from(self)
    }
}

impl<B: LstmKernels> SimpleOptimizer<B> for FusedAdam {
    type State<const D: usize> = AdamState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let prim = |t: Tensor<B, D>| t.into_primitive().tensor();
        let (time, moments) = match state {
            Some(AdamState { momentum: s }) => {
                (s.time + 1, Some((prim(s.moment_1), prim(s.moment_2))))
            }
            None => (1, None),
        };
        let step = AdamStep {
            lr,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            time,
        };
        let (param, m, v) = B::adam_step(prim(tensor), prim(grad), moments, &step);
        let wrap = |t| Tensor::<B, D>::from_primitive(TensorPrimitive::Float(t));
        let momentum = AdaptiveMomentumState::new(time, wrap(m), wrap(v));
        (wrap(param), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        let s = &mut state.momentum;
        s.moment_1 = s.moment_1.clone().to_device(device);
        s.moment_2 = s.moment_2.clone().to_device(device);
        state
    }
}
