//! Mean cross-entropy of a text under a model, batched like training.

use burn::tensor::backend::Backend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use charrnn_batch::{Batch, Batcher, Tokens, TooShort};
use charrnn_model::{CharRnn, LstmBackend, ModelState};

/// Turns a batch's ids into `[batch, seq_len]` int tensors (inputs, targets).
pub fn batch_tensors<B: Backend>(
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

/// The batch shape used to evaluate `len` tokens: the training shape, shrunk
/// (fewer streams first, then shorter steps) until the text fills one batch.
pub fn eval_shape(len: usize, batch_size: usize, seq_len: usize) -> (usize, usize) {
    let usable = len.saturating_sub(1);
    if usable >= batch_size * seq_len {
        (batch_size, seq_len)
    } else if usable >= seq_len {
        (usable / seq_len, seq_len)
    } else {
        (1, usable.max(1))
    }
}

/// Mean cross-entropy (nats/char) of predicting each token of `ids` from the ones
/// before it, with state carried across batches as in training. Tokens that do not
/// fill a whole batch are not scored.
pub fn evaluate<'a, B: LstmBackend>(
    model: &CharRnn<B>,
    ids: impl Into<Tokens<'a>>,
    batch_size: usize,
    seq_len: usize,
    device: &B::Device,
) -> Result<f64, TooShort> {
    let ids = ids.into();
    let (bs, sl) = eval_shape(ids.len(), batch_size, seq_len);
    let batcher = Batcher::new(ids, bs, sl)?;
    let mut state = ModelState::zeros(&model.config(), bs, device);
    let mut total = 0.0;
    for batch in batcher.iter_from(0) {
        let (inputs, targets) = batch_tensors::<B>(&batch, device);
        let (logits, next) = model.forward(inputs, state);
        total += model.loss(logits, targets).into_scalar().elem::<f64>();
        state = next;
    }
    Ok(total / batcher.num_batches() as f64)
}
