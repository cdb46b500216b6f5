//! A run moves between devices: what the CPU trained, wgpu (lavapipe, on a
//! machine without a GPU) evaluates to the same loss and resumes with the same
//! losses, and the CPU evaluates and samples what wgpu trained.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn charrnn(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("charrnn runs");
    assert!(
        out.status.success(),
        "charrnn {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The validation loss of `run`'s latest checkpoint, computed on `device`.
fn val_loss(run: &Path, device: &str) -> f64 {
    let corpus = common::small_text();
    let out = charrnn(&[
        "eval",
        "--checkpoint",
        run.to_str().unwrap(),
        "--corpus",
        corpus.to_str().unwrap(),
        "--split",
        "val",
        "--device",
        device,
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no loss in {text:?}"))
}

/// `(step, train_loss)` of every record in `run`'s metrics.
fn losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                v["step"].as_u64().unwrap(),
                v["train_loss"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn copy_run(from: &Path, to: &Path) -> PathBuf {
    let status = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
    to.to_path_buf()
}

fn resume(run: &Path, device: &str, steps: u64) -> String {
    let out = charrnn(&[
        "train",
        "--resume",
        run.to_str().unwrap(),
        "--device",
        device,
        "--set",
        &format!("train.max_steps={steps}"),
    ]);
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn a_run_moves_between_the_cpu_and_wgpu() {
    common::gpu::require_vulkan();
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    // Without dropout both devices compute the same function, so their
    // losses can be compared step by step.
    let mut args = common::smoke_training_args("cpu", &run, 10);
    args.extend(["--set".into(), "model.dropout=0.0".into()]);
    charrnn(&common::strs(&args));
    let (on_cpu, on_gpu) = (val_loss(&run, "cpu"), val_loss(&run, "wgpu"));
    assert!(
        (on_cpu - on_gpu).abs() <= 1e-4 * on_cpu,
        "the CPU's checkpoint: {on_cpu} on the CPU, {on_gpu} on wgpu"
    );

    let run_cpu = copy_run(&run, &tmp.path().join("run-cpu"));
    let run_gpu = copy_run(&run, &tmp.path().join("run-gpu"));
    resume(&run_cpu, "cpu", 20);
    let log = resume(&run_gpu, "wgpu", 20);
    assert!(log.contains("device: wgpu"), "{log}");
    let (cpu, gpu) = (losses(&run_cpu), losses(&run_gpu));
    assert_eq!(cpu.len(), gpu.len());
    for ((step, a), (_, b)) in cpu.iter().zip(&gpu).filter(|((s, _), _)| *s > 10) {
        assert!(
            (a - b).abs() <= 1e-3,
            "step {step}: loss {a} on the CPU, {b} on wgpu"
        );
    }

    // What wgpu trained, the CPU evaluates to the same loss and samples from.
    let (on_cpu, on_gpu) = (val_loss(&run_gpu, "cpu"), val_loss(&run_gpu, "wgpu"));
    assert!(
        (on_cpu - on_gpu).abs() <= 1e-4 * on_cpu,
        "wgpu's checkpoint: {on_cpu} on the CPU, {on_gpu} on wgpu"
    );
    let sample = charrnn(&[
        "sample",
        "--run",
        run_gpu.to_str().unwrap(),
        "--length",
        "30",
    ]);
    assert!(String::from_utf8(sample.stdout).unwrap().chars().count() >= 30);
}
