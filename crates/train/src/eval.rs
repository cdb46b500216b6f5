//! Mean cross-entropy of a text under a model, batched like training.

use burn::tensor::ElementConversion;
use charrnn_batch::{Batcher, Ids, TooShort};
use charrnn_model::{CharRnn, LstmBackend, ModelState};

use crate::batch_tensors::batch_tensors;
use crate::collective::{Collective, SingleProcess};

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
    evaluate_shared(model, ids, (batch_size, seq_len), device, &SingleProcess)
}

/// [`evaluate`] shared by the processes of `world`: each scores its share of
/// the streams, and the sums are added up. Every process gets the same
/// result.
pub fn evaluate_shared<'a, B: LstmBackend>(
    model: &CharRnn<B>,
    ids: impl Into<Ids<'a>>,
    (batch_size, seq_len): (usize, usize),
    device: &B::Device,
    world: &dyn Collective,
) -> Result<f64, TooShort> {
    let ids = ids.into();
    let (bs, sl) = eval_shape(ids.len(), batch_size, seq_len);
    let batcher = Batcher::new(ids, bs, sl)?;
    let rows = Batcher::share(bs, world.rank(), world.size());
    // Sum over this process's rows of each batch's mean loss per row.
    let mut mine = 0.0;
    if !rows.is_empty() {
        let share = batcher.clone().shard(rows.clone());
        let mut state = ModelState::zeros(&model.config(), rows.len(), device);
        for batch in share.iter_from(0) {
            let (inputs, targets) = batch_tensors::<B>(&batch, device);
            let (logits, next) = model.forward(inputs, state);
            let mean = model.loss(logits, targets).into_scalar().elem::<f64>();
            mine += mean * rows.len() as f64;
            state = next;
        }
    }
    // An f64 travels as two f32s (high part, rest) and loses nothing that
    // matters.
    let high = mine as f32;
    let mut sums = [high, (mine - f64::from(high)) as f32];
    world.all_reduce_sum(&mut sums);
    let total = f64::from(sums[0]) + f64::from(sums[1]);
    Ok(total / (batcher.num_batches() * bs) as f64)
}
