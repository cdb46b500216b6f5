//! A packed single-precision GEMM for AVX-512 (the BLIS loop nest).
//!
//! The `gemm` crate ran a training step's products at about half this
//! kernel's speed (which is 50–75 % of the FMA peak of a 2-core Xeon). `B` is packed
//! into `KC × NR` panels that stay in L1 or L2 while `A`, packed into `MR × KC`
//! panels, streams past them; one micro-kernel keeps an `MR × NR` tile of `C`
//! in 24 registers. A matrix used for many products (the recurrent weights of
//! an LSTM, once per step of a sequence) can be packed once ([`PackedB`]).

use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows of `C` per micro-kernel tile.
pub(crate) const MR: usize = 8;
/// 16-lane vectors per row of a micro-kernel tile.
const NV: usize = 3;
/// Columns of `C` per micro-kernel tile.
pub(crate) const NR: usize = 16 * NV;
/// Greatest depth of one packed block. Deeper blocks mean fewer passes over
/// `C`: a `KC × NR` panel of `B` (up to 96 KiB) then streams from L2 rather than
/// sitting in L1, which the two FMA ports do not notice (BENCHMARKS.md, "GEMM
/// blocks of k").
const KC: usize = 512;
/// Rows of `A` packed at once (`MC × KC` is up to 512 KiB, in L2).
const MC: usize = 256;
/// Columns of `B` packed at once.
const NC: usize = 4096;

/// What a product's first block of `k` adds to: nothing (`C` is not read, so it
/// may be uninitialised memory), the current `C`, or a bias row, one value per
/// column of `C` (`C = bias + A · B`, without writing the bias rows first).
#[derive(Clone, Copy)]
pub(crate) enum Start {
    Zero,
    Accumulate,
    Bias(*const f32),
}

impl From<bool> for Start {
    /// `accumulate` as a start.
    fn from(accumulate: bool) -> Self {
        if accumulate {
            Start::Accumulate
        } else {
            Start::Zero
        }
    }
}

// SAFETY: the bias is only read, while the caller borrows its slice.
unsafe impl Send for Start {}
unsafe impl Sync for Start {}

/// A read-only matrix in memory: element `(i, j)` lives at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: a `View` is only read, and only while the slice it was made from is
// borrowed by the caller of the GEMM.
unsafe impl Send for View {}
unsafe impl Sync for View {}

impl View {
    fn at(self, i: usize, j: usize) -> *const f32 {
        // SAFETY (for callers): in bounds when (i, j) is inside the matrix.
        self.ptr.wrapping_add(i * self.rs + j * self.cs)
    }
}

/// `B` (`k × n`) packed once for many products `A · B`.
pub struct PackedB {
    k: usize,
    n: usize,
    /// Blocks of `KC` rows, each a run of `KC × NR` panels covering all columns
    /// (the last panel zero-padded).
    data: Vec<f32>,
}

impl PackedB {
    /// Rows (the inner dimension of the product).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Columns.
    pub fn n(&self) -> usize {
        self.n
    }

    fn n_padded(&self) -> usize {
        self.n.div_ceil(NR) * NR
    }

    /// The panels of the block that starts at row `p0`, from column `j0` (a
    /// multiple of `NR`).
    fn block(&self, p0: usize, j0: usize) -> *const f32 {
        let kc = depth_step(self.k).min(self.k - p0);
        self.data[p0 * self.n_padded() + j0 * kc..].as_ptr()
    }
}

/// Packs `b` (`k × n`) for [`gemm`] with a packed right-hand side.
///
/// # Safety
/// Every element `(p, j)`, `p < k`, `j < n`, of `b` must be readable.
pub(crate) unsafe fn pack(b: View, k: usize, n: usize) -> PackedB {
    let n_pad = n.div_ceil(NR) * NR;
    let mut data = vec![0.0f32; k * n_pad];
    let depth = depth_step(k);
    for p0 in (0..k).step_by(depth) {
        let kc = depth.min(k - p0);
        // SAFETY: the caller's guarantee covers rows p0..p0+kc of b.
        unsafe { pack_b(&mut data[p0 * n_pad..], b, p0, kc, 0, n) };
    }
    PackedB { k, n, data }
}

/// The depth of each block of `k`: as even as blocks of at most `KC` allow, so
/// that no short last block makes one more pass over `C` for little work.
fn depth_step(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC).max(1)).max(1)
}

/// Where the right-hand side comes from.
#[derive(Clone, Copy)]
pub(crate) enum Rhs<'a> {
    /// Packed block by block as the product runs.
    Strided(View),
    /// Packed in advance.
    Packed(&'a PackedB),
}

/// `C (m×n) = start + A (m×k) · B (k×n)` over columns `j_start..j_end` and rows
/// `i_start..i_end` of `C`; `C` is row-major with row stride `ldc`.
///
/// # Safety
/// The CPU must support AVX-512F; every element the views reach must be
/// readable, and the part of `C` written must not be read or written by anyone
/// else meanwhile.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn gemm(
    c: *mut f32,
    ldc: usize,
    a: View,
    b: Rhs<'_>,
    k: usize,
    (i_start, i_end): (usize, usize),
    (j_start, j_end): (usize, usize),
    start: Start,
) {
    thread_local! {
        static BUFFERS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    }
    // SAFETY (the closure): the caller guarantees the views, the packed
    // panels and rows/columns of `c` are in bounds, and AVX-512F is present.
    BUFFERS.with_borrow_mut(|(a_buf, b_buf)| unsafe {
        let a_len = MC.div_ceil(MR) * MR * KC;
        if a_buf.len() < a_len {
            a_buf.resize(a_len, 0.0);
        }
        let b_len = NC.div_ceil(NR) * NR * KC;
        if matches!(b, Rhs::Strided(_)) && b_buf.len() < b_len {
            b_buf.resize(b_len, 0.0);
        }
        let depth = depth_step(k);
        for j0 in (j_start..j_end).step_by(NC) {
            let nc = NC.min(j_end - j0);
            for p0 in (0..k).step_by(depth) {
                let kc = depth.min(k - p0);
                let b_panels = match b {
                    Rhs::Strided(view) => {
                        pack_b(b_buf, view, p0, kc, j0, nc);
                        b_buf.as_ptr()
                    }
                    Rhs::Packed(packed) => packed.block(p0, j0),
                };
                let start = if p0 > 0 { Start::Accumulate } else { start };
                // Rows stored row by row are read in place: packing them would
                // be a transpose into MR-wide columns, a pass over A per block.
                let in_place = a.cs == 1;
                for i0 in (i_start..i_end).step_by(MC) {
                    let mc = MC.min(i_end - i0);
                    if !in_place {
                        pack_a(a_buf, a, i0, mc, p0, kc);
                    }
                    for jr in (0..nc).step_by(NR) {
                        let nr = NR.min(nc - jr);
                        let bp = b_panels.add(jr * kc);
                        for ir in (0..mc).step_by(MR) {
                            let mr = MR.min(mc - ir);
                            // Row r of the tile's A, read at p * step. Rows
                            // past the edge repeat the last one (their
                            // results are not stored).
                            let (rows, step) = if in_place {
                                let row = |r: usize| a.at(i0 + ir + r.min(mr - 1), p0);
                                (std::array::from_fn(row), 1)
                            } else {
                                let panel = a_buf.as_ptr().add(ir * kc);
                                (std::array::from_fn(|r| panel.add(r)), MR)
                            };
                            let cp = c.add((i0 + ir) * ldc + j0 + jr);
                            let start = match start {
                                Start::Bias(bias) => Start::Bias(bias.add(j0 + jr)),
                                other => other,
                            };
                            tile(kc, rows, step, bp, cp, ldc, mr, nr, start);
                        }
                    }
                }
            }
        }
    });
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of `a` into `MR`-row panels,
/// each stored column by column (`MR` values per column), zero-padded.
///
/// # Safety
/// Those rows and columns of `a` must be readable.
unsafe fn pack_a(buf: &mut [f32], a: View, i0: usize, mc: usize, p0: usize, kc: usize) {
    for (panel, ir) in (0..mc).step_by(MR).enumerate() {
        let out = &mut buf[panel * MR * kc..(panel + 1) * MR * kc];
        let rows = MR.min(mc - ir);
        if rows < MR {
            out.fill(0.0);
        }
        if a.cs == 1 {
            for r in 0..rows {
                // SAFETY: the row lies inside `a` (the caller's guarantee).
                let src = unsafe { std::slice::from_raw_parts(a.at(i0 + ir + r, p0), kc) };
                for (p, &x) in src.iter().enumerate() {
                    out[p * MR + r] = x;
                }
            }
        } else if a.rs == 1 {
            // Stored column by column (a transposed operand): each column of
            // the panel is a contiguous run.
            for (p, col) in out.chunks_exact_mut(MR).enumerate() {
                // SAFETY: the run lies inside `a`.
                let src = unsafe { std::slice::from_raw_parts(a.at(i0 + ir, p0 + p), rows) };
                col[..rows].copy_from_slice(src);
            }
        } else {
            for p in 0..kc {
                for r in 0..rows {
                    // SAFETY: inside `a`.
                    out[p * MR + r] = unsafe { *a.at(i0 + ir + r, p0 + p) };
                }
            }
        }
    }
}

/// Packs rows `p0..p0+kc`, columns `j0..j0+nc` of `b` into `NR`-column panels,
/// each stored row by row (`NR` values per row), zero-padded.
///
/// # Safety
/// Those rows and columns of `b` must be readable.
unsafe fn pack_b(buf: &mut [f32], b: View, p0: usize, kc: usize, j0: usize, nc: usize) {
    for (panel, jr) in (0..nc).step_by(NR).enumerate() {
        let out = &mut buf[panel * NR * kc..(panel + 1) * NR * kc];
        let cols = NR.min(nc - jr);
        if cols < NR {
            out.fill(0.0);
        }
        if b.cs == 1 {
            for p in 0..kc {
                // SAFETY: the row segment lies inside `b`.
                let src = unsafe { std::slice::from_raw_parts(b.at(p0 + p, j0 + jr), cols) };
                out[p * NR..p * NR + cols].copy_from_slice(src);
            }
        } else {
            // Column by column, so that the reads run along memory.
            for col in 0..cols {
                for p in 0..kc {
                    // SAFETY: inside `b`.
                    out[p * NR + col] = unsafe { *b.at(p0 + p, j0 + jr + col) };
                }
            }
        }
    }
}

/// One `mr × nr` tile of `C` (at most `MR × NR`) from a packed panel of `B`
/// and `MR` rows of `A`, element `p` of row `r` at `a[r] + p * a_step`.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn tile(
    kc: usize,
    a: [*const f32; MR],
    a_step: usize,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    mr: usize,
    nr: usize,
    start: Start,
) {
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
