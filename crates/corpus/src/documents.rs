//! Corpora of many files: a folder's `*.txt` files, or any list of files,
//! joined into one text with a separator so that no document runs into the
//! next.

use std::path::{Path, PathBuf};

use crate::{CorpusError, Ids};

/// One document of a corpus, as a span of the joined text's ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The file it came from.
    pub path: PathBuf,
    /// Its first id in the joined text.
    pub start: usize,
    /// Its ids, the separator after it included, so documents tile the text.
    pub len: usize,
}

/// Every `*.txt` file under `dir`, recursively, sorted by path.
pub fn text_files_in(dir: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    let mut files = Vec::new();
    collect_text_files(dir, &mut files).map_err(|source| CorpusError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if files.is_empty() {
        return Err(CorpusError::EmptyFolder {
            path: dir.to_path_buf(),
        });
    }
    files.sort();
    Ok(files)
}

fn collect_text_files(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // Real folders only: a link to a folder could lead in a circle.
        if entry.file_type()?.is_dir() {
            collect_text_files(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "txt") {
            files.push(path);
        }
    }
    Ok(())
}

/// The files a corpus path stands for: itself, or a folder's text files.
pub fn files_of(path: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    if path.is_dir() {
        text_files_in(path)
    } else {
        Ok(vec![path.to_path_buf()])
    }
}

/// Splits ids into training and validation parts per document: the last
/// `val_fraction` of each document is validation, as
/// [`split_train_val`](crate::split_train_val) does for the whole text. Both
/// parts are copies: the training part is as large as the text.
pub fn split_per_document<'a>(
    ids: impl Into<Ids<'a>>,
    documents: &[Document],
    val_fraction: f64,
) -> (Vec<u32>, Vec<u32>) {
    let ids = ids.into();
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for doc in documents {
        let (t, v) = ids
            .slice(doc.start..doc.start + doc.len)
            .split_tail(val_fraction);
        t.extend_into(&mut train);
        v.extend_into(&mut val);
    }
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_gives_its_text_files_sorted_and_recursively() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("b/c")).unwrap();
        for name in ["z.txt", "a.txt", "b/c/m.txt", "notes.md", "b/x.TXT"] {
            std::fs::write(root.join(name), "text").unwrap();
        }
        let files = files_of(root).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, ["a.txt", "b/c/m.txt", "z.txt"]);
        assert_eq!(files_of(&root.join("z.txt")).unwrap(), [root.join("z.txt")]);

        let empty = root.join("empty");
        std::fs::create_dir(&empty).unwrap();
        let err = files_of(&empty).unwrap_err();
        assert!(err.to_string().contains("no *.txt files"), "{err}");
    }

    #[test]
    fn per_document_validation_takes_each_documents_tail() {
        let ids: Vec<u32> = (0..30).collect();
        let doc = |start, len| Document {
            path: PathBuf::from("d"),
            start,
            len,
        };
        let (train, val) = split_per_document(&ids, &[doc(0, 10), doc(10, 20)], 0.1);
        assert_eq!(val, [9, 28, 29]);
        assert_eq!(train.len(), 27);
        assert_eq!(&train[..9], &ids[..9]);
    }
}
