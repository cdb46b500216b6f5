//! Token files against the in-memory path: the same vocabulary, ids,
//! documents, fingerprint and batches; and every kind of damage refused.

use std::path::{Path, PathBuf};

use charrnn_batch::Batcher;
use charrnn_corpus::{Corpus, Vocab};
use charrnn_tokens::{is_token_file, prepare, PrepareOptions, Prepared, TokenFile, TokenFileError};
use proptest::prelude::*;

fn write_files(dir: &Path, texts: &[&str]) -> Vec<PathBuf> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = dir.join(format!("doc{i}.txt"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

fn prepared(files: &[PathBuf], out: &Path, separator: &str, base: Option<&Vocab>) -> Prepared {
    prepare(
        files,
        out,
        PrepareOptions { separator, base },
        &mut |_, _| {},
    )
    .unwrap()
}

/// A token file says what the text loaded in memory says.
fn assert_same_as_memory(files: &[PathBuf], separator: &str, base: Option<&Vocab>, dir: &Path) {
    let out = dir.join("t.tokens");
    let p = prepared(files, &out, separator, base);
    let file = TokenFile::open(&out).unwrap();
    let corpus = Corpus::load_documents(files, separator, base).unwrap();
    assert!(
        file.vocab().chars() == corpus.vocab().chars(),
        "the vocabularies differ"
    );
    assert_eq!(file.tokens().to_vec(), corpus.ids());
    assert_eq!(file.fingerprint(), corpus.fingerprint());
    assert_eq!(p.tokens as usize, corpus.len());
    let lens = |docs: &[charrnn_corpus::Document]| {
        docs.iter().map(|d| (d.start, d.len)).collect::<Vec<_>>()
    };
    assert_eq!(lens(&file.documents()), lens(corpus.documents()));
    if let (Ok(a), Ok(b)) = (
        Batcher::new(file.tokens(), 2, 3),
        Batcher::new(corpus.ids(), 2, 3),
    ) {
        assert!(a.iter_from(0).eq(b.iter_from(0)));
    }
}

#[test]
fn prepared_ids_are_the_in_memory_ids() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(
        dir.path(),
        &["西门庆 and 潘金莲\n", "“金瓶梅” 😀 ends.", "abc"],
    );
    assert_same_as_memory(&files, "\n\n", None, dir.path());
    let base = Vocab::from_text("zyx金");
    assert_same_as_memory(&files, "\n", Some(&base), dir.path());
    let file = TokenFile::open(&dir.path().join("t.tokens")).unwrap();
    assert_eq!(&file.vocab().chars()[..4], base.chars());
    assert!(file.check_extends(&base).is_ok());
    let err = file.check_extends(&Vocab::from_text("abc")).unwrap_err();
    assert!(
        matches!(err, TokenFileError::OtherVocabulary { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("id 0"), "{err}");
}

#[test]
fn a_vocabulary_past_65536_takes_four_byte_ids() {
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0x4E00u32..0x4E00 + 20_000)
        .chain(0x2_0000..0x2_0000 + 50_000)
        .filter_map(char::from_u32)
        .collect();
    let files = write_files(dir.path(), &[&text]);
    let out = dir.path().join("wide.tokens");
    let p = prepared(&files, &out, "\n", None);
    assert_eq!((p.id_bytes, p.vocab), (4, 70_000));
    assert_same_as_memory(&files, "\n", None, dir.path());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn any_texts_prepare_to_their_in_memory_ids(
        texts in proptest::collection::vec("\\PC{1,60}", 1..4),
        separator in "\\PC{0,3}",
    ) {
        let dir = tempfile::tempdir().unwrap();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let files = write_files(dir.path(), &refs);
        assert_same_as_memory(&files, &separator, None, dir.path());
    }
}

/// A small token file and its bytes.
fn sample_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let files = write_files(dir, &["金瓶梅 is a novel.\n", "第一回 景阳冈武松打虎"]);
    let out = dir.join("s.tokens");
    prepared(&files, &out, "\n", None);
    let bytes = std::fs::read(&out).unwrap();
    (out, bytes)
}

#[test]
fn every_flipped_bit_and_every_truncation_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = sample_file(dir.path());
    assert!(TokenFile::open(&path).is_ok());
    let damaged = dir.path().join("d.tokens");
    for at in 0..bytes.len() {
        for bit in [0, 3, 7] {
            let mut b = bytes.clone();
            b[at] ^= 1 << bit;
            std::fs::write(&damaged, &b).unwrap();
            assert!(
                TokenFile::open(&damaged).is_err(),
                "flipping bit {bit} of byte {at} went unnoticed"
            );
        }
    }
    for len in 0..bytes.len() {
        std::fs::write(&damaged, &bytes[..len]).unwrap();
        assert!(
            TokenFile::open(&damaged).is_err(),
            "a file cut to {len} bytes opened"
        );
    }
}

#[test]
fn each_kind_of_damage_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = sample_file(dir.path());
    let open_with = |b: &[u8]| {
        std::fs::write(&path, b).unwrap();
        TokenFile::open(&path).unwrap_err()
    };
    let cut = open_with(&bytes[..bytes.len() - 3]);
    assert!(matches!(cut, TokenFileError::Truncated { .. }), "{cut}");
    assert!(cut.to_string().contains("truncated"), "{cut}");
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let err = open_with(&flipped);
    assert!(
        err.to_string().contains("ids do not match their checksum"),
        "{err}"
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0, 0]);
    assert!(open_with(&longer)
        .to_string()
        .contains("more than its header says"));
    let mut newer = bytes.clone();
    newer[8] = 9;
    assert!(matches!(
        open_with(&newer),
        TokenFileError::Newer { format: 9, .. }
    ));
    let err = open_with("plain text".as_bytes());
    assert!(matches!(err, TokenFileError::NotATokenFile { .. }), "{err}");
    assert!(!is_token_file(&path));
    std::fs::write(&path, &bytes).unwrap();
    assert!(is_token_file(&path));
}

#[test]
fn a_changed_source_makes_the_file_stale() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path(), &["one", "two"]);
    let out = dir.path().join("c.tokens");
    prepared(&files, &out, "\n", None);
    let file = TokenFile::open(&out).unwrap();
    assert!(file.is_current(&files, "\n"));
    assert!(!file.is_current(&files, "\n\n"));
    assert!(!file.is_current(&files[..1], "\n"));
    std::fs::write(&files[1], "twos").unwrap();
    assert!(!file.is_current(&files, "\n"));
}

#[test]
fn a_failed_prepare_leaves_the_old_file_and_no_partial_one() {
    let dir = tempfile::tempdir().unwrap();
    let (path, bytes) = sample_file(dir.path());
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, [b'a', 0xff, b'b']).unwrap();
    let options = PrepareOptions {
        separator: "\n",
        base: None,
    };
    let err = prepare(&[bad], &path, options, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with('.')), "{names:?}");
}

#[test]
fn progress_counts_both_passes_to_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_files(dir.path(), &["金瓶梅".repeat(100).as_str()]);
    let mut last = (0, 0);
    let options = PrepareOptions {
        separator: "\n",
        base: None,
    };
    prepare(
        &files,
        &dir.path().join("p.tokens"),
        options,
        &mut |done, total| last = (done, total),
    )
    .unwrap();
    assert_eq!(last, (1800, 1800));
}
