//! The order in which every product of this crate sums a row: one rule, so a
//! row's result never depends on the path (tile, vector-matrix product) or
//! the thread that computes it.
//!
//! For each element `y = [y +] Σₚ x[p] · B[p, j]`, the depth `k` is cut into
//! blocks of [`depth_step`]; each block's terms are summed from zero in the
//! order of `p`, every term a multiply-add (fused at the AVX2 and AVX-512
//! levels, and at the baseline where the target has FMA), and
//! the block's sum is then added to `y` (the first block of a product that
//! overwrites `y` is stored, not added). The GEMM tiles (`kernel.rs`) and the
//! vector-matrix product (`gemv.rs`) both follow it, which is what lets the
//! generation engine promise that a stream's text does not depend on how many
//! streams run beside it, or on how many threads share the work.

/// Greatest depth of one block of `k`. Deeper blocks mean fewer passes over
/// `C`: a `KC × NR` panel of `B` (up to 96 KiB) then streams from L2 rather
/// than sitting in L1, which the two FMA ports do not notice (BENCHMARKS.md,
/// "GEMM blocks of k").
pub(crate) const KC: usize = 512;

/// The depth of each block of `k`: as even as blocks of at most [`KC`]
/// allow, so that no short last block makes one more pass over `C` for little
/// work.
pub(crate) fn depth_step(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1)).max(1)
}

/// Whether the baseline level fuses its multiply-adds: where the target
/// itself guarantees FMA instructions (x86-64 without them would call a
/// slow software `fmaf` for every term).
pub(crate) const BASELINE_FUSES: bool = cfg!(any(target_feature = "fma", target_arch = "aarch64"));

/// `x · b + acc`, rounded once when `FUSED`, else twice.
#[inline(always)]
pub(crate) fn mul_add<const FUSED: bool>(x: f32, b: f32, acc: f32) -> f32 {
    if FUSED {
        x.mul_add(b, acc)
    } else {
        x * b + acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_blocks_are_even_and_never_deeper_than_kc() {
        for k in [1, 47, 511, 512, 513, 1024, 1025, 1537, 4400] {
            let step = depth_step(k);
            assert!(step <= KC, "k {k}: step {step}");
            let blocks = k.div_ceil(step);
            assert_eq!(blocks, k.div_ceil(KC), "k {k}: fewest blocks");
            // The last block is at most one shorter than the others.
            assert!(k - (blocks - 1) * step + blocks > step, "k {k}: even");
        }
    }
}
