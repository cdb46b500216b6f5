//! Matrix operands held in slices (row-major or transposed) and how a
//! product writes its result.

/// A matrix operand held in a slice: `rows × cols`, stored row-major, or
/// stored as its transpose (`cols × rows` row-major) when made with
/// [`Mat::transposed`].
#[derive(Clone, Copy, Debug)]
pub struct Mat<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) transposed: bool,
}

impl<'a> Mat<'a> {
    /// The `rows × cols` matrix stored row-major in `data`.
    ///
    /// # Panics
    /// When `data` is shorter than `rows * cols`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::checked(data, rows, cols, false)
    }

    /// The `rows × cols` matrix whose transpose (`cols × rows`) is stored
    /// row-major in `data`.
    ///
    /// # Panics
    /// When `data` is shorter than `rows * cols`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::checked(data, rows, cols, true)
    }

    fn checked(data: &'a [f32], rows: usize, cols: usize, transposed: bool) -> Self {
        assert!(
            data.len() >= rows * cols,
            "a {rows}×{cols} matrix needs {} values, the slice has {}",
            rows * cols,
            data.len()
        );
        Self {
            data,
            rows,
            cols,
            transposed,
        }
    }

    /// `(rows, cols)` of the matrix (not of its storage).
    pub fn dims(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

/// What a product does with its destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `dst = a · b`.
    Overwrite,
    /// `dst += a · b`.
    Accumulate,
}

impl Output {
    pub(crate) fn accumulates(self) -> bool {
        self == Output::Accumulate
    }
}

/// `[m, k, n]` of the product `a · b`.
///
/// # Panics
/// When the inner dimensions differ.
pub(crate) fn product_dims(a: &Mat, b: &Mat) -> [usize; 3] {
    assert_eq!(
        a.cols, b.rows,
        "a {}×{} matrix times a {}×{} one",
        a.rows, a.cols, b.rows, b.cols
    );
    [a.rows, a.cols, b.cols]
}
