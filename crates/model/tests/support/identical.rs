//! Two identical copies of a freshly initialised module, for tests that run
//! the same model two ways (included with `#[path]` by the model's and the
//! trainer's tests).
//!
//! burn initialises parameters lazily from its global generator, which tests
//! running in parallel share, and a clone or a record of a lazy parameter
//! initialises on its own; so both copies are loaded from the same bytes.

use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::Backend;

/// Two modules with the same parameter values, from `init`.
pub fn two_copies<B: Backend, M: Module<B>>(init: impl Fn() -> M, device: &B::Device) -> (M, M) {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder
        .record(init().into_record(), ())
        .expect("serialise the module");
    let load = || {
        let record = recorder
            .load(bytes.clone(), device)
            .expect("load the module");
        init().load_record(record)
    };
    (load(), load())
}
