//! Property-based fuzzing of the corpus loader: any bytes either load (and then
//! round-trip exactly) or give an error; never a panic.
//!
//! `FUZZ_CASES` sets the number of inputs (default 512; the 10-minute campaigns in
//! the issue notes used millions).

use charrnn_corpus::{Corpus, CorpusError};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        // Mostly-valid UTF-8 with a corrupted byte somewhere.
        ("\\PC{0,64}", any::<usize>(), any::<u8>()).prop_map(|(s, at, b)| {
            let mut v = s.into_bytes();
            if !v.is_empty() {
                let i = at % v.len();
                v[i] = b;
            }
            v
        }),
        "\\PC{0,128}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loading_any_bytes_never_panics(data in bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("corpus.txt");
        std::fs::write(&path, &data).unwrap();
        match Corpus::load(&path) {
            Ok(corpus) => {
                let text = std::str::from_utf8(&data).unwrap();
                prop_assert!(!text.is_empty());
                prop_assert_eq!(corpus.vocab().decode(corpus.ids()), text);
            }
            Err(CorpusError::Empty { .. }) => prop_assert!(data.is_empty()),
            Err(CorpusError::InvalidUtf8 { offset, .. }) => {
                let err = std::str::from_utf8(&data).unwrap_err();
                prop_assert_eq!(offset, err.valid_up_to());
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }
}
