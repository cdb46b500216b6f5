#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

/// Compiles `$body` (a function of slices) for AVX-512, AVX2+FMA and the
/// baseline, and defines `pub fn $name` that runs the best one this CPU has.
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn portable($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) -> $ret {
                    portable($($arg),*)
                }
                match crate::simd_level() {
                    // SAFETY: `simd_level` never names instructions the CPU lacks.
                    crate::SimdLevel::Avx512 => return unsafe { v4($($arg),*) },
                    // SAFETY: as above.
                    crate::SimdLevel::Avx2 => return unsafe { v3($($arg),*) },
                    crate::SimdLevel::Baseline => {}
                }
            }
            portable($($arg),*)
        }
    };
}

mod activations;
mod dispatch;
#[cfg(test)]
mod every_size;
mod gemv;
#[cfg(target_arch = "x86_64")]
mod kernel;
mod mat;
mod matmul;
mod order;
mod packed;
mod shared_mut;
mod simd;
mod team;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use activations::{exp, lstm_cell, lstm_cell_backward, sigmoid, softmax, tanh};
pub use gemv::{Bf16, Weight};
pub use mat::{Mat, Output};
pub use matmul::{dot, matmul, product};
pub use packed::{matmul_packed, matmul_packed_in_thread, PackedRhs};
pub use shared_mut::SharedMut;
pub use simd::{simd_level, SimdError, SimdLevel, SIMD_ENV};
pub use team::Team;

#[cfg(test)]
mod tests;
