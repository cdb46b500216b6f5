//! A character-level LSTM language model on [burn](https://burn.dev).
//!
//! The model is the seed notebook's: an embedding, `num_layers` stacked LSTM layers
//! with dropout after each, and a linear layer over the vocabulary. Its LSTM layer,
//! [`FusedLstm`], works the cuDNN way: the input projection of the whole sequence
//! is one matrix product, each time step does one `[batch, hidden] x [hidden,
//! 4*hidden]` product, and the recurrence is one operation of the autodiff graph
//! with a hand-written backward pass (see [`LstmBackend`]), instead of hundreds of
//! small tracked operations.
//!
//! Layout is time-major inside the model: `[seq_len, batch, features]`, so each
//! step reads a contiguous block. [`CharRnn::forward`] takes batch-major ids
//! `[batch, seq_len]` like the batcher makes, and returns logits in time-major
//! rows (`row = t * batch + b`), matched by [`CharRnn::loss`].

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod backend;
mod char_rnn;
#[cfg(feature = "cube")]
mod cube_kernels;
#[cfg(feature = "flex")]
mod flex_kernels;
mod lstm;

pub use backend::{
    portable_adam_step, portable_affine, portable_affine_backward,
    portable_cross_entropy_with_grad, portable_dropout_mask, portable_lstm_sequence,
    portable_lstm_sequence_backward, AdamStep, LstmBackend, LstmCache, LstmKernels, LstmSequence,
};
pub use char_rnn::{
    CharRnn, CharRnnConfig, InvalidValue, LayerState, ModelState, ParamCounts, MAX_LAYERS,
    MAX_VOCAB, MAX_WIDTH,
};
pub use lstm::FusedLstm;

/// SplitMix64's increment, `2^64 / φ`: spreads consecutive counters apart
/// before [`splitmix64`] mixes them.
pub const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function: a well-mixed 64-bit hash of `x`, for seeds
/// and counter-based random draws (dropout masks, per-step seeds).
pub fn splitmix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
