//! Mean cross-entropy of a text under a model, batched like training.

use burn::tensor::ElementConversion;
use charrnn_batch::{Batcher, Ids, TooShort};
use charrnn_model::{CharRnn, LstmBackend, ModelState};

use crate::batch_tensors::batch_tensors;

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
    ids: impl Into<Ids<'a>>,
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
