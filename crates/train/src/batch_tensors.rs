//! A batch of ids as the int tensors a model takes: what the training step
//! and evaluation both feed.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use charrnn_batch::Batch;

/// Turns a batch's ids into `[batch, seq_len]` int tensors (inputs, targets).
pub(crate) fn batch_tensors<B: Backend>(
    batch: &Batch,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Tensor<B, 2, Int>) {
    let shape = [batch.batch_size, batch.seq_len];
    let to_tensor = |ids: &[u32]| {
        let data: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
        Tensor::from_data(TensorData::new(data, shape), device)
    };
    (to_tensor(&batch.inputs), to_tensor(&batch.targets))
}
