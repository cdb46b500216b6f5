//! A team of threads that wait for work by spinning, for the many tiny
//! parallel jobs of generation at batch 1.
//!
//! A character costs three vector-matrix products of a few hundred
//! microseconds each; handing each to rayon costs tens of microseconds of
//! sleeping and waking threads. A team's helpers spin between jobs (and park
//! after a while without work), so a job starts and ends within a fraction of
//! a microsecond.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};

/// Spins before a helper without work parks (tens of microseconds).
const SPINS_BEFORE_PARKING: u32 = 1 << 16;

type Job = dyn Fn(usize) + Sync;

struct Shared {
    /// Bumped to publish a job.
    generation: AtomicUsize,
    /// Helpers done with the current job.
    done: AtomicUsize,
    /// Set when a helper's part of a job panicked.
    panicked: AtomicBool,
    stop: AtomicBool,
    /// The current job; valid from a `generation` bump until `done` counts
    /// every helper (see [`Team::run`]).
    job: UnsafeCell<Option<*const Job>>,
}

// SAFETY: `job` is written only by `Team::run` while no helper reads it (before
// the generation bump that publishes it, after all helpers reported done).
unsafe impl Sync for Shared {}
// SAFETY: as for Sync: the raw job pointer is only followed while `run` keeps
// the job alive, whichever thread holds the `Shared`.
unsafe impl Send for Shared {}

/// The calling thread plus helper threads that run jobs together.
pub struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
}

impl Team {
    /// A team of `members` threads in all: the caller and `members - 1` helpers.
    pub fn new(members: usize) -> Self {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let helpers = (1..members.max(1))
            .map(|member| {
                let shared = Arc::clone(&shared);
                thread::Builder::new()
                    .name(format!("charrnn-team-{member}"))
                    .spawn(move || helper(&shared, member))
                    .expect("the OS starts a thread")
            })
            .collect();
        Self { shared, helpers }
    }

    /// A team with one member per core rayon uses (`RAYON_NUM_THREADS`
    /// sets it, as for rayon's own pool).
    pub fn per_core() -> Self {
        Self::new(rayon::current_num_threads())
    }

    /// Threads in the team, the caller included.
    pub fn members(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `job(member)` once for every member (the caller is member 0) and
    /// returns when all are done. Panics if any part panicked.
    pub fn run(&mut self, job: &(dyn Fn(usize) + Sync)) {
        if self.helpers.is_empty() {
            return job(0);
        }
        let shared = &*self.shared;
        // SAFETY: only the lifetime is erased; `run` does not return before
        // every helper is done with the job, and `&mut self` keeps a second
        // `run` from overlapping this one.
        let erased: *const Job = unsafe { std::mem::transmute(job) };
        // SAFETY: no helper reads `job` now: each reported done with the last
        // job, and this one is published only by the generation bump below.
        unsafe { *shared.job.get() = Some(erased) };
        shared.done.store(0, Ordering::Relaxed);
        shared.generation.fetch_add(1, Ordering::Release);
        for h in &self.helpers {
            h.thread().unpark();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| job(0)));
        while shared.done.load(Ordering::Acquire) < self.helpers.len() {
            std::hint::spin_loop();
        }
        // SAFETY: every helper reported done, so none reads `job` any more.
        unsafe { *shared.job.get() = None };
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        assert!(
            !shared.panicked.swap(false, Ordering::Relaxed),
            "a team member's part of the job panicked"
        );
    }

    /// `dst (n) = [dst +] x (k) · b (k×n)`, `b` row-major (`f32` or
    /// [`Bf16`](crate::Bf16) weights), the columns split among the members.
    pub fn vec_mat<W: crate::Weight>(
        &mut self,
        dst: &mut [f32],
        x: &[f32],
        b: &[W],
        accumulate: bool,
    ) {
        let (k, n) = (x.len(), dst.len());
        assert!(b.len() >= k * n);
        let block = crate::matmul::column_block(n, self.members());
        let out = crate::SharedMut::new(dst);
        self.run(&|member| {
            let start = (member * block).min(n);
            let end = ((member + 1) * block).min(n);
            // SAFETY: each member writes its own block of columns.
            let part = unsafe { out.part(start, end - start) };
            crate::gemv::vec_mat(part, x, &b[start..], n, accumulate);
        });
    }

    /// `dst (m×n) = [dst +] a · b` with `b` prepared by
    /// [`PackedRhs::new`](crate::PackedRhs::new), the columns split among the
    /// members in whole tiles of the kernel. Row `i` of the result is, bit for
    /// bit, [`Team::vec_mat`] of row `i` alone, whatever `m`
    /// and however many members the team has: the generation engine's
    /// promise that a stream's text does not depend on the others.
    pub fn matmul_packed(
        &mut self,
        dst: &mut [f32],
        a: crate::Mat,
        b: &crate::PackedRhs,
        output: crate::Output,
    ) {
        let n = b.dims().1;
        let tile = crate::packed::tile_columns(b);
        let block = n.div_ceil(self.members()).div_ceil(tile) * tile;
        let out = crate::SharedMut::new(dst);
        self.run(&|member| {
            let cols = (member * block).min(n)..((member + 1) * block).min(n);
            // SAFETY: each member writes its own block of columns.
            unsafe { crate::packed::packed_columns_by_rows(out, a, b, output, cols) };
        });
    }

    /// Runs `work` on every item of `items`, split into one run of items per
    /// member.
    pub fn for_each<T: Send>(&mut self, items: &mut [T], work: impl Fn(&mut T) + Sync) {
        let per = items.len().div_ceil(self.members()).max(1);
        // Each member locks its own run once: never contended.
        let runs: Vec<Mutex<&mut [T]>> = items.chunks_mut(per).map(Mutex::new).collect();
        self.run(&|member| {
            if let Some(run) = runs.get(member) {
                let mut run = run.lock().unwrap_or_else(PoisonError::into_inner);
                run.iter_mut().for_each(&work);
            }
        });
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for h in self.helpers.drain(..) {
            h.thread().unpark();
            let _ = h.join();
        }
    }
}

fn helper(shared: &Shared, member: usize) {
    let mut seen = 0;
    loop {
        let mut spins = 0u32;
        loop {
            let generation = shared.generation.load(Ordering::Acquire);
            if generation != seen {
                seen = generation;
                break;
            }
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            spins = spins.saturating_add(1);
            if spins < SPINS_BEFORE_PARKING {
                std::hint::spin_loop();
            } else {
                // `run` unparks after publishing, so a job is never missed.
                thread::park();
            }
        }
        // SAFETY: published by the generation bump just observed; `run` keeps
        // it alive until this helper reports done.
        let job = unsafe { &*(*shared.job.get()).expect("a published job") };
        if catch_unwind(AssertUnwindSafe(|| job(member))).is_err() {
            shared.panicked.store(true, Ordering::Relaxed);
        }
        shared.done.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_member_runs_each_job_once() {
        for members in [1, 2, 3] {
            let mut team = Team::new(members);
            assert_eq!(team.members(), members);
            let counts: Vec<AtomicUsize> = (0..members).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..1000 {
                team.run(&|m| {
                    counts[m].fetch_add(1, Ordering::Relaxed);
                });
            }
            for c in &counts {
                assert_eq!(c.load(Ordering::Relaxed), 1000);
            }
        }
    }

    #[test]
    fn vec_mat_matches_the_definition() {
        let mut team = Team::new(2);
        let (k, n) = (37, 101);
        let x: Vec<f32> = (0..k).map(|i| (i as f32 * 0.3).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.7).cos()).collect();
        let mut y = vec![1.0; n];
        team.vec_mat(&mut y, &x, &b, true);
        for (j, &got) in y.iter().enumerate() {
            let want: f32 = 1.0 + (0..k).map(|p| x[p] * b[p * n + j]).sum::<f32>();
            assert!((got - want).abs() < 1e-4, "column {j}: {got} vs {want}");
        }
    }

    #[test]
    fn for_each_visits_every_item_once() {
        for (members, len) in [(1, 5), (2, 0), (2, 1), (2, 7), (3, 64)] {
            let mut team = Team::new(members);
            let mut items: Vec<usize> = (0..len).collect();
            team.for_each(&mut items, |x| *x = *x * 10 + 1);
            assert_eq!(items, (0..len).map(|x| x * 10 + 1).collect::<Vec<_>>());
        }
    }

    #[test]
    fn matmul_packed_matches_the_library_product() {
        let mut team = Team::new(2);
        // Columns that leave a partial tile in each member's block.
        for (m, k, n) in [(4, 33, 101), (9, 64, 4339), (64, 512, 97)] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let packed = crate::PackedRhs::new(crate::Mat::new(&b, k, n));
            let a = crate::Mat::new(&a, m, k);
            let mut want = vec![0.5; m * n];
            crate::matmul_packed(&mut want, a, &packed, crate::Output::Accumulate);
            let mut got = vec![0.5; m * n];
            team.matmul_packed(&mut got, a, &packed, crate::Output::Accumulate);
            // The same sums, though at the baseline level in the row order
            // rather than the library's (every_size.rs checks the bits).
            crate::tests::assert_close(&got, &want, k, 0.0, &format!("{m}×{k}×{n}"));
        }
    }

    #[test]
    fn a_panicking_part_is_reported_to_the_caller() {
        let mut team = Team::new(2);
        let result = catch_unwind(AssertUnwindSafe(|| {
            team.run(&|m| assert!(m == 0, "member {m} fails"));
        }));
        assert!(result.is_err());
        // The team still works afterwards.
        let ran = AtomicUsize::new(0);
        team.run(&|_| {
            ran.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(ran.load(Ordering::Relaxed), 2);
    }
}
