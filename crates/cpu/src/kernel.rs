//! charrnn's packed single-precision GEMM (the BLIS loop nest), with a tile
//! for AVX-512 and one for AVX2 + FMA.
//!
//! The `gemm` crate ran a training step's products at about half this
//! kernel's speed (which is 50–75 % of the FMA peak of a 2-core Xeon). `B` is packed
//! into `KC × NR` panels that stay in L1 or L2 while `A`, packed into panels of
//! a tile's rows, streams past them; the AVX-512 tile keeps an `MR × NR` tile of
//! `C` in 24 registers. A matrix used for many products (the recurrent weights
//! of an LSTM, once per step of a sequence) can be packed once ([`PackedB`]).
//! Both tiles share the panels: AVX2's 16 registers hold 6 rows × 16 columns,
//! so its tile (6 × `NR`) runs as three strips over the panel.

use std::cell::RefCell;

use crate::order::{depth_step, KC};

/// Most rows of `C` per micro-kernel tile (AVX-512's; AVX2's tile has
/// [`STRIP_ROWS`]).
pub(crate) const MR: usize = 8;
/// 16-lane vectors per row of a micro-kernel tile.
const NV: usize = 3;
/// Columns of `C` per micro-kernel tile.
pub(crate) const NR: usize = 16 * NV;
/// Rows of `A` packed at once (`MC × KC` is up to 512 KiB, in L2).
pub(crate) const MC: usize = 256;
/// Columns of `B` packed at once: whole panels, so that every block of
/// columns after the first starts on a panel of a [`PackedB`].
pub(crate) const NC: usize = 85 * NR;
const _: () = assert!(NC.is_multiple_of(NR), "a block of columns is whole panels");

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

impl Start {
    /// The start of the part of `C` that begins `cols` columns further on.
    fn offset(self, cols: usize) -> Self {
        match self {
            Start::Bias(bias) => Start::Bias(bias.wrapping_add(cols)),
            other => other,
        }
    }
}

// SAFETY: the bias is only read, while the caller borrows its slice.
unsafe impl Send for Start {}
// SAFETY: as for Send: shared reads of a borrowed slice.
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
// SAFETY: as for Send: shared reads of a borrowed slice.
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

    /// The panels of the block that starts at row `p0` covering columns
    /// `j0..j0 + nc`.
    ///
    /// # Panics
    /// When `j0` is not the start of a panel or the panels lie outside the
    /// packed data: a tile would read the wrong weights, or past the end.
    fn block(&self, p0: usize, j0: usize, nc: usize) -> &[f32] {
        assert!(
            j0.is_multiple_of(NR),
            "column {j0} does not start a panel of {NR}"
        );
        let kc = depth_step(self.k).min(self.k - p0);
        let start = p0 * self.n_padded() + j0 * kc;
        &self.data[start..start + nc.div_ceil(NR) * NR * kc]
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
/// The CPU must support AVX2 and FMA (and runs the AVX-512 tile when
/// [`simd_level`](crate::simd_level) says AVX-512); every element the views
/// reach must be readable, and the part of `C` written must not be read or
/// written by anyone else meanwhile.
#[allow(clippy::too_many_arguments)]
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
    let Kernel {
        tile,
        rows: tile_rows,
    } = Kernel::for_this_cpu();
    BUFFERS.with_borrow_mut(
        // SAFETY: the caller guarantees the views, the packed panels and
        // rows/columns of `c` are in bounds, and the tile's instructions are
        // present.
        |(a_buf, b_buf)| unsafe {
            let a_len = MC.div_ceil(tile_rows) * tile_rows * KC;
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
                        Rhs::Packed(packed) => packed.block(p0, j0, nc).as_ptr(),
                    };
                    let start = if p0 > 0 { Start::Accumulate } else { start };
                    // Rows stored row by row are read in place: packing them would
                    // be a transpose into MR-wide columns, a pass over A per block.
                    let in_place = a.cs == 1;
                    for i0 in (i_start..i_end).step_by(MC) {
                        let mc = MC.min(i_end - i0);
                        if !in_place {
                            pack_a(a_buf, tile_rows, a, i0, mc, p0, kc);
                        }
                        for jr in (0..nc).step_by(NR) {
                            let nr = NR.min(nc - jr);
                            let bp = b_panels.add(jr * kc);
                            for ir in (0..mc).step_by(tile_rows) {
                                let mr = tile_rows.min(mc - ir);
                                // Row r of the tile's A, read at p * step. Rows
                                // past the edge repeat the last one (their
                                // results are not stored).
                                let (rows, step) = if in_place {
                                    let row = |r: usize| a.at(i0 + ir + r.min(mr - 1), p0);
                                    (std::array::from_fn(row), 1)
                                } else {
                                    let panel = a_buf.as_ptr().add(ir * kc);
                                    let row = |r: usize| panel.add(r.min(mr - 1));
                                    (std::array::from_fn(row), tile_rows)
                                };
                                let cp = c.add((i0 + ir) * ldc + j0 + jr);
                                let job = TileJob {
                                    kc,
                                    a: rows,
                                    a_step: step,
                                    b: bp,
                                    c: cp,
                                    ldc,
                                    mr,
                                    nr,
                                    start: start.offset(j0 + jr),
                                };
                                tile(job);
                            }
                        }
                    }
                }
            }
        },
    );
}

/// Packs rows `i0..i0+mc`, columns `p0..p0+kc` of `a` into `width`-row
/// panels, each stored column by column (`width` values per column),
/// zero-padded.
///
/// # Safety
/// Those rows and columns of `a` must be readable.
unsafe fn pack_a(
    buf: &mut [f32],
    width: usize,
    a: View,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
) {
    for (panel, ir) in (0..mc).step_by(width).enumerate() {
        let out = &mut buf[panel * width * kc..(panel + 1) * width * kc];
        let rows = width.min(mc - ir);
        if rows < width {
            out.fill(0.0);
        }
        if a.cs == 1 {
            for r in 0..rows {
                // SAFETY: the row lies inside `a` (the caller's guarantee).
                let src = unsafe { std::slice::from_raw_parts(a.at(i0 + ir + r, p0), kc) };
                for (p, &x) in src.iter().enumerate() {
                    out[p * width + r] = x;
                }
            }
        } else if a.rs == 1 {
            // Stored column by column (a transposed operand): each column of
            // the panel is a contiguous run.
            for (p, col) in out.chunks_exact_mut(width).enumerate() {
                // SAFETY: the run lies inside `a`.
                let src = unsafe { std::slice::from_raw_parts(a.at(i0 + ir, p0 + p), rows) };
                col[..rows].copy_from_slice(src);
            }
        } else {
            for p in 0..kc {
                for r in 0..rows {
                    // SAFETY: inside `a`.
                    out[p * width + r] = unsafe { *a.at(i0 + ir + r, p0 + p) };
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

mod tiles;

pub(crate) use tiles::tile_rows;
use tiles::{Kernel, TileJob};

#[cfg(test)]
mod tests;
