//! Never lose a run: SIGKILL at random moments leaves every checkpoint loadable;
//! Ctrl-C checkpoints, says how to resume and exits 130; resuming finishes.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn smoke() -> String {
    common::repo()
        .join("configs/smoke.toml")
        .display()
        .to_string()
}

/// `charrnn train` of the smoke config on the small play into `run`.
fn smoke_training(run: &Path) -> Command {
    let out_dir = format!("train.out_dir={:?}", run.display().to_string());
    let mut command = Command::new(env!("CARGO_BIN_EXE_charrnn"));
    command.args([
        "train",
        "--config",
        &smoke(),
        "--device",
        "cpu",
        "--set",
        &out_dir,
        "--set",
        &common::small_text_override(),
    ]);
    command
}

fn start_training(run: &Path, extra: &[&str]) -> Child {
    smoke_training(run)
        .args(["--set", "train.save_every=1", "--set", "train.eval_every=0"])
        .args(extra.iter().flat_map(|e| ["--set", e]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("charrnn starts")
}

fn info(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args(["info", path.to_str().unwrap()])
        .output()
        .unwrap()
}

/// Every visible checkpoint, and the one `latest` names, must load.
fn assert_all_checkpoints_load(run: &Path) -> usize {
    let root = run.join("checkpoints");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return 0; // killed before the first checkpoint
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with('.') || name == "latest" {
            continue;
        }
        let out = info(&path);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        n += 1;
    }
    if root.join("latest").exists() {
        let out = info(run);
        assert!(
            out.status.success(),
            "latest: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    n
}

/// Lines in a run's metrics log (with `log_every = 1`, the steps done).
fn logged_steps(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map_or(0, |t| t.lines().count())
}

/// Kills training at random moments: after a random number of logged steps
/// (each step writes a checkpoint), plus a random part of a step.
#[test]
fn sigkill_at_random_moments_never_breaks_a_checkpoint() {
    let mut x = common::test_seed("sigkill_at_random_moments_never_breaks_a_checkpoint");
    let tmp = tempfile::tempdir().unwrap();
    let mut checkpoints_seen = 0;
    for round in 0..10 {
        let run = tmp.path().join(format!("run{round}"));
        let mut child = start_training(&run, &["train.max_steps=100000", "train.log_every=1"]);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let steps = 1 + (x % 6) as usize;
        common::wait_for(
            &format!("round {round}: {steps} steps logged in {}", run.display()),
            120,
            || logged_steps(&run) >= steps,
            || format!("{} logged", logged_steps(&run)),
        );
        std::thread::sleep(Duration::from_millis((x >> 8) % 300));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        checkpoints_seen += assert_all_checkpoints_load(&run);
    }
    assert!(
        checkpoints_seen > 0,
        "no checkpoint was ever written; the test proved nothing"
    );
}

#[test]
fn ctrl_c_checkpoints_and_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let child = start_training(
        &run,
        &["train.max_steps=100000", "train.save_every=1000000"],
    );
    // Interrupt once training is under way (a step logged).
    common::wait_for(
        "the first logged step",
        120,
        || logged_steps(&run) > 0,
        || format!("no line in {}", run.join("metrics.jsonl").display()),
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("charrnn train --resume"), "{stderr}");
    assert_eq!(assert_all_checkpoints_load(&run), 1);

    let resumed = Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args([
            "train",
            "--resume",
            run.to_str().unwrap(),
            "--device",
            "cpu",
        ])
        .args(["--set", "train.max_steps=40", "--set", "train.save_every=0"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(resumed.status.success(), "{stderr}");
    assert!(stderr.contains("resuming from"), "{stderr}");
}

/// Mounts a tiny tmpfs at `dir` (needs root, as in CI); false when not possible.
fn mount_small_tmpfs(dir: &Path, size: &str) -> bool {
    Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn full_disk_while_checkpointing_keeps_the_previous_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("small-disk");
    std::fs::create_dir(&disk).unwrap();
    if !mount_small_tmpfs(&disk, "700k") {
        // No mount rights: a file where the checkpoints folder goes stands in
        // for the full disk. It refuses every writer, root included, on the
        // same write-error path.
        eprintln!("note: cannot mount a tmpfs here; injecting a write failure instead");
        let run = disk.join("run");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("checkpoints"), "not a folder").unwrap();
        let out = start_training(&run, &["train.max_steps=10"])
            .wait_with_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("cannot write checkpoint"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(&disk);
    let run = disk.join("run");
    let out = start_training(
        &run,
        &[
            "train.max_steps=100000",
            "train.epochs=1000",
            "train.save_every=5",
            "train.log_every=5",
        ],
    )
    .wait_with_output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "training should fail on a full disk: {stderr}"
    );
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let survivors = assert_all_checkpoints_load(&run);
    assert!(
        survivors >= 1,
        "the checkpoints written before the disk filled must survive"
    );
    let leftovers: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "half-written checkpoint left behind: {leftovers:?}"
    );
}

fn charrnn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_charrnn"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn a_second_trainer_is_refused_readers_are_not_and_sigkill_frees_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let mut first = start_training(
        &run,
        &[
            "train.max_steps=100000",
            "train.log_every=1",
            "train.keep_last=1",
        ],
    );
    let metrics = run.join("metrics.jsonl");
    common::wait_for(
        "a checkpoint and a logged step",
        120,
        || checkpoint_written(&run) && logged_steps(&run) > 0,
        || {
            format!(
                "latest: {}, steps logged: {}",
                checkpoint_written(&run),
                logged_steps(&run)
            )
        },
    );
    let run_arg = run.to_str().unwrap();
    let held_by = format!("in use by another trainer (PID {})", first.id());
    let second = smoke_training(&run).output().unwrap();
    let resumed = charrnn(&["train", "--resume", run_arg, "--device", "cpu"]);
    for (what, out) in [("a fresh trainer", &second), ("a resume", &resumed)] {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(&held_by), "{what}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{what}: {stderr}");
    }
    // Readers take no lock, and find a whole checkpoint while one a step is
    // written and the previous pruned.
    for _ in 0..5 {
        let out = charrnn(&["sample", "--run", run_arg, "--length", "20"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    first.kill().unwrap(); // SIGKILL: no chance to unlock
    first.wait().unwrap();
    let steps: Vec<u64> = std::fs::read_to_string(&metrics)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(
        steps.windows(2).all(|w| w[1] == w[0] + 1),
        "one writer's log: {steps:?}"
    );

    let last = *steps.last().unwrap();
    let more = format!("train.max_steps={}", last + 3);
    let after = charrnn(&[
        "train", "--resume", run_arg, "--device", "cpu", "--set", &more,
    ]);
    assert!(
        after.status.success(),
        "{}",
        String::from_utf8_lossy(&after.stderr)
    );
}

fn checkpoint_written(run: &Path) -> bool {
    run.join("checkpoints/latest").is_file()
}
