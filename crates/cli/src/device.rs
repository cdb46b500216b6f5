//! Choosing the compute device: `--device auto|cpu|cuda`.

use clap::ValueEnum;

/// The device asked for on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceArg {
    /// CUDA when a GPU is usable, else the CPU.
    Auto,
    /// burn's pure-Rust CPU backend (Flex).
    Cpu,
    /// burn's CUDA backend.
    Cuda,
}

/// The device actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU.
    Cpu,
    /// An NVIDIA GPU.
    Cuda,
}

impl Device {
    /// Short name, recorded in checkpoints.
    pub fn label(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
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
        DeviceArg::Auto => match cuda_probe() {
            Ok(n) => {
                tracing::info!("device: cuda (auto: {n} GPU(s) found)");
                Ok(Device::Cuda)
            }
            Err(why) => {
                tracing::info!("device: cpu (auto: {why})");
                Ok(Device::Cpu)
            }
        },
    }
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
