#![doc = include_str!("../README.md")]
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
