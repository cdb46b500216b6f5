//! The vector-matrix product of generation at batch 1.
//!
//! It is bound by reading the weights, so it reads them in the order they lie
//! in memory, four rows at a time, keeping the output row (a few KiB) in L1.

multiversion! {
    /// `y = [y +] x · B`, where `B` has `x.len()` rows `ldb` apart in `b`, of
    /// which columns `0..y.len()` are read.
    pub fn vec_mat(y: &mut [f32], x: &[f32], b: &[f32], ldb: usize, accumulate: bool) -> () {
        let (k, w) = (x.len(), y.len());
        assert!(k == 0 || b.len() >= (k - 1) * ldb + w);
        if !accumulate {
            y.fill(0.0);
        }
        let row = |p: usize| &b[p * ldb..p * ldb + w];
        let mut quads = x.chunks_exact(4);
        for (q, xs) in (&mut quads).enumerate() {
            let p = 4 * q;
            let (r0, r1, r2, r3) = (row(p), row(p + 1), row(p + 2), row(p + 3));
            for ((((y, &a0), &a1), &a2), &a3) in y.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                *y += xs[0] * a0 + xs[1] * a1 + xs[2] * a2 + xs[3] * a3;
            }
        }
        let done = k - quads.remainder().len();
        for (p, &xp) in quads.remainder().iter().enumerate() {
            for (y, &a) in y.iter_mut().zip(row(done + p)) {
                *y += xp * a;
            }
        }
    }
}
