//! ARCHITECTURE.md's invariants, checked against `cargo metadata` and the
//! sources: what may depend on what, which crates know a burn backend, and
//! which crates may contain `unsafe`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Each crate's allowed charrnn dependencies (normal, not dev): layers only
/// point down.
const LAYERS: &[(&str, &[&str])] = &[
    ("charrnn-fs", &[]),
    ("charrnn-cpu", &[]),
    ("charrnn-gpu", &[]),
    ("charrnn-corpus", &[]),
    ("charrnn-batch", &["charrnn-corpus"]),
    ("charrnn-tokens", &["charrnn-corpus", "charrnn-fs"]),
    ("charrnn-plot", &["charrnn-fs"]),
    (
        "charrnn-model",
        &["charrnn-corpus", "charrnn-cpu", "charrnn-gpu"],
    ),
    (
        "charrnn-sample",
        &["charrnn-corpus", "charrnn-cpu", "charrnn-model"],
    ),
    // The server is a layer of its own above the sampler; training never
    // depends on it.
    ("charrnn-serve", &["charrnn-corpus", "charrnn-sample"]),
    // Exports read the sampler's plain weights, never burn's records.
    (
        "charrnn-export",
        &["charrnn-corpus", "charrnn-fs", "charrnn-sample"],
    ),
    // The web page's engine: a program for the browser, like the binary.
    (
        "charrnn-web",
        &["charrnn-corpus", "charrnn-export", "charrnn-sample"],
    ),
    (
        "charrnn-train",
        &[
            "charrnn-corpus",
            "charrnn-batch",
            "charrnn-fs",
            "charrnn-tokens",
            "charrnn-model",
            "charrnn-sample",
        ],
    ),
    (
        "charrnn",
        &[
            "charrnn-fs",
            "charrnn-corpus",
            "charrnn-cpu",
            "charrnn-gpu",
            "charrnn-batch",
            "charrnn-tokens",
            "charrnn-model",
            "charrnn-sample",
            "charrnn-serve",
            "charrnn-export",
            "charrnn-train",
            "charrnn-plot",
        ],
    ),
    ("charrnn-cli", &["charrnn"]),
    ("xtask", &["charrnn-fs"]),
];

/// Crates that may name burn at all; the others are plain Rust (or cubecl).
const KNOWS_BURN: &[&str] = &[
    "charrnn-model",
    "charrnn-sample",
    "charrnn-train",
    "charrnn",
    "charrnn-cli",
];

/// Crates that may name a concrete burn backend crate (`burn-flex`,
/// `burn-cuda`, `burn-cubecl`, `burn-wgpu`, …): the model, which implements
/// the backend extension, and the binary, which picks a device.
const KNOWS_BACKENDS: &[&str] = &["charrnn-model", "charrnn-cli"];

/// Crates whose sources may contain `unsafe` (each denies
/// `unsafe_op_in_unsafe_fn`); every other library forbids it.
const MAY_BE_UNSAFE: &[&str] = &[
    "charrnn-cpu",
    "charrnn-model",
    "charrnn-tokens",
    "charrnn-cli",
    "xtask",
];

fn workspace() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// Each workspace crate's normal (non-dev) dependencies, and its manifest path.
fn crates() -> BTreeMap<String, (Vec<String>, PathBuf)> {
    let meta = workspace();
    meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().expect("name").to_string())
                .collect();
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest"));
            (
                p["name"].as_str().expect("name").to_string(),
                (deps, manifest),
            )
        })
        .collect()
}

#[test]
fn layers_only_depend_downwards() {
    let crates = crates();
    for (name, (deps, _)) in &crates {
        let allowed = LAYERS
            .iter()
            .find(|(layer, _)| layer == name)
            .unwrap_or_else(|| {
                panic!("{name} is not in ARCHITECTURE.md's layer table (xtask/tests/invariants.rs)")
            })
            .1;
        for dep in deps.iter().filter(|d| crates.contains_key(*d)) {
            assert!(
                allowed.contains(&dep.as_str()),
                "{name} depends on {dep}, which ARCHITECTURE.md's invariants forbid"
            );
        }
    }
}

#[test]
fn only_the_model_and_the_binary_know_a_backend() {
    for (name, (deps, _)) in crates() {
        for dep in deps
            .iter()
            .filter(|d| d.starts_with("burn") || d.starts_with("cubecl"))
        {
            let allowed = match dep.as_str() {
                "burn" => KNOWS_BURN.contains(&name.as_str()),
                "cubecl" => name == "charrnn-gpu",
                _ => KNOWS_BACKENDS.contains(&name.as_str()),
            };
            assert!(
                allowed,
                "{name} depends on {dep}, which ARCHITECTURE.md's invariants forbid"
            );
        }
    }
}

/// MPI is the binary's, behind its `mpi` feature: a default build needs no
/// MPI library, and training knows only its `Collective` trait.
#[test]
fn only_the_binary_knows_mpi_and_only_behind_its_feature() {
    let meta = workspace();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name");
        for dep in package["dependencies"].as_array().expect("dependencies") {
            if dep["name"].as_str().is_some_and(|d| d.starts_with("mpi")) {
                assert!(
                    name == "charrnn-cli" && dep["optional"] == true,
                    "{name} depends on {}: only charrnn-cli may, as an optional dependency",
                    dep["name"]
                );
            }
        }
        if name == "charrnn-cli" {
            assert_eq!(package["features"]["mpi"], serde_json::json!(["dep:mpi"]));
            let default = &package["features"]["default"];
            assert!(!default.to_string().contains("mpi"), "mpi is on by default");
        }
    }
}

/// The crate root: `src/lib.rs`, or `src/main.rs` for a binary.
fn root(manifest: &Path) -> PathBuf {
    let src = manifest.parent().expect("crate folder").join("src");
    ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.is_file())
        .expect("a crate root")
}

#[test]
fn unsafe_code_stays_where_it_is_allowed() {
    let workspace_manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let workspace_lints =
        std::fs::read_to_string(workspace_manifest).expect("the workspace manifest");
    assert!(
        workspace_lints.contains("undocumented_unsafe_blocks = \"deny\""),
        "the workspace denies unsafe blocks without a SAFETY comment"
    );
    for (name, (_, manifest)) in crates() {
        let lints = std::fs::read_to_string(&manifest).expect("read the crate manifest");
        assert!(
            lints.contains("[lints]\nworkspace = true"),
            "{name} takes the workspace's lints ([lints] workspace = true)"
        );
        let text = std::fs::read_to_string(root(&manifest)).expect("read the crate root");
        if MAY_BE_UNSAFE.contains(&name.as_str()) {
            assert!(
                text.contains("#![deny(unsafe_op_in_unsafe_fn)]"),
                "{name} may use unsafe but does not deny unsafe_op_in_unsafe_fn"
            );
        } else {
            assert!(
                text.contains("#![forbid(unsafe_code)]"),
                "{name} must forbid unsafe code"
            );
        }
    }
}

/// The library crates: every workspace crate but the binary and xtask.
fn libraries() -> Vec<(String, PathBuf)> {
    crates()
        .into_iter()
        .filter(|(name, _)| name != "charrnn-cli" && name != "xtask")
        .map(|(name, (_, manifest))| {
            let folder = manifest.parent().expect("crate folder").to_path_buf();
            (name, folder)
        })
        .collect()
}

#[test]
fn every_library_crate_stands_alone_with_a_tested_readme() {
    for (name, folder) in libraries() {
        let readme = std::fs::read_to_string(folder.join("README.md"))
            .unwrap_or_else(|_| panic!("{name} has no README.md"));
        assert!(
            readme.contains("```rust") && readme.contains("assert"),
            "{name}'s README has no Rust example that asserts what it shows"
        );
        let root = std::fs::read_to_string(folder.join("src/lib.rs")).expect("lib.rs");
        assert!(
            root.starts_with("#![doc = include_str!(\"../README.md\")]"),
            "{name}'s crate docs are not its README, so its example is not a doc test"
        );
        let manifest = std::fs::read_to_string(folder.join("Cargo.toml")).expect("Cargo.toml");
        assert!(
            manifest.contains("\ndescription = "),
            "{name} has no package description"
        );
    }
}

#[test]
fn the_facade_reexports_and_lists_every_layer() {
    let facade = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/charrnn");
    let root = std::fs::read_to_string(facade.join("src/lib.rs")).expect("facade lib.rs");
    let readme = std::fs::read_to_string(facade.join("README.md")).expect("facade README");
    // The web engine is a program for the browser, not a layer to re-export.
    let layers = libraries()
        .into_iter()
        .filter(|(n, _)| n != "charrnn" && n != "charrnn-web");
    for (name, _) in layers {
        let module = name.trim_start_matches("charrnn-");
        let reexport = format!("pub use {} as {module};", name.replace('-', "_"));
        assert!(root.contains(&reexport), "the facade lacks `{reexport}`");
        let row = format!("| `{module}` | `{name}` |");
        assert!(readme.contains(&row), "the facade's table lacks {name}");
    }
}

/// Every Rust source file outside tests, with its path.
fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read a source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs")
                && path.file_name().is_some_and(|n| n != "tests.rs")
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for (_, (_, manifest)) in crates() {
        walk(
            &manifest.parent().expect("crate folder").join("src"),
            &mut files,
        );
    }
    files
}

/// Files with one job each: none over 500 lines, and each module says its
/// job in its first line (a crate root in its README).
#[test]
fn every_source_file_is_small_and_says_its_job() {
    for file in sources() {
        let text = std::fs::read_to_string(&file).expect("read a source file");
        let lines = text.lines().count();
        assert!(
            lines <= 500,
            "{} has {lines} lines, more than 500",
            file.display()
        );
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("//!") || first.starts_with("#![doc = include_str!"),
            "{} does not start with a `//!` line saying its job",
            file.display()
        );
    }
}

#[test]
fn the_web_engine_builds_without_burn() {
    let tree = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "charrnn-web",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--target", "wasm32-unknown-unknown", "--format", "{p}"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("cargo tree runs");
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.contains("charrnn-sample"), "{tree}");
    for line in tree.lines() {
        assert!(
            !line.starts_with("burn") && !line.starts_with("charrnn-model"),
            "the web engine would build {line}: charrnn-sample's burn feature must stay off there"
        );
    }
}
