//! The attestation store on Redis: the same rules as the sled store, and
//! any node answers for a request another node created.

use std::sync::Arc;

use relaybox_disk::{DiskConfig, DiskStore, SledAttestationStore};
use relaybox_redis::testing::{self, RedisServer};
use relaybox_redis::{RedisBackend, RedisConfig};
use relaybox_store::{
    Answer, AttestError, AttestationStore, ListQuery, NewAttestation, Status, TopicKey,
};

const NOW: u64 = 1_700_000_000_000;

fn request(id: &str, app: &str, created: u64, expires: u64) -> NewAttestation {
    NewAttestation {
        request_id: id.to_owned(),
        app_identity: app.to_owned(),
        auth_request: r#"{"scopes":["email"]}"#.to_owned(),
        created_at_ms: created,
        expires_at_ms: expires,
        relay_topic: None,
        wallet_did: None,
        fingerprint: [7; 32],
    }
}

fn id(n: u32) -> String {
    format!("request-{n:010}")
}

/// The rules, against one store or two nodes (`a` creates, `b` answers).
async fn rules(a: Arc<dyn AttestationStore>, b: Arc<dyn AttestationStore>) {
    let app = format!("https://app{}.example", rand::random::<u32>());
    let mut r = request(&id(1), &app, NOW, NOW + 60_000);
    r.relay_topic = Some(TopicKey([9; 32]));
    r.wallet_did = Some("did:key:z6MkW".into());
    let created = a.create(r.clone(), NOW).await.unwrap();
    assert!(created.new);
    // Idempotent repeat, conflicting repeat.
    let again = b.create(r.clone(), NOW + 1).await.unwrap();
    assert!(!again.new);
    assert_eq!(again.record, created.record);
    let mut other = r.clone();
    other.fingerprint = [8; 32];
    assert!(matches!(
        b.create(other, NOW).await,
        Err(AttestError::Conflict)
    ));
    // The other node answers; the first answer wins.
    let approve = Answer::Approve {
        credential: "cred".into(),
    };
    let rec = b.answer(&id(1), approve.clone(), NOW + 5).await.unwrap();
    assert_eq!(rec.status, Status::Approved);
    assert_eq!(rec.credential.as_deref(), Some("cred"));
    assert_eq!(rec.answered_at_ms, Some(NOW + 5));
    let deny = Answer::Deny {
        error: "denied".into(),
    };
    assert!(matches!(
        a.answer(&id(1), deny, NOW + 6).await,
        Err(AttestError::AlreadyAnswered(Status::Approved))
    ));
    assert_eq!(a.get(&id(1)).await.unwrap().unwrap(), rec);
    assert!(matches!(
        a.answer(&id(99), approve.clone(), NOW).await,
        Err(AttestError::NotFound)
    ));
    // Expired: answer refused, get still works until swept.
    a.create(request(&id(2), &app, NOW, NOW + 10), NOW)
        .await
        .unwrap();
    assert!(matches!(
        b.answer(&id(2), approve, NOW + 11).await,
        Err(AttestError::Expired)
    ));
    assert!(a.get(&id(2)).await.unwrap().is_some());
    // Listing: oldest first, pages with a cursor, expired left out.
    for n in 10..15 {
        a.create(request(&id(n), &app, NOW + u64::from(n), NOW + 60_000), NOW)
            .await
            .unwrap();
    }
    let q = |after| ListQuery {
        app_identity: &app,
        status: Status::Pending,
        wallet_did: None,
        after,
        limit: 3,
    };
    let p1 = b.list(q(None), NOW + 20).await.unwrap();
    let ids: Vec<_> = p1
        .records
        .iter()
        .map(|r| r.request.request_id.clone())
        .collect();
    assert_eq!(ids, vec![id(10), id(11), id(12)]);
    let p2 = b.list(q(p1.next.clone()), NOW + 20).await.unwrap();
    let ids: Vec<_> = p2
        .records
        .iter()
        .map(|r| r.request.request_id.clone())
        .collect();
    assert_eq!(ids, vec![id(13), id(14)]);
    assert!(p2.next.is_none());
    // The sweeper deletes what expired, and only that.
    assert!(a.sweep_expired(NOW + 20, 100).await.unwrap() >= 1);
    assert!(a.get(&id(2)).await.unwrap().is_none());
    assert!(a.get(&id(10)).await.unwrap().is_some());
    // An expired id can be reused.
    let reused = a
        .create(request(&id(2), &app, NOW + 30, NOW + 90), NOW + 30)
        .await
        .unwrap();
    assert!(reused.new);
}

#[tokio::test]
async fn rules_hold_on_sled() {
    let dir = tempfile::tempdir().unwrap();
    let mailbox = DiskStore::open(DiskConfig::new(dir.path().join("db"))).unwrap();
    let s: Arc<dyn AttestationStore> = SledAttestationStore::open(&mailbox).unwrap();
    rules(s.clone(), s).await;
}

#[tokio::test]
async fn rules_hold_across_two_redis_nodes() {
    if !testing::available() {
        eprintln!("SKIPPED: redis-server is not installed");
        return;
    }
    let redis = RedisServer::start();
    let a = RedisBackend::connect(RedisConfig::standalone(redis.url()))
        .await
        .unwrap();
    let b = RedisBackend::connect(RedisConfig::standalone(redis.url()))
        .await
        .unwrap();
    rules(a.attest.clone(), b.attest.clone()).await;
}
