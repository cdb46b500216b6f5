//! `manifest.json`: every file's size and CRC-32, written last and checked
//! first.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use charrnn_corpus::Fingerprint;
use serde::{Deserialize, Serialize};

use super::{CheckpointError, CHECK_KEY, FORMAT_VERSION, MANIFEST, OLDEST_FORMAT, STATE};

/// Every file of a checkpoint but itself, with its size and CRC-32.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) format: u32,
    pub(crate) files: BTreeMap<String, Fingerprint>,
}

impl Manifest {
    /// The manifest's text: the JSON object, its last field the checksum of
    /// the bytes before that field.
    pub(crate) fn to_text(&self) -> String {
        let json = serde_json::to_string(self).expect("a manifest serialises");
        let body = json.strip_suffix('}').expect("a JSON object ends with }");
        format!("{body}{CHECK_KEY}{}}}\n", crc32fast::hash(body.as_bytes()))
    }

    /// Reads a manifest's text, checking its own checksum and then its layout
    /// version.
    pub(crate) fn from_text(text: &str) -> Result<Self, ManifestError> {
        use ManifestError::{Damaged, Format};
        let at = text
            .rfind(CHECK_KEY)
            .ok_or_else(|| Damaged(format!("{MANIFEST} has no checksum")))?;
        let (body, tail) = text.split_at(at);
        // Byte for byte as written: the last byte is checked too.
        let check = tail[CHECK_KEY.len()..]
            .strip_suffix("}\n")
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| Damaged(format!("{MANIFEST} has a malformed checksum")))?;
        if crc32fast::hash(body.as_bytes()) != check {
            return Err(Damaged(format!("{MANIFEST} fails its own checksum")));
        }
        let json = format!("{body}}}");
        let malformed = |e: serde_json::Error| Damaged(format!("{MANIFEST}: {e}"));
        let layout: LayoutOnly = serde_json::from_str(&json).map_err(malformed)?;
        if layout.format != FORMAT_VERSION {
            return Err(Format(layout.format));
        }
        serde_json::from_str(&json).map_err(malformed)
    }

    /// Checks `bytes`, read from file `name`, against the manifest.
    pub(crate) fn check(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        let want = self
            .files
            .get(name)
            .ok_or_else(|| format!("{MANIFEST} does not list {name}"))?;
        let got = Fingerprint::of(bytes);
        if got != *want {
            return Err(format!(
                "{name} is not the file that was saved (it has {got}; {MANIFEST} says {want})"
            ));
        }
        Ok(())
    }
}

/// The layout version of a manifest or a state file, whatever else it holds.
#[derive(Deserialize)]
pub(crate) struct LayoutOnly {
    pub(crate) format: u32,
}

/// Why a manifest was refused.
pub(crate) enum ManifestError {
    Damaged(String),
    Format(u32),
}

/// The manifest of the checkpoint folder `dir`: `None` for layout 1, which
/// has none; an error for a damaged one or a layout this build does not read.
pub(crate) fn read_manifest(dir: &Path) -> Result<Option<Manifest>, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    match fs::read(dir.join(MANIFEST)) {
        Err(_) if !dir.exists() => Err(CheckpointError::Removed {
            path: dir.to_path_buf(),
        }),
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .map_err(|_| damaged(format!("{MANIFEST} is not UTF-8 text")))?;
            match Manifest::from_text(&text) {
                Ok(manifest) => Ok(Some(manifest)),
                Err(ManifestError::Damaged(reason)) => Err(damaged(reason)),
                Err(ManifestError::Format(found)) => Err(CheckpointError::Format {
                    path: dir.to_path_buf(),
                    found,
                }),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Layout 1 had no manifest; any later one must have it.
            let state = fs::read_to_string(dir.join(STATE))
                .map_err(|e| damaged(format!("cannot read {STATE}: {e}")))?;
            let layout: LayoutOnly =
                serde_json::from_str(&state).map_err(|e| damaged(format!("{STATE}: {e}")))?;
            match layout.format {
                1 => Ok(None),
                found if found < OLDEST_FORMAT => Err(CheckpointError::Format {
                    path: dir.to_path_buf(),
                    found,
                }),
                _ => Err(damaged(format!("{MANIFEST} is missing"))),
            }
        }
        Err(e) => Err(damaged(format!("cannot read {MANIFEST}: {e}"))),
    }
}

/// The bytes of file `name` of checkpoint `dir`, checked against `manifest`.
pub(crate) fn read_checked(
    dir: &Path,
    manifest: Option<&Manifest>,
    name: &str,
) -> Result<Vec<u8>, CheckpointError> {
    let damaged = |reason: String| CheckpointError::Damaged {
        path: dir.to_path_buf(),
        reason,
    };
    let bytes = fs::read(dir.join(name)).map_err(|e| match dir.exists() {
        true => damaged(format!("cannot read {name}: {e}")),
        false => CheckpointError::Removed {
            path: dir.to_path_buf(),
        },
    })?;
    if let Some(manifest) = manifest {
        manifest.check(name, &bytes).map_err(damaged)?;
    }
    Ok(bytes)
}
