//! Unit tests of `src/checkpoint.rs`.

use super::write::prune;
use super::*;

/// Past step 999,999 the names outgrow their zero padding
/// (`step-1000000` sorts before `step-999999` as text): pruning must
/// still drop the oldest and keep the newest.
#[test]
fn checkpoints_are_ordered_by_step_past_a_million() {
    let run = tempfile::tempdir().unwrap();
    let root = checkpoints_dir(run.path());
    for step in [999_998u64, 1_000_000, 999_999, 10_000_000] {
        fs::create_dir_all(root.join(step_name(step))).unwrap();
    }
    fs::create_dir_all(root.join("step-x1")).unwrap();
    assert_eq!(
        list(run.path()),
        [
            "step-999998",
            "step-999999",
            "step-1000000",
            "step-10000000"
        ]
    );
    prune(&root, 2);
    assert_eq!(list(run.path()), ["step-1000000", "step-10000000"]);
}
