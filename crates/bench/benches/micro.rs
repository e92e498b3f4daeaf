//! Micro-benchmarks of the relay's per-message building blocks: JWT
//! verification (one per handshake), proto parse and serialize of the
//! publish and subscription frames (several per message), and a store
//! append made durable with a flush (one per publish, shared by group commit).
//!
//! Run with `cargo bench -p relaybox-bench --bench micro`; add
//! `-- --measurement-time 2 --warm-up-time 1` for a quick pass.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use relaybox_auth::{jwt, Keypair};
use relaybox_disk::{DiskConfig, DiskStore};
use relaybox_proto::{
    parse_incoming, result_frame, subscription_frame, Limits, Params, PublishParams, Request,
    RequestId, SubscriptionData, Topic,
};
use relaybox_store::{MailboxStore, NewMessage, TopicKey};

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn topic() -> Topic {
    Topic::from_bytes([7; 32])
}

fn message() -> String {
    "A".repeat(256)
}

fn bench_jwt(c: &mut Criterion) {
    let kp = Keypair::generate();
    let now = now_secs();
    let claims = jwt::Claims {
        iss: kp.did_key(),
        sub: "c479fe5dc464e771e78b193d239a65b58d278cad1c34bfb0b5716e5bb514928e".into(),
        aud: "ws://127.0.0.1:8080".into(),
        iat: now as i64,
        exp: Some(now as i64 + 86_400),
    };
    let token = jwt::sign(&kp, &claims);
    let opts = jwt::VerifyOptions::with_audiences(["ws://127.0.0.1:8080"]);
    let mut g = c.benchmark_group("jwt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify", |b| {
        b.iter(|| jwt::verify(&token, &opts, now).unwrap())
    });
    g.bench_function("sign", |b| b.iter(|| jwt::sign(&kp, &claims)));
    g.finish();
}

fn bench_proto(c: &mut Criterion) {
    let limits = Limits::default();
    let publish = Request::new(
        RequestId::String(1_795_405_159_459_027_456),
        Params::Publish(PublishParams {
            topic: topic(),
            message: message(),
            ttl: 300,
            tag: 1108,
            prompt: true,
            attestation: None,
        }),
    );
    let publish_json = publish.to_json();
    let data = SubscriptionData {
        topic: topic(),
        message: message(),
        published_at: 1_700_000_000_000,
        tag: 1108,
        attestation: None,
    };
    let sub_id = "a".repeat(64);
    let push_json = subscription_frame(1_700_000_000_000_000, &sub_id, &data);
    let ack_json = result_frame(&RequestId::Number(1_700_000_000_000_000), &true);

    let mut g = c.benchmark_group("proto");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_publish", |b| {
        b.iter(|| parse_incoming(&publish_json, &limits).unwrap())
    });
    g.bench_function("serialize_publish", |b| b.iter(|| publish.to_json()));
    g.bench_function("parse_subscription", |b| {
        b.iter(|| parse_incoming(&push_json, &limits).unwrap())
    });
    g.bench_function("serialize_subscription", |b| {
        b.iter(|| subscription_frame(1_700_000_000_000_000, &sub_id, &data))
    });
    g.bench_function("parse_ack", |b| {
        b.iter(|| parse_incoming(&ack_json, &limits).unwrap())
    });
    g.bench_function("serialize_ack", |b| {
        b.iter(|| result_frame(&RequestId::Number(1_700_000_000_000_000), &true))
    });
    g.finish();
}

fn bench_store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = DiskConfig::new(dir.path().join("db"));
    // Benchmarks append far more than the default per-topic limit.
    cfg.max_messages_per_topic = 1 << 40;
    let store = rt.block_on(async { DiskStore::open(cfg).unwrap() });
    let publisher: Arc<str> = "did:key:z6MkBench".into();
    let body = message();
    let mut n = 0u64;
    let mut next = move |topic: u8| {
        n += 1;
        NewMessage {
            topic: TopicKey([topic; 32]),
            message: format!("{n:016x}{body}").into(),
            tag: 0,
            ttl_secs: 30,
            prompt: false,
            attestation: None,
            publisher: publisher.clone(),
            published_at_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
        }
    };
    let mut g = c.benchmark_group("store");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    g.bench_function("append", |b| {
        b.iter_batched(
            || next(1),
            |m| rt.block_on(store.append(m)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("append_then_sync", |b| {
        b.iter_batched(
            || next(2),
            |m| {
                rt.block_on(async {
                    store.append(m).await.unwrap();
                    store.sync().await.unwrap();
                })
            },
            BatchSize::SmallInput,
        )
    });
    const GROUP: u64 = 64;
    g.throughput(Throughput::Elements(GROUP));
    g.bench_function("append_64_concurrent_then_one_sync", |b| {
        b.iter_batched(
            || {
                (0..GROUP)
                    .map(|i| next(3 + (i % 8) as u8))
                    .collect::<Vec<_>>()
            },
            |batch| {
                rt.block_on(async {
                    let tasks: Vec<_> = batch
                        .into_iter()
                        .map(|m| {
                            let s = store.clone();
                            tokio::spawn(async move {
                                s.append(m).await.unwrap();
                                s.sync().await.unwrap();
                            })
                        })
                        .collect();
                    for t in tasks {
                        t.await.unwrap();
                    }
                })
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
    rt.block_on(store.close()).unwrap();
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_jwt, bench_proto, bench_store
}
criterion_main!(benches);
