#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::ops::Range;

pub use charrnn_corpus::Ids;

/// The stream is too short to make a single batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("text of {len} characters is too short for one batch of {batch_size} x {seq_len}: it needs at least {needed} characters; use a longer text or lower batch_size / seq_len")]
pub struct TooShort {
    /// Tokens available.
    pub len: usize,
    /// Rows asked for.
    pub batch_size: usize,
    /// Steps asked for.
    pub seq_len: usize,
    /// Tokens needed: `batch_size * seq_len + 1`.
    pub needed: usize,
}

/// One batch: `batch_size x seq_len` inputs and targets, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Input ids, `inputs[r * seq_len + t]`.
    pub inputs: Vec<u32>,
    /// Target ids: the token following each input in the stream.
    pub targets: Vec<u32>,
    /// Rows.
    pub batch_size: usize,
    /// Steps per row.
    pub seq_len: usize,
}

/// Cuts a token stream into continuing batches. The stream is borrowed, from
/// memory or from a memory-mapped token file, and never copied whole.
#[derive(Debug, Clone)]
pub struct Batcher<'a> {
    ids: Ids<'a>,
    batch_size: usize,
    seq_len: usize,
    row_len: usize,
    /// The streams this batcher yields, of the `batch_size` it cut.
    rows: Range<usize>,
}

impl<'a> Batcher<'a> {
    /// Plans batches of `batch_size` rows by `seq_len` steps over `ids`.
    ///
    /// Fails when `ids` holds fewer than `batch_size * seq_len + 1` tokens (one
    /// extra for the last target). Zero sizes are the caller's to reject.
    pub fn new(
        ids: impl Into<Ids<'a>>,
        batch_size: usize,
        seq_len: usize,
    ) -> Result<Self, TooShort> {
        let ids = ids.into();
        assert!(
            batch_size > 0 && seq_len > 0,
            "batch sizes must be positive"
        );
        let per_batch = batch_size * seq_len;
        // One token is held back so the last input still has a target.
        let num_batches = ids.len().saturating_sub(1) / per_batch;
        if num_batches == 0 {
            return Err(TooShort {
                len: ids.len(),
                batch_size,
                seq_len,
                needed: per_batch + 1,
            });
        }
        Ok(Self {
            ids,
            batch_size,
            seq_len,
            row_len: num_batches * seq_len,
            rows: 0..batch_size,
        })
    }

    /// Only streams `rows` of the ones cut (a process's share in
    /// data-parallel training): each batch holds those rows, in order, as
    /// the whole batch holds them. Panics if `rows` is not within
    /// `0..batch_size`.
    pub fn shard(mut self, rows: Range<usize>) -> Self {
        assert!(
            rows.start <= rows.end && rows.end <= self.batch_size,
            "rows {rows:?} out of 0..{}",
            self.batch_size
        );
        self.rows = rows;
        self
    }

    /// The share of `batch_size` streams that process `rank` of `world`
    /// takes: `[rank·B/world, (rank+1)·B/world)`, empty when there are
    /// more processes than streams.
    pub fn share(batch_size: usize, rank: usize, world: usize) -> Range<usize> {
        rank * batch_size / world..(rank + 1) * batch_size / world
    }

    /// Batches per pass over the stream (one epoch).
    pub fn num_batches(&self) -> usize {
        self.row_len / self.seq_len
    }

    /// Rows per batch: this batcher's streams (all of them unless it is a
    /// [`shard`](Self::shard)).
    pub fn batch_size(&self) -> usize {
        self.rows.len()
    }

    /// Steps per row.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Tokens used per epoch (inputs only), in this batcher's streams.
    pub fn tokens_per_epoch(&self) -> usize {
        self.row_len * self.rows.len()
    }

    /// The `k`-th batch. Panics if `k >= num_batches()`.
    pub fn batch(&self, k: usize) -> Batch {
        assert!(k < self.num_batches(), "batch {k} out of range");
        let n = self.rows.len() * self.seq_len;
        let mut inputs = Vec::with_capacity(n);
        let mut targets = Vec::with_capacity(n);
        for r in self.rows.clone() {
            let start = r * self.row_len + k * self.seq_len;
            let row = self.ids.slice(start..start + self.seq_len + 1);
            row.slice(0..self.seq_len).extend_into(&mut inputs);
            row.slice(1..self.seq_len + 1).extend_into(&mut targets);
        }
        Batch {
            inputs,
            targets,
            batch_size: self.rows.len(),
            seq_len: self.seq_len,
        }
    }

    /// The batches of one epoch in order, starting at batch `from`.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = Batch> + '_ {
        (from..self.num_batches()).map(move |k| self.batch(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn too_short_says_how_much_is_needed() {
        let ids = [0u32; 10];
        let err = Batcher::new(&ids, 2, 5).unwrap_err();
        assert_eq!(err.needed, 11);
        assert!(err.to_string().contains("at least 11"));
        assert!(Batcher::new(&[0u32; 11], 2, 5).is_ok());
    }

    #[test]
    fn last_target_is_next_in_stream_not_wrapped() {
        let ids: Vec<u32> = (0..11).collect();
        let b = Batcher::new(&ids, 2, 5).unwrap();
        let batch = b.batch(0);
        assert_eq!(batch.targets[4], 5);
        assert_eq!(batch.targets[9], 10);
    }

    #[test]
    fn narrow_and_wide_streams_give_the_same_batches() {
        let wide: Vec<u32> = (0..200).map(|i| i * 31 % 97).collect();
        let narrow: Vec<u16> = wide.iter().map(|&i| i as u16).collect();
        let (a, b) = (
            Batcher::new(&wide, 3, 7).unwrap(),
            Batcher::new(&narrow[..], 3, 7).unwrap(),
        );
        assert_eq!(a.num_batches(), b.num_batches());
        assert!(a.iter_from(0).eq(b.iter_from(0)));
    }

    #[test]
    fn shares_cover_the_streams_once_and_shards_are_their_rows_of_the_batch() {
        let ids: Vec<u32> = (0..500).collect();
        for (bs, world) in [(8, 2), (6, 3), (7, 3), (2, 4), (1, 1)] {
            let whole = Batcher::new(&ids, bs, 5).unwrap();
            let shares: Vec<_> = (0..world).map(|r| Batcher::share(bs, r, world)).collect();
            assert_eq!(shares.iter().map(|s| s.len()).sum::<usize>(), bs);
            for k in 0..whole.num_batches() {
                let batch = whole.batch(k);
                let joined: Vec<u32> = shares
                    .iter()
                    .flat_map(|rows| whole.clone().shard(rows.clone()).batch(k).inputs)
                    .collect();
                assert_eq!(joined, batch.inputs, "batch size {bs} over {world}");
            }
        }
    }

    proptest! {
        #[test]
        fn rows_continue_and_targets_shift(len in 2usize..400, bs in 1usize..6, sl in 1usize..12) {
            let ids: Vec<u32> = (0..len as u32).collect();
            let Ok(b) = Batcher::new(&ids, bs, sl) else {
                prop_assert!(len < bs * sl + 1);
                return Ok(());
            };
            prop_assert!(b.tokens_per_epoch() < len);
            let batches: Vec<Batch> = b.iter_from(0).collect();
            prop_assert_eq!(batches.len(), b.num_batches());
            for (k, batch) in batches.iter().enumerate() {
                for r in 0..bs {
                    for t in 0..sl {
                        let i = r * sl + t;
                        prop_assert_eq!(batch.targets[i], batch.inputs[i] + 1);
                        if t + 1 < sl {
                            prop_assert_eq!(batch.inputs[i + 1], batch.inputs[i] + 1);
                        }
                    }
                    if let Some(next) = batches.get(k + 1) {
                        prop_assert_eq!(next.inputs[r * sl], batch.inputs[r * sl + sl - 1] + 1);
                    }
                }
            }
        }
    }
}
