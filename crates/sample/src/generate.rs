//! The generator (a model's engine and vocabulary) and top-n sampling.

use charrnn_corpus::Vocab;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{check_against, Engine, Event, SampleError, SampleOptions, Streams};

/// Generates text from a model and its vocabulary.
pub struct Generator {
    engine: Engine,
    vocab: Vocab,
}

impl Generator {
    /// Pairs an engine with the vocabulary it was trained with.
    pub fn new(engine: Engine, vocab: Vocab) -> Result<Self, SampleError> {
        if engine.vocab_size() != vocab.len() {
            return Err(SampleError::VocabMismatch {
                vocab: vocab.len(),
                model: engine.vocab_size(),
            });
        }
        Ok(Self { engine, vocab })
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Bytes each stream of this model's engine takes (for [`Limits`](crate::Limits)).
    pub fn bytes_per_stream(&self) -> usize {
        self.engine.bytes_per_stream()
    }

    /// Checks `options` against this model; returns the prime's ids.
    pub fn check(&self, options: &SampleOptions) -> Result<Vec<u32>, SampleError> {
        check_against(options, &self.vocab)
    }

    /// Warms up on the prime, then generates up to `options.length` characters
    /// (fewer when `stop_at` appears), handing each to `emit` as soon as it is
    /// drawn. Returns the generated text (without the prime).
    pub fn generate(
        &mut self,
        options: &SampleOptions,
        mut emit: impl FnMut(char),
    ) -> Result<String, SampleError> {
        self.generate_while(options, |c| {
            emit(c);
            true
        })
    }

    /// [`generate`](Self::generate), stopped early after any character for
    /// which `emit` returns false (a reader who has seen enough).
    pub fn generate_while(
        &mut self,
        options: &SampleOptions,
        mut emit: impl FnMut(char) -> bool,
    ) -> Result<String, SampleError> {
        let mut texts = self.run(options, 1, |_, c| emit(c))?;
        Ok(texts.pop().expect("one sample asked for"))
    }

    /// Generates `count` samples at once, as a batch: the prime is read once, then
    /// every step advances all samples with one pass over the weights. Sample `i`
    /// draws from the seed `options.seed + i`, so it is the same text that
    /// [`generate`](Self::generate) gives with that seed. `emit(i, ch)` sees each
    /// character as it is drawn.
    pub fn generate_many(
        &mut self,
        options: &SampleOptions,
        count: usize,
        mut emit: impl FnMut(usize, char),
    ) -> Result<Vec<String>, SampleError> {
        self.run(options, count, |i, c| {
            emit(i, c);
            true
        })
    }

    /// The streams of one generation loop on this model's engine: how the
    /// calls above, and a server's scheduler, drive it.
    pub fn streams<T: Send>(&mut self) -> Streams<'_, T> {
        Streams::new(&mut self.engine, &self.vocab)
    }

    /// The generation loop of all the above: `count` samples, until their
    /// lengths or `stop_at`, or until `emit` returns false.
    fn run(
        &mut self,
        options: &SampleOptions,
        count: usize,
        mut emit: impl FnMut(usize, char) -> bool,
    ) -> Result<Vec<String>, SampleError> {
        let prime = self.check(options)?;
        let mut texts = vec![String::new(); count];
        let mut streams = self.streams();
        for i in 0..count {
            streams.join(i, prime.clone(), options, i as u64);
        }
        let mut go_on = true;
        while go_on && !streams.is_empty() {
            streams.step(|&i, event| {
                if let Event::Char(ch) = event {
                    texts[i].push(ch);
                    go_on &= emit(i, ch);
                }
                true
            });
        }
        Ok(texts)
    }
}

/// One sample's draws: its options' top-n, top-p and temperature, and a
/// random generator seeded `seed + index`, so sample `index` of a batch is
/// the sample drawn alone with that seed.
#[derive(Debug, Clone)]
pub struct Draws {
    top_n: usize,
    temperature: f32,
    top_p: f32,
    rng: ChaCha8Rng,
    candidates: Vec<(f32, u32)>,
}

impl Draws {
    /// The draws of sample `index` under `options`.
    pub fn new(options: &SampleOptions, index: u64) -> Self {
        Self {
            top_n: options.top_n,
            temperature: options.temperature as f32,
            top_p: options.top_p as f32,
            rng: ChaCha8Rng::seed_from_u64(options.seed.wrapping_add(index)),
            candidates: Vec::new(),
        }
    }

    /// How many of the most likely characters it draws among.
    pub(crate) fn top_n(&self) -> usize {
        self.top_n
    }

    /// The next character's id, drawn from its `logits`.
    pub fn pick(&mut self, logits: &[f32]) -> u32 {
        pick_top_n(
            logits,
            self.top_n,
            self.temperature,
            self.top_p,
            &mut self.candidates,
            &mut self.rng,
        )
    }
}

/// Most likely first, ties by id: an order that depends on the chosen logits
/// alone, so a draw is the same whichever way the other logits were computed.
fn more_likely(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Top-n this small is found in one pass that keeps the best so far.
const SCAN_TOP_N: usize = 32;

/// Sets `candidates` to the `top_n` most likely `(logit, id)` pairs of
/// `logits`, in [`more_likely`] order (all of them in id order when `top_n`
/// covers them).
fn most_likely(logits: &[f32], top_n: usize, candidates: &mut Vec<(f32, u32)>) {
    candidates.clear();
    let ids = 0..logits.len() as u32;
    if top_n >= logits.len() {
        // All of them, in id order (as computation-independent as any).
        candidates.extend(logits.iter().copied().zip(ids));
        return;
    }
    if top_n > SCAN_TOP_N {
        candidates.extend(logits.iter().copied().zip(ids));
        candidates.select_nth_unstable_by(top_n - 1, more_likely);
        candidates.truncate(top_n);
        candidates.sort_unstable_by(more_likely);
        return;
    }
    candidates.extend(logits[..top_n].iter().copied().zip(ids.clone()));
    candidates.sort_unstable_by(more_likely);
    // The least likely kept; a later id must be more likely to enter, so a
    // tie keeps the smaller id, as the order says.
    let mut floor = candidates[top_n - 1].0;
    for (&logit, id) in logits[top_n..].iter().zip(ids.skip(top_n)) {
        if logit.total_cmp(&floor).is_gt() {
            let at = candidates.partition_point(|c| c.0.total_cmp(&logit).is_ge());
            candidates.pop();
            candidates.insert(at, (logit, id));
            floor = candidates[top_n - 1].0;
        }
    }
}

/// Draws an id among the `top_n` largest logits with probability proportional to
/// `exp(logit / temperature)`, restricted to the smallest most-likely set whose
/// probability reaches `top_p`. `candidates` is scratch space.
pub(crate) fn pick_top_n(
    logits: &[f32],
    top_n: usize,
    temperature: f32,
    top_p: f32,
    candidates: &mut Vec<(f32, u32)>,
    rng: &mut impl Rng,
) -> u32 {
    most_likely(logits, top_n, candidates);
    if top_n == 1 {
        return candidates[0].1;
    }
    let max = candidates
        .iter()
        .map(|c| c.0)
        .fold(f32::NEG_INFINITY, f32::max);
    let mut total = 0.0;
    for c in candidates.iter_mut() {
        c.0 = ((c.0 - max) / temperature).exp();
        total += c.0;
    }
    if top_p < 1.0 {
        candidates.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut mass = 0.0;
        let keep = candidates
            .iter()
            .position(|c| {
                mass += c.0 / total;
                mass >= top_p
            })
            .map_or(candidates.len(), |i| i + 1);
        candidates.truncate(keep);
        total = candidates.iter().map(|c| c.0).sum();
    }
    let mut r = rng.random::<f32>() * total;
    for c in candidates.iter() {
        if r < c.0 {
            return c.1;
        }
        r -= c.0;
    }
    candidates.last().expect("top_n >= 1").1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_n_only_draws_the_most_likely() {
        let logits = [0.0, 5.0, 1.0, 4.0, -3.0];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut scratch = Vec::new();
        let mut counts = [0usize; 5];
        for _ in 0..2000 {
            counts[pick_top_n(&logits, 2, 1.0, 1.0, &mut scratch, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[0] + counts[2] + counts[4], 0);
        // p(1) = e^5 / (e^5 + e^4) ≈ 0.731
        let p1 = counts[1] as f64 / 2000.0;
        assert!((p1 - 0.731).abs() < 0.04, "p1 = {p1}");
        assert_eq!(pick_top_n(&logits, 1, 1.0, 1.0, &mut scratch, &mut rng), 1);
        // top_p 0.5: only the most likely survives (p = 0.73 >= 0.5).
        for _ in 0..100 {
            assert_eq!(pick_top_n(&logits, 4, 1.0, 0.5, &mut scratch, &mut rng), 1);
        }
    }

    /// The one-pass selection keeps what a full sort keeps, ties included.
    #[test]
    fn most_likely_is_the_head_of_the_sorted_logits() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut found = Vec::new();
        for round in 0..300 {
            let len = 1 + round % 97;
            // Few distinct values, so ties are common; infinities and NaN too.
            let logits: Vec<f32> = (0..len)
                .map(|_| match rng.random_range(0..20) {
                    0 => f32::NEG_INFINITY,
                    1 => f32::INFINITY,
                    2 => f32::NAN,
                    v => (v % 6) as f32 * 0.5,
                })
                .collect();
            let mut sorted: Vec<(f32, u32)> = logits.iter().copied().zip(0..).collect();
            sorted.sort_by(more_likely);
            for top_n in [1, 2, 5, 31, 32, 33, 64].into_iter().filter(|&n| n < len) {
                most_likely(&logits, top_n, &mut found);
                let same = |a: &[(f32, u32)], b: &[(f32, u32)]| {
                    a.iter()
                        .zip(b)
                        .all(|(x, y)| x.0.to_bits() == y.0.to_bits() && x.1 == y.1)
                };
                assert!(
                    same(&found, &sorted[..top_n]),
                    "{logits:?} top {top_n}: {found:?}"
                );
                assert_eq!(found.len(), top_n);
            }
        }
    }

    #[test]
    fn low_temperature_approaches_greedy() {
        let logits = [1.0, 1.5, 0.5];
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut scratch = Vec::new();
        let picks: Vec<u32> = (0..200)
            .map(|_| pick_top_n(&logits, 3, 0.01, 1.0, &mut scratch, &mut rng))
            .collect();
        assert!(picks.iter().all(|&p| p == 1));
    }
}
