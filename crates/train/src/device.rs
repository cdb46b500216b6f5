//! The device a run trains on: what its checkpoints record, and whether its
//! memory is the host's.

/// The device a run trains on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU.
    #[default]
    Cpu,
    /// An NVIDIA GPU.
    Cuda,
    /// A GPU (or software renderer) through wgpu.
    Wgpu,
}

impl Device {
    /// Short name, recorded in checkpoints.
    pub fn label(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
            Device::Wgpu => "wgpu",
        }
    }

    /// Whether the model, its gradients and its optimizer state live in the
    /// host's memory, so that a run too big for it is refused before it starts.
    pub fn uses_host_memory(self) -> bool {
        self == Device::Cpu
    }
}
