//! The one generation loop: streams that join at any step, advance together a
//! character per step of the engine's batch, and leave at their length, their
//! `stop_at`, or when their reader has gone.

use charrnn_corpus::Vocab;

use crate::{Draws, Engine, SampleOptions};

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It reached its length.
    Length,
    /// Its text ends with its `stop_at`.
    StopAt,
    /// Its driver stopped every stream ([`Streams::stop_all`]: a server
    /// shutting down).
    Shutdown,
}

/// What a stream tells its reader.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A character was drawn.
    Char(char),
    /// The stream is over; nothing follows.
    Done(StopReason),
}

/// The streams in flight on one engine, each with a tag of its driver's (a
/// sample's index, a request's channel). A new stream joins with a zero
/// state and reads its prime a character per step; its text depends only on
/// its prime, its options and its index, never on the streams beside it.
pub struct Streams<'g, T> {
    engine: &'g mut Engine,
    vocab: &'g Vocab,
    live: Vec<Stream<T>>,
    ids: Vec<u32>,
}

struct Stream<T> {
    tag: T,
    prime: Vec<u32>,
    /// Prime characters fed so far.
    fed: usize,
    /// The next input id (the prime's, then the one just drawn).
    next: u32,
    draws: Draws,
    length: usize,
    stop_at: StopAt,
    made: usize,
}

/// A stream's `stop_at`, and as much of the end of its text as a match can
/// see (the text itself is its reader's to keep).
struct StopAt {
    stop: String,
    tail: String,
}

impl StopAt {
    /// Takes the next character; whether the text now ends with the stop.
    fn reached_with(&mut self, ch: char) -> bool {
        if self.stop.is_empty() {
            return false;
        }
        self.tail.push(ch);
        if self.tail.len() >= 2 * self.stop.len() {
            // Keep the last stop-length bytes, from a character boundary.
            let mut cut = self.tail.len() - self.stop.len();
            while !self.tail.is_char_boundary(cut) {
                cut -= 1;
            }
            self.tail.drain(..cut);
        }
        self.tail.ends_with(&self.stop)
    }
}

impl<T> Stream<T> {
    /// Whether the whole prime has been fed: from then on each step draws.
    fn prime_read(&self) -> bool {
        self.fed >= self.prime.len()
    }

    /// Feeds the next prime character; once the prime is read, takes the
    /// character just drawn and says what it means for the reader.
    fn advance(&mut self, vocab: &Vocab) -> Option<(char, Option<StopReason>)> {
        if !self.prime_read() {
            self.next = self.prime[self.fed];
            self.fed += 1;
            return None;
        }
        self.made += 1;
        let ch = vocab
            .char(self.next)
            .expect("ids come from the model's vocabulary");
        let at_stop = self.stop_at.reached_with(ch);
        let stop = if self.made >= self.length {
            Some(StopReason::Length)
        } else if at_stop {
            Some(StopReason::StopAt)
        } else {
            None
        };
        Some((ch, stop))
    }
}

impl<'g, T: Send> Streams<'g, T> {
    /// No streams yet on `engine`, whose characters are `vocab`'s.
    pub(crate) fn new(engine: &'g mut Engine, vocab: &'g Vocab) -> Self {
        engine.set_streams(1);
        Self {
            engine,
            vocab,
            live: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Streams in flight.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no stream is in flight.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Starts a stream of `options` (checked, e.g. by
    /// [`check_against`](crate::check_against), which gives `prime`'s ids)
    /// from a zero state. It draws from the seed `options.seed + index`.
    /// Panics when `prime` is empty.
    pub fn join(&mut self, tag: T, prime: Vec<u32>, options: &SampleOptions, index: u64) {
        assert!(!prime.is_empty(), "a prime has at least one character");
        let row = self.live.len();
        if row == self.engine.streams() {
            self.engine.add_stream();
        } else {
            // An idle row holds whatever it was fed: start it from zero.
            self.engine.reset_stream(row);
        }
        self.live.push(Stream {
            tag,
            next: prime[0],
            prime,
            fed: 1,
            draws: Draws::new(options, index),
            length: options.length,
            stop_at: StopAt {
                stop: options.stop_at.clone(),
                tail: String::new(),
            },
            made: 0,
        });
    }

    /// Advances every stream one character. Each character drawn goes to
    /// `on(tag, Event::Char)`; a stream that reaches its end then gets
    /// `Event::Done` and leaves, and so does one for which `on` returns
    /// false (its reader has gone). Does nothing when no stream is in flight.
    pub fn step(&mut self, mut on: impl FnMut(&T, Event) -> bool) {
        if self.live.is_empty() {
            return;
        }
        self.feed();
        // The draws run on all the engine's threads; what they feed and
        // send follows in order.
        self.engine.each_stream(&mut self.live, |s, row| {
            if s.prime_read() {
                s.next = s.draws.pick(row);
            }
        });
        let vocab = self.vocab;
        self.keep_where(|s| match s.advance(vocab) {
            None => true,
            Some((ch, stop)) => {
                let heard = on(&s.tag, Event::Char(ch));
                match stop {
                    Some(reason) => {
                        on(&s.tag, Event::Done(reason));
                        false
                    }
                    None => heard,
                }
            }
        });
    }

    /// Runs the engine one step on every stream's next id. A single stream
    /// that draws takes the engine's top-n path: the same top-n logits, at
    /// half the output layer's memory traffic.
    fn feed(&mut self) {
        if let [only] = &self.live[..] {
            if only.prime_read() {
                self.engine.step_top_n(only.next, only.draws.top_n());
                return;
            }
        }
        self.ids.clear();
        self.ids.extend(self.live.iter().map(|s| s.next));
        self.engine.step_streams(&self.ids);
    }

    /// Removes the streams whose tag `keep` refuses (e.g. a client that has
    /// gone), without telling them.
    pub fn retain(&mut self, keep: impl Fn(&T) -> bool) {
        self.keep_where(|s| keep(&s.tag));
    }

    /// Keeps the streams `keep` says yes to, asked in row order, and removes
    /// the others.
    fn keep_where(&mut self, mut keep: impl FnMut(&mut Stream<T>) -> bool) {
        let mut row = 0;
        while row < self.live.len() {
            if keep(&mut self.live[row]) {
                row += 1;
            } else {
                self.remove(row);
            }
        }
    }

    /// Ends every stream with [`StopReason::Shutdown`], told to `on`.
    pub fn stop_all(&mut self, mut on: impl FnMut(&T, Event)) {
        for s in self.live.drain(..) {
            on(&s.tag, Event::Done(StopReason::Shutdown));
        }
        self.engine.set_streams(1);
    }

    /// Removes stream `row`, keeping the engine's rows in step: the last
    /// stream's state moves into its row, as `swap_remove` moves the stream;
    /// the engine keeps one row when no stream is left.
    fn remove(&mut self, row: usize) {
        let last = self.live.len() - 1;
        self.engine.copy_stream(last, row);
        self.live.swap_remove(row);
        if self.engine.streams() > 1 {
            self.engine.remove_last_stream();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::StopAt;

    /// Keeping only the end of the text finds the stop exactly where the
    /// whole text would, for stops of one or several characters of one to
    /// three bytes each.
    #[test]
    fn the_tail_sees_what_the_whole_text_sees() {
        let alphabet: Vec<char> = "ab。门x".chars().collect();
        for stop in ["", "a", "。", "门。", "ab", "a。b门", "xx"] {
            let mut tail = StopAt {
                stop: stop.into(),
                tail: String::new(),
            };
            let mut text = String::new();
            // A fixed walk through the alphabet that repeats every pattern.
            for i in 0..2000usize {
                let ch = alphabet[(i * 7 + i / 5 + i / 31) % alphabet.len()];
                text.push(ch);
                let whole = !stop.is_empty() && text.ends_with(stop);
                assert_eq!(tail.reached_with(ch), whole, "stop {stop:?} at {i}");
                assert!(tail.tail.len() < 2 * stop.len().max(1) + 3);
            }
        }
    }
}
