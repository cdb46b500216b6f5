//! What the page's JavaScript sees: `new Writer(bytes)` and
//! `writer.write(prime, length, temperature, topN, seed, onChar)`.

use charrnn_sample::SampleOptions;
use wasm_bindgen::prelude::*;

use crate::PageWriter;

/// A model loaded in the page.
#[wasm_bindgen]
pub struct Writer(PageWriter);

#[wasm_bindgen]
impl Writer {
    /// Loads the bytes of `model.safetensors`; throws an `Error` that says
    /// what is wrong with a file that is not a whole charrnn export.
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8]) -> Result<Writer, JsError> {
        PageWriter::from_safetensors(model)
            .map(Writer)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// Characters the model knows.
    #[wasm_bindgen(js_name = vocabSize)]
    pub fn vocab_size(&self) -> usize {
        self.0.vocab_size()
    }

    /// Writes `length` characters after `prime`, calling `on_char(c)` for
    /// each as it is drawn; returns the text. `seed` is a BigInt.
    pub fn write(
        &mut self,
        prime: String,
        length: usize,
        temperature: f64,
        top_n: usize,
        seed: u64,
        on_char: &js_sys::Function,
    ) -> Result<String, JsError> {
        let options = SampleOptions {
            prime,
            length,
            temperature,
            top_n,
            seed,
            ..SampleOptions::default()
        };
        self.0
            .write(&options, |c| {
                // A page that throws in its handler still gets the whole text.
                let _ = on_char.call1(
                    &JsValue::NULL,
                    &JsValue::from_str(c.encode_utf8(&mut [0; 4])),
                );
            })
            .map_err(|e| JsError::new(&e.to_string()))
    }
}
