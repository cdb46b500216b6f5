//! `charrnn export`: a run's model in each format, an existing folder refused
//! unless `--force` (and then replaced whole), clear errors for a damaged
//! checkpoint and an unknown format. The exports' numbers are checked against
//! numpy and onnxruntime by `crates/export/tests/runtimes.rs`.

mod common;

use common::{assert_fails, export, names_in, smoke_run};

#[test]
fn export_writes_each_format_whole_and_never_over_a_folder_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(dir.path());
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let vocab = std::fs::read_to_string(
        run.join("checkpoints")
            .join(latest.trim())
            .join("vocab.json"),
    );
    let vocab: serde_json::Value = serde_json::from_str(&vocab.unwrap()).unwrap();

    for (format, weights) in [("onnx", "model.onnx"), ("safetensors", "model.safetensors")] {
        let out = dir.path().join(format);
        let done = export(&run, format, &out, &[]);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        assert!(String::from_utf8_lossy(&done.stdout).contains("exported"));
        assert_eq!(names_in(&out), ["charrnn.json", weights]);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("charrnn.json")).unwrap()).unwrap();
        assert_eq!(manifest["format"], format);
        assert_eq!(manifest["gate_order"], "ifog");
        assert_eq!(manifest["model"]["num_layers"], 2);
        assert_eq!(
            manifest["vocab"], vocab["chars"],
            "the checkpoint's vocabulary"
        );
        // Nothing but the export is left beside it.
        assert!(names_in(dir.path()).iter().all(|n| !n.starts_with('.')));
    }

    // An existing folder is refused, and left as it was.
    let out = dir.path().join("onnx");
    std::fs::write(out.join("mine.txt"), "a user's file").unwrap();
    assert_fails(&export(&run, "onnx", &out, &[]), "exists already");
    let refused = export(&run, "onnx", &out, &[]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--force"));
    assert!(out.join("mine.txt").is_file());
    // With --force it is replaced whole.
    let forced = export(&run, "safetensors", &out, &["--force"]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_eq!(names_in(&out), ["charrnn.json", "model.safetensors"]);
}

#[test]
fn export_names_a_damaged_checkpoint_and_an_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let run = smoke_run(dir.path());
    let out = dir.path().join("out");

    let unknown = export(&run, "tflite", &out, &[]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("possible values"));

    let checkpoints = run.join("checkpoints");
    for entry in std::fs::read_dir(&checkpoints).unwrap() {
        let model = entry.unwrap().path().join("model.mpk");
        if model.is_file() {
            let mut bytes = std::fs::read(&model).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0xff;
            std::fs::write(&model, bytes).unwrap();
        }
    }
    assert_fails(&export(&run, "onnx", &out, &[]), "is damaged");
    assert!(!out.exists(), "nothing is written for a damaged checkpoint");
}
