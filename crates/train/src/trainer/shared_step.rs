//! What the processes of a run agree on at every step: the mean of their
//! gradients, the loss, rank 0's clock and whether to stop, all in one
//! all-reduce.

use std::sync::atomic::Ordering;

use burn::optim::GradientsParams;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Tensor};
use charrnn_model::{LstmBackend, LstmKernels};

use crate::data_parallel::average_gradients;

use super::phases::Trainer;

/// The numbers every process takes the step's decisions from.
pub(crate) struct StepAgreement {
    /// The mean loss over all processes' streams; `None` alone, where it is
    /// read from the device after the step is queued.
    pub(crate) loss: Option<f64>,
    /// The run's training time, by rank 0's clock.
    pub(crate) elapsed: f64,
    /// Some process was asked to stop.
    pub(crate) stop: bool,
    /// Seconds this process spent in the all-reduce.
    pub(crate) all_reduce_sec: f64,
}

impl<B> Trainer<'_, B>
where
    B: AutodiffBackend + LstmBackend,
    B::InnerBackend: LstmKernels,
{
    /// Replaces this process's gradients by all processes' mean, and agrees
    /// on the loss, the clock and stopping. Alone, it only reads the clock
    /// and the stop flag.
    pub(crate) fn agree_on_step(
        &self,
        grads: &mut GradientsParams,
        loss: &Tensor<B::InnerBackend, 1>,
    ) -> StepAgreement {
        let stop = self
            .options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst));
        let elapsed = self.clock.elapsed();
        let world = &*self.world;
        if world.size() == 1 {
            return StepAgreement {
                loss: None,
                elapsed,
                stop,
                all_reduce_sec: 0.0,
            };
        }
        let rank0 = world.rank() == 0;
        let mut shared = [
            loss.clone().into_scalar().elem::<f32>(),
            if rank0 { elapsed as f32 } else { 0.0 },
            f32::from(u8::from(stop)),
        ];
        let all_reduce_sec =
            average_gradients::<B, _>(self.model(), grads, world, &mut shared, self.device);
        StepAgreement {
            all_reduce_sec,
            loss: Some(f64::from(shared[0]) / world.size() as f64),
            elapsed: f64::from(shared[1]),
            stop: shared[2] > 0.0,
        }
    }
}
