//! What to type next: the libraries say what went wrong in their own terms, and
//! the command line adds the flag or command that fixes it.

use charrnn::corpus::{CorpusError, CorpusNotFound};
use charrnn::export::ExportError;
use charrnn::tokens::TokenFileError;
use charrnn::train::{ConfigError, LockError, TrainError};

/// The command-line fix for an error, if there is one to suggest.
pub fn what_to_type(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<TrainError>() {
            return for_train(e);
        }
        if let Some(e) = cause.downcast_ref::<ConfigError>() {
            return for_config(e);
        }
        if let Some(e) = cause.downcast_ref::<CorpusNotFound>() {
            return for_corpus_lookup(e);
        }
        if let Some(e) = cause.downcast_ref::<TokenFileError>() {
            return for_tokens(e);
        }
        if let Some(ExportError::Exists { .. }) = cause.downcast_ref::<ExportError>() {
            return Some("add --force to replace it, or give another --out".into());
        }
        cause.downcast_ref::<CorpusError>().and_then(for_corpus)
    })
}

fn for_corpus(e: &CorpusError) -> Option<String> {
    matches!(e, CorpusError::NotFound { .. }).then(|| FETCH_DATA.into())
}

/// Where else to put it, or `fetch-data`: help only when nothing was found,
/// not when a folder was.
fn for_corpus_lookup(e: &CorpusNotFound) -> Option<String> {
    e.not_a_file.is_none().then(|| {
        format!(
            "set {} to the folder that holds it; {FETCH_DATA}",
            crate::corpus_dirs::DATA_DIR_ENV
        )
    })
}

const FETCH_DATA: &str = "`cargo xtask fetch-data` downloads the standard corpora into data/";

fn for_train(e: &TrainError) -> Option<String> {
    match e {
        TrainError::Interrupted { run_dir, .. } => Some(format!(
            "continue with: charrnn train --resume {}",
            run_dir.display()
        )),
        TrainError::RunExists { run_dir, .. } => Some(format!(
            "continue it with --resume {}, or train into another folder with --set train.out_dir=runs/NEW",
            run_dir.display()
        )),
        TrainError::Config(e) => for_config(e),
        TrainError::CorpusNotFound(e) => for_corpus_lookup(e),
        TrainError::CorpusChanged { .. } => {
            Some("to continue on the changed text, add --allow-changed-corpus".into())
        }
        TrainError::Locked(LockError::Held { .. }) => {
            Some("for another folder: --set train.out_dir=runs/NEW".into())
        }
        TrainError::Corpus(e) => for_corpus(e),
        TrainError::TokenFile(e) => for_tokens(e),
        _ => None,
    }
}

fn for_tokens(e: &TokenFileError) -> Option<String> {
    match e {
        TokenFileError::Truncated { path, .. } | TokenFileError::Damaged { path, .. } => {
            Some(format!(
                "prepare it again: charrnn prepare CORPUS --out {}",
                path.display()
            ))
        }
        TokenFileError::OtherVocabulary { path, .. } => Some(format!(
            "prepare it in the checkpoint's vocabulary: charrnn prepare CORPUS --vocab-from CHECKPOINT --out {}",
            path.display()
        )),
        TokenFileError::Corpus(e) => for_corpus(e),
        _ => None,
    }
}

fn for_config(e: &ConfigError) -> Option<String> {
    match e {
        ConfigError::Override(_) => {
            Some("give --set section.key=value, e.g. --set train.max_steps=100".into())
        }
        _ => None,
    }
}

/// `message`, followed by the fix for `e` when there is one.
pub fn with_advice(message: String, e: &anyhow::Error) -> String {
    match what_to_type(e) {
        Some(fix) => format!("{message}; {fix}"),
        None => message,
    }
}
