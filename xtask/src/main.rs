//! `cargo xtask`: project automation (the rust-analyzer convention).
//!
//! Training in a debug build is far too slow, so every task builds the release
//! `charrnn` binary first and runs it.
#![deny(unsafe_op_in_unsafe_fn)]

mod bench;
mod corpora;
mod fetch;
mod test;
mod web;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "charrnn project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build the release binary and run `charrnn train ARGS...`.
    Train {
        /// Arguments for `charrnn train` (e.g. --config configs/X.toml).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the release binary and run `charrnn sample ARGS...`.
    Sample {
        /// Arguments for `charrnn sample` (e.g. --run runs/X).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Fetch the corpus if missing, train, then print a sample from the final checkpoint.
    Pipeline {
        /// Run config.
        #[arg(long)]
        config: PathBuf,
        /// auto, cpu or cuda.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Config overrides, as for `charrnn train --set`.
        #[arg(long = "set")]
        overrides: Vec<String>,
    },
    /// Download the standard corpora into data/.
    FetchData {
        /// Folder to write to.
        #[arg(long, default_value = "data")]
        dest: PathBuf,
    },
    /// Set up what the tests need (Debian packages as root or with sudo, npm
    /// packages into the test folder), run `cargo test --workspace ARGS...`,
    /// then, without ARGS, the kernel tests again on one thread and under
    /// valgrind.
    Test {
        /// Arguments for `cargo test` (e.g. a test name filter).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the release charrnn binary that every task runs.
    Build {
        /// Embed the web page's engine (built first, as by web-engine), so
        /// that `charrnn export --format web` works.
        #[arg(long)]
        web: bool,
    },
    /// Compile the web page's engine (charrnn-web) to WebAssembly and make its
    /// JavaScript glue with wasm-bindgen, into TARGET/web-engine.
    WebEngine,
    /// Compare training, sampling, memory and encoding with a PyTorch reference
    /// of the same model, on this machine; appends a row to BENCHMARKS.md.
    Bench(bench::BenchArgs),
}

fn main() {
    if let Err(e) = run(Cli::parse().task) {
        eprintln!("xtask: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(task: Task) -> Result<()> {
    match task {
        Task::Train { args } => {
            let bin = build()?;
            status(Command::new(bin).arg("train").args(args))
        }
        Task::Sample { args } => {
            let bin = build()?;
            status(Command::new(bin).arg("sample").args(args))
        }
        Task::Pipeline {
            config,
            device,
            overrides,
        } => pipeline(&config, &device, &overrides),
        Task::FetchData { dest } => fetch::fetch_all(&dest),
        Task::Test { args } => test::test(&args),
        Task::Build { web: false } => build().map(|_| ()),
        Task::Build { web: true } => {
            let engine = web::build_engine()?;
            build_with(Some(&engine)).map(|_| ())
        }
        Task::WebEngine => {
            let engine = web::build_engine()?;
            println!("{}", engine.display());
            Ok(())
        }
        Task::Bench(args) => bench::bench(&args),
    }
}

/// The workspace this xtask runs for: the one `cargo xtask` was invoked in
/// (cargo sets `CARGO_MANIFEST_DIR` for the run; checkouts that share a target
/// folder share this binary too); else the one it was built in; or, for a
/// prebuilt xtask carried to another machine (GPU machines here have no Rust
/// toolchain), the current directory when the build path does not exist there.
pub(crate) fn workspace_root() -> PathBuf {
    let xtask_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let built_in = xtask_dir
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf();
    if built_in.join("Cargo.toml").exists() {
        return built_in;
    }
    std::env::current_dir().unwrap_or(built_in)
}

/// Builds `target/release/charrnn` and returns its path.
fn build() -> Result<PathBuf> {
    build_with(None)
}

/// Builds `target/release/charrnn`, with the web page's engine in `web`
/// embedded when given, and returns its path.
fn build_with(web: Option<&Path>) -> Result<PathBuf> {
    eprintln!("xtask: building the release charrnn (the first build takes about 10 minutes)");
    let mut cargo = Command::new(cargo());
    cargo
        .current_dir(workspace_root())
        .args(["build", "--release", "-p", "charrnn-cli"]);
    match web {
        Some(engine) => cargo.env(web::ENGINE_ENV, engine),
        None => cargo.env_remove(web::ENGINE_ENV),
    };
    status(&mut cargo)?;
    Ok(target_dir().join("release").join("charrnn"))
}

/// Cargo's target folder for this workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub(crate) fn status(cmd: &mut Command) -> Result<()> {
    let st = cmd
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !st.success() {
        bail!("{:?} failed ({st})", cmd.get_program());
    }
    Ok(())
}

/// A run config as `charrnn config` resolves it: defaults filled in and
/// `--set` overrides applied by the one parser that training uses.
pub(crate) struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
}

impl ConfigFile {
    /// Asks the `charrnn` binary `bin` to resolve `path` with `overrides`.
    pub(crate) fn resolve(bin: &Path, path: &Path, overrides: &[String]) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["config", "--config"]).arg(path);
        for o in overrides {
            cmd.args(["--set", o]);
        }
        let out = cmd
            .output()
            .with_context(|| format!("cannot run {cmd:?}"))?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr).trim());
        }
        let table = String::from_utf8(out.stdout)?
            .parse()
            .with_context(|| format!("`charrnn config` printed no TOML for {}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            table,
        })
    }

    /// `section.key` as text.
    pub(crate) fn value(&self, key: &str) -> Result<String> {
        let (section, name) = key.split_once('.').expect("keys are section.key");
        let value = self
            .table
            .get(section)
            .and_then(|s| s.get(name))
            .with_context(|| format!("{} has no {key}", self.path.display()))?;
        Ok(match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

fn pipeline(config: &Path, device: &str, overrides: &[String]) -> Result<()> {
    let bin = build()?;
    let file = ConfigFile::resolve(&bin, config, overrides)?;
    let corpus = file.value("data.corpus")?;
    let mut train = Command::new(&bin);
    // A standard corpus is found where a checkout keeps it, or fetched; a
    // list or another file is the user's own text, found by the binary.
    if corpora::STANDARD_CORPORA.contains(&corpus.as_str()) {
        let dir = match corpora::find_standard_data_dir(&workspace_root()) {
            Ok(dir) => dir,
            Err(tried) => {
                eprintln!("xtask: corpus {corpus} not found in {tried:?}; fetching it");
                let data = workspace_root().join("data");
                fetch::fetch_all(&data)?;
                data
            }
        };
        train.env(corpora::DATA_DIR_ENV, dir);
    }
    let run = file.value("train.out_dir")?;
    train
        .args(["train", "--config"])
        .arg(config)
        .args(["--device", device]);
    for o in overrides {
        train.args(["--set", o]);
    }
    status(&mut train)?;
    eprintln!("xtask: sample from the best checkpoint of {run}:");
    status(Command::new(&bin).args(["sample", "--run", &run]))
}
