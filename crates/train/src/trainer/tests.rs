//! Unit tests of `src/trainer.rs`.

use super::parts::step_seed;

#[test]
fn step_seeds_differ() {
    let seeds: std::collections::HashSet<u64> = (0..1000).map(|s| step_seed(42, s)).collect();
    assert_eq!(seeds.len(), 1000);
}
