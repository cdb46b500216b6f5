//! Which code runs a product: this crate's tiles (`kernel.rs`) on x86 with
//! AVX2 or AVX-512, the `gemm` crate otherwise, split across rayon's threads
//! when large.

#[cfg(target_arch = "x86_64")]
use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use crate::{kernel, simd_level, SimdLevel};

/// Products with fewer multiply-adds than this stay on one thread.
pub(crate) const PARALLEL_WORK: usize = 1 << 18;

/// Whether a product with `m` rows of an unpacked `B` runs on charrnn's
/// kernel: on AVX-512, with a few rows to fill its 8-row tiles (a
/// vector-matrix product is bound by memory, where the `gemm` crate's path is
/// as good). On AVX2 the `gemm` crate, which packs as it goes, is as fast on
/// a training step's large products (BENCHMARKS.md).
#[cfg(target_arch = "x86_64")]
pub(crate) fn use_kernel(m: usize) -> bool {
    m >= 4 && simd_level() == SimdLevel::Avx512
}

/// Whether [`PackedRhs`] packs panels for charrnn's kernel: on AVX-512 and on
/// AVX2 + FMA, where a `B` packed once makes the kernel 1.5–2.5× the `gemm`
/// crate on the products of a few dozen rows (an LSTM's recurrent step, many
/// streams' generation step).
#[cfg(target_arch = "x86_64")]
pub(crate) fn packs_panels() -> bool {
    simd_level() != SimdLevel::Baseline
}

/// The view of a row-major `rows × cols` operand (stored transposed when `t`).
#[cfg(target_arch = "x86_64")]
pub(crate) fn view(x: &[f32], rows: usize, cols: usize, t: bool) -> kernel::View {
    let (rs, cs) = if t { (1, rows) } else { (cols, 1) };
    kernel::View {
        ptr: x.as_ptr(),
        rs,
        cs,
    }
}

/// `dst (m×n) = start + a · b` on charrnn's kernel, from operands stored
/// row-major (or transposed, per `a_t` / `b_t`) in their slices.
///
/// # Safety
/// AVX2 and FMA must be present, `a` and `b` must hold their operands, and
/// `dst` must point at `m * n` writable floats.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn kernel_strided(
    dst: *mut f32,
    a: &[f32],
    b: &[f32],
    [m, k, n]: [usize; 3],
    (a_t, b_t): (bool, bool),
    start: kernel::Start,
) {
    let b = kernel::Rhs::Strided(view(b, k, n, b_t));
    // SAFETY: the caller's guarantees.
    unsafe { kernel_matmul(dst, view(a, m, k, a_t), b, [m, k, n], start) }
}

/// Splits the product across rayon's threads (when it is large enough), by
/// columns when `C` is wide and by rows when it is tall, in whole tiles.
///
/// # Safety
/// AVX2 and FMA must be present and the views must lie inside their slices.
#[cfg(target_arch = "x86_64")]
pub(crate) unsafe fn kernel_matmul(
    dst: *mut f32,
    a: kernel::View,
    b: kernel::Rhs<'_>,
    [m, k, n]: [usize; 3],
    start: kernel::Start,
) {
    struct Dst(*mut f32);
    // SAFETY: each thread writes its own rows or columns of `dst`.
    unsafe impl Sync for Dst {}
    impl Dst {
        fn ptr(&self) -> *mut f32 {
            self.0
        }
    }
    let c = Dst(dst);
    let threads = if m * k * n >= PARALLEL_WORK {
        rayon::current_num_threads().max(1)
    } else {
        1
    };
    let run = |rows: (usize, usize), cols: (usize, usize)| {
        // SAFETY: the caller's guarantees; `rows × cols` is this task's own part.
        unsafe { kernel::gemm(c.ptr(), n, a, b, k, rows, cols, start) }
    };
    if threads == 1 {
        run((0, m), (0, n));
    } else if n >= m {
        let chunk = n.div_ceil(threads).div_ceil(kernel::NR) * kernel::NR;
        (0..n.div_ceil(chunk))
            .into_par_iter()
            .for_each(|t| run((0, m), (t * chunk, ((t + 1) * chunk).min(n))));
    } else {
        let rows = kernel::tile_rows();
        let chunk = m.div_ceil(threads).div_ceil(rows) * rows;
        (0..m.div_ceil(chunk))
            .into_par_iter()
            .for_each(|t| run((t * chunk, ((t + 1) * chunk).min(m)), (0, n)));
    }
}

/// `gemm::gemm` with `dst = [dst +] a · b` (no scaling, no conjugation);
/// `dst` has unit column stride. Operands are `(pointer, column stride, row
/// stride)`.
///
/// # Safety
/// Every element gemm reaches through the shapes and strides must lie inside
/// the memory behind each pointer, and `dst` must not overlap `a` or `b`.
pub(crate) unsafe fn gemm_raw(
    [m, k, n]: [usize; 3],
    (dst, dst_rs): (*mut f32, isize),
    accumulate: bool,
    (a, a_cs, a_rs): (*const f32, isize, isize),
    (b, b_cs, b_rs): (*const f32, isize, isize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's guarantees are gemm's.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs,
            accumulate,
            a,
            a_cs,
            a_rs,
            b,
            b_cs,
            b_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    };
}
