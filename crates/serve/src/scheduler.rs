//! The one thread that owns the engine: every request's samples are streams
//! of the engine's one generation loop ([`charrnn_sample::Streams`]), joining
//! at the next step and leaving when done or when their client has gone.

use std::sync::mpsc;

use charrnn_sample::{Event, Generator, SampleOptions};
use tokio::sync::mpsc::UnboundedSender;

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

/// A stream's reader: its sample's index and its request's channel.
type Reader = (usize, UnboundedSender<(usize, Event)>);

/// Runs until `Message::Shutdown` or until every sender is gone.
pub fn run(mut generator: Generator, messages: mpsc::Receiver<Message>) {
    let mut streams = generator.streams::<Reader>();
    loop {
        let mut incoming = if streams.is_empty() {
            match messages.recv() {
                Ok(m) => Some(m),
                Err(_) => return,
            }
        } else {
            messages.try_recv().ok()
        };
        while let Some(message) = incoming.take() {
            match message {
                Message::Start(job) => {
                    let reader = (job.index as usize, job.events);
                    streams.join(reader, job.prime, &job.options, job.index);
                }
                Message::Shutdown => {
                    streams.stop_all(|(i, events), event| {
                        let _ = events.send((*i, event));
                    });
                    return;
                }
            }
            incoming = messages.try_recv().ok();
        }
        streams.retain(|(_, events)| !events.is_closed());
        streams.step(|(i, events), event| events.send((*i, event)).is_ok());
    }
}
