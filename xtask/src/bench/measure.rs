//! Running one command and measuring its wall time and peak memory; finding the
//! Python (with PyTorch) that runs the reference.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::workspace_root;

use super::BenchArgs;

/// A finished child process: its stdout and its peak resident memory.
pub(crate) struct Measured {
    pub(crate) stdout: String,
    pub(crate) peak_rss_mb: f64,
}

/// Runs `cmd` to completion and reads its peak RSS from `wait4`, the same way
/// for both programs.
pub(crate) fn measure(cmd: &mut Command) -> Result<Measured> {
    use std::os::unix::process::ExitStatusExt;
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child never blocks on a full pipe.
    let mut out_pipe = child.stdout.expect("piped");
    let mut err_pipe = child.stderr.expect("piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out_pipe, &mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err_pipe, &mut s).map(|_| s)
    });
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is written by the kernel.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above: `pid` is our own child, and `status` and `usage` are
    // valid for the kernel to write.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    let stdout = out.join().expect("reader thread")?;
    let stderr = err.join().expect("reader thread")?;
    let exit = std::process::ExitStatus::from_raw(status);
    if !exit.success() {
        bail!(
            "{:?} failed ({exit}):\n{}",
            cmd.get_program(),
            tail(&stderr, 2000)
        );
    }
    Ok(Measured {
        stdout,
        peak_rss_mb: usage.ru_maxrss as f64 / 1024.0,
    })
}

pub(crate) fn tail(s: &str, n: usize) -> &str {
    let start = s.len().saturating_sub(n);
    let start = (start..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0);
    &s[start..]
}

pub(crate) fn last_json(stdout: &str) -> Result<Value> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("no JSON line in the output")?;
    Ok(serde_json::from_str(line)?)
}

pub(crate) fn corpus_dir() -> Result<PathBuf> {
    crate::corpora::find_standard_data_dir(&workspace_root())
        .map_err(|tried| anyhow::anyhow!("no corpora in {tried:?}: run `cargo xtask fetch-data`"))
}

/// The Python to run the reference with; installs PyTorch into `.bench-venv`
/// when no Python with torch is found.
pub(crate) fn python(args: &BenchArgs) -> Result<PathBuf> {
    let has_torch = |py: &Path| {
        Command::new(py)
            .args(["-c", "import torch"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if let Some(py) = &args.python {
        if !has_torch(py) {
            bail!("{} cannot import torch", py.display());
        }
        return Ok(py.clone());
    }
    let venv = workspace_root().join(".bench-venv");
    let venv_py = venv.join("bin/python");
    if has_torch(&venv_py) {
        return Ok(venv_py);
    }
    if has_torch(Path::new("python3")) {
        return Ok("python3".into());
    }
    eprintln!(
        "xtask: PyTorch not found; installing it from PyPI into {} (first time only: a few minutes, about 4 GB with its CUDA libraries)",
        venv.display()
    );
    crate::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    crate::status(Command::new(&venv_py).args(["-m", "pip", "install", "--quiet", "torch"]))?;
    if !has_torch(&venv_py) {
        bail!(
            "installed torch into {} but it does not import",
            venv.display()
        );
    }
    Ok(venv_py)
}
