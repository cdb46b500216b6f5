//! Global-norm gradient clipping (TensorFlow's `clip_by_global_norm`).
//!
//! burn's `GradientClipping::Norm` clips each tensor by its own norm, which changes
//! the direction of the update; clipping by the norm of all gradients together
//! only shortens it, as the seed notebook does.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::Tensor;

struct SquaredNorm<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    total: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SquaredNorm<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.powi_scalar(2).sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

struct Scale<'a, B: AutodiffBackend> {
    grads: &'a mut GradientsParams,
    factor: Tensor<B::InnerBackend, 1>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            let factor = self.factor.clone().reshape([1; D]);
            self.grads.register(param.id, g.mul(factor));
        }
    }
}

/// The norm of all of `module`'s gradients taken together, on the device.
pub fn global_norm<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &GradientsParams,
) -> Option<Tensor<B::InnerBackend, 1>> {
    let mut visitor = SquaredNorm::<B> { grads, total: None };
    module.visit(&mut visitor);
    visitor.total.map(Tensor::sqrt)
}

/// Scales all gradients by `max_norm / norm` when their global norm exceeds
/// `max_norm` (`max_norm` 0: no clipping), as TensorFlow's
/// `clip_by_global_norm`: each gradient times `max_norm / max(norm,
/// max_norm)`. The factor stays on the device, so clipping never waits for it.
pub fn clip_global_norm<B: AutodiffBackend, M: Module<B>>(
    module: &M,
    grads: &mut GradientsParams,
    max_norm: f64,
) {
    if max_norm <= 0.0 {
        return;
    }
    if let Some(norm) = global_norm::<B, M>(module, grads) {
        let factor = norm.clamp_min(max_norm).recip().mul_scalar(max_norm);
        module.visit(&mut Scale::<B> { grads, factor });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, Flex};
    use burn::tensor::Int;
    use charrnn_model::{CharRnn, CharRnnConfig, ModelState};

    type B = Autodiff<Flex>;

    fn model_and_grads() -> (CharRnn<B>, GradientsParams) {
        let config = CharRnnConfig {
            vocab_size: 7,
            embed_size: 3,
            hidden_size: 5,
            num_layers: 1,
            dropout: 0.0,
        };
        let device = Default::default();
        let model = config.init::<B>(&device);
        let ids = Tensor::<B, 1, Int>::from_ints([1, 2, 3, 4, 5, 6], &device).reshape([2, 3]);
        let (logits, _) = model.forward(ids.clone(), ModelState::zeros(&config, 2, &device));
        let grads = GradientsParams::from_grads(model.loss(logits, ids).backward(), &model);
        (model, grads)
    }

    fn norm(model: &CharRnn<B>, grads: &GradientsParams) -> f32 {
        global_norm::<B, _>(model, grads).unwrap().into_scalar()
    }

    #[test]
    fn clipping_shortens_the_gradient_to_max_norm_and_leaves_short_ones() {
        let (model, mut grads) = model_and_grads();
        let before = norm(&model, &grads);
        assert!(before > 0.0);
        clip_global_norm::<B, _>(&model, &mut grads, f64::from(before) * 2.0);
        assert!((norm(&model, &grads) - before).abs() <= 1e-6 * before);
        let max = f64::from(before) / 4.0;
        clip_global_norm::<B, _>(&model, &mut grads, max);
        let after = norm(&model, &grads);
        assert!(
            (f64::from(after) - max).abs() <= 1e-5 * max,
            "{after} vs {max}"
        );
    }
}
