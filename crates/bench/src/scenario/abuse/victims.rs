//! `abuse`: the victim topics and the sockets that never read them.
//!
//! Worker 0 keeps one helper publisher per victim topic: before the load it
//! stores `--victim-backlog` messages on its topic, then publishes
//! `--victim-rate` / topics messages per second until the window ends. The
//! non-readers connect with a 16 KiB receive buffer (so their TCP window
//! stays small), subscribe to a victim topic when the load starts and then
//! never read. After the window each reads what is buffered to learn
//! whether the relay closed it: with a close frame (its code), without one
//! (`eof`: the relay gave up on a full socket, so its close frame could not
//! be written), or not at all (`open`, nothing more arrives for a second).

use futures_util::{SinkExt, StreamExt};
use relaybox_proto::Topic;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::clock;
use crate::conn::{self, Event, Ws};
use crate::identity::Identity;
use crate::payload::{self, Stamp};
use crate::scenario::pairs::connect_new;
use crate::scenario::publisher::{self, FIRST_ID};
use crate::scenario::{spawn_bounded, Timing};
use crate::spec::{Load, WorkerSpec};
use crate::stats::WorkerResult;

/// Receive buffer of a non-reader, as the relay's own tests use.
const NONREADER_RCVBUF: u32 = 16 * 1024;
/// Stream ids of victim messages: backlog and live, plus the topic index.
const BACKLOG_STREAM: u32 = 0xB000_0000;
const LIVE_STREAM: u32 = 0xC000_0000;
/// Backlog publishes in flight per helper.
const BACKLOG_WINDOW: usize = 64;

/// The victim topics, the same in every worker.
pub fn topics(spec: &WorkerSpec) -> Vec<Topic> {
    (0..spec.load.victim_topics.max(1))
        .map(|i| spec.shared_topic(&format!("abuse-victim-{i}")))
        .collect()
}

/// Worker 0's helpers, one per victim topic, each with its backlog stored.
pub async fn setup_helpers(spec: &WorkerSpec, topics: &[Topic]) -> (Vec<Ws>, WorkerResult) {
    let mut res = WorkerResult::default();
    let mut helpers = Vec::new();
    if spec.index != 0 {
        return (helpers, res);
    }
    for (i, topic) in topics.iter().enumerate() {
        // Each helper is its own user on its own address (a relay's per-IP
        // budget would not let one address store every backlog at once).
        let source = super::abuser_source(i, super::HELPER_NET);
        let mut ws = match connect_new(spec.url.clone(), source).await {
            Ok(ws) => ws,
            Err(e) => {
                res.error(&format!("victim_setup_{}", conn::kind_of(&e)));
                continue;
            }
        };
        let stream = BACKLOG_STREAM + i as u32;
        if let Err(e) = backlog(&mut ws, *topic, stream, &spec.load, &mut res).await {
            res.error(&format!("victim_backlog_{}", conn::kind_of(&e)));
        }
        helpers.push(ws);
    }
    (helpers, res)
}

/// Publishes the backlog of one victim topic, `BACKLOG_WINDOW` at a time.
async fn backlog(
    ws: &mut Ws,
    topic: Topic,
    stream: u32,
    load: &Load,
    res: &mut WorkerResult,
) -> anyhow::Result<()> {
    let mut seq = 0u64;
    while seq < load.victim_backlog as u64 {
        let chunk = (load.victim_backlog as u64 - seq).min(BACKLOG_WINDOW as u64);
        for _ in 0..chunk {
            let stamp = Stamp {
                sent_ns: clock::now_ns(),
                seq,
                stream,
            };
            let message = payload::encode(stamp, load.victim_message_size);
            let frame = conn::publish_frame(FIRST_ID + seq, topic, message, load.ttl);
            ws.feed(frame)
                .await
                .map_err(|e| anyhow::anyhow!(conn::error_kind(&e)))?;
            seq += 1;
        }
        ws.flush()
            .await
            .map_err(|e| anyhow::anyhow!(conn::error_kind(&e)))?;
        let mut answered = 0;
        while answered < chunk {
            let next = tokio::time::timeout(conn::CONNECT_TIMEOUT, ws.next())
                .await
                .map_err(|_| anyhow::anyhow!("reply_timeout"))?;
            match next.map(|m| m.map(conn::classify)) {
                Some(Ok(Event::Reply { result, .. })) => {
                    answered += 1;
                    match result {
                        Ok(()) => res.count("victim_backlog_ok", 1),
                        Err(tag) => res.error(&format!("victim_backlog_{tag}")),
                    }
                }
                Some(Ok(Event::Closed(code))) => anyhow::bail!("closed_{code}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => anyhow::bail!(conn::error_kind(&e)),
                None => anyhow::bail!("closed"),
            }
        }
    }
    Ok(())
}

/// Feeds victim topic `index` at its share of `--victim-rate` until the window ends.
pub async fn feed(ws: Ws, topic: Topic, index: usize, load: Load, timing: Timing) -> WorkerResult {
    let topics = load.victim_topics.max(1);
    let plan = publisher::Plan {
        topic,
        stream: LIVE_STREAM + index as u32,
        rate: load.victim_rate / topics as f64,
        window: load.window,
        phase: index as f64 / topics as f64,
        message_size: load.victim_message_size,
        ttl: load.ttl,
        timing,
        gate: None,
        rejoin: None,
    };
    if plan.rate <= 0.0 {
        conn::close(ws).await;
        return WorkerResult::default();
    }
    publisher::run(ws, plan).await
}

/// Connects this worker's share of the non-readers, with small receive buffers.
pub async fn connect_nonreaders(spec: &WorkerSpec) -> (Vec<(usize, Ws)>, WorkerResult) {
    let mine: Vec<(usize, String)> = spec
        .share(spec.load.nonreaders)
        .map(|i| (i, Identity::new(&spec.url).url))
        .collect();
    let made = spawn_bounded(mine, spec.load.concurrency, |(i, url)| async move {
        let source = super::abuser_source(i, super::NONREADER_NET);
        (
            i,
            conn::connect_small_buffer_from(&url, NONREADER_RCVBUF, source).await,
        )
    })
    .await;
    let mut res = WorkerResult::default();
    let mut sockets = Vec::with_capacity(made.len());
    for (i, ws) in made {
        match ws {
            Ok(ws) => sockets.push((i, ws)),
            Err(e) => res.error(&format!("nonreader_setup_{}", conn::kind_of(&e))),
        }
    }
    res.count("nonreaders", sockets.len() as u64);
    (sockets, res)
}

/// One non-reader: subscribes at the start, never reads during the load,
/// then checks how (and whether) the relay closed it.
pub async fn hold(mut ws: Ws, topic: Topic, timing: Timing) -> WorkerResult {
    let mut res = WorkerResult::default();
    if let Err(e) = ws.send(conn::subscribe_frame(FIRST_ID, topic)).await {
        res.error(&format!("nonreader_subscribe_{}", conn::error_kind(&e)));
        return res;
    }
    clock::sleep_until(timing.win_end).await;
    let why = closed_how(&mut ws, timing.drain_end).await;
    res.count(&format!("close/nonreader/{why}"), 1);
    res
}

/// Reads what is buffered until the stream ends or a second passes quietly.
async fn closed_how(ws: &mut Ws, deadline: u64) -> String {
    loop {
        let quiet = (clock::now_ns() + 1_000_000_000).min(deadline);
        match tokio::time::timeout_at(clock::instant_at(quiet), ws.next()).await {
            Err(_) => return "open".into(),
            Ok(None) => return "eof".into(),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return frame.map_or(1005, |f| u16::from(f.code)).to_string()
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)))) => {
                return "eof".into()
            }
            Ok(Some(Err(e))) => {
                return match conn::error_kind(&e).as_str() {
                    "io_connectionreset" => "reset".into(),
                    kind => kind.to_owned(),
                }
            }
        }
    }
}
