//! Training on several processes with Open MPI's `mpirun`: the binary built
//! with the `mpi` feature (`cargo xtask test` runs this file a second time
//! so, after the workspace's run without it). Without the feature, the one
//! test here is the refusal to run as one of several processes.
//!
//! Every comparison is against one process training with the same config:
//! data-parallel training must change where the arithmetic runs, not what
//! it computes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_charrnn");

/// `charrnn train` on the smoke config and small play without dropout (so
/// that one process and several draw no masks and compute the same step),
/// logging every step, into `run`.
fn train_args(run: &Path, steps: u64, more: &[&str]) -> Vec<String> {
    let mut args = common::smoke_training_args("cpu", run, steps);
    for set in ["model.dropout=0", "train.log_every=1", "train.batch_size=8"] {
        args.extend(["--set".into(), set.into()]);
    }
    args.extend(more.iter().map(|s| s.to_string()));
    args.push("--quiet".into());
    args
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_binary_without_mpi_refuses_to_train_as_one_of_several_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let as_rank = |rank: &str| {
        Command::new(BIN)
            .args(train_args(&run, 5, &[]))
            .env("OMPI_COMM_WORLD_RANK", rank)
            .env("OMPI_COMM_WORLD_SIZE", "2")
            .output()
            .unwrap()
    };
    let rank0 = as_rank("0");
    assert_eq!(rank0.status.code(), Some(1), "{}", stderr(&rank0));
    let lines: Vec<&str> = std::str::from_utf8(&rank0.stderr)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error: this charrnn was built without MPI")
            && lines[0].contains("one of 2 processes")
            && lines[0].contains("--features mpi"),
        "{lines:?}"
    );
    // The other ranks leave the report to rank 0.
    let rank1 = as_rank("1");
    assert_eq!(rank1.status.code(), Some(1));
    assert_eq!(stderr(&rank1), "");
    assert!(!run.join("checkpoints").exists());
}

#[cfg(feature = "mpi")]
mod launched {
    use super::*;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use charrnn::burn::backend::Flex;
    use charrnn::train::{checkpoint, read_metrics};

    /// `mpirun` as root may run (CI's containers are root), with more
    /// processes than cores.
    fn mpirun() -> Command {
        mpirun_via(&[])
    }

    /// [`mpirun`] started through `prefix` (`ip netns exec NAME`).
    fn mpirun_via(prefix: &[&str]) -> Command {
        let on_path = std::env::var_os("PATH").is_some_and(|path| {
            std::env::split_paths(&path).any(|dir| dir.join("mpirun").is_file())
        });
        assert!(
            on_path,
            "mpirun is not installed: `apt-get install openmpi-bin libopenmpi-dev` (cargo xtask test does)"
        );
        let mut cmd = match prefix.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg("mpirun");
                cmd
            }
            None => Command::new("mpirun"),
        };
        cmd.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .args(["--oversubscribe"]);
        cmd
    }

    fn ok(out: Output) -> Output {
        assert!(out.status.success(), "{}", stderr(&out));
        out
    }

    fn alone(run: &Path, steps: u64, more: &[&str]) -> Output {
        ok(Command::new(BIN)
            .args(train_args(run, steps, more))
            .output()
            .unwrap())
    }

    fn on(ranks: usize, run: &Path, steps: u64, more: &[&str]) -> Output {
        ok(mpirun()
            .args(["-n", &ranks.to_string(), BIN])
            .args(train_args(run, steps, more))
            .output()
            .unwrap())
    }

    /// `(training loss, validation loss)` of every logged step.
    fn losses(run: &Path) -> Vec<(f64, Option<f64>)> {
        read_metrics(&run.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .map(|r| (r.train_loss, r.val_loss))
            .collect()
    }

    fn assert_same_losses(a: &Path, b: &Path, steps: usize) {
        let (a, b) = (losses(a), losses(b));
        assert_eq!((a.len(), b.len()), (steps, steps));
        let close = |x: f64, y: f64| (x - y).abs() <= 1e-5 * x.abs();
        for (step, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                close(x.0, y.0),
                "step {}: loss {} vs {}",
                step + 1,
                x.0,
                y.0
            );
            match (x.1, y.1) {
                (Some(u), Some(v)) => assert!(close(u, v), "step {}: val {u} vs {v}", step + 1),
                (None, None) => {}
                other => panic!("step {}: validation {other:?}", step + 1),
            }
        }
        // Losses must move, or agreeing proves nothing.
        assert!((a[0].0 - a[steps - 1].0).abs() > 0.1);
    }

    /// The latest checkpoint's weights, flat.
    fn weights(run: &Path) -> Vec<f32> {
        let meta = checkpoint::load_meta(run).unwrap();
        let model = checkpoint::load_model::<Flex>(&meta, &Default::default()).unwrap();
        let w = charrnn::sample::Weights::from_model(&model);
        let layers = w.layers.iter().flat_map(|l| [&l.w_ih, &l.w_hh, &l.bias]);
        [&w.embedding]
            .into_iter()
            .chain(layers)
            .chain([&w.output_weight, &w.output_bias])
            .flat_map(|v| v.iter().copied())
            .collect()
    }

    fn assert_same_weights(a: &Path, b: &Path) {
        let (a, b) = (weights(a), weights(b));
        assert_eq!(a.len(), b.len());
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-4, "weights differ by up to {worst}");
    }

    #[test]
    fn two_processes_train_as_one() {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
        alone(&one, 30, &[]);
        on(2, &two, 30, &[]);
        assert_same_losses(&one, &two, 30);
        assert_same_weights(&one, &two);
    }

    #[test]
    fn a_run_resumes_on_two_one_and_two_processes_as_if_uninterrupted() {
        let tmp = tempfile::tempdir().unwrap();
        let (whole, split) = (tmp.path().join("whole"), tmp.path().join("split"));
        alone(&whole, 30, &[]);
        on(2, &split, 10, &[]);
        let resume = |steps: &str| {
            let args = [
                "--resume",
                split.to_str().unwrap(),
                "--set",
                steps,
                "--quiet",
            ];
            args.map(String::from)
        };
        ok(Command::new(BIN)
            .arg("train")
            .args(resume("train.max_steps=20"))
            .output()
            .unwrap());
        ok(mpirun()
            .args(["-n", "2", BIN, "train"])
            .args(resume("train.max_steps=30"))
            .output()
            .unwrap());
        assert_same_losses(&whole, &split, 30);
        assert_same_weights(&whole, &split);
    }

    /// Two network namespaces joined by a veth pair: two hosts, each with its
    /// own network stack and address, on one machine. Removed on drop.
    struct TwoHosts {
        names: [String; 2],
        addresses: [String; 2],
        subnet: String,
    }

    fn ip(args: &[&str]) {
        let out = Command::new("ip").args(args).output().unwrap_or_else(|e| {
            panic!("cannot run `ip` ({e}): install iproute2 (cargo xtask test does)")
        });
        assert!(
            out.status.success(),
            "ip {}: {} (the two-host test needs root, or CAP_NET_ADMIN, for network namespaces)",
            args.join(" "),
            stderr(&out)
        );
    }

    impl TwoHosts {
        fn new() -> Self {
            let id = std::process::id();
            let octet = id % 250 + 1;
            let names = [format!("charrnn-a{id}"), format!("charrnn-b{id}")];
            let addresses = [format!("10.231.{octet}.1"), format!("10.231.{octet}.2")];
            let hosts = Self {
                names,
                addresses,
                subnet: format!("10.231.{octet}.0/24"),
            };
            let veth = [format!("cra{id}"), format!("crb{id}")];
            for name in &hosts.names {
                ip(&["netns", "add", name]);
            }
            ip(&[
                "link", "add", &veth[0], "type", "veth", "peer", "name", &veth[1],
            ]);
            for ((name, dev), address) in hosts.names.iter().zip(&veth).zip(&hosts.addresses) {
                ip(&["link", "set", dev, "netns", name]);
                ip(&[
                    "-n",
                    name,
                    "addr",
                    "add",
                    &format!("{address}/24"),
                    "dev",
                    dev,
                ]);
                ip(&["-n", name, "link", "set", dev, "up"]);
                ip(&["-n", name, "link", "set", "lo", "up"]);
            }
            hosts
        }

        /// mpirun's remote shell: starts a command "on" a host by entering
        /// its namespace, as ssh would log in to it.
        fn agent(&self, dir: &Path) -> PathBuf {
            let path = dir.join("agent.sh");
            let cases: String = self
                .addresses
                .iter()
                .zip(&self.names)
                .map(|(address, name)| format!("  {address}) ns={name} ;;\n"))
                .collect();
            let script = format!(
                "#!/bin/sh\nhost=$1; shift\ncase \"$host\" in\n{cases}  *) echo \"no host $host\" >&2; exit 1 ;;\nesac\nexec ip netns exec \"$ns\" sh -c \"$*\"\n"
            );
            std::fs::write(&path, script).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            path
        }
    }

    impl Drop for TwoHosts {
        fn drop(&mut self) {
            for name in &self.names {
                let _ = Command::new("ip").args(["netns", "delete", name]).status();
            }
        }
    }

    #[test]
    fn two_hosts_over_tcp_train_as_one() {
        let tmp = tempfile::tempdir().unwrap();
        let (one, two) = (tmp.path().join("one"), tmp.path().join("two"));
        let hosts = TwoHosts::new();
        let agent = hosts.agent(tmp.path());
        alone(&one, 30, &[]);
        // mpirun runs on the first host and starts rank 1 on the second
        // through the agent; ranks talk over TCP on the veth pair only.
        ok(mpirun_via(&["ip", "netns", "exec", &hosts.names[0]])
            .args(["--host", &hosts.addresses.join(","), "-n", "2"])
            .arg("--mca")
            .arg("plm_rsh_agent")
            .arg(&agent)
            .args(["--mca", "btl", "tcp,self"])
            .args(["--mca", "btl_tcp_if_include", &hosts.subnet])
            .args(["--mca", "oob_tcp_if_include", &hosts.subnet])
            .arg(BIN)
            .args(train_args(&two, 30, &[]))
            .output()
            .unwrap());
        assert_same_losses(&one, &two, 30);
        assert_same_weights(&one, &two);
    }

    /// The one line a failed start printed (mpirun's own report after it
    /// aside), and that it names `what`.
    fn one_error_line(out: &Output, what: &str) -> String {
        assert!(!out.status.success());
        let text = stderr(out);
        let errors: Vec<&str> = text.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{text}");
        assert!(errors[0].contains(what), "{text}");
        errors[0].to_string()
    }

    #[test]
    fn a_batch_the_processes_cannot_share_is_refused_before_training() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let out = mpirun()
            .args(["-n", "3", BIN])
            .args(train_args(&run, 5, &[]))
            .output()
            .unwrap();
        one_error_line(
            &out,
            "train.batch_size = 8 cannot be split evenly over 3 processes",
        );
        assert!(!run.join("checkpoints").exists());
    }

    /// Two processes started by one mpirun with different arguments and
    /// environments (MPMD: `mpirun A : B`).
    fn mpmd(rank0: &[String], rank1: &[String], env1: Option<(&str, &Path)>) -> Output {
        let mut cmd = mpirun();
        cmd.args(["-n", "1", BIN])
            .args(rank0)
            .args([":", "-n", "1"]);
        if let Some((name, value)) = env1 {
            cmd.arg("-x").arg(format!("{name}={}", value.display()));
        }
        cmd.arg(BIN).args(rank1).output().unwrap()
    }

    #[test]
    fn processes_that_read_different_inputs_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        // Another config.
        let out = mpmd(
            &train_args(&run, 5, &[]),
            &train_args(&run, 5, &["--set", "train.seq_len=8"]),
            None,
        );
        one_error_line(&out, "rank 1 differs from rank 0 in the config");
        // The same name, another text: two folders, found through
        // CHARRNN_DATA_DIR.
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let text = std::fs::read_to_string(common::small_text()).unwrap();
        for (dir, text) in [
            (&a, text.clone()),
            (&b, text.replacen("ROMEO", "JULIET", 1)),
        ] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("play.txt"), text).unwrap();
        }
        let corpus = ["--set", "data.corpus=\"play.txt\""];
        let out = {
            let mut cmd = mpirun();
            let args = train_args(&run, 5, &corpus);
            cmd.args(["-n", "1", "-x"])
                .arg(format!("CHARRNN_DATA_DIR={}", a.display()))
                .arg(BIN)
                .args(&args)
                .args([":", "-n", "1"]);
            cmd.arg("-x")
                .arg(format!("CHARRNN_DATA_DIR={}", b.display()))
                .arg(BIN)
                .args(&args)
                .output()
                .unwrap()
        };
        one_error_line(&out, "rank 1 differs from rank 0 in the corpus");
        assert!(!run.join("checkpoints").exists());
        // Two checkpoints of one run.
        on(2, &run, 10, &["--set", "train.save_every=5"]);
        let resume = |step: &str| {
            let path = run.join("checkpoints").join(step);
            ["train", "--resume", path.to_str().unwrap(), "--quiet"].map(String::from)
        };
        let out = mpmd(&resume("step-000005"), &resume("step-000010"), None);
        one_error_line(&out, "rank 1 differs from rank 0 in the checkpoint");
    }

    /// The pid of the process of `rank` training into `run`.
    fn pid_of_rank(rank: usize, run: &Path) -> Option<u32> {
        let wanted = format!("OMPI_COMM_WORLD_RANK={rank}");
        std::fs::read_dir("/proc").ok()?.find_map(|entry| {
            let dir = entry.ok()?.path();
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let environ = std::fs::read(dir.join("environ")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            let is_ours = cmdline.starts_with(BIN) && cmdline.contains(run.to_str()?);
            let has_rank = environ.split(|&b| b == 0).any(|v| v == wanted.as_bytes());
            (is_ours && has_rank).then(|| dir.file_name()?.to_str()?.parse().ok())?
        })
    }

    fn wait_with_deadline(
        child: &mut std::process::Child,
        seconds: u64,
    ) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!("mpirun still runs {seconds} s later: the job hangs");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn start(ranks: usize, run: &Path, more: &[&str]) -> (std::process::Child, PathBuf) {
        let err = run.with_extension("stderr");
        let child = mpirun()
            .args(["-n", &ranks.to_string(), BIN])
            .args(train_args(run, 1_000_000, more))
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        (child, err)
    }

    fn first_checkpoint(run: &Path) {
        common::wait_for(
            "the first checkpoint",
            60,
            || run.join("checkpoints/latest").exists(),
            String::new,
        );
    }

    #[test]
    fn a_killed_process_ends_the_job_and_the_run_resumes() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let (mut child, err) = start(2, &run, &["--set", "train.save_every=20"]);
        first_checkpoint(&run);
        let pid = pid_of_rank(1, &run).expect("rank 1 runs");
        assert!(Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success());
        let killed = Instant::now();
        let status = wait_with_deadline(&mut child, 30);
        assert!(!status.success());
        let text = std::fs::read_to_string(err).unwrap();
        assert!(text.contains("rank 1"), "{text}");
        eprintln!(
            "the job ended {:.1} s after rank 1 was killed",
            killed.elapsed().as_secs_f64()
        );
        // The last checkpoint is whole, and the run goes on from it.
        let meta = checkpoint::load_meta(&run).unwrap();
        let step = meta.state.step;
        let until = format!("train.max_steps={}", step + 5);
        ok(mpirun()
            .args(["-n", "2", BIN, "train", "--resume", run.to_str().unwrap()])
            .args(["--set", &until, "--quiet"])
            .output()
            .unwrap());
        assert_eq!(checkpoint::load_meta(&run).unwrap().state.step, step + 5);
    }

    #[test]
    fn sigusr1_to_mpirun_stops_every_process_at_one_step_with_one_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        let (mut child, err) = start(2, &run, &["--set", "train.save_every=50"]);
        first_checkpoint(&run);
        assert!(Command::new("kill")
            .args(["-USR1", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        let status = wait_with_deadline(&mut child, 30);
        let text = std::fs::read_to_string(err).unwrap();
        assert_eq!(status.code(), Some(130), "{text}");
        // One checkpoint, of the last step any process took.
        let step = checkpoint::load_meta(&run).unwrap().state.step;
        let logged = read_metrics(&run.join("metrics.jsonl")).unwrap();
        assert_eq!(logged.last().map(|r| r.step), Some(step));
        assert_eq!(text.matches("interrupted at step").count(), 1, "{text}");
    }
}
