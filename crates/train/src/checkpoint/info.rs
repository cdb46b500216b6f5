//! What a checkpoint is, in one serialisable description: `charrnn info
//! --json` prints it and the server's `GET /v1/model` answers it.

use std::path::PathBuf;

use charrnn_corpus::Fingerprint;
use serde::Serialize;

use super::{size_on_disk, CheckpointMeta, StartedFrom};
use crate::config::RunConfig;

/// A checkpoint described: where it is, how far its run got, its model and
/// its config.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointInfo {
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    /// Optimiser steps taken.
    pub step: u64,
    /// Epoch (0-based) the run was in.
    pub epoch: usize,
    /// Batch of that epoch the run had reached.
    pub batch: usize,
    /// Last training loss (nats/char).
    pub train_loss: Option<f64>,
    /// Last validation loss (nats/char).
    pub val_loss: Option<f64>,
    /// The device it trained on.
    pub device: String,
    /// Training time so far.
    pub elapsed_sec: f64,
    /// Characters in its vocabulary.
    pub vocab_size: usize,
    /// The config's `data.corpus`.
    pub corpus: String,
    /// The fingerprint of the text it trained on.
    pub corpus_fingerprint: Option<Fingerprint>,
    /// The checkpoint layout version.
    pub format: u32,
    /// The checkpoint a fine-tuned run started from.
    pub init_from: Option<StartedFrom>,
    /// The model's shape.
    pub model: ModelSummary,
    /// Bytes of the checkpoint's files.
    pub size_on_disk: u64,
    /// The run's config.
    pub config: RunConfig,
}

/// A model's shape and size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ModelSummary {
    /// Embedding width.
    pub embed_size: usize,
    /// LSTM units per layer.
    pub hidden_size: usize,
    /// LSTM layers.
    pub num_layers: usize,
    /// Dropout after each layer.
    pub dropout: f64,
    /// Parameters in all.
    pub params: usize,
}

impl CheckpointInfo {
    /// The description of the checkpoint `meta` read.
    pub fn of(meta: &CheckpointMeta) -> Self {
        let (model, state) = (meta.model_config(), &meta.state);
        Self {
            checkpoint: meta.dir.clone(),
            step: state.step,
            epoch: state.epoch,
            batch: state.batch,
            train_loss: state.train_loss,
            val_loss: state.val_loss,
            device: state.device.clone(),
            elapsed_sec: state.elapsed_sec,
            vocab_size: meta.vocab.len(),
            corpus: meta.config.data.corpus.to_string(),
            corpus_fingerprint: state.corpus,
            format: state.format,
            init_from: state.init_from.clone(),
            model: ModelSummary {
                embed_size: model.embed_size,
                hidden_size: model.hidden_size,
                num_layers: model.num_layers,
                dropout: model.dropout,
                params: model.num_params(),
            },
            size_on_disk: size_on_disk(&meta.dir),
            config: meta.config.clone(),
        }
    }
}
