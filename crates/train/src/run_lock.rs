//! One trainer per run folder: an exclusive advisory lock held for the
//! trainer's whole life.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file in a run folder. It stays after the run; only the lock on it
/// matters, and the kernel drops that when the process ends, however it ends.
pub const LOCK_FILE: &str = "train.lock";

/// Another process holds a run folder's lock, or the lock cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another trainer is writing into the folder.
    #[error("run folder {} is in use by another trainer{}: wait for it to finish, or train into another folder", run_dir.display(), holder.map(|pid| format!(" (PID {pid})")).unwrap_or_default())]
    Held {
        /// The run folder.
        run_dir: PathBuf,
        /// The holder's process id, when it has written it yet.
        holder: Option<u32>,
    },
    /// The lock file cannot be created or locked.
    #[error("cannot lock run folder {} ({source}): check that the folder is writable and on a filesystem that supports file locks", run_dir.display())]
    Io {
        /// The run folder.
        run_dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Held while a trainer writes into a run folder; released on drop or exit.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Takes the lock of `run_dir` (which must exist) without waiting, and
    /// writes this process's id into the lock file for whoever is refused.
    pub fn acquire(run_dir: &Path) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            run_dir: run_dir.to_path_buf(),
            source,
        };
        let path = run_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| text.trim().parse().ok());
                return Err(LockError::Held {
                    run_dir: run_dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holders_pid_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunLock::acquire(dir.path()).unwrap();
        match RunLock::acquire(dir.path()) {
            Err(LockError::Held { holder, .. }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("expected the lock to be held, got {other:?}"),
        }
        drop(first);
        RunLock::acquire(dir.path()).unwrap();
    }
}
