//! Unit tests of `src/bench.rs`.

use super::report::median_run;
use super::*;

#[test]
fn median_run_keeps_the_middle_run_and_the_largest_peak() {
    let run =
        |speed: f64, rss: f64| json!({"chars_per_sec": speed, "peak_rss_mb": rss, "id": speed});
    let m = median_run(
        vec![run(30.0, 5.0), run(10.0, 9.0), run(20.0, 7.0)],
        "chars_per_sec",
    );
    assert_eq!(m["id"], json!(20.0));
    assert_eq!(m["runs"], json!([30.0, 10.0, 20.0]));
    assert_eq!(m["peak_rss_mb"], json!(9.0));
    let one = median_run(vec![run(4.0, 1.0)], "chars_per_sec");
    assert_eq!(one["chars_per_sec"], json!(4.0));
}
