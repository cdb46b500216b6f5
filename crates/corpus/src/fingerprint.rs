//! A cheap identity for a run of bytes: its length and CRC-32.

use serde::{Deserialize, Serialize};

/// The size and CRC-32 of some bytes: what tells a changed corpus, or a
/// damaged checkpoint file, from the one that was recorded. Any change to a
/// single run of up to 32 bits is caught; other changes escape with odds of
/// 1 in 2³².
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the bytes.
    pub crc32: u32,
}

impl Fingerprint {
    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            bytes: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes, CRC-32 {:08x}", self.bytes, self.crc32)
    }
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    #[test]
    fn any_flipped_bit_changes_the_fingerprint() {
        let text = "西门庆 and the night is young".as_bytes().to_vec();
        let original = Fingerprint::of(&text);
        for bit in 0..text.len() * 8 {
            let mut flipped = text.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_ne!(Fingerprint::of(&flipped), original, "bit {bit}");
        }
        assert_ne!(Fingerprint::of(&text[1..]), original);
        assert_eq!(Fingerprint::of(&text), original);
    }
}
