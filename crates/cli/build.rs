//! Embeds the web page's engine when `CHARRNN_WEB_ENGINE` names the folder
//! wasm-bindgen wrote it to (`cargo xtask web-engine`, or `cargo xtask build
//! --web`); without it, `charrnn export --format web` says how to get it.

use std::path::{Path, PathBuf};

const ENGINE_FILES: [&str; 2] = ["charrnn_web.js", "charrnn_web_bg.wasm"];

fn main() {
    println!("cargo::rerun-if-env-changed=CHARRNN_WEB_ENGINE");
    println!("cargo::rustc-check-cfg=cfg(web_engine)");
    let Some(engine) = std::env::var_os("CHARRNN_WEB_ENGINE") else {
        return;
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for name in ENGINE_FILES {
        let from = Path::new(&engine).join(name);
        println!("cargo::rerun-if-changed={}", from.display());
        if let Err(e) = std::fs::copy(&from, out.join(name)) {
            panic!(
                "CHARRNN_WEB_ENGINE: cannot read {}: {e}; make it with `cargo xtask web-engine`",
                from.display()
            );
        }
    }
    println!("cargo::rustc-cfg=web_engine");
}
