//! `abuse`: hostile publishers. Each has its own did:key and, at a steady
//! pace (one frame every 2/3 to 4/3 of `--hostile-interval-ms`), sends in
//! turn: a malformed frame, a publish whose message exceeds the relay's
//! 128 KiB cap, a batch of 500 items, a publish with a 5 KiB attestation
//! (over the 4 KiB cap), and a fetch on a victim topic. It reads every reply
//! (so it is not one more non-reader) and classifies the small ones, and
//! when the relay closes its socket it notes why and reconnects with the
//! same key: the relay's rate-limit bucket follows the key across sockets.
//!
//! Malformed frames rotate through invalid JSON, an unknown method, invalid
//! params, a request without an id and a binary frame; every 16th one is a
//! frame header announcing 2 MiB, over the relay's 1 MiB frame cap, which
//! closes the socket (1009). Batches follow `--hostile-batch`; by default
//! they rotate through `irn_batchSubscribe`, `irn_batchFetchMessages` and
//! `irn_batchUnsubscribe` of the same 500 topics (so what a hostile holds
//! stays bounded), and a 501-topic `irn_batchSubscribe` over the 500-item cap.

use std::sync::Arc;

use rand::Rng;
use relaybox_proto::Topic;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;

use super::raw::{self, Reader, Seen};
use crate::clock;
use crate::identity::{random_topic, Identity};
use crate::scenario::{spawn_bounded, Timing};
use crate::spec::{HostileBatch, WorkerSpec};
use crate::stats::WorkerResult;

/// Topic sets for batches, shared by the hostiles of a worker.
const BATCH_SETS: usize = 8;
/// Items per batch: the relay's `limits.max_batch`.
const BATCH_ITEMS: usize = 500;
/// The oversized message: just over `limits.max_message_bytes` (128 KiB).
const OVERSIZED_MESSAGE: usize = 128 * 1024 + 1024;
/// The oversized attestation: over `limits.max_attestation_bytes` (4 KiB).
const OVERSIZED_ATTESTATION: usize = 5 * 1024;
/// What the too-big frame header announces: over `limits.max_frame_bytes` (1 MiB).
const TOO_BIG_FRAME: u64 = 2 << 20;

/// What a frame is, for the `hostile_sent/<kind>` counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Malformed,
    FrameTooBig,
    OversizedMessage,
    Batch,
    OversizedAttestation,
    Fetch,
}

impl Kind {
    fn counter(self) -> &'static str {
        match self {
            Kind::Malformed => "hostile_sent/malformed",
            Kind::FrameTooBig => "hostile_sent/frame_too_big",
            Kind::OversizedMessage => "hostile_sent/oversized_message",
            Kind::Batch => "hostile_sent/batch",
            Kind::OversizedAttestation => "hostile_sent/oversized_attestation",
            Kind::Fetch => "hostile_sent/fetch",
        }
    }
}

/// Every frame the hostile publishers of a worker send, built once.
pub struct Frames {
    malformed: Vec<Vec<u8>>,
    too_big: Vec<u8>,
    oversized_message: Vec<u8>,
    attestation: Vec<u8>,
    /// `BATCH_SETS` groups of `per_set` batches, sent in turn.
    batches: Vec<Vec<u8>>,
    per_set: usize,
    /// One `irn_fetchMessages` per victim topic.
    fetches: Vec<Vec<u8>>,
}

fn request(id: u64, method: &str, params: Value) -> Vec<u8> {
    let text = json!({"id": id, "jsonrpc": "2.0", "method": method, "params": params});
    raw::frame(0x1, text.to_string().as_bytes())
}

impl Frames {
    /// Builds the frames; fetches go to `victims`.
    pub fn new(victims: &[Topic], ttl: u32, batch: HostileBatch) -> Frames {
        let text = |s: &str| raw::frame(0x1, s.as_bytes());
        let malformed = vec![
            text("{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":"),
            request(2, "irn_noSuchMethod", json!({})),
            request(
                3,
                "irn_publish",
                json!({"topic": "not-a-topic", "message": "m", "ttl": 0}),
            ),
            text(r#"{"jsonrpc":"2.0","method":"irn_subscribe","params":{}}"#),
            raw::frame(0x2, &[0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3]),
        ];
        let publish = |id: u64, message: String, attestation: Option<String>| {
            let mut params =
                json!({"topic": random_topic(), "message": message, "ttl": ttl, "tag": 1100});
            if let Some(a) = attestation {
                params["attestation"] = json!(a);
            }
            request(id, "irn_publish", params)
        };
        let oversized_message = publish(4, "A".repeat(OVERSIZED_MESSAGE), None);
        let attestation = publish(
            5,
            "short".into(),
            Some(format!("eyJ{}", "a".repeat(OVERSIZED_ATTESTATION))),
        );
        let mut batches = Vec::new();
        let mut per_set = 0;
        for _ in 0..BATCH_SETS {
            let topics: Vec<Topic> = (0..BATCH_ITEMS).map(|_| random_topic()).collect();
            let subs: Vec<Value> = topics.iter().map(|t| json!({"topic": t})).collect();
            let mut over = topics.clone();
            over.push(random_topic());
            let subscribe = || request(6, "irn_batchSubscribe", json!({"topics": topics}));
            let fetch = || request(7, "irn_batchFetchMessages", json!({"topics": topics}));
            let unsubscribe = || request(8, "irn_batchUnsubscribe", json!({"subscriptions": subs}));
            let over_cap = || request(9, "irn_batchSubscribe", json!({"topics": over}));
            let set = match batch {
                HostileBatch::Mixed => vec![subscribe(), fetch(), unsubscribe(), over_cap()],
                HostileBatch::Subscribe => vec![subscribe(), unsubscribe()],
                HostileBatch::Fetch => vec![fetch()],
                HostileBatch::OverCap => vec![over_cap()],
            };
            per_set = set.len();
            batches.extend(set);
        }
        let mut fetches: Vec<Vec<u8>> = victims
            .iter()
            .map(|t| request(10, "irn_fetchMessages", json!({"topic": t})))
            .collect();
        if fetches.is_empty() {
            fetches.push(request(
                10,
                "irn_fetchMessages",
                json!({"topic": random_topic()}),
            ));
        }
        Frames {
            malformed,
            too_big: raw::header(0x1, TOO_BIG_FRAME),
            oversized_message,
            attestation,
            batches,
            per_set,
            fetches,
        }
    }

    /// The frame hostile `who` sends at its `turn`.
    fn pick(&self, turn: u64, who: usize) -> (Kind, &[u8]) {
        let cycle = (turn / 5) as usize;
        match turn % 5 {
            0 if cycle % 16 == 15 => (Kind::FrameTooBig, &self.too_big),
            0 => (
                Kind::Malformed,
                &self.malformed[cycle % self.malformed.len()],
            ),
            1 => (Kind::OversizedMessage, &self.oversized_message),
            2 => {
                let set = who % BATCH_SETS;
                let at = set * self.per_set + cycle % self.per_set;
                (Kind::Batch, &self.batches[at])
            }
            3 => (Kind::OversizedAttestation, &self.attestation),
            _ => {
                let i = (cycle + who) % self.fetches.len();
                (Kind::Fetch, &self.fetches[i])
            }
        }
    }
}

/// One hostile publisher before the load: its URL (token inside) and, if
/// the first upgrade worked, its socket.
pub struct Hostile {
    who: usize,
    url: String,
    socket: Option<(Reader, OwnedWriteHalf)>,
}

/// Connects this worker's share of the hostile publishers. A failed first
/// upgrade is a `hostile_setup_<tag>` error; that hostile retries in the run.
pub async fn connect_all(spec: &WorkerSpec) -> (Vec<Hostile>, WorkerResult) {
    let mine: Vec<(usize, String)> = spec
        .share(spec.load.hostile)
        .map(|who| (who, Identity::new(&spec.url).url))
        .collect();
    let made = spawn_bounded(mine, spec.load.concurrency, |(who, url)| async move {
        let socket = raw::connect(&url, super::abuser_source(who, super::HOSTILE_NET)).await;
        (who, url, socket)
    })
    .await;
    let mut res = WorkerResult::default();
    let mut hostiles = Vec::with_capacity(made.len());
    for (who, url, socket) in made {
        let socket = socket
            .map_err(|r| res.error(&format!("hostile_setup_{}", r.tag())))
            .ok();
        hostiles.push(Hostile { who, url, socket });
    }
    res.count("hostiles", hostiles.len() as u64);
    (hostiles, res)
}

/// Runs one hostile publisher from `timing.start` to the end of the window.
pub async fn run(
    h: Hostile,
    frames: Arc<Frames>,
    interval_ns: f64,
    timing: Timing,
) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut replies = WorkerResult::default();
    let mut turn: u64 = rand::thread_rng().gen_range(0..80);
    let mut next = timing.start as f64 + interval_ns * rand::random::<f64>();
    let mut socket = h.socket;
    while clock::now_ns() < timing.win_end {
        let (mut reader, mut writer) = match socket.take() {
            Some(s) => s,
            None => {
                clock::sleep_until((next as u64).min(timing.win_end)).await;
                if clock::now_ns() >= timing.win_end {
                    break;
                }
                next = clock::now_ns() as f64 + gap(interval_ns);
                match raw::connect(&h.url, super::abuser_source(h.who, super::HOSTILE_NET)).await {
                    Ok(s) => {
                        res.count("hostile_reconnects", 1);
                        s
                    }
                    Err(r) => {
                        res.count(&format!("refused/hostile/{}", r.tag()), 1);
                        continue;
                    }
                }
            }
        };
        let read = read_replies(&mut reader, &mut replies);
        tokio::pin!(read);
        let write = write_frames(
            &mut writer,
            &frames,
            h.who,
            (&mut turn, &mut next),
            interval_ns,
            timing.win_end,
            &mut res,
        );
        let closed = tokio::select! {
            why = &mut read => Some(why),
            written = write => match written {
                Ok(()) => None,
                // The relay is gone or going: its close frame says why.
                Err(_) => Some(
                    tokio::time::timeout(std::time::Duration::from_secs(1), &mut read)
                        .await
                        .unwrap_or_else(|_| "write_failed".into()),
                ),
            },
        };
        match closed {
            Some(why) => res.count(&format!("close/hostile/{why}"), 1),
            None => break,
        }
    }
    res.merge(&replies);
    res
}

/// A gap between two frames: 2/3 to 4/3 of the interval.
fn gap(interval_ns: f64) -> f64 {
    interval_ns * rand::thread_rng().gen_range(2.0 / 3.0..4.0 / 3.0)
}

/// Writes frames on schedule until `end`; an error means the socket is done.
async fn write_frames(
    w: &mut OwnedWriteHalf,
    frames: &Frames,
    who: usize,
    (turn, next): (&mut u64, &mut f64),
    interval_ns: f64,
    end: u64,
    res: &mut WorkerResult,
) -> std::io::Result<()> {
    loop {
        if *next as u64 >= end {
            clock::sleep_until(end).await;
            return Ok(());
        }
        clock::sleep_until(*next as u64).await;
        let (kind, bytes) = frames.pick(*turn, who);
        *turn += 1;
        w.write_all(bytes).await?;
        res.count(kind.counter(), 1);
        // After a write that had to wait, go on from now: no catch-up burst.
        *next = next.max(clock::now_ns() as f64 - interval_ns) + gap(interval_ns);
    }
}

/// Reads until the socket ends; counts replies by kind, returns why it ended.
async fn read_replies(r: &mut Reader, res: &mut WorkerResult) -> String {
    loop {
        match r.next().await {
            Seen::Small(text) => res.count(&reply_key(&text), 1),
            Seen::Large => res.count("hostile_reply/large", 1),
            Seen::Close(code) => return code.to_string(),
            Seen::Eof => return "eof".into(),
            Seen::Error(kind) => return kind,
        }
    }
}

/// `hostile_reply/ok`, `hostile_reply/<error data>` (e.g. `PayloadSizeExceeded`,
/// `TooManyRequests`), or `hostile_reply/code_<code>` when there is no data.
fn reply_key(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return "hostile_reply/unreadable".into();
    };
    if let Some(e) = v.get("error") {
        let tag = match e.get("data").and_then(Value::as_str) {
            Some(d) => d.to_owned(),
            None => format!(
                "code_{}",
                e.get("code").and_then(Value::as_i64).unwrap_or(0)
            ),
        };
        format!("hostile_reply/{tag}")
    } else if v.get("result").is_some() {
        "hostile_reply/ok".into()
    } else {
        "hostile_reply/other".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_comes_round() {
        let frames = Frames::new(&[random_topic()], 300, HostileBatch::Mixed);
        let mut seen = std::collections::BTreeMap::new();
        for turn in 0..80 {
            let (kind, bytes) = frames.pick(turn, 3);
            assert!(!bytes.is_empty());
            *seen.entry(kind.counter()).or_insert(0) += 1;
        }
        assert_eq!(seen["hostile_sent/frame_too_big"], 1);
        assert_eq!(seen["hostile_sent/malformed"], 15);
        for k in [
            "oversized_message",
            "batch",
            "oversized_attestation",
            "fetch",
        ] {
            assert_eq!(seen[format!("hostile_sent/{k}").as_str()], 16, "{k}");
        }
        assert!(frames.oversized_message.len() > 128 * 1024);
    }

    #[test]
    fn replies_are_keyed_by_error_data() {
        let e = r#"{"id":4,"jsonrpc":"2.0","error":{"code":-32600,"message":"x","data":"PayloadSizeExceeded"}}"#;
        assert_eq!(reply_key(e), "hostile_reply/PayloadSizeExceeded");
        let e = r#"{"id":null,"jsonrpc":"2.0","error":{"code":-32700,"message":"parse"}}"#;
        assert_eq!(reply_key(e), "hostile_reply/code_-32700");
        assert_eq!(
            reply_key(r#"{"id":1,"jsonrpc":"2.0","result":true}"#),
            "hostile_reply/ok"
        );
        assert_eq!(reply_key("nope"), "hostile_reply/unreadable");
    }
}
