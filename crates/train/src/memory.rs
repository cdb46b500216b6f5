//! What a run will need in memory, estimated from its config before anything
//! is allocated, so that a size typed with a digit too many is refused with a
//! reason instead of ending in the kernel's OOM killer.

use crate::config::RunConfig;

/// The estimated need of a training run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryNeed {
    /// Parameters in the model.
    pub params: u128,
    /// Bytes: weights, gradients and Adam's two moments (4 × 4 bytes a
    /// parameter), the activations a step keeps for backward, and the logits
    /// with their probabilities and gradient.
    pub bytes: u128,
    /// The config keys that drive the size, with their values.
    pub drivers: String,
}

/// Estimates what training `config` (validated) on a vocabulary of
/// `vocab_size` needs, summed in 128 bits.
pub fn estimate(config: &RunConfig, vocab_size: usize) -> MemoryNeed {
    let m = &config.model;
    // Counted by the model (no overflow for a validated config), summed wide.
    let parts = config.model_config(vocab_size).param_counts();
    let (embedding, recurrent, output) = (
        parts.embedding as u128,
        parts.recurrent as u128,
        parts.output as u128,
    );
    let params = embedding + recurrent + output;
    let (v, e, h, l) = (
        vocab_size as u128,
        m.embed_size as u128,
        m.hidden_size as u128,
        m.num_layers as u128,
    );
    let (b, t) = (
        config.train.batch_size as u128,
        config.train.seq_len as u128,
    );
    // Per character a step keeps: the embedding, each layer's gates, cell,
    // hidden state and dropout mask, and three [vocab] rows for the loss.
    let activations = b * t * (e + l * 8 * h + 3 * v) * 4;
    let weights = params * 16;
    let drivers = if activations > weights {
        format!(
            "train.batch_size = {} × train.seq_len = {} characters a step, vocabulary {vocab_size}",
            config.train.batch_size, config.train.seq_len
        )
    } else if recurrent >= embedding.max(output) {
        format!(
            "model.hidden_size = {}, model.num_layers = {}",
            m.hidden_size, m.num_layers
        )
    } else if output >= embedding {
        format!(
            "model.hidden_size = {} × a vocabulary of {vocab_size}",
            m.hidden_size
        )
    } else {
        format!(
            "model.embed_size = {} × a vocabulary of {vocab_size}",
            m.embed_size
        )
    };
    MemoryNeed {
        params,
        bytes: weights + activations,
        drivers,
    }
}

pub use charrnn_corpus::{human_bytes, human_count};

/// Memory this process can still take: the system's available memory, or
/// less under a cgroup limit (a container); `None` where neither is known.
pub fn available_memory() -> Option<u64> {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let system = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let system_free = Some(system.available_memory()).filter(|&b| b > 0);
    let cgroup_free = system.cgroup_limits().map(|c| c.free_memory);
    match (system_free, cgroup_free) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(overrides: &[&str]) -> RunConfig {
        let text = "[data]\ncorpus = \"x.txt\"\n";
        let overrides: Vec<String> = overrides.iter().map(|o| o.to_string()).collect();
        RunConfig::parse(text, std::path::Path::new("t.toml"), &overrides).unwrap()
    }

    #[test]
    fn the_parameter_count_is_the_built_models() {
        use burn::module::Module;
        for o in [
            &["model.num_layers=1"][..],
            &["model.num_layers=3", "model.hidden_size=20"],
        ] {
            let c = config(o);
            let model = c
                .model_config(37)
                .init::<burn::backend::Flex>(&Default::default());
            assert_eq!(estimate(&c, 37).params, model.num_params() as u128, "{o:?}");
        }
    }

    #[test]
    fn a_typo_in_the_hidden_size_is_named_as_the_driver() {
        let need = estimate(&config(&["model.hidden_size=200000"]), 4339);
        assert!(need.params > 400_000_000_000, "{}", need.params);
        assert!(need.bytes > 6_000_000_000_000, "{}", need.bytes);
        assert!(
            need.drivers.contains("model.hidden_size = 200000"),
            "{}",
            need.drivers
        );
        let long_steps = estimate(
            &config(&["train.batch_size=100000", "train.seq_len=10000"]),
            65,
        );
        assert!(long_steps.drivers.contains("train.batch_size = 100000"));
    }

    #[test]
    fn available_memory_is_known_here() {
        assert!(available_memory().is_some_and(|b| b > 0));
    }
}
