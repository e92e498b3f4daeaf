//! `abuse`: the server's resident memory (`VmRSS` of `/proc/<pid>/status`)
//! sampled every 100 ms in the background, with its level before the abuse
//! load and its peak under it, and whether the server is still alive (not
//! gone, not a zombie) when the run ends. The machine's TCP socket buffers
//! (`/proc/net/sockstat`) are sampled alongside: what a client that stops
//! reading is owed waits there, in the server's send buffer, first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::sys;

/// Time between two samples.
pub const EVERY: Duration = Duration::from_millis(100);

/// What the sampler saw; memory in bytes.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct RssTrack {
    /// The first sample, once the first clients were connected.
    pub start: u64,
    /// Highest sample before the abusers connected (the baseline run).
    pub baseline_peak: u64,
    /// Just before the abusers connected: the relay before the abuse load.
    pub before: u64,
    /// Once every abuser was connected, before any of them sent anything.
    pub connected: u64,
    /// Highest sample from the abusers' connecting to the end of the run.
    pub peak: u64,
    /// The last sample, after the load and the drain.
    pub end: u64,
    /// Samples taken.
    pub samples: u64,
    /// Kernel TCP buffers, machine-wide (both ends of every socket of the
    /// run, and anything else on the machine): just before the abusers
    /// connected, and the highest sample after.
    pub tcp_buffers_before: u64,
    pub tcp_buffers_peak: u64,
    /// False if the server was gone or a zombie at the end: it crashed.
    pub alive_at_end: bool,
}

#[derive(Default)]
struct State {
    track: RssTrack,
    abusing: bool,
}

impl State {
    fn take(&mut self, rss: u64, tcp: u64) {
        let t = &mut self.track;
        if self.abusing {
            t.tcp_buffers_peak = t.tcp_buffers_peak.max(tcp);
        }
        if t.samples == 0 {
            t.start = rss;
        }
        t.samples += 1;
        t.end = rss;
        if self.abusing {
            t.peak = t.peak.max(rss);
        } else {
            t.baseline_peak = t.baseline_peak.max(rss);
        }
    }
}

/// Samples one process's `VmRSS` until [`RssSampler::finish`].
pub struct RssSampler {
    pid: u32,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    /// Starts sampling `pid` now and every [`EVERY`].
    pub fn start(pid: u32) -> RssSampler {
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Some(m) = sys::proc_memory(pid) {
                    let tcp = sys::tcp_buffer_bytes().unwrap_or(0);
                    s.lock().expect("rss lock").take(m.rss, tcp);
                }
            }
        });
        RssSampler { pid, state, task }
    }

    /// Samples now; returns (VmRSS, TCP buffers).
    fn sample_now(&self) -> (u64, u64) {
        let rss = sys::proc_memory(self.pid).map_or(0, |m| m.rss);
        let tcp = sys::tcp_buffer_bytes().unwrap_or(0);
        self.state.lock().expect("rss lock").take(rss, tcp);
        (rss, tcp)
    }

    /// The abusers are about to connect: notes the memory before the load;
    /// later samples count toward the peak under abuse.
    pub fn mark_before(&self) {
        let (rss, tcp) = self.sample_now();
        let mut s = self.state.lock().expect("rss lock");
        s.track.before = rss;
        s.track.tcp_buffers_before = tcp;
        s.abusing = true;
        s.track.peak = s.track.peak.max(rss);
        s.track.tcp_buffers_peak = s.track.tcp_buffers_peak.max(tcp);
    }

    /// Every abuser is connected and the load is about to start.
    pub fn mark_connected(&self) {
        let (rss, _) = self.sample_now();
        self.state.lock().expect("rss lock").track.connected = rss;
    }

    /// Stops sampling; takes a last sample and checks the server is alive.
    pub fn finish(self) -> RssTrack {
        self.task.abort();
        let alive = sys::proc_alive(self.pid);
        if alive {
            self.sample_now();
        }
        let mut track = self.state.lock().expect("rss lock").track;
        track.alive_at_end = alive;
        track
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn samples_own_process() {
        let r = RssSampler::start(std::process::id());
        tokio::time::sleep(EVERY * 2).await;
        r.mark_before();
        r.mark_connected();
        let t = r.finish();
        assert!(t.alive_at_end);
        assert!(t.start > 0 && t.before > 0 && t.connected > 0 && t.end > 0);
        assert!(t.peak >= t.before && t.baseline_peak >= t.start);
        assert!(t.samples >= 3, "{t:?}");
    }
}
