//! The command line, and the part of it that is handed to every worker.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// Load-testing harness for WalletConnect v2 relays.
#[derive(Parser, Debug)]
#[command(name = "relaybox-bench", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands: one per scenario, the ceiling server, and the hidden worker.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// N publisher/subscriber pairs, 1:1, on distinct topics.
    Pairs(RunArgs),
    /// One publisher, one topic, N subscribers.
    Fanout(RunArgs),
    /// M offline clients with K queued messages each; time to drain on reconnect.
    Mailbox(RunArgs),
    /// Connection storm: handshakes per second and handshake latency.
    Connect(RunArgs),
    /// Hold N idle authenticated connections; server memory per connection.
    Idle(RunArgs),
    /// N open-loop pairs under abuse (sockets that never read, hostile publishers),
    /// after the same pairs unloaded: latency ratio, relay memory, closes.
    Abuse(RunArgs),
    /// Minimal WebSocket forward server (no auth, no storage) used as the ceiling.
    CeilingServer {
        /// Address to listen on; port 0 picks one (printed as CEILING_LISTEN=addr).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
        /// Runtime worker threads (0 = one per CPU).
        #[arg(long, default_value_t = 0)]
        threads: usize,
    },
    /// Internal: run one worker's share of a scenario (spawned by --processes).
    #[command(hide = true)]
    Worker {
        /// The worker spec as JSON.
        #[arg(long)]
        spec: String,
    },
}

/// The scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Scenario {
    Pairs,
    Fanout,
    Mailbox,
    Connect,
    Idle,
    Abuse,
}

impl Scenario {
    /// Lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pairs => "pairs",
            Scenario::Fanout => "fanout",
            Scenario::Mailbox => "mailbox",
            Scenario::Connect => "connect",
            Scenario::Idle => "idle",
            Scenario::Abuse => "abuse",
        }
    }
}

/// `abuse`: which batches the hostile publishers send (every batch names
/// the same 500 topics of one of 8 shared sets, or 501 for `over-cap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum HostileBatch {
    /// `irn_batchSubscribe`, `irn_batchFetchMessages`, `irn_batchUnsubscribe`, then a
    /// 501-topic `irn_batchSubscribe` over the cap.
    Mixed,
    /// `irn_batchSubscribe` and `irn_batchUnsubscribe` in turn (store writes).
    Subscribe,
    /// `irn_batchFetchMessages` only (store reads).
    Fetch,
    /// 501-topic `irn_batchSubscribe` only, refused as over the 500-item cap.
    OverCap,
}

impl HostileBatch {
    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            HostileBatch::Mixed => "mixed",
            HostileBatch::Subscribe => "subscribe",
            HostileBatch::Fetch => "fetch",
            HostileBatch::OverCap => "over-cap",
        }
    }
}

/// Which server to measure when no --url is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Spawn the relay binary (--relay-bin) on a temporary data dir.
    Relay,
    /// Spawn this binary's ceiling-server.
    Ceiling,
}

/// Options of a scenario run.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub load: Load,
    /// Server to benchmark, e.g. ws://127.0.0.1:8080 (default: spawn one, see --target).
    #[arg(long)]
    pub url: Option<String>,
    /// What to spawn when --url is not given.
    #[arg(long, value_enum, default_value = "relay")]
    pub target: TargetKind,
    /// Run against the relay and the ceiling, one after the other, and report relay/ceiling ratios.
    #[arg(long, conflicts_with = "url")]
    pub compare: bool,
    /// Relay binary to spawn for --target relay and --compare.
    #[arg(long, default_value = "target/release/relaybox")]
    pub relay_bin: PathBuf,
    /// Extra KEY=VALUE environment for the spawned relay (repeatable).
    #[arg(long = "relay-env")]
    pub relay_env: Vec<String>,
    /// CPUs the spawned relay and ceiling run on, as `taskset -c` takes
    /// them (`0`, `0-3,6`). With --generator-cpus on other CPUs, the
    /// generator's own work stays off the server's cores, as a load from
    /// other machines would.
    #[arg(long, conflicts_with = "url")]
    pub server_cpus: Option<String>,
    /// CPUs this generator and its worker processes run on (see --server-cpus).
    #[arg(long)]
    pub generator_cpus: Option<String>,
    /// Pid of the server behind --url, for its CPU and memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write a latency percentile plot (SVG) to this file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// The load shape, shared with worker processes.
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct Load {
    /// pairs, abuse: pairs; fanout: subscribers; mailbox: offline clients; connect:
    /// concurrent connectors; idle: connections.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub connections: usize,
    /// Total publishes per second, open loop, latency from the scheduled send time
    /// (coordinated-omission corrected). 0 = closed loop, as fast as --window allows
    /// (abuse: 0 means 1000; abuse always runs open loop).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Measured seconds (after the warm-up).
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Message size in bytes.
    #[arg(long, default_value_t = 256)]
    pub message_size: usize,
    /// Closed loop: unacknowledged publishes per publisher.
    #[arg(long, default_value_t = 16)]
    pub window: usize,
    /// mailbox: queued messages per offline client.
    #[arg(long, default_value_t = 10)]
    pub messages: usize,
    /// mailbox: publisher connections filling the mailboxes.
    #[arg(long, default_value_t = 16)]
    pub publishers: usize,
    /// Connection attempts in flight at once (idle, mailbox reconnect).
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Message TTL in seconds (the relay accepts 10 s to 30 days by default). Keep it
    /// longer than the run: an expired message is skipped and shows up as an order gap.
    #[arg(long, default_value_t = 300)]
    pub ttl: u32,
    /// pairs: after the server closes a socket (a node restarting behind a load
    /// balancer), connect again as the same client and carry on; subscribers
    /// subscribe again. Counted as `reconnects` and `lost_<why>`, not as errors.
    #[arg(long)]
    #[serde(default)]
    pub reconnect: bool,
    /// A shell command (`sh -c`) run when the measured window starts, e.g. one
    /// that restarts a node; its exit status is printed to stderr.
    #[arg(long)]
    #[serde(default)]
    pub at_window_start: Option<String>,
    /// Seconds to wait after the load stops for messages still in flight.
    #[arg(long, default_value_t = 5.0)]
    pub drain: f64,
    /// Worker processes to spread the client connections over.
    #[arg(long, short = 'p', default_value_t = 1)]
    pub processes: usize,
    /// Runtime threads per process (0 = CPUs / processes, at least 1).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// idle: seconds to let the server settle before its memory is read.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
    /// abuse: sockets that subscribe to a victim topic and never read.
    #[arg(long, default_value_t = 1000)]
    pub nonreaders: usize,
    /// abuse: hostile publishers (one did:key each) sending malformed, oversized
    /// and batch requests and fetches.
    #[arg(long, default_value_t = 1000)]
    pub hostile: usize,
    /// abuse: mean milliseconds between two frames of one hostile publisher; each gap
    /// is drawn between 2/3 and 4/3 of it (75: one frame every 50-100 ms).
    #[arg(long, default_value_t = 75.0)]
    pub hostile_interval_ms: f64,
    /// abuse: the batches of 500 items the hostile publishers send, in turn.
    #[arg(long, value_enum, default_value = "mixed")]
    pub hostile_batch: HostileBatch,
    /// abuse: victim topics, followed by the non-readers, fed by helper publishers
    /// and fetched by the hostile publishers.
    #[arg(long, default_value_t = 4)]
    pub victim_topics: usize,
    /// abuse: messages per second published on the victim topics, all together.
    #[arg(long, default_value_t = 100.0)]
    pub victim_rate: f64,
    /// abuse: messages stored on each victim topic before the load starts: what a
    /// non-reader is replayed when it subscribes and what a hostile fetch pages through
    /// (1,000 x 1 KiB is more than the ~750 KB a loopback socket buffers, so the
    /// non-readers stall at once).
    #[arg(long, default_value_t = 1000)]
    pub victim_backlog: usize,
    /// abuse: size of a victim message in bytes.
    #[arg(long, default_value_t = 1024)]
    pub victim_message_size: usize,
    /// abuse: skip the unloaded run of the pairs that comes first.
    #[arg(long)]
    pub no_baseline: bool,
}

impl Load {
    /// Runtime threads each process should use.
    pub fn threads_per_process(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            (crate::sys::cpus() / self.processes.max(1)).max(1)
        }
    }
}

/// What one worker runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkerSpec {
    pub scenario: Scenario,
    pub load: Load,
    /// Base URL of the server (no query), also the JWT audience.
    pub url: String,
    /// This worker's index, from 0.
    pub index: usize,
    /// Number of workers.
    pub count: usize,
    /// Random per run; workers derive shared topics from it.
    pub seed: u64,
}

impl WorkerSpec {
    /// This worker's share of `n` items, as an index range.
    pub fn share(&self, n: usize) -> std::ops::Range<usize> {
        share(n, self.index, self.count)
    }

    /// A topic every worker of this run derives alike from `label`.
    pub fn shared_topic(&self, label: &str) -> relaybox_proto::Topic {
        let text = format!("relaybox-bench/{}/{label}", self.seed);
        relaybox_proto::Topic::from_bytes(relaybox_proto::message_hash(&text))
    }
}

/// Items `[start, end)` of `n` for part `i` of `parts`, as even as possible.
pub fn share(n: usize, i: usize, parts: usize) -> std::ops::Range<usize> {
    let parts = parts.max(1);
    let base = n / parts;
    let extra = n % parts;
    let start = i * base + i.min(extra);
    let len = base + usize::from(i < extra);
    start..start + len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_everything_once() {
        for (n, parts) in [(10, 3), (2, 4), (0, 2), (19_500, 2)] {
            let mut covered = 0;
            let mut next = 0;
            for i in 0..parts {
                let r = share(n, i, parts);
                assert_eq!(r.start, next);
                next = r.end;
                covered += r.len();
            }
            assert_eq!(covered, n);
        }
    }

    #[test]
    fn cli_parses() {
        Cli::try_parse_from([
            "relaybox-bench",
            "pairs",
            "-c",
            "10",
            "--rate",
            "1000",
            "--json",
        ])
        .unwrap();
        Cli::try_parse_from(["relaybox-bench", "fanout", "--compare"]).unwrap();
        Cli::try_parse_from([
            "relaybox-bench",
            "abuse",
            "--nonreaders",
            "50",
            "--hostile",
            "50",
            "--no-baseline",
        ])
        .unwrap();
        assert!(
            Cli::try_parse_from(["relaybox-bench", "idle", "--compare", "--url", "ws://x"])
                .is_err()
        );
    }
}
