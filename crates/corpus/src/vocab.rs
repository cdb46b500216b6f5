//! The vocabulary: a text's sorted distinct characters, and encoding and
//! decoding with it.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{CorpusError, UnknownChar};

/// Ids of characters in the Basic Multilingual Plane are looked up in a flat table;
/// that covers every CJK character in common use and makes encoding a single load.
const BMP: usize = 0x1_0000;
const ABSENT: u32 = u32::MAX;

/// A character vocabulary: the sorted distinct characters of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    bmp: Vec<u32>,
    astral: HashMap<char, u32>,
}

/// The distinct characters of a text read piece by piece, for building its
/// [`Vocab`] without holding it whole.
#[derive(Debug, Clone)]
pub struct CharSet {
    bmp: Vec<bool>,
    astral: BTreeSet<char>,
}

impl Default for CharSet {
    fn default() -> Self {
        Self {
            bmp: vec![false; BMP],
            astral: BTreeSet::new(),
        }
    }
}

impl CharSet {
    /// Adds the characters of `text`.
    pub fn add(&mut self, text: &str) {
        for ch in text.chars() {
            match ch as usize {
                c if c < BMP => self.bmp[c] = true,
                _ => {
                    self.astral.insert(ch);
                }
            }
        }
    }

    /// Adds the characters of another set.
    pub fn merge(&mut self, other: CharSet) {
        for (seen, other) in self.bmp.iter_mut().zip(other.bmp) {
            *seen |= other;
        }
        self.astral.extend(other.astral);
    }

    /// The vocabulary of everything added: its characters in code-point order.
    pub fn into_vocab(self) -> Vocab {
        let mut chars: Vec<char> = self
            .bmp
            .iter()
            .enumerate()
            .filter(|(_, &seen)| seen)
            .filter_map(|(c, _)| char::from_u32(c as u32))
            .collect();
        chars.extend(self.astral);
        Vocab::from_distinct_chars(chars)
    }
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    chars: Vec<String>,
}

impl Vocab {
    /// Builds the vocabulary of `text`: its distinct characters in code-point order.
    pub fn from_text(text: &str) -> Self {
        let mut set = CharSet::default();
        set.add(text);
        set.into_vocab()
    }

    /// This vocabulary followed by the characters of `other` that it lacks, in
    /// `other`'s order: every id of `self` keeps its character. What a model
    /// fine-tuned on a new text uses.
    pub fn extended_with(&self, other: &Vocab) -> Vocab {
        let mut chars = self.chars.clone();
        chars.extend(other.chars.iter().filter(|&&ch| self.id(ch).is_none()));
        Self::from_distinct_chars(chars)
    }

    /// Builds a vocabulary from distinct characters, in id order.
    fn from_distinct_chars(chars: Vec<char>) -> Self {
        let mut bmp = vec![ABSENT; BMP];
        let mut astral = HashMap::new();
        for (id, &ch) in chars.iter().enumerate() {
            let id = id as u32;
            match ch as usize {
                c if c < BMP => bmp[c] = id,
                _ => {
                    astral.insert(ch, id);
                }
            }
        }
        Self { chars, bmp, astral }
    }

    /// Builds a vocabulary whose ids are the positions of `chars`; fails with
    /// the first character listed twice. Any order is allowed: a fine-tuned
    /// model's vocabulary is its base's followed by the new characters.
    pub fn in_id_order(chars: Vec<char>) -> Result<Self, char> {
        let mut sorted = chars.clone();
        sorted.sort_unstable();
        match sorted.windows(2).find(|w| w[0] == w[1]) {
            Some(pair) => Err(pair[0]),
            None => Ok(Self::from_distinct_chars(chars)),
        }
    }

    /// Builds a vocabulary from a list of characters, sorting and de-duplicating it.
    pub fn from_chars(chars: impl IntoIterator<Item = char>) -> Self {
        let mut chars: Vec<char> = chars.into_iter().collect();
        chars.sort_unstable();
        chars.dedup();
        Self::from_distinct_chars(chars)
    }

    /// Number of distinct characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True when the vocabulary has no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `ch`, if it is in the vocabulary.
    #[inline]
    pub fn id(&self, ch: char) -> Option<u32> {
        let c = ch as usize;
        if c < BMP {
            Some(self.bmp[c]).filter(|&id| id != ABSENT)
        } else {
            self.astral.get(&ch).copied()
        }
    }

    /// The character with id `id`, if there is one.
    pub fn char(&self, id: u32) -> Option<char> {
        self.chars.get(id as usize).copied()
    }

    /// Encodes `text` as ids; fails on the first character not in the vocabulary.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, UnknownChar> {
        let mut ids = Vec::with_capacity(text.len());
        for (position, ch) in text.chars().enumerate() {
            ids.push(self.id(ch).ok_or(UnknownChar { ch, position })?);
        }
        Ok(ids)
    }

    /// Decodes ids into text. Ids outside the vocabulary are written as U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter()
            .map(|&id| self.char(id).unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    }

    /// Serialises the vocabulary as JSON: `{"chars": ["a", "b", ...]}` in id order.
    pub fn to_json(&self) -> String {
        let file = VocabFile {
            chars: self.chars.iter().map(|c| c.to_string()).collect(),
        };
        serde_json::to_string(&file).expect("a list of strings always serialises")
    }

    /// Parses the JSON written by [`Vocab::to_json`]: distinct characters, in
    /// id order. `path` is only used in errors.
    pub fn from_json(json: &str, path: &Path) -> Result<Self, CorpusError> {
        let bad = |reason: String| CorpusError::BadVocab {
            path: path.to_path_buf(),
            reason,
        };
        let file: VocabFile = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let mut chars = Vec::with_capacity(file.chars.len());
        for s in &file.chars {
            let mut it = s.chars();
            match (it.next(), it.next()) {
                (Some(c), None) => chars.push(c),
                _ => return Err(bad(format!("entry {s:?} is not a single character"))),
            }
        }
        if chars.is_empty() {
            return Err(bad("it lists no characters".into()));
        }
        Self::in_id_order(chars).map_err(|ch| bad(format!("character {ch:?} is listed twice")))
    }

    /// Writes the vocabulary as JSON to `path`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.to_json())
    }

    /// Reads a vocabulary written by [`Vocab::save`].
    pub fn load(path: &Path) -> Result<Self, CorpusError> {
        let json = std::fs::read_to_string(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => CorpusError::BadVocab {
                path: path.to_path_buf(),
                reason: "the file is missing".into(),
            },
            _ => CorpusError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        Self::from_json(&json, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_code_point_ranks() {
        let v = Vocab::from_text("cabbage 😀 门");
        assert_eq!(v.chars(), &[' ', 'a', 'b', 'c', 'e', 'g', '门', '😀']);
        assert_eq!(v.id('a'), Some(1));
        assert_eq!(v.id('😀'), Some(7));
        assert_eq!(v.id('z'), None);
    }

    #[test]
    fn unknown_character_is_named() {
        let v = Vocab::from_text("abc");
        let err = v.encode("abz").unwrap_err();
        assert_eq!(
            err,
            UnknownChar {
                ch: 'z',
                position: 2
            }
        );
        assert!(err.to_string().contains("'z'"));
    }

    #[test]
    fn json_round_trip_and_validation() {
        let v = Vocab::from_text("金瓶梅\n“”");
        let back = Vocab::from_json(&v.to_json(), Path::new("v.json")).unwrap();
        assert_eq!(v, back);
        let p = Path::new("v.json");
        assert!(Vocab::from_json("{", p).is_err());
        assert!(Vocab::from_json(r#"{"chars":["ab"]}"#, p).is_err());
        assert!(Vocab::from_json(r#"{"chars":["b","a","b"]}"#, p).is_err());
        // An extended vocabulary keeps its order.
        let extended = Vocab::from_text("xyz").extended_with(&Vocab::from_text("ab"));
        assert_eq!(Vocab::from_json(&extended.to_json(), p).unwrap(), extended);
        assert!(Vocab::from_json(r#"{"chars":[]}"#, p).is_err());
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(text in "\\PC{0,200}") {
            let v = Vocab::from_text(&text);
            let ids = v.encode(&text).unwrap();
            prop_assert_eq!(ids.len(), text.chars().count());
            prop_assert!(ids.iter().all(|&id| (id as usize) < v.len()));
            prop_assert_eq!(v.decode(&ids), text);
        }

        #[test]
        fn vocab_is_sorted_set(text in "\\PC{0,200}") {
            let v = Vocab::from_text(&text);
            let mut expected: Vec<char> = text.chars().collect();
            expected.sort_unstable();
            expected.dedup();
            prop_assert_eq!(v.chars(), &expected[..]);
        }
    }
}
