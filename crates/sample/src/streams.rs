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
    top_n: usize,
    length: usize,
    stop_at: String,
    made: usize,
    text: String,
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
        self.text.push(ch);
        let stop = if self.made >= self.length {
            Some(StopReason::Length)
        } else if !self.stop_at.is_empty() && self.text.ends_with(&self.stop_at) {
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
            top_n: options.top_n,
            length: options.length,
            stop_at: options.stop_at.clone(),
            made: 0,
            // A reserve for the usual text; longer ones grow.
            text: String::with_capacity(options.length.min(1 << 16)),
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
        let mut row = 0;
        while row < self.live.len() {
            let s = &mut self.live[row];
            let stays = match s.advance(vocab) {
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
            };
            if stays {
                row += 1;
            } else {
                self.remove(row);
            }
        }
    }

    /// Runs the engine one step on every stream's next id. A single stream
    /// that draws takes the engine's top-n path: the same top-n logits, at
    /// half the output layer's memory traffic.
    fn feed(&mut self) {
        if let [only] = &self.live[..] {
            if only.prime_read() {
                self.engine.step_top_n(only.next, only.top_n);
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
        let mut row = 0;
        while row < self.live.len() {
            if keep(&self.live[row].tag) {
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
