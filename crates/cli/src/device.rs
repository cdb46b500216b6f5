//! Choosing the compute device: `--device auto|cpu|cuda|wgpu`, and running a
//! job on the backend of the device picked.

use burn::backend::{Autodiff, Flex};
use burn::tensor::backend::AutodiffBackend;
use charrnn::model::{LstmBackend, LstmKernels};
use clap::ValueEnum;

/// The device asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// CUDA when a GPU is usable, else a wgpu GPU (not a software renderer),
    /// else the CPU.
    Auto,
    /// burn's pure-Rust CPU backend (Flex).
    Cpu,
    /// burn's CUDA backend.
    Cuda,
    /// burn's wgpu backend: Vulkan, Metal or DirectX, on any GPU (or a
    /// software renderer such as lavapipe).
    Wgpu,
}

pub use charrnn::train::Device;

/// A job to run on whichever backend the device needs: training, evaluation.
pub trait OnBackend {
    /// What the job returns.
    type Output;

    /// Runs the job on the autodiff backend `B`, on `device`.
    fn run<B>(self, device: &B::Device) -> Self::Output
    where
        B: AutodiffBackend + LstmBackend,
        B::InnerBackend: LstmKernels;
}

/// Runs `job` on `device`'s backend: the one place that maps devices to types.
pub fn run_on<J: OnBackend>(device: Device, job: J) -> J::Output {
    match device {
        Device::Cpu => job.run::<Autodiff<Flex>>(&Default::default()),
        #[cfg(feature = "cuda")]
        Device::Cuda => job.run::<Autodiff<burn::backend::Cuda>>(&cuda_device()),
        #[cfg(not(feature = "cuda"))]
        Device::Cuda => unreachable!("select never picks CUDA without the cuda feature"),
        Device::Wgpu => job.run::<Autodiff<burn::backend::Wgpu>>(&Default::default()),
    }
}

/// The GPU this process trains on: its local rank's when a launcher started
/// several processes on the machine, else the first.
#[cfg(feature = "cuda")]
fn cuda_device() -> burn::backend::cuda::CudaDevice {
    let index = crate::world::launch().map_or(0, |launch| {
        crate::world::gpu_of(launch.local_rank, cuda_probe().unwrap_or(1))
    });
    burn::backend::cuda::CudaDevice::new(index)
}

/// Resolves `--device`, saying which device was picked and why.
pub fn select(arg: DeviceArg) -> anyhow::Result<Device> {
    match arg {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda => match cuda_probe() {
            Ok(n) => {
                tracing::info!("device: cuda ({n} GPU(s) found)");
                Ok(Device::Cuda)
            }
            Err(why) => anyhow::bail!("--device cuda: no usable GPU ({why}); use --device cpu"),
        },
        DeviceArg::Wgpu => match wgpu_adapters().first() {
            Some(adapter) => {
                tracing::info!("device: wgpu ({adapter} and any others wgpu prefers)");
                Ok(Device::Wgpu)
            }
            None => anyhow::bail!(
                "--device wgpu: no Vulkan, Metal or DirectX driver found (on Linux without a GPU, lavapipe: apt-get install mesa-vulkan-drivers libvulkan1); use --device cpu"
            ),
        },
        DeviceArg::Auto => Ok(auto()),
    }
}

fn auto() -> Device {
    let cuda = match cuda_probe() {
        Ok(n) => {
            tracing::info!("device: cuda (auto: {n} GPU(s) found)");
            return Device::Cuda;
        }
        Err(why) => why,
    };
    if let Some(gpu) = wgpu_adapters().into_iter().find(|a| !a.software) {
        tracing::info!("device: wgpu (auto: {cuda}; found {gpu})");
        return Device::Wgpu;
    }
    tracing::info!("device: cpu (auto: {cuda}; no wgpu GPU)");
    Device::Cpu
}

/// An adapter wgpu found: its name, API and whether it is a software renderer.
struct Adapter {
    name: String,
    backend: String,
    software: bool,
}

impl std::fmt::Display for Adapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.software { ", software" } else { "" };
        write!(f, "{} ({}{kind})", self.name, self.backend)
    }
}

/// Every adapter wgpu can use for compute here (Vulkan, Metal, DirectX: not
/// OpenGL, which burn does not compute on), without opening any of them.
/// Drivers print to stderr as they are probed (Mesa without a display says
/// `XDG_RUNTIME_DIR is invalid`); that goes to the debug log, not the user.
fn wgpu_adapters() -> Vec<Adapter> {
    let (adapters, said) = with_stderr_held(|| {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        futures_lite::future::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
    });
    if !said.trim().is_empty() {
        tracing::debug!("the GPU drivers said while probed: {}", said.trim());
    }
    adapters
        .into_iter()
        .map(|adapter| {
            let info = adapter.get_info();
            Adapter {
                name: info.name,
                backend: format!("{:?}", info.backend),
                software: info.device_type == wgpu::DeviceType::Cpu,
            }
        })
        .collect()
}

/// Runs `probe` with this process's stderr (file descriptor 2) sent to a
/// temporary file; returns its result and what was written there meanwhile.
/// Where stderr cannot be redirected, runs it as it is.
fn with_stderr_held<T>(probe: impl FnOnce() -> T) -> (T, String) {
    use std::io::{Read, Seek};
    use std::os::fd::AsRawFd;
    let Ok(mut held) = tempfile::tempfile() else {
        return (probe(), String::new());
    };
    // SAFETY: dup only duplicates descriptor 2, which is open for the life of
    // the process; the copy is closed below.
    let saved = unsafe { libc::dup(2) };
    // SAFETY: both descriptors are open: `held` lives until after the
    // restore below, and dup2 replaces descriptor 2 atomically.
    if saved < 0 || unsafe { libc::dup2(held.as_raw_fd(), 2) } < 0 {
        return (probe(), String::new());
    }
    let result = probe();
    // SAFETY: `saved` is the descriptor dup returned above; dup2 puts it back
    // as descriptor 2, then the copy is closed once.
    unsafe {
        libc::dup2(saved, 2);
        libc::close(saved);
    }
    let mut said = String::new();
    let _ = held.rewind().and_then(|_| held.read_to_string(&mut said));
    (result, said)
}

/// Counts usable CUDA devices by asking the driver directly, so a machine without
/// one gets a reason instead of a panic from deep inside the backend.
#[cfg(feature = "cuda")]
fn cuda_probe() -> Result<usize, String> {
    type CuInit = unsafe extern "C" fn(u32) -> i32;
    type CuDeviceGetCount = unsafe extern "C" fn(*mut i32) -> i32;
    // SAFETY: loading the CUDA driver library runs no code of ours; the two
    // symbols have the C signatures of the CUDA driver API.
    unsafe {
        let lib = libloading::Library::new("libcuda.so.1")
            .or_else(|_| libloading::Library::new("libcuda.so"))
            .map_err(|_| "no CUDA driver (libcuda) found".to_string())?;
        let init: libloading::Symbol<CuInit> = lib
            .get(b"cuInit")
            .map_err(|e| format!("CUDA driver: {e}"))?;
        let count: libloading::Symbol<CuDeviceGetCount> = lib
            .get(b"cuDeviceGetCount")
            .map_err(|e| format!("CUDA driver: {e}"))?;
        let rc = init(0);
        if rc != 0 {
            return Err(format!("cuInit failed with CUDA error {rc}"));
        }
        let mut n = 0;
        let rc = count(&mut n);
        if rc != 0 || n <= 0 {
            return Err("the CUDA driver sees no GPU".into());
        }
        Ok(n as usize)
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_probe() -> Result<usize, String> {
    Err("this charrnn was built without the `cuda` feature".into())
}
