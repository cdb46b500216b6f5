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
    thread_local! {
        static SUMS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let (k, w) = (x.len(), y.len());
    assert!(k == 0 || b.len() >= (k - 1) * ldb + w);
    SUMS.with_borrow_mut(|sums| {
        if sums.len() < w {
            sums.resize(w, 0.0);
        }
        let product = Product {
            y,
            x,
            b,
            ldb,
            accumulate,
            sums: &mut sums[..w],
        };
        at_this_level(product);
    });
}

/// One call of [`vec_mat`], with `sums`, a scratch row as long as `y`.
struct Product<'a, W> {
    y: &'a mut [f32],
    x: &'a [f32],
    b: &'a [W],
    ldb: usize,
    accumulate: bool,
    sums: &'a mut [f32],
}

/// Runs the product compiled for this CPU's SIMD level. The loop is called
/// directly from each `#[target_feature]` function, with no closure in
/// between: a closure does not inherit the features, and its multiply-adds
/// would become calls to a software `fmaf`.
fn at_this_level<W: Weight>(product: Product<'_, W>) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn v4<W: Weight>(product: Product<'_, W>) {
            vec_mat_in_order::<W, true>(product)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn v3<W: Weight>(product: Product<'_, W>) {
            vec_mat_in_order::<W, true>(product)
        }
        match crate::simd_level() {
            // SAFETY: `simd_level` never names instructions the CPU lacks.
            crate::SimdLevel::Avx512 => return unsafe { v4(product) },
            // SAFETY: as above.
            crate::SimdLevel::Avx2 => return unsafe { v3(product) },
            crate::SimdLevel::Baseline => {}
        }
    }
    vec_mat_in_order::<W, { crate::order::BASELINE_FUSES }>(product)
}

/// The product, compiled once per weight type and SIMD level. It is bound by
/// reading the weights, so it reads four rows of them at a time, in memory
/// order, into the row of block sums, which stays in L1.
#[inline(always)]
fn vec_mat_in_order<W: Weight, const FUSED: bool>(product: Product<'_, W>) {
    let Product {
        y,
        x,
        b,
        ldb,
        accumulate,
        sums,
    } = product;
    let (k, w) = (x.len(), y.len());
    if k == 0 && !accumulate {
        y.fill(0.0);
    }
    let depth = crate::order::depth_step(k);
    for p0 in (0..k).step_by(depth) {
        sums.fill(0.0);
        let xs = &x[p0..(p0 + depth).min(k)];
        let mut quads = xs.chunks_exact(4);
        let mut p = p0;
        for xq in &mut quads {
            let r0 = &b[p * ldb..p * ldb + w];
            let r1 = &b[(p + 1) * ldb..(p + 1) * ldb + w];
            let r2 = &b[(p + 2) * ldb..(p + 2) * ldb + w];
            let r3 = &b[(p + 3) * ldb..(p + 3) * ldb + w];
            for ((((s, a0), a1), a2), a3) in sums.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                let s01 =
                    mul_add::<FUSED>(xq[1], a1.value(), mul_add::<FUSED>(xq[0], a0.value(), *s));
                *s = mul_add::<FUSED>(xq[3], a3.value(), mul_add::<FUSED>(xq[2], a2.value(), s01));
            }
            p += 4;
        }
        for &xp in quads.remainder() {
            for (s, a) in sums.iter_mut().zip(&b[p * ldb..p * ldb + w]) {
                *s = mul_add::<FUSED>(xp, a.value(), *s);
            }
            p += 1;
        }
        if p0 == 0 && !accumulate {
            y.copy_from_slice(sums);
        } else {
            for (y, s) in y.iter_mut().zip(&*sums) {
                *y += s;
            }
        }
    }
}

use crate::order::mul_add;

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
