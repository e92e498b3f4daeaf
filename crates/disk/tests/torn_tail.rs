//! A crash can leave the end of a segment half written. At start-up such a
//! tail (garbage, a cut record, zeroes, a record with a wrong checksum) is
//! detected, truncated and never served; everything before it survives,
//! and the store keeps working on the same files.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{msg, open, topic, ALICE, BOB};
use relaybox_store::MailboxStore;

const NOW: u64 = 1_000_000;

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    out.sort();
    out
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

async fn bodies(dir: &Path) -> Vec<String> {
    let store = open(dir);
    let page = store.pending(BOB, topic(1), 0, 1000, NOW).await.unwrap();
    store.close().await.unwrap();
    page.messages
        .iter()
        .map(|m| m.message.to_string())
        .collect()
}

/// Writes 20 messages, closes, and returns the one segment file.
async fn twenty(dir: &Path) -> PathBuf {
    let store = open(dir);
    for i in 0..20 {
        store
            .append(msg(topic(1), &format!("m{i:02}"), ALICE, 600, NOW))
            .await
            .unwrap();
    }
    store.sync().await.unwrap();
    store.close().await.unwrap();
    let segs = segments(dir);
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

fn expected() -> Vec<String> {
    (0..20).map(|i| format!("m{i:02}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_torn_tail_is_cut_and_never_served() {
    // What a crash may leave after the last complete record.
    let tails: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"\x13\x37garbage after the last record".to_vec()),
        ("zeroes", vec![0u8; 4096]),
        ("short header", vec![0x40, 0x00]),
        // A frame whose length promises more than the file holds.
        ("cut record", {
            let mut v = 300u32.to_le_bytes().to_vec();
            v.extend_from_slice(&[0xab; 4]);
            v.extend_from_slice(&[1; 100]);
            v
        }),
        // A complete frame whose checksum does not match its body.
        ("bad checksum", {
            let mut v = 16u32.to_le_bytes().to_vec();
            v.extend_from_slice(&0xdead_beefu32.to_le_bytes());
            v.extend_from_slice(&[7; 16]);
            v
        }),
    ];
    for (what, tail) in tails {
        let dir = tempfile::tempdir().unwrap();
        let seg = twenty(dir.path()).await;
        let good_len = std::fs::metadata(&seg).unwrap().len();
        append_raw(&seg, &tail);
        assert_eq!(bodies(dir.path()).await, expected(), "{what}");
        assert_eq!(
            std::fs::metadata(&seg).unwrap().len(),
            good_len,
            "{what}: the tail was truncated"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_cut_in_half_is_dropped_and_appends_continue() {
    let dir = tempfile::tempdir().unwrap();
    let seg = twenty(dir.path()).await;
    // Cut the last record in half, as a crash in the middle of its write would.
    let len = std::fs::metadata(&seg).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let mut want = expected();
    want.pop();
    assert_eq!(bodies(dir.path()).await, want);

    // The store goes on: new messages, another restart, all there in order.
    let store = open(dir.path());
    let again = store
        .append(msg(topic(1), "after", ALICE, 600, NOW))
        .await
        .unwrap();
    assert!(!again.duplicate);
    store.sync().await.unwrap();
    store.close().await.unwrap();
    drop(store);
    want.push("after".into());
    assert_eq!(bodies(dir.path()).await, want);
}
