//! A small text made for the tests that only need some text to train on
//! (included with `#[path]` by the trainer's and the binary's tests): about
//! 40,000 characters of a made-up play, speakers in capitals, so the smoke
//! config's batches and validation split fit and its prime `ROMEO:` is in the
//! vocabulary. Only tests about the real corpora read them.

use std::path::PathBuf;

/// Speakers and words of the play.
const SPEAKERS: [&str; 5] = ["ROMEO", "JULIET", "KING RICHARD", "QUEEN", "NURSE"];
const WORDS: [&str; 24] = [
    "the", "night", "is", "young", "and", "my", "lord", "will", "not", "come", "to", "court",
    "what", "say", "you", "of", "love", "sweet", "fair", "Verona", "hath", "a", "heavy", "heart",
];

/// The text, the same on every call.
pub fn small_text_content() -> String {
    let mut state = 0x2545_f491u32;
    let mut next = |n: usize| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 16) as usize % n
    };
    let mut text = String::new();
    while text.len() < 40_000 {
        text.push_str(SPEAKERS[next(SPEAKERS.len())]);
        text.push_str(":\n");
        for _ in 0..1 + next(3) {
            let words: Vec<&str> = (0..4 + next(8)).map(|_| WORDS[next(WORDS.len())]).collect();
            let mut line = words.join(" ");
            line[..1].make_ascii_uppercase();
            line.push(if next(4) == 0 { '?' } else { '.' });
            text.push_str(&line);
            text.push('\n');
        }
        text.push('\n');
    }
    text
}

/// The text as a file (written once, atomically, in cargo's folder for test
/// scratch files).
pub fn small_text() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("small-play.txt");
    if !path.is_file() {
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        std::fs::write(&tmp, small_text_content()).expect("write the test text");
        std::fs::rename(&tmp, &path).expect("move the test text into place");
    }
    path
}

/// The `--set` override that points a config at [`small_text`].
pub fn small_text_override() -> String {
    format!("data.corpus={:?}", small_text().display().to_string())
}
