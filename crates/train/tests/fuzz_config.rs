//! Property-based fuzzing of the config parser: arbitrary text and mutated valid
//! configs either parse into a config that validates and round-trips, or give an
//! error; never a panic. `FUZZ_CASES` sets the number of inputs (default 512).

use std::path::Path;

use charrnn_train::RunConfig;
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

const VALID: &str = include_str!("../../../configs/smoke.toml");

fn config_text() -> impl Strategy<Value = String> {
    let keys = prop::sample::select(vec![
        "data.corpus",
        "data.val_fraction",
        "model.embed_size",
        "model.hidden_size",
        "model.num_layers",
        "model.dropout",
        "train.batch_size",
        "train.seq_len",
        "train.learning_rate",
        "train.grad_clip",
        "train.epochs",
        "train.max_steps",
        "train.log_every",
        "train.divergence_factor",
        "sample.prime",
        "sample.top_n",
        "sample.temperature",
        "sample.length",
        "bogus.key",
        "model.bogus",
    ]);
    let values = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "0.5",
        "1.0",
        "1e309",
        "nan",
        "inf",
        "\"x\"",
        "true",
        "[]",
        "{}",
        "18446744073709551616",
        "\"\"",
        "\"金\"",
        "3",
    ]);
    prop_oneof![
        "\\PC{0,200}",
        // A valid config with one line replaced.
        (keys, values).prop_map(|(k, v)| {
            let (section, key) = k.split_once('.').unwrap();
            let mut out = String::new();
            let mut current = "";
            for line in VALID.lines() {
                if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                    current = s;
                }
                if current == section && line.split('=').next().map(str::trim) == Some(key) {
                    continue;
                }
                out.push_str(line);
                out.push('\n');
                if line == format!("[{section}]") {
                    out.push_str(&format!("{key} = {v}\n"));
                }
            }
            out
        }),
        // A valid config cut short anywhere.
        any::<prop::sample::Index>().prop_map(|i| {
            let cut = i.index(VALID.len());
            VALID
                .char_indices()
                .map(|(b, _)| b)
                .take_while(|&b| b <= cut)
                .last()
                .map_or(String::new(), |b| VALID[..b].to_string())
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parsing_never_panics(text in config_text(), set in "\\PC{0,40}") {
        for overrides in [vec![], vec![set]] {
            if let Ok(config) = RunConfig::parse(&text, Path::new("fuzz.toml"), &overrides) {
                prop_assert!(config.validate().is_ok());
                let again = RunConfig::parse(&config.to_toml(), Path::new("again.toml"), &[]);
                prop_assert_eq!(again.ok(), Some(config));
            }
        }
    }
}
