//! Reading a checkpoint: following `latest` or `best`, checking the manifest,
//! loading the model and the hidden state.

use std::fs;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::record::Recorder;
use burn::tensor::backend::Backend;
use charrnn_corpus::Vocab;
use charrnn_model::{CharRnn, CharRnnConfig};

use crate::config::RunConfig;

use super::manifest::{read_checked, read_manifest};
use super::{
    bytes_recorder, checkpoints_dir, CheckpointError, CheckpointMeta, Pick, TrainerState, BEST,
    CONFIG, FORMAT_VERSION, HIDDEN, LATEST, MODEL, OPTIMIZER, STATE, VOCAB,
};

/// Resolves a run folder (its checkpoint named by `pick`), a `checkpoints`
/// folder, or a checkpoint folder to a checkpoint folder.
pub fn resolve_pick(path: &Path, pick: Pick) -> Result<PathBuf, CheckpointError> {
    if path.join(STATE).is_file() {
        return Ok(path.to_path_buf());
    }
    let pointers: &[&str] = match pick {
        Pick::Latest => &[LATEST],
        Pick::Best => &[BEST, LATEST],
    };
    for root in [checkpoints_dir(path), path.to_path_buf()] {
        for pointer in pointers {
            if let Ok(name) = fs::read_to_string(root.join(pointer)) {
                let dir = root.join(name.trim());
                if dir.join(STATE).is_file() {
                    return Ok(dir);
                }
            }
        }
    }
    Err(CheckpointError::NotFound {
        path: path.to_path_buf(),
    })
}

/// Reads a checkpoint's config, vocabulary and state, checking they agree.
pub fn load_meta(path: &Path) -> Result<CheckpointMeta, CheckpointError> {
    load_meta_pick(path, Pick::Latest)
}

/// Like [`load_meta`], choosing a run's checkpoint by `pick`.
pub fn load_meta_pick(path: &Path, pick: Pick) -> Result<CheckpointMeta, CheckpointError> {
    with_retry(path, pick, read_meta)
}

/// Runs `read` on the checkpoint `path` resolves to. When a running trainer
/// prunes that checkpoint meanwhile, resolves again: `latest` and `best` then
/// name a newer one.
pub(crate) fn with_retry<T>(
    path: &Path,
    pick: Pick,
    read: impl Fn(&Path) -> Result<T, CheckpointError>,
) -> Result<T, CheckpointError> {
    const ATTEMPTS: usize = 5;
    for _ in 1..ATTEMPTS {
        // A pointer read just before the checkpoint it named was pruned
        // leads nowhere: read it again.
        let Ok(dir) = resolve_pick(path, pick) else {
            continue;
        };
        match read(&dir) {
            Err(CheckpointError::Removed { .. }) if dir != path => continue,
            other => return other,
        }
    }
    read(&resolve_pick(path, pick)?)
}

/// Reads the config, vocabulary and state of the checkpoint folder `dir`.
pub(crate) fn read_meta(dir: &Path) -> Result<CheckpointMeta, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    let manifest = read_manifest(dir)?;
    let read = |name: &str| {
        let bytes = read_checked(dir, manifest.as_ref(), name)?;
        String::from_utf8(bytes).map_err(|_| damaged(format!("{name} is not UTF-8 text")))
    };
    let config_text = read(CONFIG)?;
    let config = RunConfig::parse(&config_text, &dir.join(CONFIG), &[])
        .map_err(|e| damaged(format!("{CONFIG}: {e}")))?;
    let vocab =
        Vocab::from_json(&read(VOCAB)?, &dir.join(VOCAB)).map_err(|e| damaged(e.to_string()))?;
    let state: TrainerState =
        serde_json::from_str(&read(STATE)?).map_err(|e| damaged(format!("{STATE}: {e}")))?;
    let layout = if manifest.is_some() {
        FORMAT_VERSION
    } else {
        1
    };
    if state.format != layout {
        return Err(damaged(format!(
            "{STATE} says layout {} but the checkpoint has layout {layout}",
            state.format
        )));
    }
    Ok(CheckpointMeta {
        dir: dir.to_path_buf(),
        config,
        vocab,
        state,
        manifest,
    })
}

impl CheckpointMeta {
    /// The bytes of the checkpoint's file `name`, checked against its manifest.
    pub(crate) fn read(&self, name: &str) -> Result<Vec<u8>, CheckpointError> {
        read_checked(&self.dir, self.manifest.as_ref(), name)
    }

    /// The serialised optimizer record, checked.
    pub(crate) fn optimizer_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        self.read(OPTIMIZER)
    }
}

/// Reads a checkpoint and its weights onto `device`, as [`load_meta_pick`]
/// and [`load_model`] would, following the pointers again if a running trainer
/// prunes the checkpoint meanwhile. What `sample`, `eval` and `info` use.
pub fn load_pick<B: Backend>(
    path: &Path,
    pick: Pick,
    device: &B::Device,
) -> Result<(CheckpointMeta, CharRnn<B>), CheckpointError> {
    with_retry(path, pick, |dir| {
        let meta = read_meta(dir)?;
        let model = load_model::<B>(&meta, device)?;
        Ok((meta, model))
    })
}

/// Loads the model weights of a checkpoint onto `device`, checking their shapes.
pub fn load_model<B: Backend>(
    meta: &CheckpointMeta,
    device: &B::Device,
) -> Result<CharRnn<B>, CheckpointError> {
    let expected = meta.model_config();
    let model = expected.init::<B>(device);
    let damaged = |reason: String| CheckpointError::Damaged {
        path: meta.dir.clone(),
        reason,
    };
    let record = bytes_recorder()
        .load(meta.read(MODEL)?, device)
        .map_err(|e| damaged(format!("{MODEL} cannot be read ({})", first_line(&e))))?;
    let model = model.load_record(record);
    check_shapes(&model, &expected).map_err(damaged)?;
    Ok(model)
}

/// The first line of an error: burn's record errors append paragraphs of
/// migration advice that do not apply to a damaged file.
pub(crate) fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Verifies that loaded weights have the shapes the config promises.
pub(crate) fn check_shapes<B: Backend>(
    model: &CharRnn<B>,
    expected: &CharRnnConfig,
) -> Result<(), String> {
    let mismatch = |what: &str, got: &[usize], want: &[usize]| {
        Err(format!(
            "{MODEL} does not match config.toml/vocab.json: {what} is {got:?}, expected {want:?} (weights from another architecture or vocabulary?)"
        ))
    };
    let (v, e, h) = (
        expected.vocab_size,
        expected.embed_size,
        expected.hidden_size,
    );
    let emb = model.embedding.weight.dims();
    if emb != [v, e] {
        return mismatch("embedding", &emb, &[v, e]);
    }
    for (l, layer) in model.layers.iter().enumerate() {
        let input = if l == 0 { e } else { h };
        let (ih, hh) = (layer.w_ih.dims(), layer.w_hh.dims());
        if ih != [input, 4 * h] {
            return mismatch(&format!("layer {l} w_ih"), &ih, &[input, 4 * h]);
        }
        if hh != [h, 4 * h] {
            return mismatch(&format!("layer {l} w_hh"), &hh, &[h, 4 * h]);
        }
    }
    let out = model.output.weight.dims();
    if out != [h, v] {
        return mismatch("output", &out, &[h, v]);
    }
    Ok(())
}

/// Reads the saved hidden state.
pub(crate) fn load_hidden(meta: &CheckpointMeta) -> Result<Vec<f32>, CheckpointError> {
    let bytes = meta.read(HIDDEN)?;
    let want: usize = meta.state.hidden_shape.iter().product::<usize>() * 4;
    if bytes.len() != want {
        return Err(CheckpointError::Damaged {
            path: meta.dir.clone(),
            reason: format!("{HIDDEN} has {} bytes, expected {want}", bytes.len()),
        });
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}
