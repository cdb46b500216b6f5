//! How to sample: the options, the overrides that front ends lay over a
//! run's defaults, and the rules both must follow.

use charrnn_corpus::InvalidValue;
use charrnn_corpus::{UnknownChar, Vocab};
use serde::{Deserialize, Serialize};

/// How to generate: the `[sample]` section of a run's config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleOptions {
    /// Text that warms the state up; generation continues it.
    pub prime: String,
    /// Characters to generate.
    pub length: usize,
    /// Draw among this many most likely characters (1 = greedy).
    pub top_n: usize,
    /// Divides the logits before the softmax: < 1 is bolder, > 1 more random.
    pub temperature: f64,
    /// Seed of the random draws.
    pub seed: u64,
    /// Nucleus sampling: keep the most likely characters (within `top_n`) whose
    /// probabilities add up to at least this; 1 keeps all `top_n`.
    pub top_p: f64,
    /// Stop early once the generated text ends with this (empty: never).
    pub stop_at: String,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            prime: "\n".into(),
            length: 500,
            top_n: 5,
            temperature: 1.0,
            seed: 42,
            top_p: 1.0,
            stop_at: String::new(),
        }
    }
}

impl SampleOptions {
    /// Checks the options that do not depend on a model: the one place these
    /// rules live (a run's config and the sampler both call it).
    pub fn validate(&self) -> Result<(), InvalidValue> {
        if self.prime.is_empty() {
            return Err(InvalidValue::new(
                "prime",
                "empty",
                "at least one character",
            ));
        }
        if self.length == 0 {
            return Err(InvalidValue::new("length", 0, "at least 1 character"));
        }
        if self.top_n == 0 {
            return Err(InvalidValue::new("top_n", 0, "at least 1"));
        }
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(InvalidValue::new(
                "temperature",
                t,
                "a number greater than 0",
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(InvalidValue::new("top_p", self.top_p, "in (0, 1]"));
        }
        Ok(())
    }
}

/// Options that cannot generate anything.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SampleError {
    /// An option is out of range (see [`SampleOptions::validate`]).
    #[error(transparent)]
    Invalid(#[from] InvalidValue),
    /// The prime has a character the model never saw.
    #[error("prime: {0}; use only characters of the training text")]
    UnknownPrimeChar(#[from] UnknownChar),
    /// The samples asked for would take more memory than they may.
    #[error("{samples} samples of {length} characters need about {} of memory, more than the {} they may take: ask for fewer samples or fewer characters", charrnn_corpus::human_bytes(*need), charrnn_corpus::human_bytes(u128::from(*available)))]
    TooBig {
        /// Samples asked for.
        samples: usize,
        /// Characters per sample.
        length: usize,
        /// Bytes they would take.
        need: u128,
        /// Bytes they may take.
        available: u64,
    },
    /// The vocabulary does not belong to the model.
    #[error("the vocabulary has {vocab} characters but the model expects {model}: the checkpoint's vocab.json does not belong to its weights")]
    VocabMismatch {
        /// Vocabulary size.
        vocab: usize,
        /// Model's vocabulary size.
        model: usize,
    },
}

/// Checks `options` against a model's vocabulary (their own rules, `top_n`
/// within the vocabulary, every prime character in it); returns the prime's ids.
pub fn check_against(options: &SampleOptions, vocab: &Vocab) -> Result<Vec<u32>, SampleError> {
    options.validate()?;
    if options.top_n > vocab.len() {
        return Err(InvalidValue::new(
            "top_n",
            options.top_n,
            format!("at most the vocabulary size {}", vocab.len()),
        )
        .into());
    }
    Ok(vocab.encode(&options.prime)?)
}

/// What a caller changes of a run's [`SampleOptions`]: the command line's
/// flags, an HTTP request's body, chat's `/commands` all fill in this one
/// type, then lay it [`over`](Self::over) the run's `[sample]` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleOverrides {
    /// Replaces [`SampleOptions::prime`].
    pub prime: Option<String>,
    /// Replaces [`SampleOptions::length`].
    pub length: Option<usize>,
    /// Replaces [`SampleOptions::top_n`].
    pub top_n: Option<usize>,
    /// Replaces [`SampleOptions::temperature`].
    pub temperature: Option<f64>,
    /// Replaces [`SampleOptions::seed`].
    pub seed: Option<u64>,
    /// Replaces [`SampleOptions::top_p`].
    pub top_p: Option<f64>,
    /// Replaces [`SampleOptions::stop_at`].
    pub stop_at: Option<String>,
}

impl SampleOverrides {
    /// `defaults` with what is set here replaced. The result is not checked
    /// yet: [`SampleOptions::validate`] or [`check_against`] does that.
    pub fn over(self, defaults: &SampleOptions) -> SampleOptions {
        SampleOptions {
            prime: self.prime.unwrap_or_else(|| defaults.prime.clone()),
            length: self.length.unwrap_or(defaults.length),
            top_n: self.top_n.unwrap_or(defaults.top_n),
            temperature: self.temperature.unwrap_or(defaults.temperature),
            seed: self.seed.unwrap_or(defaults.seed),
            top_p: self.top_p.unwrap_or(defaults.top_p),
            stop_at: self.stop_at.unwrap_or_else(|| defaults.stop_at.clone()),
        }
    }

    /// One option given as text, by its key (`top_n`, `temperature`, …): an
    /// error names the key and what its value must look like.
    pub fn one(key: &str, value: &str) -> Result<Self, InvalidValue> {
        fn parsed<V: std::str::FromStr>(
            key: &'static str,
            value: &str,
            expected: &str,
        ) -> Result<Option<V>, InvalidValue> {
            value
                .parse()
                .map(Some)
                .map_err(|_| InvalidValue::new(key, format!("{value:?}"), expected))
        }
        let (number, whole) = ("a number", "a whole number");
        let mut set = Self::default();
        match key {
            "prime" => set.prime = Some(value.to_string()),
            "stop_at" => set.stop_at = Some(value.to_string()),
            "length" => set.length = parsed("length", value, whole)?,
            "top_n" => set.top_n = parsed("top_n", value, whole)?,
            "seed" => set.seed = parsed("seed", value, whole)?,
            "temperature" => set.temperature = parsed("temperature", value, number)?,
            "top_p" => set.top_p = parsed("top_p", value, number)?,
            _ => {
                let known = "prime, length, top_n, temperature, seed, top_p or stop_at";
                return Err(InvalidValue::new("option", key, known));
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_what_they_set() {
        let defaults = SampleOptions::default();
        let options = SampleOverrides {
            top_n: Some(9),
            stop_at: Some("。".into()),
            ..SampleOverrides::default()
        }
        .over(&defaults);
        assert_eq!(options.top_n, 9);
        assert_eq!(options.stop_at, "。");
        assert_eq!(options.prime, defaults.prime);
        assert_eq!(options.temperature, defaults.temperature);
    }

    #[test]
    fn one_option_from_text_names_its_key_when_wrong() {
        let set = SampleOverrides::one("temperature", "0.5").unwrap();
        assert_eq!(set.temperature, Some(0.5));
        let wrong = SampleOverrides::one("top_n", "many").unwrap_err();
        assert_eq!(
            (wrong.key, wrong.expected.as_str()),
            ("top_n", "a whole number")
        );
        let unknown = SampleOverrides::one("warmth", "1").unwrap_err();
        assert_eq!(unknown.key, "option");
        assert!(unknown.to_string().contains("warmth"), "{unknown}");
    }

    #[test]
    fn an_http_body_with_an_unknown_key_is_refused() {
        let body = serde_json::json!({ "top_n": 3, "warmth": 1 });
        let refused = serde_json::from_value::<SampleOverrides>(body).unwrap_err();
        assert!(refused.to_string().contains("warmth"), "{refused}");
    }
}
