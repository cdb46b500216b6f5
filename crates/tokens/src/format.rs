//! The token file layout, byte by byte:
//!
//! | bytes | what |
//! |---|---|
//! | 8 | magic `CHRNNTOK` |
//! | 4 | layout version, little-endian u32 ([`FORMAT_VERSION`]) |
//! | 4 | header length `H`, little-endian u32 |
//! | `H` | the [`Header`], JSON |
//! | 4 | CRC-32 of the header's bytes, little-endian |
//! | 0–7 | zeros, so the ids start at a multiple of 8 |
//! | `tokens × id_bytes` | the ids, little-endian u16 or u32 |
//!
//! The version comes before the header, so a newer layout is told apart from
//! a damaged one. The ids' CRC-32 is in the header as eight hex digits, so the
//! header keeps its length when the writer fills it in after the ids.

use std::path::PathBuf;

use charrnn_corpus::Fingerprint;
use serde::{Deserialize, Serialize};

/// The first bytes of every token file.
pub const MAGIC: [u8; 8] = *b"CHRNNTOK";
/// The layout this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// Magic, version and header length.
pub(crate) const PREFIX_BYTES: usize = 16;
/// A header longer than this is damage, not a vocabulary and a file list.
pub(crate) const MAX_HEADER_BYTES: u32 = 256 << 20;

/// What a token file says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Bytes per id: 2 when the vocabulary has at most 65,536 characters, else 4.
    pub id_bytes: u8,
    /// Number of ids.
    pub tokens: u64,
    /// The vocabulary, in id order.
    pub vocab: Vec<char>,
    /// Text put between sources.
    pub separator: String,
    /// Size and CRC-32 of the joined text (separators included): the same
    /// fingerprint the text has when loaded into memory.
    pub text: Fingerprint,
    /// The files encoded, in order, as spans of the ids.
    pub sources: Vec<Source>,
    /// CRC-32 of the ids' bytes, as eight hex digits.
    pub ids_crc32: String,
}

/// One file a token file was prepared from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The file, as an absolute path when it could be resolved.
    pub path: PathBuf,
    /// Its size when it was encoded.
    pub bytes: u64,
    /// Its modification time then, in nanoseconds since the Unix epoch.
    pub modified_ns: Option<u64>,
    /// Its first id.
    pub start: u64,
    /// Its ids, the separator after it included, so sources tile the ids.
    pub len: u64,
}

impl Header {
    /// Where the ids start: after the prefix, the header, its CRC and padding.
    pub(crate) fn ids_offset(header_len: usize) -> usize {
        (PREFIX_BYTES + header_len + 4).next_multiple_of(8)
    }

    /// The file's bytes up to the ids.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a header always serialises");
        let mut out = Vec::with_capacity(Self::ids_offset(json.len()));
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
        out.resize(Self::ids_offset(json.len()), 0);
        out
    }

    /// The ids' CRC-32, written the way the header holds it.
    pub(crate) fn crc_text(crc: u32) -> String {
        format!("{crc:08x}")
    }
}
