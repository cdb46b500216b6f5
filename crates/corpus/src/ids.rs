//! A borrowed stream of character ids, as narrow as its vocabulary allows.

use std::ops::Range;

/// Character ids, stored as `u16` (what a prepared token file holds when the
/// vocabulary has at most 65,536 characters) or as `u32` (a text encoded in
/// memory). Both read as `u32` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ids<'a> {
    /// Two bytes an id.
    U16(&'a [u16]),
    /// Four bytes an id.
    U32(&'a [u32]),
}

impl<'a> Ids<'a> {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            Self::U16(ids) => ids.len(),
            Self::U32(ids) => ids.len(),
        }
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id at `index`. Panics when out of range, as slice indexing does.
    pub fn get(&self, index: usize) -> u32 {
        match self {
            Self::U16(ids) => u32::from(ids[index]),
            Self::U32(ids) => ids[index],
        }
    }

    /// The ids in `range`, borrowed. Panics when out of range.
    pub fn slice(&self, range: Range<usize>) -> Ids<'a> {
        match *self {
            Self::U16(ids) => Self::U16(&ids[range]),
            Self::U32(ids) => Self::U32(&ids[range]),
        }
    }

    /// Appends every id to `out`.
    pub fn extend_into(&self, out: &mut Vec<u32>) {
        match self {
            Self::U16(ids) => out.extend(ids.iter().map(|&id| u32::from(id))),
            Self::U32(ids) => out.extend_from_slice(ids),
        }
    }

    /// The ids as an owned `u32` vector.
    pub fn to_vec(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.len());
        self.extend_into(&mut out);
        out
    }

    /// The largest id, or `None` when empty.
    pub fn max(&self) -> Option<u32> {
        match self {
            Self::U16(ids) => ids.iter().copied().max().map(u32::from),
            Self::U32(ids) => ids.iter().copied().max(),
        }
    }

    /// Splits into training and validation parts: the last `val_fraction` is
    /// validation (at least one id of each when there are two or more).
    pub fn split_tail(&self, val_fraction: f64) -> (Ids<'a>, Ids<'a>) {
        let n = self.len();
        let cut = n - validation_len(n, val_fraction);
        (self.slice(0..cut), self.slice(cut..n))
    }
}

/// How many of `n` ids the last `val_fraction` holds: at least one, and at
/// most `n - 1`, when `n >= 2`; none otherwise.
pub(crate) fn validation_len(n: usize, val_fraction: f64) -> usize {
    if n < 2 {
        return 0;
    }
    ((n as f64 * val_fraction).round() as usize).clamp(1, n - 1)
}

impl<'a> From<&'a [u32]> for Ids<'a> {
    fn from(ids: &'a [u32]) -> Self {
        Self::U32(ids)
    }
}

impl<'a> From<&'a Vec<u32>> for Ids<'a> {
    fn from(ids: &'a Vec<u32>) -> Self {
        Self::U32(ids)
    }
}

impl<'a, const N: usize> From<&'a [u32; N]> for Ids<'a> {
    fn from(ids: &'a [u32; N]) -> Self {
        Self::U32(ids)
    }
}

impl<'a> From<&'a [u16]> for Ids<'a> {
    fn from(ids: &'a [u16]) -> Self {
        Self::U16(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_widths_read_the_same_ids() {
        let wide: Vec<u32> = (0..50).map(|i| i * 7 % 300).collect();
        let narrow: Vec<u16> = wide.iter().map(|&i| i as u16).collect();
        let (a, b) = (Ids::from(&wide), Ids::from(&narrow[..]));
        assert_eq!(a.len(), b.len());
        assert_eq!(a.to_vec(), b.to_vec());
        assert_eq!(a.slice(3..9).to_vec(), b.slice(3..9).to_vec());
        assert_eq!((a.get(11), a.max()), (b.get(11), b.max()));
        let (ta, va) = a.split_tail(0.1);
        let (tb, vb) = b.split_tail(0.1);
        assert_eq!((ta.len(), va.to_vec()), (tb.len(), vb.to_vec()));
        assert_eq!(va.len(), 5);
    }
}
