//! A progress bar on stderr for runs longer than a few seconds. indicatif
//! hides it when stderr is not a terminal, so CI logs and `--json` stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Seconds of load below which no bar is drawn.
const MIN_SECS: f64 = 3.0;

/// A bar that follows a phase of the run.
pub struct Progress {
    bar: Option<ProgressBar>,
    ticker: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// No bar.
    pub fn none() -> Progress {
        Progress {
            bar: None,
            ticker: None,
        }
    }

    /// A bar that fills over `secs` seconds, labelled `label`.
    pub fn timed(label: &str, secs: f64) -> Progress {
        if secs < MIN_SECS {
            return Progress::none();
        }
        let total_ms = (secs * 1000.0) as u64;
        let bar = ProgressBar::new(total_ms);
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} [{bar:40}] {elapsed}/{duration}")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        let b = bar.clone();
        let ticker = tokio::spawn(async move {
            let start = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let ms = start.elapsed().as_millis() as u64;
                b.set_position(ms.min(total_ms));
            }
        });
        Progress {
            bar: Some(bar),
            ticker: Some(ticker),
        }
    }

    /// A spinner for a phase of unknown length.
    pub fn spinner(label: &str) -> Progress {
        let bar = ProgressBar::new_spinner();
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(150));
        Progress {
            bar: Some(bar),
            ticker: None,
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.abort();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
