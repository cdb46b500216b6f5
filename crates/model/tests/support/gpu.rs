//! The wgpu device the GPU-kernel tests run on.

use burn::backend::wgpu::WgpuDevice;

/// wgpu's default device, after checking that a Vulkan driver is installed.
pub fn device() -> WgpuDevice {
    super::vulkan::require_vulkan();
    WgpuDevice::DefaultDevice
}
