//! Every GEMM entry point, on one thread and on several, at sizes on both
//! sides of every blocking constant of the kernel (columns per block `NC` =
//! 4080 and the 48-column panel, depth `KC` = 512, rows `MC` = 256), against
//! the naive product; and the rule the generation engine rests on: a row of a
//! packed product is, bit for bit, the vector-matrix product of that row
//! alone, whatever the number of rows or threads. The crate's tests rerun at
//! every SIMD level, and `cargo xtask test` runs them under valgrind.

use crate::tests::{assert_close, naive, operands};
use crate::{
    matmul, matmul_packed, matmul_packed_in_thread, product, Mat, Output, PackedRhs, Team,
};

/// `(m, k, n)`: columns on both sides of a panel (47, 48) and of a block of
/// columns (4079..4081, 4095..4097, and far past: 4200, 4339 — the 金瓶梅
/// vocabulary — and 9001, more than two blocks); depths past one block
/// (513, 1100); rows past one block of rows (300).
const SHAPES: [(usize, usize, usize); 12] = [
    (3, 70, 47),
    (5, 33, 48),
    (2, 40, 4079),
    (7, 40, 4081),
    (7, 40, 4095),
    (9, 40, 4096),
    (4, 513, 4097),
    (6, 70, 4200),
    (9, 300, 4339),
    (5, 600, 9001),
    (13, 1100, 96),
    (300, 520, 60),
];

/// Threads of the pools and teams each product runs on.
const THREADS: [usize; 2] = [1, 3];

fn on_threads<T: Send>(threads: usize, work: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
        .install(work)
}

#[test]
fn every_entry_point_matches_the_definition_on_one_thread_and_on_several() {
    for (m, k, n) in SHAPES {
        let (a, b) = operands(m, k, n);
        let want = naive(&a, &b, m, k, n);
        let bias: Vec<f32> = (0..n).map(|j| (j % 7) as f32 - 3.0).collect();
        let (lhs, rhs) = (Mat::new(&a, m, k), Mat::new(&b, k, n));
        for threads in THREADS {
            let what = |entry: &str| format!("{entry} {m}×{k}×{n} on {threads} threads");
            on_threads(threads, || {
                let mut dst = vec![1.0; m * n];
                matmul(&mut dst, lhs, rhs, Output::Accumulate);
                assert_close(&dst, &want, k, 1.0, &what("matmul +="));
                matmul(&mut dst, lhs, rhs, Output::Overwrite);
                assert_close(&dst, &want, k, 0.0, &what("matmul"));

                let plain = product(lhs, rhs, None);
                assert_close(&plain, &want, k, 0.0, &what("product"));
                let affine = product(lhs, rhs, Some(&bias));
                let shifted: Vec<f32> = want
                    .iter()
                    .enumerate()
                    .map(|(i, w)| w + bias[i % n])
                    .collect();
                assert_close(&affine, &shifted, k, 0.0, &what("affine product"));

                let packed = PackedRhs::new(rhs);
                let mut dst = vec![1.0; m * n];
                matmul_packed(&mut dst, lhs, &packed, Output::Accumulate);
                assert_close(&dst, &want, k, 1.0, &what("matmul_packed +="));
                let mut dst = vec![f32::NAN; m * n];
                matmul_packed_in_thread(&mut dst, lhs, &packed, Output::Overwrite);
                assert_close(&dst, &want, k, 0.0, &what("matmul_packed_in_thread"));

                let mut team = Team::new(threads);
                let mut dst = vec![1.0; m * n];
                team.matmul_packed(&mut dst, lhs, &packed, Output::Accumulate);
                assert_close(&dst, &want, k, 1.0, &what("Team::matmul_packed +="));
                if (m, k, n) == SHAPES[0] {
                    let mut dst = vec![1.0; n];
                    team.vec_mat(&mut dst, &a[..k], &b, true);
                    assert_close(&dst, &want[..n], k, 1.0, &what("Team::vec_mat"));
                }
            });
        }
    }
}

/// A row's values never depend on the rows beside it or the threads: the
/// packed product of any number of rows equals, bit for bit, the
/// vector-matrix product of each row alone (what one stream of the
/// generation engine runs), on a team of any size.
#[test]
fn a_row_of_a_packed_product_is_the_vector_matrix_product_of_that_row() {
    for (k, n) in [(384, 4339), (1100, 4400), (70, 47), (600, 9001)] {
        let (a, b) = operands(9, k, n);
        let packed = PackedRhs::new(Mat::new(&b, k, n));
        let start: Vec<f32> = (0..9 * n).map(|i| (i % 5) as f32 * 0.25).collect();
        let alone: Vec<Vec<f32>> = (0..9)
            .map(|i| {
                let mut y = start[i * n..(i + 1) * n].to_vec();
                Team::new(1).vec_mat(&mut y, &a[i * k..(i + 1) * k], &b, true);
                y
            })
            .collect();
        for members in [1, 2, 3] {
            let mut team = Team::new(members);
            for rows in [1, 2, 3, 4, 9] {
                let mut y = start[..rows * n].to_vec();
                let lhs = Mat::new(&a[..rows * k], rows, k);
                team.matmul_packed(&mut y, lhs, &packed, Output::Accumulate);
                for (i, want) in alone.iter().enumerate().take(rows) {
                    let got = &y[i * n..(i + 1) * n];
                    let differ = got
                        .iter()
                        .zip(want)
                        .position(|(g, w)| g.to_bits() != w.to_bits());
                    assert!(
                        differ.is_none(),
                        "{k}×{n}, {rows} rows on {members} members: row {i} column {:?} is {} alone, {} in the product",
                        differ,
                        want[differ.unwrap_or(0)],
                        got[differ.unwrap_or(0)]
                    );
                }
                let mut team_vm = Team::new(members);
                let mut y1 = start[..n].to_vec();
                team_vm.vec_mat(&mut y1, &a[..k], &b, true);
                assert!(
                    y1.iter()
                        .zip(&alone[0])
                        .all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{k}×{n}: Team::vec_mat on {members} members differs from one member"
                );
            }
        }
    }
}
