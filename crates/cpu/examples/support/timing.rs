//! Timing for the GEMM benchmarks (`gemm_speed` and
//! `xtask/scripts/gemm-avx2-compare.sh`).
use std::time::Instant;

/// Seconds per call of `f`, a product of `flop` floating-point operations:
/// three warm-up calls, then the best of five batches (this host's neighbours
/// come and go).
pub fn seconds_per_call(flop: f64, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    let reps = ((4e9 / flop) as usize).clamp(1, 2_000);
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..reps {
                f();
            }
            t.elapsed().as_secs_f64() / reps as f64
        })
        .fold(f64::INFINITY, f64::min)
}
