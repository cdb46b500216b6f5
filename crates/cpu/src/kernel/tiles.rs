//! The micro-kernels: an `MR × NR` tile of `C` in AVX-512 registers, or
//! AVX2's 6-row strips over the same panels.

use std::arch::x86_64::*;

use super::{Start, MR, NR, NV};

/// The micro-kernel this CPU runs: its tile and the rows of `C` it covers.
#[derive(Clone, Copy)]
pub(super) struct Kernel {
    pub(super) tile: Tile,
    pub(super) rows: usize,
}

impl Kernel {
    pub(super) fn for_this_cpu() -> Self {
        match crate::simd_level() {
            crate::SimdLevel::Avx512 => Self {
                tile: tile_avx512,
                rows: MR,
            },
            _ => Self {
                tile: tile_avx2,
                rows: STRIP_ROWS,
            },
        }
    }
}

/// Rows of `C` per tile on this CPU: the unit in which a product's rows are
/// split between threads.
pub(crate) fn tile_rows() -> usize {
    Kernel::for_this_cpu().rows
}

/// One tile of work: `mr × nr` of `C` at `c` (row stride `ldc`, at most
/// `rows × NR` of the [`Kernel`]) from `kc` rows of a packed panel of `B` at
/// `b` and rows of `A`, element `p` of row `r` at `a[r] + p * a_step`
/// (pointers past `mr` repeat the last row).
#[derive(Clone, Copy)]
pub(super) struct TileJob {
    pub(super) kc: usize,
    pub(super) a: [*const f32; MR],
    pub(super) a_step: usize,
    pub(super) b: *const f32,
    pub(super) c: *mut f32,
    pub(super) ldc: usize,
    pub(super) mr: usize,
    pub(super) nr: usize,
    pub(super) start: Start,
}

/// Runs a [`TileJob`].
///
/// # Safety
/// The tile's instructions must be present; the panel, the rows of `A` and
/// the tile of `C` must be in bounds, and the tile ours alone.
type Tile = unsafe fn(TileJob);

/// The [`Tile`] in 24 AVX-512 registers.
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(job: TileJob) {
    let TileJob {
        kc,
        a,
        a_step,
        b,
        c,
        ldc,
        mr,
        nr,
        start,
    } = job;
    // SAFETY: AVX-512F is enabled for this function, and the caller
    // guarantees that the panels and the tile it points into are in bounds.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        for p in 0..kc {
            let mut bv = [_mm512_setzero_ps(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_loadu_ps(b.add(p * NR + 16 * v));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a[r].add(p * a_step));
                for (v, y) in row.iter_mut().enumerate() {
                    *y = _mm512_fmadd_ps(x, bv[v], *y);
                }
            }
        }
        for (r, row) in acc.iter().enumerate().take(mr) {
            let dst = c.add(r * ldc);
            for (v, &y) in row.iter().enumerate() {
                // Lanes of this vector that fall inside the tile; masked-off lanes
                // are neither read nor written, even past the end of `C`.
                let lanes = nr.saturating_sub(16 * v).min(16);
                let mask = ((1u32 << lanes) - 1) as __mmask16;
                let at = dst.wrapping_add(16 * v);
                let y = match start {
                    Start::Zero => y,
                    Start::Accumulate => _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, at)),
                    Start::Bias(bias) => {
                        _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, bias.wrapping_add(16 * v)))
                    }
                };
                _mm512_mask_storeu_ps(at, mask, y);
            }
        }
    }
}

/// 8-lane vectors per row of a strip of an AVX2 tile.
const STRIP_VECS: usize = 2;
/// Columns of a strip.
const STRIP_COLS: usize = 8 * STRIP_VECS;
/// Rows of an AVX2 tile: 12 accumulators, 2 vectors of `B` and a broadcast
/// of `A` fit AVX2's 16 registers.
const STRIP_ROWS: usize = 6;

/// The [`Tile`] on AVX2 + FMA (at most [`STRIP_ROWS`] rows), as three
/// strips of 16 columns over the panel.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2(job: TileJob) {
    for j0 in (0..job.nr).step_by(STRIP_COLS) {
        let strip = TileJob {
            b: job.b.wrapping_add(j0),
            c: job.c.wrapping_add(j0),
            nr: job.nr - j0,
            start: job.start.offset(j0),
            ..job
        };
        // SAFETY: the caller's guarantees for the tile cover its strips.
        unsafe {
            match job.mr {
                1 => strip_avx2::<1>(strip),
                2 => strip_avx2::<2>(strip),
                3 => strip_avx2::<3>(strip),
                4 => strip_avx2::<4>(strip),
                5 => strip_avx2::<5>(strip),
                _ => strip_avx2::<STRIP_ROWS>(strip),
            }
        }
    }
}

/// Rows `..R` × columns `..nr.min(16)` of the job's tile, from columns
/// `0..16` of its panel.
#[target_feature(enable = "avx2,fma")]
unsafe fn strip_avx2<const R: usize>(job: TileJob) {
    let TileJob {
        kc,
        a_step,
        b,
        c,
        ldc,
        nr: cols,
        start,
        ..
    } = job;
    let a: [*const f32; R] = std::array::from_fn(|r| job.a[r]);
    // SAFETY: AVX2 and FMA are enabled for this function, and the caller
    // guarantees that the panel, the rows of `A` and the strip of `C` are in
    // bounds.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); STRIP_VECS]; R];
        let step = |acc: &mut [[__m256; STRIP_VECS]; R], p: usize| {
            let b0 = _mm256_loadu_ps(b.add(p * NR));
            let b1 = _mm256_loadu_ps(b.add(p * NR + 8));
            for (r, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a[r].add(p * a_step));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
        };
        // Four steps a turn: the loop's own counting no longer competes with
        // the loads and FMAs (BENCHMARKS.md).
        let mut p = 0;
        while p + 4 <= kc {
            step(&mut acc, p);
            step(&mut acc, p + 1);
            step(&mut acc, p + 2);
            step(&mut acc, p + 3);
            p += 4;
        }
        for p in p..kc {
            step(&mut acc, p);
        }
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        for (r, row) in acc.iter().enumerate() {
            let dst = c.add(r * ldc);
            for (v, &y) in row.iter().enumerate() {
                let lanes = cols.saturating_sub(8 * v).min(8);
                if lanes == 0 {
                    break;
                }
                let at = dst.wrapping_add(8 * v);
                let from = match start {
                    Start::Zero => None,
                    Start::Accumulate => Some(at.cast_const()),
                    Start::Bias(bias) => Some(bias.wrapping_add(8 * v)),
                };
                if lanes == 8 {
                    // Whole vectors without masks: AVX2's masked moves are slow.
                    let y = from.map_or(y, |from| _mm256_add_ps(y, _mm256_loadu_ps(from)));
                    _mm256_storeu_ps(at, y);
                } else {
                    // Lanes past the strip are neither read nor written, even
                    // past the end of `C`.
                    let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), lane);
                    let y = from.map_or(y, |from| _mm256_add_ps(y, _mm256_maskload_ps(from, mask)));
                    _mm256_maskstore_ps(at, mask, y);
                }
            }
        }
    }
}
