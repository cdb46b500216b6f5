#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes`, atomically and durably (see [`replace`]).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, |tmp| std::fs::write(tmp, bytes), |e| e)
}

/// Writes `bytes` to a new file at `path` and fsyncs it: for the files of a
/// folder that is itself renamed into place once whole (a checkpoint).
pub fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replaces `path` with what `write_to` writes at the temporary path it is
/// given (a hidden sibling of `path` with the same extension): fsynced,
/// renamed over `path`, the folder fsynced. An error of those steps becomes
/// the caller's through `io_error`. On any error the temporary file is
/// removed and `path` is left as it was.
pub fn replace<E>(
    path: &Path,
    write_to: impl FnOnce(&Path) -> Result<(), E>,
    io_error: impl FnOnce(io::Error) -> E,
) -> Result<(), E> {
    let tmp = temporary_sibling(path);
    let written = write_to(&tmp).and_then(|()| {
        let durable = File::open(&tmp)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&tmp, path))
            .and_then(|()| sync_dir(parent(path)));
        durable.map_err(io_error)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Puts at `path` the folder that `fill` writes into the hidden sibling
/// folder it is given (with [`write_synced`] for each file), whole or not at
/// all: the folder is fsynced and renamed into place, and the folder above
/// fsynced. A folder already at `path` is replaced: moved aside by one
/// rename, then removed once the new one is in place. On any error the
/// temporary folder is removed and `path` is left as it was.
pub fn replace_dir<E>(
    path: &Path,
    fill: impl FnOnce(&Path) -> Result<(), E>,
    io_error: impl Fn(io::Error) -> E,
) -> Result<(), E> {
    let tmp = temporary_sibling(path);
    std::fs::create_dir(&tmp).map_err(&io_error)?;
    let written = fill(&tmp).and_then(|()| {
        let placed = sync_dir(&tmp).and_then(|()| move_into_place(&tmp, path));
        placed.map_err(&io_error)
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

/// Renames folder `from` to `to`, moving a folder already at `to` aside
/// first (a rename cannot replace a folder that has files).
fn move_into_place(from: &Path, to: &Path) -> io::Result<()> {
    if !to.exists() {
        std::fs::rename(from, to)?;
        return sync_dir(parent(to));
    }
    let old = temporary_sibling(to);
    std::fs::rename(to, &old)?;
    if let Err(e) = std::fs::rename(from, to) {
        // Put the old folder back: the caller keeps what it had.
        let _ = std::fs::rename(&old, to);
        return Err(e);
    }
    sync_dir(parent(to))?;
    // The new folder is in place: removing what it replaced is housekeeping,
    // and what was there may have been a file.
    let _ = match std::fs::symlink_metadata(&old) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&old),
        _ => std::fs::remove_file(&old),
    };
    Ok(())
}

/// Fsyncs a folder, so that the renames and creations in it survive a power
/// cut. Where folders cannot be opened for syncing (some filesystems refuse
/// with a permission error), does nothing.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    match File::open(dir).and_then(|f| f.sync_all()) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        other => other,
    }
}

/// A hidden name beside `path`, unique to this process and this call, that
/// keeps its extension (programs that pick a format by it still do):
/// `.tmp-PID-N-NAME`.
pub fn temporary_sibling(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy());
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".tmp-{}-{call}-{name}", std::process::id()))
}

/// The folder `path` lives in (`.` for a bare name).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept.bin");
        write(&path, b"old").unwrap();
        let failed: io::Result<()> = replace(
            &path,
            |tmp| {
                std::fs::write(tmp, b"half")?;
                Err(io::Error::other("the disk filled"))
            },
            |e| e,
        );
        assert_eq!(failed.unwrap_err().to_string(), "the disk filled");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["kept.bin"]);
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_folder_is_placed_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("export");
        let fill = |files: &'static [&'static str]| {
            move |tmp: &Path| -> io::Result<()> {
                files
                    .iter()
                    .try_for_each(|f| write_synced(&tmp.join(f), f.as_bytes()))
            }
        };
        replace_dir(&out, fill(&["a", "b"]), |e| e).unwrap();
        assert_eq!(names_in(&out), ["a", "b"]);
        // A failed fill leaves the old folder as it was, and nothing beside it.
        let failed: io::Result<()> = replace_dir(
            &out,
            |tmp| {
                write_synced(&tmp.join("c"), b"half")?;
                Err(io::Error::other("the disk filled"))
            },
            |e| e,
        );
        assert_eq!(failed.unwrap_err().to_string(), "the disk filled");
        assert_eq!(names_in(&out), ["a", "b"]);
        assert_eq!(names_in(dir.path()), ["export"]);
        // A whole one replaces it.
        replace_dir(&out, fill(&["c"]), |e| e).unwrap();
        assert_eq!(names_in(&out), ["c"]);
        assert_eq!(names_in(dir.path()), ["export"]);
        // So does it a file of that name.
        let file = dir.path().join("a-file");
        std::fs::write(&file, b"old").unwrap();
        replace_dir(&file, fill(&["d"]), |e| e).unwrap();
        assert_eq!(names_in(&file), ["d"]);
        assert_eq!(names_in(dir.path()), ["a-file", "export"]);
    }

    #[test]
    fn temporary_names_are_hidden_siblings_and_never_repeat() {
        let path = Path::new("runs/x/loss.png");
        let (a, b) = (temporary_sibling(path), temporary_sibling(path));
        assert_ne!(a, b);
        assert_eq!(a.parent(), path.parent());
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with(".tmp-") && name.ends_with("-loss.png"),
            "{name}"
        );
        assert_eq!(a.extension(), path.extension());
    }
}
