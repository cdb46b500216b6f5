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
    /// The run folder cannot be created.
    #[error("cannot create run folder {} ({source})", run_dir.display())]
    CreateDir {
        /// The run folder.
        run_dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
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

/// A run folder's lock taken at the start of training, with what that start
/// created. Dropped before [`RunStart::started`] (a start that failed on its
/// inputs), it removes exactly that: the folders it made, else the lock file
/// it made, so a failed start leaves nothing behind. It never removes what
/// was there before, nor anything while another trainer holds the folder.
#[derive(Debug)]
pub struct RunStart {
    _lock: RunLock,
    /// What this start created (the highest new folder, else a new lock
    /// file), until the run has started.
    made: Option<PathBuf>,
}

impl RunStart {
    /// Creates `run_dir` (and its missing parents) and takes its lock.
    pub fn begin(run_dir: &Path) -> Result<Self, LockError> {
        let made_dir = make_dirs(run_dir).map_err(|source| LockError::CreateDir {
            run_dir: run_dir.to_path_buf(),
            source,
        })?;
        let lock_path = run_dir.join(LOCK_FILE);
        let made_lock = (!lock_path.exists()).then_some(lock_path);
        match RunLock::acquire(run_dir) {
            Ok(lock) => Ok(Self {
                _lock: lock,
                made: made_dir.or(made_lock),
            }),
            Err(e) => {
                // Not ours to clear: only a folder of ours still empty goes.
                if let Some(dir) = made_dir {
                    let _ = std::fs::remove_dir(dir);
                }
                Err(e)
            }
        }
    }

    /// The start went well: from now on the folder is the run's, kept
    /// whatever happens. The lock stays held until this is dropped.
    pub fn started(&mut self) {
        self.made = None;
    }
}

impl Drop for RunStart {
    fn drop(&mut self) {
        match self.made.take() {
            Some(dir) if dir.is_dir() => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Some(lock_file) => {
                let _ = std::fs::remove_file(lock_file);
            }
            None => {}
        }
    }
}

/// Creates `dir` and its missing parents one by one; returns the highest
/// folder this call created (one that appeared meanwhile is not ours).
fn make_dirs(dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|p| !p.as_os_str().is_empty() && !p.exists())
        .collect();
    let mut made = None;
    for path in missing.into_iter().rev() {
        match std::fs::create_dir(path) {
            Ok(()) => {
                made.get_or_insert_with(|| path.to_path_buf());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(made)
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

    #[test]
    fn a_failed_start_removes_what_it_made_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let new_run = dir.path().join("runs/new");
        drop(RunStart::begin(&new_run).unwrap());
        assert!(!dir.path().join("runs").exists(), "the folders it made");

        let existing = dir.path().join("existing");
        std::fs::create_dir(&existing).unwrap();
        std::fs::write(existing.join("notes.txt"), "mine").unwrap();
        drop(RunStart::begin(&existing).unwrap());
        assert!(!existing.join(LOCK_FILE).exists(), "the lock file it made");
        assert!(existing.join("notes.txt").exists(), "what was there stays");

        let mut kept = RunStart::begin(&new_run).unwrap();
        kept.started();
        drop(kept);
        assert!(
            new_run.join(LOCK_FILE).exists(),
            "a started run keeps its folder"
        );
    }

    #[test]
    fn a_start_refused_by_another_trainer_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        let mut first = RunStart::begin(&run).unwrap();
        first.started();
        assert!(matches!(RunStart::begin(&run), Err(LockError::Held { .. })));
        assert!(run.join(LOCK_FILE).exists());
    }
}
