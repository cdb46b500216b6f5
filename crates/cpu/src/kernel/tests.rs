//! Unit tests of `src/kernel.rs`.

use super::*;

/// Each start (zero, accumulate, bias) over ragged rows, columns and
/// depths, with `B` strided and packed, on this run's tile (the crate's
/// tests rerun at every SIMD level this CPU has).
#[test]
fn the_tile_of_this_level_matches_the_definition() {
    if crate::simd_level() == crate::SimdLevel::Baseline {
        return; // No tile at this level: the `gemm` crate serves it.
    }
    for (m, k, n) in [
        (1, 3, 5),
        (5, 17, 49),
        (7, 600, 100),
        (13, 64, 16),
        (6, 1, 47),
    ] {
        let (a, b) = crate::tests::operands(m, k, n);
        let want = crate::tests::naive(&a, &b, m, k, n);
        let bias: Vec<f32> = (0..n).map(|j| j as f32 - 3.0).collect();
        let a_view = View {
            ptr: a.as_ptr(),
            rs: k,
            cs: 1,
        };
        let b_view = View {
            ptr: b.as_ptr(),
            rs: n,
            cs: 1,
        };
        // SAFETY: the views cover `a` and `b`; `c` holds m×n floats.
        let packed = unsafe { pack(b_view, k, n) };
        for rhs in [Rhs::Strided(b_view), Rhs::Packed(&packed)] {
            // Zero and a bias start must not read `C`: it holds NaN.
            let starts = [
                (Start::Zero, f32::NAN),
                (Start::Accumulate, 2.0),
                (Start::Bias(bias.as_ptr()), f32::NAN),
            ];
            for (start, before) in starts {
                let mut c = vec![before; m * n];
                // SAFETY: the views cover `a` and `b`, `c` holds m×n floats,
                // and this level's tile has its instructions.
                unsafe { gemm(c.as_mut_ptr(), n, a_view, rhs, k, (0, m), (0, n), start) };
                let added = |j: usize| match start {
                    Start::Zero => 0.0,
                    Start::Accumulate => before,
                    Start::Bias(_) => bias[j],
                };
                let expected: Vec<f32> = want
                    .iter()
                    .enumerate()
                    .map(|(at, w)| w + added(at % n))
                    .collect();
                crate::tests::assert_close(&c, &expected, k, 0.0, &format!("{m}×{k}×{n}"));
            }
        }
    }
}
