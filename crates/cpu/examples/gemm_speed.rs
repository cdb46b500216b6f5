//! GFLOP/s of `charrnn_cpu::matmul` on the products a training step makes
//! (seed config: batch 128, seq 100, 2×512, vocab 4,339; small: 32, 64, 2×256)
//! and a generation step of the seed model over many streams.
//! `cargo run --release -p charrnn-cpu --example gemm_speed [NAME-FILTER]`
use charrnn_cpu::{matmul, matmul_packed, Mat, Output, PackedRhs};

#[path = "support/timing.rs"]
mod timing;
use timing::seconds_per_call as time;

/// The `rows × cols` operand in `x`, stored transposed when `t`.
fn mat(x: &[f32], rows: usize, cols: usize, t: bool) -> Mat<'_> {
    if t {
        Mat::transposed(x, rows, cols)
    } else {
        Mat::new(x, rows, cols)
    }
}

fn main() {
    let only = std::env::args().nth(1);
    let shapes = [
        // (m, k, n, a_t, b_t, what)
        (12800, 512, 4339, false, false, "seed output projection"),
        (12800, 4339, 512, false, true, "seed output, grad of input"),
        (
            512,
            12800,
            4339,
            true,
            false,
            "seed output, grad of weights",
        ),
        (12800, 512, 2048, false, false, "seed input projection"),
        (128, 512, 2048, false, false, "seed recurrent step"),
        (128, 2048, 512, false, true, "seed recurrent step, backward"),
        (2048, 256, 4339, false, false, "small output projection"),
        (2048, 4339, 256, false, true, "small output, grad of input"),
        (
            256,
            2048,
            4339,
            true,
            false,
            "small output, grad of weights",
        ),
        (2048, 256, 1024, false, false, "small input projection"),
        (256, 2048, 1024, true, false, "small input, grad of weights"),
        (32, 256, 1024, false, false, "small recurrent step"),
        (32, 1024, 256, false, true, "small recurrent step, backward"),
        (64, 512, 2048, false, false, "64 streams, first layer"),
        (64, 1024, 2048, false, false, "64 streams, second layer"),
        (64, 512, 4339, false, false, "64 streams, output layer"),
        (16, 1024, 2048, false, false, "16 streams, second layer"),
        (8, 1024, 2048, false, false, "8 streams, second layer"),
    ];
    for (m, k, n, a_t, b_t, what) in shapes {
        if only.as_ref().is_some_and(|o| !what.contains(o.as_str())) {
            continue;
        }
        let a = vec![0.5f32; m * k];
        let b = vec![0.25f32; k * n];
        let mut c = vec![0.0f32; m * n];
        let flop = 2.0 * (m * k * n) as f64;
        let (a, b) = (mat(&a, m, k, a_t), mat(&b, k, n, b_t));
        let plain = time(flop, || matmul(&mut c, a, b, Output::Accumulate));
        let packed = PackedRhs::new(b);
        let pre = time(flop, || {
            matmul_packed(&mut c, a, &packed, Output::Accumulate)
        });
        println!(
            "{what:32} {m:>5}x{k:>5}x{n:>5}  {:6.1} GFLOP/s  packed once: {:6.1} GFLOP/s",
            flop / plain / 1e9,
            flop / pre / 1e9
        );
    }
}
