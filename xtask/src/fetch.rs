//! Downloading the standard corpora (`cargo xtask fetch-data`).
//!
//! 金瓶梅 comes as chapter files of the public chinese-novel collection
//! (`resources/世态人情/金瓶梅/N.html` plus `info.json` listing the titles) and is
//! assembled into one text: each part is its title line, a blank line, then its
//! text with `<br>` turned into newlines. tiny-shakespeare is one file of
//! karpathy/char-rnn. Downloads use `curl`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

const NOVEL_BASE: &str =
    "https://raw.githubusercontent.com/luoxuhai/chinese-novel/master/resources/%E4%B8%96%E6%80%81%E4%BA%BA%E6%83%85/%E9%87%91%E7%93%B6%E6%A2%85";
const SHAKESPEARE_URL: &str =
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt";

/// Fetches every standard corpus that is not already in `dest`.
pub fn fetch_all(dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let shakespeare = dest.join("tinyshakespeare.txt");
    if shakespeare.is_file() {
        eprintln!("xtask: {} already present", shakespeare.display());
    } else {
        let text =
            download(SHAKESPEARE_URL).map_err(|e| by_hand(e, &shakespeare, SHAKESPEARE_URL))?;
        write_atomically(&shakespeare, &text)?;
        eprintln!(
            "xtask: wrote {} ({} characters)",
            shakespeare.display(),
            text.chars().count()
        );
    }
    let jpm = dest.join("jinpingmei.txt");
    if jpm.is_file() {
        eprintln!("xtask: {} already present", jpm.display());
        return Ok(());
    }
    let info_url = format!("{NOVEL_BASE}/info.json");
    let info = download(&info_url).map_err(|e| by_hand(e, &jpm, &info_url))?;
    let titles = titles(&info)?;
    let mut chapters = Vec::with_capacity(titles.len());
    for n in 0..titles.len() {
        let url = format!("{NOVEL_BASE}/{n}.html");
        chapters.push(download(&url).map_err(|e| by_hand(e, &jpm, &url))?);
    }
    let text = assemble(&titles, &chapters);
    write_atomically(&jpm, &text)?;
    eprintln!(
        "xtask: wrote {} ({} characters, {} parts)",
        jpm.display(),
        text.chars().count(),
        titles.len()
    );
    Ok(())
}

fn by_hand(e: anyhow::Error, dest: &Path, url: &str) -> anyhow::Error {
    e.context(format!(
        "download of {url} failed; without internet, copy the corpus to {} by hand (or set CHARRNN_DATA_DIR to a folder holding it)",
        dest.display()
    ))
}

fn download(url: &str) -> Result<String> {
    let out = Command::new("curl")
        .args(["-fsSL", "--retry", "2", "--max-time", "60", url])
        .output()
        .context("cannot run curl")?;
    if !out.status.success() {
        bail!("curl: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    String::from_utf8(out.stdout).context("the download is not UTF-8")
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    charrnn_fs::write(path, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The part titles listed by the collection's `info.json`.
pub fn titles(info_json: &str) -> Result<Vec<String>> {
    let info: serde_json::Value =
        serde_json::from_str(info_json).context("info.json is not JSON")?;
    let titles = info["catalogues"]
        .as_array()
        .context("info.json has no `catalogues` list")?
        .iter()
        .map(|t| {
            t.as_str()
                .map(str::to_string)
                .context("a catalogue entry is not a string")
        })
        .collect::<Result<Vec<_>>>()?;
    if titles.is_empty() {
        bail!("info.json lists no chapters");
    }
    Ok(titles)
}

/// One text from titles and chapter bodies: title, blank line, body (`<br>` →
/// newline); parts separated by a blank line.
pub fn assemble(titles: &[String], chapters: &[String]) -> String {
    let mut out = String::new();
    for (title, body) in titles.iter().zip(chapters) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(title.trim());
        out.push_str("\n\n");
        let body = body
            .replace("<br/>", "\n")
            .replace("<br />", "\n")
            .replace("<br>", "\n");
        out.push_str(body.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_chapter_files_like_the_shared_corpus() {
        let info = r#"{"name":"金瓶梅","catalogues":["金瓶梅序","第一回 西门庆热结十弟兄"],"catalogueTotal":2}"#;
        let titles = titles(info).unwrap();
        let chapters = vec![
            "《金瓶梅》，秽书也。<br><br>东吴弄珠客题".to_string(),
            "　　诗曰：豪华去后行人绝。<br>　　 雄剑无威光彩沉。<br>".to_string(),
        ];
        assert_eq!(
            assemble(&titles, &chapters),
            "金瓶梅序\n\n《金瓶梅》，秽书也。\n\n东吴弄珠客题\n\n第一回 西门庆热结十弟兄\n\n　　诗曰：豪华去后行人绝。\n　　 雄剑无威光彩沉。\n"
        );
    }

    #[test]
    fn bad_info_json_is_an_error() {
        assert!(titles("{}").is_err());
        assert!(titles("not json").is_err());
        assert!(titles(r#"{"catalogues":[]}"#).is_err());
    }
}
