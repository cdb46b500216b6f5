//! The wgpu device the GPU-kernel tests run on, and one module's parameters
//! on two backends.

use burn::backend::wgpu::WgpuDevice;
use burn::module::Module;
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::backend::Backend;

/// wgpu's default device, after checking that a Vulkan driver is installed.
pub fn device() -> WgpuDevice {
    super::vulkan::require_vulkan();
    WgpuDevice::DefaultDevice
}

/// The same parameters in a module on backend `A` and one on backend `B`:
/// `init_a`'s, serialised once and loaded into both (burn initialises
/// parameters lazily, so a module and its record could otherwise differ).
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
