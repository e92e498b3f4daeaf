//! Unit tests of the attestation store: codec round trips, the create /
//! answer rules, listing and cursors, the sweep, concurrency and reopening.

use std::sync::Arc;

use proptest::prelude::*;

use relaybox_store::{
    Answer, AttestError, AttestationRecord, AttestationStore, ListCursor, ListQuery, MailboxStore,
    NewAttestation, Status, TopicKey,
};

use super::codec;
use super::*;
use crate::{DiskConfig, DiskStore};

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

async fn open(dir: &std::path::Path) -> (Arc<DiskStore>, Arc<SledAttestationStore>) {
    let mailbox = DiskStore::open(DiskConfig::new(dir.join("db"))).unwrap();
    let attest = SledAttestationStore::open(&mailbox).unwrap();
    (mailbox, attest)
}

fn approve(c: &str) -> Answer {
    Answer::Approve {
        credential: c.to_owned(),
    }
}

#[test]
fn codec_round_trips_every_optional_field() {
    let mut rec = AttestationRecord::pending(request(&id(1), "app", NOW, NOW + 5));
    assert_eq!(codec::decode(&codec::encode(&rec)).unwrap(), rec);
    rec.request.relay_topic = Some(TopicKey([9; 32]));
    rec.request.wallet_did = Some("did:key:z6Mk".into());
    rec.status = Status::Denied;
    rec.error = Some(String::new());
    rec.answered_at_ms = Some(NOW + 1);
    assert_eq!(codec::decode(&codec::encode(&rec)).unwrap(), rec);
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn truncated_records_are_corrupt(cut in 0usize..120) {
        let rec = AttestationRecord::pending(request(&id(1), "app", NOW, NOW + 5));
        let bytes = codec::encode(&rec);
        let cut = cut.min(bytes.len() - 1);
        prop_assert!(codec::decode(&bytes[..cut]).is_err());
    }
}

#[test]
fn cursor_tokens_round_trip_and_reject_garbage() {
    let c = ListCursor {
        created_at_ms: NOW,
        request_id: id(3),
    };
    assert_eq!(ListCursor::from_token(&c.to_token()), Some(c));
    for bad in [
        "",
        "zz",
        "00",
        &hex::encode(b"12345678short"),
        &"a".repeat(1000),
    ] {
        assert_eq!(ListCursor::from_token(bad), None, "{bad}");
    }
}

#[tokio::test]
async fn create_is_idempotent_and_conflicts_on_other_content() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, s) = open(dir.path()).await;
    let r = request(&id(1), "app", NOW, NOW + 1000);
    assert!(s.create(r.clone(), NOW).await.unwrap().new);
    let again = s.create(r.clone(), NOW + 1).await.unwrap();
    assert!(!again.new);
    assert_eq!(again.record.request, r);
    let mut other = r.clone();
    other.fingerprint = [8; 32];
    assert!(matches!(
        s.create(other.clone(), NOW + 2).await,
        Err(AttestError::Conflict)
    ));
    // Once expired, the id may be reused.
    assert!(s.create(other, NOW + 1001).await.unwrap().new);
    assert_eq!(s.stats().pending, 1);
}

#[tokio::test]
async fn first_answer_wins() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, s) = open(dir.path()).await;
    s.create(request(&id(1), "app", NOW, NOW + 1000), NOW)
        .await
        .unwrap();
    assert!(matches!(
        s.answer(&id(2), approve("x"), NOW).await,
        Err(AttestError::NotFound)
    ));
    let rec = s.answer(&id(1), approve("cred"), NOW + 1).await.unwrap();
    assert_eq!(rec.status, Status::Approved);
    assert_eq!(rec.answered_at_ms, Some(NOW + 1));
    let deny = Answer::Deny { error: "no".into() };
    assert!(matches!(
        s.answer(&id(1), deny, NOW + 2).await,
        Err(AttestError::AlreadyAnswered(Status::Approved))
    ));
    let stored = s.get(&id(1)).await.unwrap().unwrap();
    assert_eq!(stored.credential.as_deref(), Some("cred"));
    assert_eq!(stored.error, None);
    s.create(request(&id(3), "app", NOW, NOW + 10), NOW)
        .await
        .unwrap();
    assert!(matches!(
        s.answer(&id(3), approve("late"), NOW + 11).await,
        Err(AttestError::Expired)
    ));
    let st = s.stats();
    assert_eq!((st.pending, st.approved, st.denied), (1, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_answers_have_exactly_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, s) = open(dir.path()).await;
    s.create(request(&id(1), "app", NOW, NOW + 1000), NOW)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.answer(&id(1), approve(&format!("c{i}")), NOW).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(rec) => winners.push(rec.credential.unwrap()),
            Err(AttestError::AlreadyAnswered(_)) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let stored = s.get(&id(1)).await.unwrap().unwrap();
    assert_eq!(stored.credential.as_ref(), winners.first());
}

#[tokio::test]
async fn listing_pages_by_app_status_and_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, s) = open(dir.path()).await;
    for n in 0..7 {
        let mut r = request(&id(n), "app-a", NOW + n as u64, NOW + 1000);
        r.wallet_did = Some(if n % 2 == 0 { "w0" } else { "w1" }.into());
        s.create(r, NOW).await.unwrap();
    }
    s.create(request(&id(50), "app-b", NOW, NOW + 1000), NOW)
        .await
        .unwrap();
    s.create(request(&id(51), "app-a", NOW, NOW + 1), NOW)
        .await
        .unwrap();
    s.answer(&id(3), approve("c"), NOW).await.unwrap();
    let query = |after, wallet| ListQuery {
        app_identity: "app-a",
        status: Status::Pending,
        wallet_did: wallet,
        after,
        limit: 4,
    };
    // id(51) is expired at NOW + 5 and left out.
    let p1 = s.list(query(None, None), NOW + 5).await.unwrap();
    let ids: Vec<_> = p1
        .records
        .iter()
        .map(|r| r.request.request_id.clone())
        .collect();
    assert_eq!(ids, [id(0), id(1), id(2), id(4)]);
    let p2 = s.list(query(p1.next, None), NOW + 5).await.unwrap();
    let ids: Vec<_> = p2
        .records
        .iter()
        .map(|r| r.request.request_id.clone())
        .collect();
    assert_eq!(ids, [id(5), id(6)]);
    assert_eq!(p2.next, None);
    let w1 = s.list(query(None, Some("w1")), NOW + 5).await.unwrap();
    assert_eq!(w1.records.len(), 2);
    let approved = ListQuery {
        status: Status::Approved,
        ..query(None, None)
    };
    assert_eq!(s.list(approved, NOW).await.unwrap().records.len(), 1);
}

#[tokio::test]
async fn sweep_deletes_only_expired_requests_and_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let (_m, s) = open(dir.path()).await;
    for n in 0..5 {
        s.create(request(&id(n), "app", NOW, NOW + 10 * n as u64), NOW)
            .await
            .unwrap();
    }
    s.answer(&id(4), approve("c"), NOW).await.unwrap();
    // Expired: n with 10n < 25, i.e. 0, 1, 2. Batches of 2.
    assert_eq!(s.sweep_expired(NOW + 25, 2).await.unwrap(), 2);
    assert_eq!(s.sweep_expired(NOW + 25, 2).await.unwrap(), 1);
    assert_eq!(s.sweep_expired(NOW + 25, 2).await.unwrap(), 0);
    assert!(s.get(&id(2)).await.unwrap().is_none());
    assert!(s.get(&id(3)).await.unwrap().is_some());
    let st = s.stats();
    assert_eq!((st.pending, st.approved, st.expired_swept), (1, 1, 3));
    assert_eq!(s.sweep_expired(NOW + 100, 100).await.unwrap(), 2);
    assert_eq!(s.index_lens(), (0, 0));
}

#[tokio::test]
async fn reopen_keeps_records_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (m, s) = open(dir.path()).await;
        s.create(request(&id(1), "app", NOW, u64::MAX), NOW)
            .await
            .unwrap();
        s.create(request(&id(2), "app", NOW, u64::MAX), NOW)
            .await
            .unwrap();
        s.answer(&id(2), approve("c"), NOW).await.unwrap();
        drop(s);
        m.close().await.unwrap();
    }
    let (_m, s) = open(dir.path()).await;
    let st = s.stats();
    assert_eq!((st.pending, st.approved), (1, 1));
    let rec = s.get(&id(2)).await.unwrap().unwrap();
    assert_eq!(rec.credential.as_deref(), Some("c"));
}
