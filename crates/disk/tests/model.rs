//! Model-based test: random operation sequences against the store and a
//! deliberately naive in-memory model must agree on every observable
//! result (seqs, duplicates, limit errors, pending pages, fetch pages,
//! sweep counts).

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{msg, open_with_limit, seqs, topic};
use proptest::prelude::*;
use relaybox_disk::DiskStore;
use relaybox_store::{Error, MailboxStore};

const CLIENTS: [&str; 3] = ["did:key:zA", "did:key:zB", "did:key:zC"];
const TTLS: [u32; 3] = [1, 3, 30];
const LIMIT: usize = 6;

#[derive(Clone, Debug)]
enum Op {
    Append {
        t: u8,
        publisher: u8,
        body: u8,
        ttl: u8,
    },
    Ack {
        c: u8,
        t: u8,
        picks: Vec<u8>,
        bogus: bool,
    },
    Fetch {
        c: u8,
        t: u8,
        limit: usize,
    },
    Pending {
        c: u8,
        t: u8,
        after_pick: Option<u8>,
        limit: usize,
    },
    Tick {
        ms: u64,
    },
    Sweep {
        max: usize,
    },
    Unsubscribe {
        c: u8,
        t: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..2u8, 0..3u8, 0..8u8, 0..3u8)
            .prop_map(|(t, publisher, body, ttl)| Op::Append { t, publisher, body, ttl }),
        2 => (0..3u8, 0..2u8, proptest::collection::vec(any::<u8>(), 0..4), any::<bool>())
            .prop_map(|(c, t, picks, bogus)| Op::Ack { c, t, picks, bogus }),
        2 => (0..3u8, 0..2u8, 0..4usize).prop_map(|(c, t, limit)| Op::Fetch { c, t, limit }),
        2 => (0..3u8, 0..2u8, proptest::option::of(any::<u8>()), 0..5usize)
            .prop_map(|(c, t, after_pick, limit)| Op::Pending { c, t, after_pick, limit }),
        2 => prop_oneof![Just(0u64), Just(400), Just(1_500)].prop_map(|ms| Op::Tick { ms }),
        1 => (0..4usize).prop_map(|max| Op::Sweep { max }),
        1 => (0..3u8, 0..2u8).prop_map(|(c, t)| Op::Unsubscribe { c, t }),
    ]
}

#[derive(Clone, Debug)]
struct MMsg {
    seq: u64,
    body: u8,
    publisher: u8,
    expires: u64,
}

#[derive(Default)]
struct Model {
    now: u64,
    topics: [Vec<MMsg>; 2],
    last: [u64; 2],
    done: HashMap<(u8, u8), BTreeSet<u64>>,
    max_seq: u64,
}

impl Model {
    fn pending(&self, c: u8, t: u8, after: u64) -> Vec<u64> {
        let done = self.done.get(&(c, t));
        self.topics[t as usize]
            .iter()
            .filter(|m| m.seq > after && m.publisher != c && m.expires > self.now)
            .filter(|m| !done.is_some_and(|d| d.contains(&m.seq)))
            .map(|m| m.seq)
            .collect()
    }

    fn ack(&mut self, c: u8, t: u8, seqs: &[u64]) {
        for &s in seqs {
            if self.topics[t as usize].iter().any(|m| m.seq == s) {
                self.done.entry((c, t)).or_default().insert(s);
            }
        }
    }
}

fn body(t: u8, b: u8) -> String {
    format!("t{t}-body{b}")
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store: std::sync::Arc<DiskStore> = open_with_limit(dir.path(), LIMIT);
    let mut m = Model {
        now: 10_000,
        ..Model::default()
    };
    for op in ops {
        match op {
            Op::Append {
                t,
                publisher,
                body: b,
                ttl,
            } => {
                let ttl = TTLS[ttl as usize];
                let res = store
                    .append(msg(
                        topic(t),
                        &body(t, b),
                        CLIENTS[publisher as usize],
                        ttl,
                        m.now,
                    ))
                    .await;
                let now = m.now;
                let list = &mut m.topics[t as usize];
                let mut doomed = BTreeSet::new();
                if let Some(existing) = list.iter().find(|x| x.body == b) {
                    if existing.expires > now {
                        let a = res.map_err(|e| TestCaseError::fail(format!("{e}")))?;
                        prop_assert!(a.duplicate);
                        prop_assert_eq!(a.message.seq, existing.seq);
                        prop_assert_eq!(a.prev_seq, m.last[t as usize]);
                        continue;
                    }
                    doomed.insert(existing.seq);
                }
                if list.len() - doomed.len() >= LIMIT {
                    doomed.extend(list.iter().filter(|x| x.expires <= now).map(|x| x.seq));
                    if list.len() - doomed.len() >= LIMIT {
                        prop_assert!(
                            matches!(res, Err(Error::MailboxFull)),
                            "expected MailboxFull, got {:?}",
                            res
                        );
                        continue;
                    }
                }
                let a = res.map_err(|e| TestCaseError::fail(format!("{e}")))?;
                prop_assert!(!a.duplicate);
                prop_assert!(a.message.seq > m.max_seq);
                prop_assert_eq!(a.prev_seq, m.last[t as usize]);
                list.retain(|x| !doomed.contains(&x.seq));
                list.push(MMsg {
                    seq: a.message.seq,
                    body: b,
                    publisher,
                    expires: now + u64::from(ttl) * 1000,
                });
                m.max_seq = a.message.seq;
                m.last[t as usize] = a.message.seq;
            }
            Op::Ack { c, t, picks, bogus } => {
                let list = &m.topics[t as usize];
                let mut acks: Vec<u64> = if list.is_empty() {
                    Vec::new()
                } else {
                    picks
                        .iter()
                        .map(|&p| list[p as usize % list.len()].seq)
                        .collect()
                };
                if bogus {
                    // Seqs not (yet) holding a message must be ignored, even
                    // though a later message may receive that very seq.
                    acks.push(m.max_seq + 1);
                    acks.push(m.max_seq + 2);
                }
                store
                    .ack(CLIENTS[c as usize], topic(t), &acks, m.now)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                m.ack(c, t, &acks);
            }
            Op::Fetch { c, t, limit } => {
                let page = store
                    .fetch(CLIENTS[c as usize], topic(t), limit, m.now)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let expected = m.pending(c, t, 0);
                let take: Vec<u64> = expected.iter().copied().take(limit).collect();
                prop_assert_eq!(seqs(&page), take.clone());
                prop_assert_eq!(page.has_more, expected.len() > limit);
                prop_assert_eq!(page.last_seq, m.last[t as usize]);
                m.ack(c, t, &take);
            }
            Op::Pending {
                c,
                t,
                after_pick,
                limit,
            } => {
                let list = &m.topics[t as usize];
                let after = match after_pick {
                    Some(p) if !list.is_empty() => list[p as usize % list.len()].seq,
                    _ => 0,
                };
                let page = store
                    .pending(CLIENTS[c as usize], topic(t), after, limit, m.now)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                let expected = m.pending(c, t, after);
                prop_assert_eq!(
                    seqs(&page),
                    expected.iter().copied().take(limit).collect::<Vec<_>>()
                );
                prop_assert_eq!(page.has_more, expected.len() > limit);
                prop_assert_eq!(page.last_seq, m.last[t as usize]);
                // Bodies come back intact.
                for msg in &page.messages {
                    let mm = list.iter().find(|x| x.seq == msg.seq).unwrap();
                    let want = body(t, mm.body);
                    prop_assert_eq!(&*msg.message, want.as_str());
                }
            }
            Op::Tick { ms } => m.now += ms,
            Op::Sweep { max } => {
                let n = store
                    .sweep_expired(m.now, max)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                // The store sweeps in (expires, topic, seq) order.
                let mut due: Vec<(u64, u8, u64)> = Vec::new();
                for (t, list) in m.topics.iter().enumerate() {
                    for x in list.iter().filter(|x| x.expires <= m.now) {
                        due.push((x.expires, t as u8, x.seq));
                    }
                }
                due.sort_unstable();
                due.truncate(max);
                prop_assert_eq!(n, due.len());
                for (_, t, seq) in due {
                    m.topics[t as usize].retain(|x| x.seq != seq);
                    if m.topics[t as usize].is_empty() {
                        m.last[t as usize] = 0;
                    }
                }
            }
            Op::Unsubscribe { c, t } => {
                store
                    .unsubscribe(CLIENTS[c as usize], topic(t))
                    .await
                    .map_err(|e| TestCaseError::fail(format!("{e}")))?;
                m.done.remove(&(c, t));
            }
        }
        let stored: usize = m.topics.iter().map(Vec::len).sum();
        prop_assert_eq!(store.stats().messages, stored as u64);
    }
    store.close().await.unwrap();
    Ok(())
}

proptest! {
    // 96 cases by default; PROPTEST_CASES=N runs a longer soak.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96),
        ..ProptestConfig::default()
    })]
    #[test]
    fn store_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
