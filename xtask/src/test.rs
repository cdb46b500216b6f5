//! `cargo xtask test`: sets up what the tests need on this machine, then runs
//! the whole suite, the kernels again on one thread, and the CPU kernels
//! under valgrind.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{cargo, status, workspace_root};

/// What the tests need from the system: a program to look for, the Debian
/// package that brings it, and which tests use it.
const SYSTEM_NEEDS: [(Need, &str, &str); 10] = [
    (
        Need::Lavapipe,
        "mesa-vulkan-drivers",
        "the GPU-kernel tests (lavapipe, Mesa's software Vulkan)",
    ),
    (
        Need::Library("libvulkan.so.1"),
        "libvulkan1",
        "the GPU-kernel tests (the Vulkan loader)",
    ),
    (
        Need::Program("chromium"),
        "chromium",
        "the server's page test",
    ),
    (Need::Program("script"), "bsdutils", "the terminal tests"),
    (
        Need::PythonVenv,
        "python3-venv",
        "the export tests (numpy and onnxruntime, in a virtual environment)",
    ),
    (
        Need::Program("valgrind"),
        "valgrind",
        "the memory check of the kernels",
    ),
    (
        Need::Program("mpirun"),
        "openmpi-bin",
        "the MPI training tests",
    ),
    (
        Need::Program("mpicc"),
        "libopenmpi-dev",
        "building charrnn with MPI (--features mpi)",
    ),
    (
        Need::Package("libclang-dev"),
        "libclang-dev",
        "building charrnn with MPI (bindgen reads mpi.h)",
    ),
    (
        Need::Program("ip"),
        "iproute2",
        "the two-host MPI test (network namespaces)",
    ),
];

/// How to tell that a need is met.
#[derive(Clone, Copy)]
enum Need {
    Program(&'static str),
    /// Mesa's software Vulkan driver: its manifest, for any architecture.
    Lavapipe,
    Library(&'static str),
    /// `python3 -m venv` (Debian ships the module apart from python3).
    PythonVenv,
    /// A Debian package with no program or library of its own to look for.
    Package(&'static str),
}

impl Need {
    fn met(self) -> bool {
        match self {
            Need::Program(name) => on_path(name),
            Need::Lavapipe => lavapipe_installed(),
            Need::PythonVenv => Command::new("python3")
                .args(["-m", "venv", "--help"])
                .output()
                .is_ok_and(|out| out.status.success()),
            Need::Package(name) => Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", name])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("ok installed")),
            Need::Library(name) => Command::new("ldconfig")
                .arg("-p")
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(name)),
        }
    }
}

fn lavapipe_installed() -> bool {
    std::fs::read_dir("/usr/share/vulkan/icd.d").is_ok_and(|dir| {
        dir.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
    })
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// The page test's browser driver, installed from npm into its folder.
const BROWSER_DIR: &str = "crates/serve/tests/browser";

/// The export tests' Python packages (`requirements.txt`), installed from
/// PyPI into `.venv` in this folder.
const PYTHON_DIR: &str = "crates/export/tests/python";

/// Crates (their folders) whose tests run a second time on one thread
/// (rayon's pool and the generation engine's team both take
/// `RAYON_NUM_THREADS`): every machine here has two cores, and arithmetic
/// that changes with the thread count would otherwise go untested.
const ONE_THREAD_CRATES: [&str; 3] = ["crates/cpu", "crates/model", "crates/sample"];

/// The crate whose tests valgrind runs: the CPU kernels.
const VALGRIND_CRATES: [&str; 1] = ["crates/cpu"];

/// `cargo xtask test ARGS`: setup, `cargo test --workspace ARGS`, then (with
/// no ARGS) the one-thread rerun and valgrind.
pub fn test(args: &[String]) -> Result<()> {
    let root = workspace_root();
    set_up(&root)?;
    // The binary under test embeds the web page's engine (the page test).
    let engine = crate::web::build_engine()?;
    status(
        Command::new(cargo())
            .current_dir(&root)
            .args(["test", "--workspace"])
            .args(args)
            .env(crate::web::ENGINE_ENV, &engine),
    )?;
    if !args.is_empty() {
        return Ok(());
    }
    mpi_tests(&root, &engine)?;
    // The executables the run above built: rebuilding them with `-p` would
    // unify features differently and compile the crates again.
    let built = test_binaries(&root, &engine)?;
    eprintln!("xtask: the kernel, model and engine tests again, on one thread");
    for (binary, dir) in of_crates(&root, &built, &ONE_THREAD_CRATES)? {
        status(
            Command::new(binary)
                .current_dir(dir)
                .env("RAYON_NUM_THREADS", "1"),
        )?;
    }
    valgrind_kernels(of_crates(&root, &built, &VALGRIND_CRATES)?)
}

/// The MPI tests (`crates/cli/tests/mpi.rs`), with the binary built with
/// MPI; the run without it has run the same file's refusal test.
fn mpi_tests(root: &Path, engine: &Path) -> Result<()> {
    eprintln!("xtask: the MPI tests, with charrnn built with --features mpi");
    status(
        Command::new(cargo())
            .current_dir(root)
            .args(["test", "--workspace", "--features", "charrnn-cli/mpi"])
            .args(["--test", "mpi"])
            .env(crate::web::ENGINE_ENV, engine),
    )
}

/// Installs what the tests need and is missing: Debian packages as root or
/// through `sudo` without a password, npm packages into the test folder.
/// Where it cannot install, fails with one line naming the command to run.
fn set_up(root: &Path) -> Result<()> {
    let mut missing: Vec<&str> = SYSTEM_NEEDS
        .iter()
        .filter(|(need, ..)| !need.met())
        .map(|(_, package, _)| *package)
        .collect();
    let playwright = root.join(BROWSER_DIR).join("node_modules/playwright-core");
    if !playwright.is_dir() && !on_path("npm") {
        missing.push("npm");
    }
    if !missing.is_empty() {
        install_packages(&missing)?;
    }
    if !playwright.is_dir() {
        eprintln!("xtask: npm install playwright-core into {BROWSER_DIR} (the page test drives chromium with it)");
        status(
            Command::new("npm")
                .args(["install", "--silent", "--no-package-lock", "--prefix"])
                .arg(root.join(BROWSER_DIR)),
        )?;
    }
    python_packages(&root.join(PYTHON_DIR))
}

/// Makes `dir/.venv` with `dir/requirements.txt` installed, unless it has
/// them already (the venv keeps a copy of the list it was made from).
fn python_packages(dir: &Path) -> Result<()> {
    let wanted = std::fs::read_to_string(dir.join("requirements.txt"))
        .with_context(|| format!("reading {}/requirements.txt", dir.display()))?;
    let venv = dir.join(".venv");
    let installed = venv.join("charrnn-requirements.txt");
    if std::fs::read_to_string(&installed).is_ok_and(|had| had == wanted) {
        return Ok(());
    }
    eprintln!("xtask: pip install numpy and onnxruntime into {PYTHON_DIR}/.venv (the export tests run in them)");
    status(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )?;
    status(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(dir.join("requirements.txt")),
    )?;
    std::fs::write(&installed, wanted).context("recording the installed packages")
}

fn install_packages(packages: &[&str]) -> Result<()> {
    let why: Vec<String> = SYSTEM_NEEDS
        .iter()
        .filter(|(_, package, _)| packages.contains(package))
        .map(|(_, package, used_by)| format!("{package} ({used_by})"))
        .collect();
    let command = format!("apt-get install -y {}", packages.join(" "));
    let sudo = match (is_root(), sudo_without_password()) {
        (true, _) => None,
        (false, true) => Some("sudo"),
        (false, false) => bail!(
            "the tests need {}: run `sudo {command}`, then `cargo xtask test` again",
            why.join(", ")
        ),
    };
    if !on_path("apt-get") {
        bail!(
            "the tests need {}; this is not a Debian or Ubuntu system: install them with its package manager",
            why.join(", ")
        );
    }
    eprintln!("xtask: installing {}", why.join(", "));
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(sudo.unwrap_or("apt-get"));
        if sudo.is_some() {
            cmd.arg("apt-get");
        }
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    status(&mut apt(&["update", "-qq"]))?;
    status(apt(&["install", "-y", "-qq"]).args(packages))
        .with_context(|| format!("installing with `{command}`"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

fn sudo_without_password() -> bool {
    on_path("sudo")
        && Command::new("sudo")
            .args(["-n", "true"])
            .output()
            .is_ok_and(|out| out.status.success())
}

/// Runs the CPU kernel tests (`charrnn-cpu`'s unit tests and its blocking
/// tests) under valgrind at the AVX2 level (valgrind decodes no AVX-512 and
/// hides it from the program), failing on any invalid read or write.
fn valgrind_kernels(binaries: Vec<(PathBuf, PathBuf)>) -> Result<()> {
    #[cfg(target_arch = "x86_64")]
    let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let avx2 = false;
    let level = if avx2 { "avx2" } else { "baseline" };
    for (binary, dir) in binaries {
        let name = binary.file_name().unwrap_or_default().to_string_lossy();
        eprintln!("xtask: valgrind {name} at the {level} level");
        status(
            Command::new("valgrind")
                .args(["--quiet", "--error-exitcode=99", "--leak-check=no"])
                .arg(&binary)
                // The rerun at other levels is not valgrind's to do.
                .args(["--skip", "kernels_at_every_simd_level", "--test-threads=2"])
                .env("CHARRNN_SIMD", level)
                .current_dir(dir),
        )
        .with_context(|| format!("valgrind found errors in {name} (or it could not run)"))?;
    }
    Ok(())
}

/// Every test executable of the workspace's test build, with its crate's
/// folder (where `cargo test` runs it).
fn test_binaries(root: &Path, engine: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let out = Command::new(cargo())
        .current_dir(root)
        .args(["test", "--workspace", "--no-run", "--message-format=json"])
        .env(crate::web::ENGINE_ENV, engine)
        .output()
        .context("cannot run cargo test --no-run")?;
    if !out.status.success() {
        bail!(
            "building the tests failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| {
            let dir = Path::new(m["manifest_path"].as_str()?)
                .parent()?
                .to_path_buf();
            Some((PathBuf::from(m["executable"].as_str()?), dir))
        })
        .collect())
}

/// The executables of `built` that belong to the crates in `crate_dirs`.
fn of_crates(
    root: &Path,
    built: &[(PathBuf, PathBuf)],
    crate_dirs: &[&str],
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let wanted: Vec<PathBuf> = crate_dirs.iter().map(|d| root.join(d)).collect();
    let binaries: Vec<(PathBuf, PathBuf)> = built
        .iter()
        .filter(|(_, dir)| wanted.iter().any(|w| same_folder(w, dir)))
        .cloned()
        .collect();
    if binaries.is_empty() {
        bail!("cargo built no test executable for {crate_dirs:?}");
    }
    Ok(binaries)
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}
