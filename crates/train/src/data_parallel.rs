//! The burn side of data-parallel training: every process's gradients
//! summed in one buffer, and a checksum of the weights.
//!
//! Parameters are visited in module order, the same in every process;
//! burn's `ParamId`s are drawn at random per process and cannot line
//! gradients up across processes.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use crate::collective::{fingerprint, Collective};

struct Flatten<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    out: Vec<f32>,
    _backend: std::marker::PhantomData<B>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        match self.grads.get::<B::InnerBackend, D>(param.id) {
            Some(grad) => self.out.extend(to_f32(grad)),
            // A parameter without a gradient here may have one elsewhere:
            // its place in the buffer is kept with zeros.
            None => self
                .out
                .extend(std::iter::repeat_n(0.0, param.val().shape().num_elements())),
        }
    }
}

struct Unflatten<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    summed: &'a [f32],
    scale: f32,
    device: B::Device,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Unflatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let shape = param.val().shape();
        let (mine, rest) = self.summed.split_at(shape.num_elements());
        self.summed = rest;
        let values: Vec<f32> = mine.iter().map(|v| v * self.scale).collect();
        let grad =
            Tensor::<B::InnerBackend, D>::from_data(TensorData::new(values, shape), &self.device);
        self.grads.remove::<B::InnerBackend, D>(param.id);
        self.grads.register(param.id, grad);
    }
}

fn to_f32<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 data")
}

/// Replaces each process's gradients by their mean over all processes, and
/// `extras` (appended to the same buffer, so one all-reduce serves a step)
/// by their sum. Returns the seconds the all-reduce took; a world of one is
/// left as it is.
pub fn average_gradients<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &mut GradientsParams,
    world: &dyn Collective,
    extras: &mut [f32],
    device: &B::Device,
) -> f64 {
    if world.size() == 1 {
        return 0.0;
    }
    let mut flatten = Flatten::<B> {
        grads,
        out: Vec::new(),
        _backend: std::marker::PhantomData,
    };
    module.visit(&mut flatten);
    let mut buffer = flatten.out;
    let n = buffer.len();
    buffer.extend_from_slice(extras);
    let started = std::time::Instant::now();
    world.all_reduce_sum(&mut buffer);
    let seconds = started.elapsed().as_secs_f64();
    extras.copy_from_slice(&buffer[n..]);
    module.visit(&mut Unflatten::<B> {
        grads,
        summed: &buffer[..n],
        scale: 1.0 / world.size() as f32,
        device: device.clone(),
    });
    seconds
}

struct Weights {
    bytes: Vec<u8>,
}

impl<B: Backend> ModuleVisitor<B> for Weights {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        for value in to_f32(param.val()) {
            self.bytes.extend_from_slice(&value.to_bits().to_le_bytes());
        }
    }
}

/// A checksum of `module`'s weights, bit for bit, in module order: equal on
/// processes whose weights are identical.
pub fn weights_fingerprint<B: Backend, M: Module<B>>(module: &M) -> u64 {
    let mut weights = Weights { bytes: Vec::new() };
    module.visit(&mut weights);
    fingerprint(weights.bytes)
}
