//! CPU time per phase of a run, for the generator (this process) and for
//! the server (its `/proc/<pid>/stat`), plus the bytes the server wrote to
//! storage (`/proc/<pid>/io`), which shows a store's write amplification,
//! and the connection attempts the kernel dropped at a full listen queue
//! (`/proc/net/netstat`), which would otherwise hide as 1-s stalls.
//!
//! A phase runs from the start time of a barrier to the next barrier or the
//! end of the run; duration scenarios also have a `window` phase covering
//! exactly the measured seconds (`abuse` also a `baseline_window`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock;

/// Wall and CPU seconds of one phase.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Span {
    pub wall_secs: f64,
    pub cpu_secs: f64,
    /// Bytes written to storage in the phase (`None` when unknown).
    pub write_bytes: Option<u64>,
    /// Connection attempts dropped at a full listen queue, machine-wide
    /// (server phases only; `None` when unknown).
    pub listen_overflows: Option<u64>,
}

impl Span {
    /// CPU use in percent of one core (200 = two cores busy).
    pub fn percent(&self) -> f64 {
        if self.wall_secs > 0.0 {
            100.0 * self.cpu_secs / self.wall_secs
        } else {
            0.0
        }
    }
}

/// CPU seconds so far, and when known, storage bytes written and listen
/// queue overflows.
#[derive(Clone, Copy, Default)]
struct Sample {
    cpu: f64,
    write_bytes: Option<u64>,
    listen_overflows: Option<u64>,
}
type Sampler = Arc<dyn Fn() -> Option<Sample> + Send + Sync>;

/// Records phases with a CPU sampler.
#[derive(Clone)]
pub struct Phases {
    sample: Sampler,
    open: Arc<Mutex<Option<(String, u64, Sample)>>>,
    done: Arc<Mutex<BTreeMap<String, Span>>>,
}

impl Phases {
    /// Phases of this process.
    pub fn own() -> Phases {
        Phases::with(Arc::new(|| {
            Some(Sample {
                cpu: crate::sys::self_cpu_secs(),
                ..Sample::default()
            })
        }))
    }

    /// Phases of another process (the server), with the machine's listen
    /// queue overflows; without a pid, CPU reads as 0 and writes as unknown.
    pub fn of_pid(pid: Option<u32>) -> Phases {
        Phases::with(Arc::new(move || {
            let listen_overflows = crate::sys::listen_overflows();
            let Some(pid) = pid else {
                return Some(Sample {
                    listen_overflows,
                    ..Sample::default()
                });
            };
            Some(Sample {
                cpu: crate::sys::proc_cpu_secs(pid)?,
                write_bytes: crate::sys::proc_write_bytes(pid),
                listen_overflows,
            })
        }))
    }

    fn with(sample: Sampler) -> Phases {
        Phases {
            sample,
            open: Arc::default(),
            done: Arc::default(),
        }
    }

    /// Closes the open phase (if any) and opens `name` now.
    pub fn start(&self, name: &str) {
        self.end();
        let s0 = (self.sample)().unwrap_or_default();
        *self.open.lock().expect("phase lock") = Some((name.to_owned(), clock::now_ns(), s0));
    }

    /// Closes the open phase.
    pub fn end(&self) {
        let open = self.open.lock().expect("phase lock").take();
        if let Some((name, t0, c0)) = open {
            self.record(&name, t0, clock::now_ns(), c0);
        }
    }

    fn record(&self, name: &str, t0: u64, t1: u64, s0: Sample) {
        let s1 = (self.sample)().unwrap_or(s0);
        let span = Span {
            wall_secs: t1.saturating_sub(t0) as f64 / 1e9,
            cpu_secs: (s1.cpu - s0.cpu).max(0.0),
            write_bytes: delta(s0.write_bytes, s1.write_bytes),
            listen_overflows: delta(s0.listen_overflows, s1.listen_overflows),
        };
        self.done
            .lock()
            .expect("phase lock")
            .insert(name.to_owned(), span);
    }

    /// Records phase `name` (a measured window) from `start_ns` to `end_ns`
    /// in the background.
    pub fn spawn_window(
        &self,
        name: &'static str,
        start_ns: u64,
        end_ns: u64,
    ) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            clock::sleep_until(start_ns).await;
            let s0 = (me.sample)().unwrap_or_default();
            let t0 = clock::now_ns();
            clock::sleep_until(end_ns).await;
            me.record(name, t0, clock::now_ns(), s0);
        })
    }

    /// Every finished phase.
    pub fn spans(&self) -> BTreeMap<String, Span> {
        self.done.lock().expect("phase lock").clone()
    }
}

fn delta(before: Option<u64>, after: Option<u64>) -> Option<u64> {
    Some(after?.saturating_sub(before?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn phases_measure_wall_time() {
        let p = Phases::own();
        p.start("a");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        p.start("b");
        p.end();
        let spans = p.spans();
        assert!(spans["a"].wall_secs >= 0.019);
        assert!(spans.contains_key("b"));
        let now = clock::now_ns();
        p.spawn_window("window", now, now + 10_000_000)
            .await
            .unwrap();
        // Recorded (its length depends on when the task got to run).
        assert!(p.spans()["window"].wall_secs > 0.0);
    }
}
