//! Two identical copies of a freshly initialised module, for tests that run
//! the same model two ways (included with `#[path]` by the model's and the
//! trainer's tests).
//!
//! burn initialises parameters lazily from its global generator, which tests
//! running in parallel share, and a clone or a record of a lazy parameter
//! initialises on its own; so both copies are loaded from the same bytes.
// Each including test uses one of the two.
#![allow(dead_code)]

use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::Backend;

/// Two modules with the same parameter values, from `init`.
pub fn two_copies<B: Backend, M: Module<B>>(init: impl Fn() -> M, device: &B::Device) -> (M, M) {
    same_on_both((&init, device), (&init, device))
}

/// The same parameters in a module on backend `A` and one on backend `B`:
/// `init_a`'s, serialised once and loaded into both.
pub fn same_on_both<A: Backend, B: Backend, M: Module<A>, N: Module<B>>(
    (init_a, device_a): (impl Fn() -> M, &A::Device),
    (init_b, device_b): (impl Fn() -> N, &B::Device),
) -> (M, N) {
    let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
    let bytes = recorder
        .record(init_a().into_record(), ())
        .expect("serialise the module");
    let a = recorder
        .load(bytes.clone(), device_a)
        .expect("load the module");
    let b = recorder.load(bytes, device_b).expect("load the module");
    (init_a().load_record(a), init_b().load_record(b))
}

/// Two identical models of `config` on the CPU's autodiff backend.
pub fn two_models(
    config: &charrnn_model::CharRnnConfig,
) -> (
    charrnn_model::CharRnn<burn::backend::Autodiff<burn::backend::Flex>>,
    charrnn_model::CharRnn<burn::backend::Autodiff<burn::backend::Flex>>,
) {
    let device = Default::default();
    two_copies(|| config.init(&device), &device)
}
