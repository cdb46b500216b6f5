//! The vector-matrix product of generation at batch 1.
//!
//! It is bound by reading the weights, so it reads them in the order they lie
//! in memory, four rows at a time, keeping the output row (a few KiB) in L1.
//! Weights come as `f32`, or as [`Bf16`] for a first pass at half the traffic.

/// A weight stored as bfloat16: the upper half of an `f32` (8 bits of
/// mantissa), rounded to nearest.
///
/// Not the `half` crate's `bf16`: its conversion to `f32` quiets NaNs with a
/// compare and select per weight, and the sampler's first pass, a product
/// bound by reading these weights, ran markedly slower with it (BENCHMARKS.md,
/// 2026-12-01). Weights are never NaN here, so a shift is the whole conversion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Bf16(u16);

impl Bf16 {
    /// `x` rounded to the nearest bfloat16 (ties to even).
    pub fn round(x: f32) -> Self {
        let bits = x.to_bits();
        let rounding = 0x7FFF + ((bits >> 16) & 1);
        Self((bits.wrapping_add(rounding) >> 16) as u16)
    }

    /// The value, exactly, as an `f32`.
    #[inline(always)]
    pub fn to_f32(self) -> f32 {
        f32::from_bits((self.0 as u32) << 16)
    }
}

/// A weight type the vector-matrix product ([`Team::vec_mat`](crate::Team::vec_mat)) reads: `f32` or [`Bf16`].
pub trait Weight: Copy + Send + Sync {
    /// The value as an `f32`.
    fn value(self) -> f32;
}

impl Weight for f32 {
    #[inline(always)]
    fn value(self) -> f32 {
        self
    }
}

impl Weight for Bf16 {
    #[inline(always)]
    fn value(self) -> f32 {
        self.to_f32()
    }
}

/// `y = [y +] x · B`, where `B` has `x.len()` rows `ldb` apart in `b`, of which
/// columns `0..y.len()` are read. Each element is summed in the crate's one
/// order (`order.rs`), so it equals, bit for bit, the same row and column of
/// any packed product at this SIMD level.
pub fn vec_mat<W: Weight>(y: &mut [f32], x: &[f32], b: &[W], ldb: usize, accumulate: bool) {
    let (k, w) = (x.len(), y.len());
    assert!(k == 0 || b.len() >= (k - 1) * ldb + w);
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn v4<W: Weight>(y: &mut [f32], x: &[f32], b: &[W], ldb: usize, acc: bool) {
            vec_mat_in_order::<W, true>(y, x, b, ldb, acc)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3<W: Weight>(y: &mut [f32], x: &[f32], b: &[W], ldb: usize, acc: bool) {
            vec_mat_in_order::<W, true>(y, x, b, ldb, acc)
        }
        match crate::simd_level() {
            // SAFETY: `simd_level` never names instructions the CPU lacks.
            crate::SimdLevel::Avx512 => return unsafe { v4(y, x, b, ldb, accumulate) },
            // SAFETY: as above.
            crate::SimdLevel::Avx2 => return unsafe { v3(y, x, b, ldb, accumulate) },
            crate::SimdLevel::Baseline => {}
        }
    }
    vec_mat_in_order::<W, { crate::order::BASELINE_FUSES }>(y, x, b, ldb, accumulate)
}

/// The product, compiled once per weight type and SIMD level. It is bound by
/// reading the weights, so it reads four rows of them at a time, in memory
/// order, into a row of block sums that stays in L1.
#[inline(always)]
fn vec_mat_in_order<W: Weight, const FUSED: bool>(
    y: &mut [f32],
    x: &[f32],
    b: &[W],
    ldb: usize,
    accumulate: bool,
) {
    thread_local! {
        static SUMS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let (k, w) = (x.len(), y.len());
    if k == 0 && !accumulate {
        y.fill(0.0);
    }
    let row = |p: usize| &b[p * ldb..p * ldb + w];
    let ma = crate::order::mul_add::<FUSED>;
    SUMS.with_borrow_mut(|sums| {
        sums.resize(w.max(sums.len()), 0.0);
        let sums = &mut sums[..w];
        let depth = crate::order::depth_step(k);
        for p0 in (0..k).step_by(depth) {
            sums.fill(0.0);
            let xs = &x[p0..(p0 + depth).min(k)];
            let mut quads = xs.chunks_exact(4);
            for (q, xq) in (&mut quads).enumerate() {
                let p = p0 + 4 * q;
                let (r0, r1, r2, r3) = (row(p), row(p + 1), row(p + 2), row(p + 3));
                for ((((s, a0), a1), a2), a3) in sums.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                    let s01 = ma(xq[1], a1.value(), ma(xq[0], a0.value(), *s));
                    *s = ma(xq[3], a3.value(), ma(xq[2], a2.value(), s01));
                }
            }
            let done = p0 + xs.len() - quads.remainder().len();
            for (p, &xp) in quads.remainder().iter().enumerate() {
                for (s, a) in sums.iter_mut().zip(row(done + p)) {
                    *s = ma(xp, a.value(), *s);
                }
            }
            if p0 == 0 && !accumulate {
                y.copy_from_slice(sums);
            } else {
                y.iter_mut().zip(&*sums).for_each(|(y, s)| *y += s);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_and_converts_back_exactly() {
        for x in [0.0f32, 1.0, -2.5, 1e-3, 3.0e7, -7.25e-5] {
            let r = Bf16::round(x).to_f32();
            assert!((r - x).abs() <= x.abs() * 2f32.powi(-9), "{x} -> {r}");
            assert_eq!(Bf16::round(r).to_f32(), r, "a bfloat16 value is kept");
        }
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties go to even (1).
        assert_eq!(Bf16::round(1.0 + 2f32.powi(-8)).to_f32(), 1.0);
        assert_eq!(
            Bf16::round(1.0 + 3.0 * 2f32.powi(-8)).to_f32(),
            1.0 + 2f32.powi(-6)
        );
    }

    #[test]
    fn bf16_product_is_the_product_of_the_rounded_weights() {
        let (k, n) = (13, 37);
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let rounded: Vec<Bf16> = b.iter().map(|&w| Bf16::round(w)).collect();
        let exact_rounded: Vec<f32> = rounded.iter().map(|w| w.to_f32()).collect();
        let (mut got, mut want) = (vec![0.5; n], vec![0.5; n]);
        vec_mat(&mut got, &x, &rounded, n, true);
        vec_mat(&mut want, &x, &exact_rounded, n, true);
        assert_eq!(got, want);
    }
}
