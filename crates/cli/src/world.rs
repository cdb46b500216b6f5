//! The processes a launcher (`mpirun`, `srun`) started together, and MPI
//! among them when the binary is built with the `mpi` feature.

use std::sync::Arc;

use charrnn::train::Collective;

/// What a launcher told this process about its job, from its environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Launch {
    /// This process's rank in the job.
    pub(crate) rank: usize,
    /// Processes in the job.
    pub(crate) size: usize,
    /// This process's rank among those on its machine.
    pub(crate) local_rank: usize,
}

/// Open MPI's, MPICH's (Hydra, PMI) and Slurm's (`srun`) names for rank,
/// size and local rank, in that order.
const LAUNCHERS: [[&str; 3]; 3] = [
    [
        "OMPI_COMM_WORLD_RANK",
        "OMPI_COMM_WORLD_SIZE",
        "OMPI_COMM_WORLD_LOCAL_RANK",
    ],
    ["PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"],
    ["SLURM_PROCID", "SLURM_STEP_NUM_TASKS", "SLURM_LOCALID"],
];

/// The job a launcher started this process in, read through `var`; `None`
/// when no launcher did (or it started one process).
pub(crate) fn launch_from(var: impl Fn(&str) -> Option<String>) -> Option<Launch> {
    let number = |name: &str| var(name).and_then(|v| v.trim().parse::<usize>().ok());
    LAUNCHERS.iter().find_map(|[rank, size, local]| {
        let launch = Launch {
            rank: number(rank)?,
            size: number(size)?,
            local_rank: number(local).unwrap_or(0),
        };
        (launch.size > 1).then_some(launch)
    })
}

/// The job this process was launched in, from its environment.
pub(crate) fn launch() -> Option<Launch> {
    launch_from(|name| std::env::var(name).ok())
}

/// This process's rank (0 when not launched as one of several).
pub(crate) fn rank() -> usize {
    launch().map_or(0, |l| l.rank)
}

/// The GPU a process takes on a machine with `gpus` of them: its local
/// rank's, shared round-robin when the machine runs more processes than it
/// has GPUs.
pub(crate) fn gpu_of(local_rank: usize, gpus: usize) -> usize {
    local_rank % gpus.max(1)
}

/// The processes training together, for as long as training runs.
pub(crate) struct Joined {
    /// The processes, when there are several.
    pub(crate) world: Option<Arc<dyn Collective>>,
    #[cfg(feature = "mpi")]
    universe: Option<mpi::environment::Universe>,
}

impl Joined {
    /// Leaves the job. After a failure only this process met, MPI is not
    /// finalized (finalizing waits for processes that are waiting for this
    /// one): the launcher ends the job when this process exits.
    pub(crate) fn leave(self, clean: bool) {
        #[cfg(feature = "mpi")]
        if !clean {
            std::mem::forget(self.universe);
        }
        #[cfg(not(feature = "mpi"))]
        let _ = clean;
    }
}

/// Joins the job a launcher started, through MPI; alone when there is none.
#[cfg(feature = "mpi")]
pub(crate) fn join() -> anyhow::Result<Joined> {
    let Some(launch) = launch() else {
        return Ok(Joined {
            world: None,
            universe: None,
        });
    };
    let (universe, _) = mpi::initialize_with_threading(mpi::Threading::Funneled)
        .ok_or_else(|| anyhow::anyhow!("MPI was initialised twice"))?;
    let world = mpi_world::MpiWorld::new();
    tracing::info!(
        "training as rank {} of {} processes (MPI; launcher rank {}, local rank {})",
        world.rank(),
        world.size(),
        launch.rank,
        launch.local_rank
    );
    Ok(Joined {
        world: Some(Arc::new(world)),
        universe: Some(universe),
    })
}

/// Without MPI, a process of a job of several would train alone: refuse.
#[cfg(not(feature = "mpi"))]
pub(crate) fn join() -> anyhow::Result<Joined> {
    match launch() {
        Some(launch) => Err(NoMpi { size: launch.size }.into()),
        None => Ok(Joined { world: None }),
    }
}

/// Started as one of several processes by a binary built without MPI.
#[derive(Debug, thiserror::Error)]
#[error("this charrnn was built without MPI, but a launcher started it as one of {size} processes: each would train alone. Build it with `cargo build --release -p charrnn-cli --features mpi` (needs an MPI library, e.g. Debian's libopenmpi-dev), or run it without mpirun/srun")]
pub(crate) struct NoMpi {
    /// Processes in the job.
    pub(crate) size: usize,
}

#[cfg(feature = "mpi")]
mod mpi_world {
    use charrnn::train::Collective;
    use mpi::collective::SystemOperation;
    use mpi::topology::SimpleCommunicator;
    use mpi::traits::{Communicator, CommunicatorCollectives, Root};

    /// `MPI_COMM_WORLD`, named afresh for each call: the handle is a
    /// constant, and this keeps the world `Send + Sync`.
    #[derive(Debug)]
    pub(super) struct MpiWorld {
        rank: usize,
        size: usize,
    }

    fn comm() -> SimpleCommunicator {
        SimpleCommunicator::world()
    }

    impl MpiWorld {
        pub(super) fn new() -> Self {
            let world = comm();
            Self {
                rank: world.rank() as usize,
                size: world.size() as usize,
            }
        }
    }

    impl Collective for MpiWorld {
        fn rank(&self) -> usize {
            self.rank
        }

        fn size(&self) -> usize {
            self.size
        }

        fn all_reduce_sum(&self, buf: &mut [f32]) {
            let send = buf.to_vec();
            comm().all_reduce_into(&send[..], buf, SystemOperation::sum());
        }

        fn broadcast(&self, buf: &mut [f32], root: usize) {
            comm().process_at_rank(root as i32).broadcast_into(buf);
        }

        fn gather(&self, send: &[f32]) -> Option<Vec<f32>> {
            let world = comm();
            let root = world.process_at_rank(0);
            if self.rank == 0 {
                let mut all = vec![0.0; send.len() * self.size];
                root.gather_into_root(send, &mut all[..]);
                Some(all)
            } else {
                root.gather_into(send);
                None
            }
        }

        fn abort(&self, code: i32) -> ! {
            comm().abort(code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_launcher_is_read_and_one_process_is_no_job() {
        let open_mpi = [
            ("OMPI_COMM_WORLD_RANK", "3"),
            ("OMPI_COMM_WORLD_SIZE", "4"),
            ("OMPI_COMM_WORLD_LOCAL_RANK", "1"),
        ];
        assert_eq!(
            launch_from(env(&open_mpi)),
            Some(Launch {
                rank: 3,
                size: 4,
                local_rank: 1
            })
        );
        let slurm = [
            ("SLURM_PROCID", "5"),
            ("SLURM_STEP_NUM_TASKS", "8"),
            ("SLURM_LOCALID", "1"),
        ];
        assert_eq!(launch_from(env(&slurm)).map(|l| l.rank), Some(5));
        // sbatch alone sets SLURM_NTASKS, not a step's task count.
        assert_eq!(launch_from(env(&[("SLURM_NTASKS", "8")])), None);
        assert_eq!(
            launch_from(env(&[("PMI_RANK", "0"), ("PMI_SIZE", "1")])),
            None
        );
        assert_eq!(launch_from(env(&[])), None);
    }

    #[test]
    fn gpus_go_by_local_rank_and_are_shared_round_robin() {
        assert_eq!(
            (0..4).map(|r| gpu_of(r, 4)).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        assert_eq!(
            (0..4).map(|r| gpu_of(r, 2)).collect::<Vec<_>>(),
            [0, 1, 0, 1]
        );
        assert_eq!(gpu_of(3, 0), 0);
    }
}
