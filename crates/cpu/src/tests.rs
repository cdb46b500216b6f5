//! Unit tests of the crate's products and buffers.

use super::*;

#[test]
fn kernels_at_every_simd_level() {
    crate::testing::rerun_tests_at_other_levels("kernels_at_every_simd_level");
}

/// The product by its definition, row by row (reading `b` along its
/// rows, so that products of thousands of columns stay quick, under
/// valgrind too).
pub(crate) fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; m * n];
    for (row, x) in out.chunks_exact_mut(n.max(1)).zip(a.chunks_exact(k.max(1))) {
        for (p, &x) in x.iter().enumerate().take(k) {
            for (o, &w) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *o += x * w;
            }
        }
    }
    out
}

/// The `rows × cols` operand in `data`, stored transposed when `t`.
fn mat(data: &[f32], rows: usize, cols: usize, t: bool) -> Mat<'_> {
    if t {
        Mat::transposed(data, rows, cols)
    } else {
        Mat::new(data, rows, cols)
    }
}

fn transpose(x: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; x.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = x[r * cols + c];
        }
    }
    t
}

pub(crate) fn operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>) {
    let a = (0..m * k)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) / 5.0)
        .collect();
    let b = (0..k * n)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0)
        .collect();
    (a, b)
}

pub(crate) fn assert_close(got: &[f32], want: &[f32], k: usize, offset: f32, what: &str) {
    for (i, (d, w)) in got.iter().zip(want).enumerate() {
        let w = w + offset;
        assert!(
            (d - w).abs() < 1e-4 * (1.0 + k as f32 + w.abs()),
            "{what}: element {i} is {d}, expected {w}"
        );
    }
}

/// Shapes with ragged edges in every dimension and more than one packed
/// block along each (the kernel blocks 256 rows, up to 512 deep, 4080
/// columns, in 8×48 or 6×48 tiles), plus vector-matrix products.
const SHAPES: [(usize, usize, usize); 8] = [
    (1, 7, 5),
    (3, 4, 9),
    (64, 80, 96),
    (37, 300, 70),
    (260, 520, 45),
    (9, 40, 4200),
    (1, 300, 1000),
    (1, 512, 4339),
];

#[test]
fn matmul_matches_the_definition_in_every_layout() {
    for (m, k, n) in SHAPES {
        let (a, b) = operands(m, k, n);
        let want = naive(&a, &b, m, k, n);
        let (at, bt) = (transpose(&a, m, k), transpose(&b, k, n));
        for (a_t, b_t) in [(false, false), (true, false), (false, true), (true, true)] {
            let lhs = if a_t { &at } else { &a };
            let rhs = if b_t { &bt } else { &b };
            let what = format!("{m}x{k}x{n} a_t={a_t} b_t={b_t}");
            let mut dst = vec![1.0; m * n];
            let (a, b) = (mat(lhs, m, k, a_t), mat(rhs, k, n, b_t));
            matmul(&mut dst, a, b, Output::Accumulate);
            assert_close(&dst, &want, k, 1.0, &what);
            matmul(&mut dst, a, b, Output::Overwrite);
            assert_close(&dst, &want, k, 0.0, &what);
        }
    }
}

#[test]
fn product_writes_a_new_matrix_with_or_without_a_bias() {
    for (m, k, n) in SHAPES.into_iter().chain([(16, 0, 9)]) {
        let (a, b) = operands(m, k, n);
        let want = naive(&a, &b, m, k, n);
        let bt = transpose(&b, k, n);
        let bias: Vec<f32> = (0..n).map(|j| (j % 7) as f32 - 3.0).collect();
        for b_t in [false, true] {
            let rhs = if b_t { &bt } else { &b };
            let what = format!("product {m}x{k}x{n} b_t={b_t}");
            let plain = product(Mat::new(&a, m, k), mat(rhs, k, n, b_t), None);
            assert_eq!(plain.len(), m * n, "{what}");
            assert_close(&plain, &want, k, 0.0, &what);
            let affine = product(Mat::new(&a, m, k), mat(rhs, k, n, b_t), Some(&bias));
            let shifted: Vec<f32> = want
                .iter()
                .enumerate()
                .map(|(i, w)| w + bias[i % n.max(1)])
                .collect();
            assert_close(&affine, &shifted, k, 0.0, &what);
        }
    }
}

#[test]
fn packed_rhs_gives_the_same_products() {
    for (m, k, n) in SHAPES {
        let (a, b) = operands(m, k, n);
        let want = naive(&a, &b, m, k, n);
        let at = transpose(&a, m, k);
        for b_t in [false, true] {
            let bt = transpose(&b, k, n);
            let packed = PackedRhs::new(mat(if b_t { &bt } else { &b }, k, n, b_t));
            assert_eq!(packed.dims(), (k, n));
            for a_t in [false, true] {
                let lhs = if a_t { &at } else { &a };
                let what = format!("packed {m}x{k}x{n} a_t={a_t} b_t={b_t}");
                let mut dst = vec![1.0; m * n];
                let lhs = mat(lhs, m, k, a_t);
                matmul_packed(&mut dst, lhs, &packed, Output::Accumulate);
                assert_close(&dst, &want, k, 1.0, &what);
                matmul_packed(&mut dst, lhs, &packed, Output::Overwrite);
                assert_close(&dst, &want, k, 0.0, &what);
            }
        }
    }
}
