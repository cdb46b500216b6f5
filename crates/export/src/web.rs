//! The web page: `index.html` and its worker (kept in `page/`), the engine
//! compiled to WebAssembly (`charrnn-web`, built apart by wasm-bindgen), and
//! the model as `model.safetensors` beside them.

/// The WebAssembly engine and its JavaScript glue, as wasm-bindgen's CLI
/// writes them for `--target web` from the `charrnn-web` crate.
#[derive(Clone, Copy, Debug)]
pub struct WebEngine {
    /// `charrnn_web.js`.
    pub js: &'static [u8],
    /// `charrnn_web_bg.wasm`.
    pub wasm: &'static [u8],
}

/// The page's files besides the model and the manifest.
pub(crate) fn page_files(engine: WebEngine) -> [(&'static str, Vec<u8>); 4] {
    [
        ("index.html", include_bytes!("../page/index.html").to_vec()),
        ("worker.js", include_bytes!("../page/worker.js").to_vec()),
        ("charrnn_web.js", engine.js.to_vec()),
        ("charrnn_web_bg.wasm", engine.wasm.to_vec()),
    ]
}
