//! What data-parallel training needs from the processes it runs in: who they
//! are and a few collective operations. [`SingleProcess`] is the world of
//! one that every run without MPI trains in; the `charrnn` binary brings an
//! MPI implementation behind its `mpi` feature.
//!
//! Every process of a world must make the same calls in the same order:
//! the trainer makes each decision that leads to a call (validate, save,
//! stop) from numbers all processes agreed on.

use std::fmt::Debug;

/// The processes of one training run and their collective operations.
///
/// Implementations make every call from the thread that trains (MPI's
/// "funneled" threading); the trainer never calls them from a worker.
pub trait Collective: Debug + Send + Sync {
    /// This process's rank, `0..size()`.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// Replaces `buf` on every process by the element-wise sum of all
    /// processes' `buf` (of equal lengths), the same on every process.
    fn all_reduce_sum(&self, buf: &mut [f32]);
    /// Replaces `buf` on every process by rank `root`'s `buf`.
    fn broadcast(&self, buf: &mut [f32], root: usize);
    /// Rank 0 receives every process's `send` (of equal lengths), in rank
    /// order; the others receive `None`.
    fn gather(&self, send: &[f32]) -> Option<Vec<f32>>;
    /// Ends every process of the job at once, with exit status `code`.
    fn abort(&self, code: i32) -> !;
}

/// The world of one process: every operation is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Collective for SingleProcess {
    fn rank(&self) -> usize {
        0
    }

    fn size(&self) -> usize {
        1
    }

    fn all_reduce_sum(&self, _buf: &mut [f32]) {}

    fn broadcast(&self, _buf: &mut [f32], _root: usize) {}

    fn gather(&self, send: &[f32]) -> Option<Vec<f32>> {
        Some(send.to_vec())
    }

    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// What the processes of a run compare before training and at every
/// checkpoint, each as a 64-bit fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreed {
    /// The run config, as TOML.
    Config,
    /// The corpus's fingerprint.
    Corpus,
    /// The checkpoint resumed or fine-tuned from.
    Checkpoint,
    /// The model's weights, bit for bit.
    Weights,
}

impl Agreed {
    /// What it is, in an error message.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Config => "the config (after --set)",
            Self::Corpus => "the corpus (its fingerprint)",
            Self::Checkpoint => "the checkpoint it starts from",
            Self::Weights => "the model's weights (their checksum)",
        }
    }
}

/// A 64-bit fingerprint travels as four 16-bit pieces, each exact in an f32.
fn pieces(value: u64) -> [f32; 4] {
    std::array::from_fn(|i| ((value >> (16 * i)) & 0xffff) as f32)
}

/// Rank 0 compares every process's fingerprints of `items` with its own and
/// tells all processes the first rank that differs, with what differs.
/// Every process must call it with the same items, in the same order.
pub fn first_disagreement(
    world: &dyn Collective,
    items: &[(Agreed, u64)],
) -> Option<(usize, Agreed)> {
    let mine: Vec<f32> = items.iter().flat_map(|&(_, fp)| pieces(fp)).collect();
    // [rank + 1, item index], or [0, 0] when all agree.
    let mut verdict = [0.0f32; 2];
    if let Some(all) = world.gather(&mine) {
        let found = all
            .chunks(mine.len().max(1))
            .enumerate()
            .skip(1)
            .find_map(|(rank, theirs)| {
                let item = theirs
                    .chunks(4)
                    .zip(mine.chunks(4))
                    .position(|(a, b)| a != b)?;
                Some((rank, item))
            });
        if let Some((rank, item)) = found {
            verdict = [(rank + 1) as f32, item as f32];
        }
    }
    world.broadcast(&mut verdict, 0);
    (verdict[0] > 0.0).then(|| {
        let item = verdict[1] as usize;
        (verdict[0] as usize - 1, items[item].0)
    })
}

/// A fingerprint of bytes (FNV-1a, 64 bits): equal inputs give equal values
/// on every machine.
pub fn fingerprint(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hidden state of a whole batch, `[layer][h, c][batch_size][hidden]`,
/// from each process's rows of it (`parts`: every process's state, in rank
/// order, `[layer][h, c][rows][hidden]` each, all the same size).
pub fn join_hidden(parts: &[f32], world: usize, chunks: usize) -> Vec<f32> {
    let part = parts.len() / world;
    let slice = part / chunks.max(1);
    let mut whole = Vec::with_capacity(parts.len());
    for chunk in 0..chunks {
        for rank in 0..world {
            let start = rank * part + chunk * slice;
            whole.extend_from_slice(&parts[start..start + slice]);
        }
    }
    whole
}

/// Rows `rows` of a whole batch's hidden state (laid out as
/// [`join_hidden`] returns it) with `batch_size` rows of `row_len` values
/// per chunk.
pub fn hidden_rows(
    whole: &[f32],
    chunks: usize,
    batch_size: usize,
    rows: std::ops::Range<usize>,
) -> Vec<f32> {
    let chunk_len = whole.len() / chunks.max(1);
    let row_len = chunk_len / batch_size.max(1);
    (0..chunks)
        .flat_map(|c| {
            let start = c * chunk_len + rows.start * row_len;
            whole[start..start + rows.len() * row_len].iter().copied()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_travel_exactly_in_f32_pieces() {
        let value = 0xfedc_ba98_7654_3210_u64;
        let back = pieces(value)
            .iter()
            .enumerate()
            .fold(0u64, |acc, (i, &p)| acc | ((p as u64) << (16 * i)));
        assert_eq!(back, value);
    }

    #[test]
    fn one_process_always_agrees_with_itself() {
        let items: Vec<_> = [Agreed::Config, Agreed::Corpus, Agreed::Weights]
            .iter()
            .map(|&a| (a, 7))
            .collect();
        assert_eq!(first_disagreement(&SingleProcess, &items), None);
    }

    #[test]
    fn hidden_rows_of_joined_parts_are_each_part() {
        // 2 layers × (h, c) = 4 chunks, 6 rows of 3 values, over 3 processes.
        let (chunks, batch, row_len, world) = (4, 6, 3, 3);
        let whole: Vec<f32> = (0..chunks * batch * row_len).map(|i| i as f32).collect();
        let parts: Vec<f32> = (0..world)
            .flat_map(|rank| hidden_rows(&whole, chunks, batch, 2 * rank..2 * rank + 2))
            .collect();
        assert_eq!(join_hidden(&parts, world, chunks), whole);
        assert_eq!(hidden_rows(&whole, chunks, batch, 0..batch), whole);
    }
}
