//! Training progress on a terminal: an `indicatif` bar per epoch with step, loss,
//! chars/sec and ETA. Log lines are printed above the bar, never through it.
//! Off a terminal (CI, pipes) no bar is drawn and the log lines are all there is.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use charrnn::train::{ProgressObserver, StepProgress};
use indicatif::{ProgressBar, ProgressStyle};

/// The bar on screen, if any: the log writer prints around it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// True when log lines and bars may be coloured: stderr is a terminal and
/// `NO_COLOR` is not set (no-color.org).
pub fn colour_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A bar style from `template`, its colours dropped when they are not wanted.
pub fn bar_style(template: &str) -> ProgressStyle {
    let template = if colour_wanted() {
        template.to_string()
    } else {
        template.replace(".cyan/blue", "")
    };
    ProgressStyle::with_template(&template)
        .expect("the template is valid")
        .progress_chars("=> ")
}

/// True when a bar should be drawn: both output streams are terminals.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// Draws one bar per epoch.
#[derive(Debug, Default)]
pub struct EpochBars {
    inner: Mutex<Bars>,
}

#[derive(Debug, Default)]
struct Bars {
    epoch: usize,
    bar: Option<ProgressBar>,
    /// Smoothed seconds per step, for chars/sec and the run's ETA.
    step_sec: Option<f64>,
}

impl EpochBars {
    /// Leaves the current bar on screen as it is (after the last step, an
    /// interrupt or an error) and sends log lines straight to stderr again.
    pub fn finish(&self) {
        if let Some(bar) = self.lock().bar.take() {
            bar.abandon();
        }
        *active() = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Bars> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn active() -> std::sync::MutexGuard<'static, Option<ProgressBar>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_bar(p: &StepProgress) -> ProgressBar {
    let style = bar_style("{prefix} [{bar:30.cyan/blue}] {pos}/{len} {msg}");
    // A run cut short by `max_steps` ends its last epoch early.
    let last_batch = p
        .batches
        .min(p.batch + p.total_steps.saturating_sub(p.step) as usize);
    let bar = ProgressBar::new(last_batch as u64)
        .with_style(style)
        .with_position(p.batch.saturating_sub(1) as u64)
        .with_prefix(format!("epoch {}/{}", p.epoch, p.epochs));
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

impl ProgressObserver for EpochBars {
    fn on_step(&self, p: &StepProgress) {
        let mut bars = self.lock();
        if bars.epoch != p.epoch || bars.bar.is_none() {
            if let Some(old) = bars.bar.take() {
                old.finish();
            }
            let bar = new_bar(p);
            *active() = Some(bar.clone());
            bars.bar = Some(bar);
            bars.epoch = p.epoch;
        }
        // Validation steps take longer; the average soon forgets them.
        let sec = match bars.step_sec {
            Some(avg) => 0.9 * avg + 0.1 * p.step_sec,
            None => p.step_sec,
        };
        bars.step_sec = Some(sec);
        let bar = bars.bar.as_ref().expect("made above");
        let eta = |steps: u64| short_duration(sec * steps as f64);
        let epoch_left = bar.length().unwrap_or(0).saturating_sub(p.batch as u64);
        let run_left = p.total_steps.saturating_sub(p.step);
        let run_eta = if run_left > epoch_left {
            format!(", run {}", eta(run_left))
        } else {
            String::new()
        };
        bar.set_position(p.batch as u64);
        bar.set_message(format!(
            "step {}/{} · loss {:.3} · {:.0} chars/s · ETA {}{run_eta}",
            p.step,
            p.total_steps,
            p.loss,
            p.chars_per_step as f64 / sec.max(1e-9),
            eta(epoch_left),
        ));
        if epoch_left == 0 {
            bar.finish();
        }
    }
}

/// `1h02m`, `4m10s`, `9s`: short enough for the bar's line.
fn short_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, _) => format!("{h}h{m:02}m"),
    }
}

/// A `tracing` writer that prints above the bar when one is on screen.
#[derive(Default)]
pub struct LogWriter {
    buf: Vec<u8>,
}

impl Write for LogWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let print = |buf: &[u8]| {
            let _ = std::io::stderr().write_all(buf);
        };
        match active().as_ref() {
            Some(bar) => bar.suspend(|| print(&self.buf)),
            None => print(&self.buf),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_short() {
        assert_eq!(super::short_duration(9.4), "9s");
        assert_eq!(super::short_duration(250.0), "4m10s");
        assert_eq!(super::short_duration(3720.0), "1h02m");
    }
}
