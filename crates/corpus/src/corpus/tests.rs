//! Unit tests of `src/corpus.rs`.

use super::*;
use std::io::Write;

#[test]
fn load_reports_each_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.txt");
    let err = Corpus::load(&missing).unwrap_err();
    assert!(matches!(err, CorpusError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope.txt"));

    let empty = dir.path().join("empty.txt");
    std::fs::File::create(&empty).unwrap();
    assert!(matches!(
        Corpus::load(&empty),
        Err(CorpusError::Empty { .. })
    ));

    let bad = dir.path().join("bad.txt");
    let mut f = std::fs::File::create(&bad).unwrap();
    f.write_all("金瓶".as_bytes()).unwrap();
    f.write_all(&[0xff, b'a']).unwrap();
    drop(f);
    match Corpus::load(&bad) {
        Err(CorpusError::InvalidUtf8 { offset, .. }) => assert_eq!(offset, 6),
        other => panic!("expected InvalidUtf8, got {other:?}"),
    }

    let err = Corpus::load(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("is a folder, not a text file"),
        "{err}"
    );
}

/// Pieces are cut between characters, whatever the piece size, tile
/// the file, and the errors are read_text's, at the same offsets.
#[test]
fn pieces_tile_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.txt");
    let text = "西门庆 said: “金瓶梅” 😀 and left.\n".repeat(7);
    std::fs::write(&p, &text).unwrap();
    let all = |piece: usize| -> Result<String, CorpusError> {
        let pieces = TextPieces::open(&p, piece)?;
        let mut buf = Vec::new();
        let mut got = String::new();
        // Out of order, as threads may read them.
        let mut order: Vec<usize> = (0..pieces.count()).collect();
        order.reverse();
        let mut parts = vec![String::new(); order.len()];
        for k in order {
            parts[k] = pieces.read(k, &mut buf)?.to_string();
        }
        parts.iter().for_each(|part| got.push_str(part));
        Ok(got)
    };
    for piece in [4, 5, 6, 7, 13, 64, 1 << 20] {
        assert_eq!(all(piece).unwrap(), text, "pieces of {piece}");
    }
    let mut bad = text.clone().into_bytes();
    bad.insert(40, 0xff);
    std::fs::write(&p, &bad).unwrap();
    for piece in [4, 16, 1 << 20] {
        match all(piece) {
            Err(CorpusError::InvalidUtf8 { offset, .. }) => assert_eq!(offset, 40),
            other => panic!("expected InvalidUtf8, got {other:?}"),
        }
    }
    // A character cut off by the end of the file.
    std::fs::write(&p, &"金".as_bytes()[..2]).unwrap();
    let err = all(1 << 20).unwrap_err();
    assert!(
        matches!(err, CorpusError::InvalidUtf8 { offset: 0, .. }),
        "{err}"
    );
    std::fs::write(&p, "").unwrap();
    assert!(matches!(all(64), Err(CorpusError::Empty { .. })));
    let err = TextPieces::open(dir.path(), 64).unwrap_err();
    assert!(matches!(err, CorpusError::NotAFile { .. }), "{err}");
}

#[test]
fn folders_and_globs_are_found_where_files_are() {
    let dir = tempfile::tempdir().unwrap();
    let novels = dir.path().join("novels");
    std::fs::create_dir(&novels).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // The first folder that holds it wins; each folder is tried in order.
    let dirs = [elsewhere.path().to_path_buf(), dir.path().to_path_buf()];
    assert_eq!(find_corpus(Path::new("novels"), &dirs).unwrap(), novels);
    let err = find_corpus(Path::new("absent.txt"), &dirs).unwrap_err();
    assert_eq!(err.tried, dirs.clone().map(|d| d.join("absent.txt")));
    assert!(err.to_string().starts_with("corpus not found"), "{err}");
    let dirs = &dirs[1..];

    for name in ["b.txt", "a.txt", "c.md"] {
        std::fs::write(novels.join(name), "text").unwrap();
    }
    let pattern = format!("{}/*.txt", novels.display());
    let found = find_corpus_glob(&pattern, dirs).unwrap();
    assert_eq!(found, [novels.join("a.txt"), novels.join("b.txt")]);
    let err = find_corpus_glob(&format!("{}/*.rst", novels.display()), dirs).unwrap_err();
    assert!(err.to_string().contains("matches no file"), "{err}");
    let err = find_corpus_glob("novels/[*.txt", dirs).unwrap_err();
    assert!(err.to_string().contains("not a valid glob"), "{err}");
    assert!(is_glob("a/*.txt") && !is_glob("a/b.txt"));
}

#[test]
fn documents_are_joined_with_the_separator_and_tile_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&a, "金瓶").unwrap();
    std::fs::write(&b, "梅").unwrap();
    let corpus = Corpus::load_documents(&[a.clone(), b.clone()], "\n\n", None).unwrap();
    assert_eq!(corpus.vocab().decode(corpus.ids()), "金瓶\n\n梅");
    let docs = corpus.documents();
    assert_eq!(
        (docs[0].path.clone(), docs[0].start, docs[0].len),
        (a, 0, 4)
    );
    assert_eq!(
        (docs[1].path.clone(), docs[1].start, docs[1].len),
        (b, 4, 1)
    );
    let binary = dir.path().join("c.txt");
    std::fs::write(&binary, [0xffu8, 0x00, 0x12]).unwrap();
    let err = Corpus::load_documents(&[binary], "\n", None).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("c.txt") && message.contains("UTF-8"),
        "{message}"
    );
}

#[test]
fn an_extended_vocabulary_keeps_every_known_id() {
    let base = Vocab::from_text("金瓶梅");
    let corpus = Corpus::from_text_in(Path::new("t"), "梅花 and 金", Some(&base));
    let vocab = corpus.vocab();
    for (id, &ch) in base.chars().iter().enumerate() {
        assert_eq!(vocab.id(ch), Some(id as u32), "{ch}");
    }
    // New characters follow, in code-point order.
    let new: String = vocab.chars()[base.len()..].iter().collect();
    assert_eq!(new, " adn花");
    assert_eq!(vocab.decode(corpus.ids()), "梅花 and 金");
    // Nothing new: the same vocabulary.
    assert_eq!(
        Corpus::from_text_in(Path::new("t"), "梅金", Some(&base)).vocab(),
        &base
    );
}

#[test]
fn the_fingerprint_follows_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.txt");
    std::fs::write(&p, "abca").unwrap();
    let before = Corpus::load(&p).unwrap().fingerprint();
    std::fs::write(&p, "abcb").unwrap();
    let after = Corpus::load(&p).unwrap().fingerprint();
    assert_eq!(before.bytes, after.bytes);
    assert_ne!(before, after);
}

#[test]
fn load_encodes_text() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.txt");
    std::fs::write(&p, "abca").unwrap();
    let c = Corpus::load(&p).unwrap();
    assert_eq!(c.ids(), &[0, 1, 2, 0]);
    assert_eq!(c.vocab().len(), 3);
}

#[test]
fn split_keeps_the_tail_for_validation() {
    let ids: Vec<u32> = (0..100).collect();
    let (train, val) = split_train_val(&ids, 0.05);
    assert_eq!(train.len(), 95);
    assert_eq!(val, &ids[95..]);
    let (train, val) = split_train_val(&ids[..3], 0.01);
    assert_eq!((train.len(), val.len()), (2, 1));
}
