//! charrnn's packed GEMM at the AVX2 level against the `gemm` crate's AVX2
//! (FMA) path, alternating in one binary; built by `gemm-avx2-compare.sh`
//! against a gemm-common without its AVX-512 branch.
use charrnn_cpu::{matmul_packed, matmul_packed_in_thread, Mat, Output, PackedRhs};
#[path = "../../../crates/cpu/examples/support/timing.rs"]
mod timing;
use timing::seconds_per_call;

fn main() {
    assert_eq!(
        charrnn_cpu::simd_level(),
        charrnn_cpu::SimdLevel::Avx2,
        "run with CHARRNN_SIMD=avx2"
    );
    let in_thread = std::env::args().any(|a| a == "in-thread");
    let threads = rayon::current_num_threads();
    let parallelism = if in_thread {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(threads)
    };
    println!(
        "m × k × n (B packed once), GFLOP/s, {}",
        if in_thread {
            "one thread"
        } else {
            "rayon's threads"
        }
    );
    let shapes = [
        (8, 1024, 2048),
        (16, 1024, 2048),
        (64, 512, 2048),
        (64, 1024, 2048),
        (64, 512, 4339),
        (128, 512, 2048),
        (16, 256, 1024),
        (32, 2048, 512),
    ];
    for (m, k, n) in shapes {
        let a = vec![0.5f32; m * k];
        let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let (mut c_gemm, mut c_ours) = (vec![0.0f32; m * n], vec![0.0f32; m * n]);
        let flop = 2.0 * (m * k * n) as f64;
        let packed = PackedRhs::new(Mat::new(&b, k, n));
        let a_rows = Mat::new(&a, m, k);
        let mut gemm_crate = || {
            // SAFETY: row-major m×k, k×n and m×n buffers of exactly those sizes.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c_gemm.as_mut_ptr(),
                    1,
                    n as isize,
                    true,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    1,
                    n as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                )
            }
        };
        let mut ours = || {
            if in_thread {
                matmul_packed_in_thread(&mut c_ours, a_rows, &packed, Output::Accumulate)
            } else {
                matmul_packed(&mut c_ours, a_rows, &packed, Output::Accumulate)
            }
        };
        let (mut t_gemm, mut t_ours) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..3 {
            t_gemm = t_gemm.min(seconds_per_call(flop, &mut gemm_crate));
            t_ours = t_ours.min(seconds_per_call(flop, &mut ours));
        }
        println!(
            "{m:>4} × {k:>5} × {n:>5}   gemm crate (FMA) {:6.1}   charrnn (AVX2 tile) {:6.1}   charrnn ÷ gemm {:.2}",
            flop / t_gemm / 1e9,
            flop / t_ours / 1e9,
            t_gemm / t_ours
        );
    }
}
