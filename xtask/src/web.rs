//! `cargo xtask web-engine`: `charrnn-web` compiled to WebAssembly and its
//! JavaScript glue made by wasm-bindgen's CLI, for `charrnn export --format
//! web` to embed (through `CHARRNN_WEB_ENGINE`, read by the binary's build
//! script).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

use crate::{cargo, status, target_dir, workspace_root};

/// The variable that hands the engine's folder to the binary's build.
pub const ENGINE_ENV: &str = "CHARRNN_WEB_ENGINE";

/// The wasm-bindgen the `charrnn-web` crate pins: its CLI must be the same
/// version, or the glue it writes does not fit the module.
const WASM_BINDGEN: &str = "0.2.130";

const TARGET: &str = "wasm32-unknown-unknown";

/// Builds the engine into `TARGET_DIR/web-engine` and returns that folder.
pub fn build_engine() -> Result<PathBuf> {
    ensure_wasm_target()?;
    let bindgen = ensure_wasm_bindgen()?;
    eprintln!("xtask: building the web page's engine (charrnn-web for {TARGET})");
    status(Command::new(cargo()).current_dir(workspace_root()).args([
        "build",
        "--release",
        "-p",
        "charrnn-web",
        "--target",
        TARGET,
    ]))?;
    let module = target_dir().join(TARGET).join("release/charrnn_web.wasm");
    let out = target_dir().join("web-engine");
    status(
        Command::new(bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&out)
            .arg(&module),
    )
    .context("wasm-bindgen could not make the page's glue")?;
    Ok(out)
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l == TARGET)
        });
    if !installed {
        eprintln!("xtask: rustup target add {TARGET} (the web page's engine)");
        status(Command::new("rustup").args(["target", "add", TARGET]))?;
    }
    Ok(())
}

/// wasm-bindgen's CLI at [`WASM_BINDGEN`], installed from crates.io when
/// missing or of another version.
fn ensure_wasm_bindgen() -> Result<PathBuf> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
    let bindgen = cargo_home.join("bin/wasm-bindgen");
    let version = Command::new(&bindgen)
        .arg("--version")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
        .unwrap_or_default();
    if !version.split_whitespace().any(|word| word == WASM_BINDGEN) {
        eprintln!("xtask: cargo install wasm-bindgen-cli {WASM_BINDGEN} (a few minutes, once)");
        status(Command::new(cargo()).args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            WASM_BINDGEN,
        ]))?;
    }
    Ok(bindgen)
}
