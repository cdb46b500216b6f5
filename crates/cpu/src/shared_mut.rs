//! A buffer that parallel tasks write in disjoint parts.

/// A buffer that parallel tasks write in disjoint parts.
#[derive(Clone, Copy)]
pub struct SharedMut<'a> {
    pub(crate) ptr: *mut f32,
    pub(crate) len: usize,
    _buffer: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: tasks reach the buffer only through `SharedMut::part`, whose
// contract keeps their parts disjoint.
unsafe impl Send for SharedMut<'_> {}
// SAFETY: as for Send.
unsafe impl Sync for SharedMut<'_> {}

impl<'a> SharedMut<'a> {
    /// Shares `buffer` for the lifetime of its borrow.
    pub fn new(buffer: &'a mut [f32]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
            _buffer: std::marker::PhantomData,
        }
    }

    /// Elements `start..start + len` of the buffer. Panics if they are not
    /// inside it (an end past `usize::MAX` included).
    ///
    /// # Safety
    /// No other slice of these elements may be alive at the same time.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn part(&self, start: usize, len: usize) -> &'a mut [f32] {
        let inside = start.checked_add(len).is_some_and(|end| end <= self.len);
        assert!(
            inside,
            "part {start}+{len} outside the shared buffer of {}",
            self.len
        );
        // SAFETY: inside the buffer (asserted), which outlives 'a; exclusive
        // by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), len) }
    }
}
