//! Saving a checkpoint: a hidden folder written and fsynced, renamed into
//! place, the pointers replaced, the oldest pruned.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use charrnn_corpus::{Fingerprint, Vocab};

use crate::config::RunConfig;

use super::manifest::Manifest;
use super::{
    checkpoints_dir, step_name, step_names, CheckpointError, Records, TrainerState, BEST, CONFIG,
    FORMAT_VERSION, HIDDEN, LATEST, MANIFEST, MODEL, OPTIMIZER, STATE, VOCAB,
};

/// The files of a checkpoint that the trainer hands over to be written.
pub(crate) struct CheckpointFiles<'a> {
    pub config: &'a RunConfig,
    pub vocab: &'a Vocab,
    pub state: &'a TrainerState,
    pub hidden: &'a [f32],
    /// Whether this checkpoint has the lowest validation loss so far.
    pub is_best: bool,
    /// Keep only this many newest checkpoints besides `best` (0 = all).
    pub keep_last: usize,
}

/// Writes a checkpoint atomically (a hidden folder filled, then renamed into
/// place by `charrnn_fs::replace_dir`); `records` gives the model and
/// optimiser records. Returns the checkpoint folder.
pub(crate) fn save(
    run_dir: &Path,
    files: CheckpointFiles<'_>,
    records: impl FnOnce() -> Result<Records, burn::record::RecorderError>,
) -> Result<PathBuf, CheckpointError> {
    let root = checkpoints_dir(run_dir);
    fs::create_dir_all(&root).map_err(|source| CheckpointError::Write {
        path: root.clone(),
        source,
    })?;
    let name = step_name(files.state.step);
    let dest = root.join(&name);
    // Saving the same step again (after a resume): the new copy replaces it.
    charrnn_fs::replace_dir(
        &dest,
        |tmp| write_files(tmp, &files, records),
        |source| CheckpointError::Write {
            path: dest.clone(),
            source,
        },
    )?;
    write_pointer(&root, LATEST, &name)?;
    if files.is_best {
        write_pointer(&root, BEST, &name)?;
    }
    if files.keep_last > 0 {
        prune(&root, files.keep_last);
    }
    Ok(dest)
}

/// Writes a checkpoint's files and its manifest into the folder `dir`, each
/// fsynced.
fn write_files(
    dir: &Path,
    files: &CheckpointFiles<'_>,
    records: impl FnOnce() -> Result<Records, burn::record::RecorderError>,
) -> Result<(), CheckpointError> {
    let records = records().map_err(|e| CheckpointError::Write {
        path: dir.to_path_buf(),
        // The recorder's error stays the source, as an I/O error's payload.
        source: std::io::Error::other(e),
    })?;
    let state = serde_json::to_vec_pretty(files.state).expect("state serialises");
    let hidden: Vec<u8> = files.hidden.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (vocab, config) = (files.vocab.to_json(), files.config.to_toml());
    let contents: [(&str, &[u8]); 6] = [
        (MODEL, &records.model),
        (OPTIMIZER, &records.optimizer),
        (VOCAB, vocab.as_bytes()),
        (CONFIG, config.as_bytes()),
        (STATE, &state),
        (HIDDEN, &hidden),
    ];
    let mut manifest = Manifest {
        format: FORMAT_VERSION,
        files: BTreeMap::new(),
    };
    // Written here rather than by burn's file recorder, whose errors lose
    // the I/O error (a full disk must say so).
    for (name, bytes) in contents {
        write_synced(&dir.join(name), bytes)?;
        manifest
            .files
            .insert(name.to_string(), Fingerprint::of(bytes));
    }
    write_synced(&dir.join(MANIFEST), manifest.to_text().as_bytes())
}

/// Points `root/pointer` at checkpoint `name`, atomically and durably.
pub(crate) fn write_pointer(root: &Path, pointer: &str, name: &str) -> Result<(), CheckpointError> {
    let path = root.join(pointer);
    charrnn_fs::write(&path, name.as_bytes())
        .map_err(|source| CheckpointError::Write { path, source })
}

/// Removes all but the newest `keep` checkpoints, never the ones `latest` or
/// `best` name. Failures are ignored: pruning is housekeeping.
pub(crate) fn prune(root: &Path, keep: usize) {
    let pinned: Vec<String> = [LATEST, BEST]
        .iter()
        .filter_map(|p| fs::read_to_string(root.join(p)).ok())
        .map(|n| n.trim().to_string())
        .collect();
    let steps = step_names(root);
    let excess = steps.len().saturating_sub(keep);
    for name in steps.into_iter().take(excess) {
        if !pinned.contains(&name) {
            // Out of sight first, in one rename: a reader finds the whole
            // checkpoint or none of it.
            let doomed = root.join(format!(".pruned-{name}-{}", std::process::id()));
            if fs::rename(root.join(&name), &doomed).is_ok() {
                let _ = fs::remove_dir_all(doomed);
            }
        }
    }
}

pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    charrnn_fs::write_synced(path, bytes).map_err(|source| CheckpointError::Write {
        path: path.to_path_buf(),
        source,
    })
}
