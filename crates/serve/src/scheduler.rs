//! The one thread that owns the engine: every stream in flight advances one
//! character per step of the engine's batch. A new stream joins at the next
//! step, reading its prime one character per step; a finished one, or one
//! whose client has gone, leaves.

use std::sync::mpsc;

use charrnn_corpus::Vocab;
use charrnn_sample::{Draws, Engine, SampleOptions};
use tokio::sync::mpsc::UnboundedSender;

/// Why a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// It reached its length.
    Length,
    /// Its text ends with its `stop_at`.
    StopAt,
    /// The server is shutting down.
    Shutdown,
}

/// What a stream tells its request.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A character was drawn.
    Char(char),
    /// The stream is over.
    Done(StopReason),
}

/// One sample to generate.
pub struct Job {
    /// The prime's ids (at least one).
    pub prime: Vec<u32>,
    /// Its options (already checked).
    pub options: SampleOptions,
    /// Which sample of its request: its seed is `options.seed + index`.
    pub index: u64,
    /// Where its characters go, with its index; when the receiver is gone,
    /// the stream leaves.
    pub events: UnboundedSender<(usize, Event)>,
}

/// A message to the scheduler.
pub enum Message {
    /// Start a stream.
    Start(Job),
    /// Finish every stream and stop.
    Shutdown,
}

struct Stream {
    job: Job,
    draws: Draws,
    /// Prime characters fed so far.
    fed: usize,
    /// The next input id (the prime's, then the one just drawn).
    next: u32,
    made: usize,
    text: String,
}

impl Stream {
    /// Whether the whole prime has been fed: from then on each step draws.
    fn prime_read(&self) -> bool {
        self.fed >= self.job.prime.len()
    }
}

/// Runs until `Message::Shutdown` or until every sender is gone.
pub fn run(mut engine: Engine, vocab: Vocab, messages: mpsc::Receiver<Message>) {
    let mut streams: Vec<Stream> = Vec::new();
    // Engine rows: the streams, or one idle row when there are none. A
    // stream's text does not depend on the rows beside it (the engine's
    // promise), so the batch is exactly as large as the work.
    engine.set_streams(1);
    let mut ids = Vec::new();
    loop {
        let incoming = if streams.is_empty() {
            match messages.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        } else {
            messages.try_recv().ok()
        };
        let mut incoming = incoming;
        while let Some(message) = incoming.take() {
            match message {
                Message::Start(job) => join(&mut engine, &mut streams, job),
                Message::Shutdown => {
                    for s in &streams {
                        let _ = s
                            .job
                            .events
                            .send((s.job.index as usize, Event::Done(StopReason::Shutdown)));
                    }
                    return;
                }
            }
            incoming = messages.try_recv().ok();
        }
        leave(&mut engine, &mut streams, |s| s.job.events.is_closed());
        if streams.is_empty() {
            continue;
        }
        ids.clear();
        ids.extend(streams.iter().map(|s| s.next));
        ids.resize(engine.streams(), 0);
        engine.step_streams(&ids);
        // The draws run on all the engine's threads; what they feed and send
        // follows in order.
        engine.each_stream(&mut streams, |s, row| {
            if s.prime_read() {
                s.next = s.draws.pick(row);
            }
        });
        for s in &mut streams {
            advance(s, &vocab);
        }
        leave(&mut engine, &mut streams, |s| {
            s.made >= s.job.options.length || stopped(s)
        });
    }
}

/// A new stream takes a fresh zero-state row at the end of the streams.
fn join(engine: &mut Engine, streams: &mut Vec<Stream>, job: Job) {
    let row = streams.len();
    if row == engine.streams() {
        engine.add_stream();
    } else {
        // An idle row holds whatever it was fed: start it from zero.
        engine.reset_stream(row);
    }
    let draws = Draws::new(&job.options, job.index);
    let next = job.prime[0];
    streams.push(Stream {
        job,
        draws,
        fed: 1,
        next,
        made: 0,
        text: String::new(),
    });
}

/// Feeds the next prime character, or, once the prime is read, takes the
/// character just drawn into `s.next`.
fn advance(s: &mut Stream, vocab: &Vocab) {
    if !s.prime_read() {
        s.next = s.job.prime[s.fed];
        s.fed += 1;
        return;
    }
    let id = s.next;
    s.made += 1;
    let ch = vocab.char(id).unwrap_or(char::REPLACEMENT_CHARACTER);
    s.text.push(ch);
    let i = s.job.index as usize;
    let _ = s.job.events.send((i, Event::Char(ch)));
    if s.made >= s.job.options.length {
        let _ = s.job.events.send((i, Event::Done(StopReason::Length)));
    } else if stopped(s) {
        let _ = s.job.events.send((i, Event::Done(StopReason::StopAt)));
    }
}

fn stopped(s: &Stream) -> bool {
    let stop = &s.job.options.stop_at;
    !stop.is_empty() && s.text.ends_with(stop.as_str())
}

/// Removes the streams `gone` says, keeping the engine's rows in step (a
/// removed row takes the last stream's state, as `swap_remove` does; the
/// engine keeps one row when no stream is left).
fn leave(engine: &mut Engine, streams: &mut Vec<Stream>, gone: impl Fn(&Stream) -> bool) {
    let mut i = 0;
    while i < streams.len() {
        if gone(&streams[i]) {
            let last = streams.len() - 1;
            // Move the last stream's row into row i, then drop the last row.
            engine.copy_stream(last, i);
            streams.swap_remove(i);
            if engine.streams() > 1 {
                engine.remove_last_stream();
            }
        } else {
            i += 1;
        }
    }
}
