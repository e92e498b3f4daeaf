//! The store's operations on [`Inner`], as plain synchronous functions.
//!
//! `store` decides which of them run inline on the async worker (only
//! in-memory work: an append, an ack of a cached position) and which go
//! through [`blocking`] (anything that may touch sled or read a file).
//!
//! Lock order: a delivery position (a `positions` shard), then a topic (a
//! `topics` shard); never the other way round.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use relaybox_store::{Appended, Error, NewMessage, PendingPage, Result, StoredMessage, TopicKey};
use sha2::{Digest, Sha256};

use crate::commit::Lane;
use crate::index::{Due, Entry};
use crate::log::{self, Location, RecordRef, Segment};
use crate::state::{client_hash, PairKey, Position};
use crate::Inner;

/// Runs `f` on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Storage(format!("store task failed: {e}")))?
}

/// What an append found out under the topic lock.
pub(crate) enum Placed {
    /// Stored; the record and the topic's previous seq.
    New(Appended),
    /// A live copy exists at this location.
    Duplicate { loc: Location, prev_seq: u64 },
}

/// Everything an append needs besides the segment.
pub(crate) struct Prepared {
    pub msg: NewMessage,
    pub hash: [u8; 32],
    pub expires_at_ms: u64,
    pub bucket_end: u64,
}

impl Inner {
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Hashes and sizes a publish, and admits it against the disk limits.
    pub(crate) fn prepare(&self, msg: NewMessage) -> Result<Prepared> {
        let hash: [u8; 32] = Sha256::digest(msg.message.as_bytes()).into();
        let ttl_ms = u64::from(msg.ttl_secs) * 1000;
        let expires_at_ms = msg.published_at_ms.saturating_add(ttl_ms);
        let size = 128
            + msg.message.len()
            + msg.publisher.len()
            + msg.attestation.as_ref().map_or(0, |a| a.len());
        self.space.admit(self.log.used_bytes(), size as u64)?;
        Ok(Prepared {
            bucket_end: log::bucket_end(expires_at_ms, ttl_ms),
            msg,
            hash,
            expires_at_ms,
        })
    }

    /// The open segment for the bucket, if one has room (memory only).
    pub(crate) fn active_segment(&self, bucket_end: u64) -> Option<Arc<Segment>> {
        self.log.active(bucket_end)
    }

    /// Creates the bucket's next segment (a file system call).
    pub(crate) fn open_segment(&self, bucket_end: u64) -> Result<Arc<Segment>> {
        self.log
            .open_segment(bucket_end)
            .map_err(|e| Error::Storage(format!("creating a segment: {e}")))
    }

    /// The in-memory part of an append, under the topic's lock: dedup,
    /// limit, seq, record into the segment's buffer, index entry.
    pub(crate) fn place(&self, p: Prepared, seg: &Arc<Segment>) -> Result<Placed> {
        let now = p.msg.published_at_ms;
        let topic = p.msg.topic;
        let mut index = self.topics.entry(topic).or_default();
        if let Some((_, dup)) = index.live_duplicate(&p.hash, now) {
            return Ok(Placed::Duplicate {
                loc: dup.loc.clone(),
                prev_seq: index.last_seq(),
            });
        }
        if index.drop_expired_copy(&p.hash, now) {
            self.messages.fetch_sub(1, Ordering::Relaxed);
        }
        if index.len() >= self.cfg.max_messages_per_topic {
            // Expired messages count until purged; purging costs only
            // what it drops, so a full topic is never scanned.
            let purged = index.purge_expired(now);
            self.messages.fetch_sub(purged as i64, Ordering::Relaxed);
            if index.len() >= self.cfg.max_messages_per_topic {
                return Err(Error::MailboxFull);
            }
        }
        let seq = self
            .log
            .next_seq()
            .map_err(|e| Error::Storage(format!("reserving seqs: {e}")))?;
        let m = &p.msg;
        let loc = self.log.append(
            seg,
            &RecordRef {
                seq,
                topic: &topic,
                tag: m.tag,
                prompt: m.prompt,
                published_at_ms: now,
                expires_at_ms: p.expires_at_ms,
                hash: &p.hash,
                publisher: &m.publisher,
                attestation: m.attestation.as_deref(),
                message: &m.message,
            },
        );
        let prev_seq = index.last_seq();
        index.insert(
            seq,
            Entry {
                expires_at_ms: p.expires_at_ms,
                publisher: self.hasher.hash(m.publisher.as_bytes()),
                hash: p.hash,
                loc,
            },
        );
        drop(index);
        self.messages.fetch_add(1, Ordering::Relaxed);
        let m = p.msg;
        Ok(Placed::New(Appended {
            message: Arc::new(StoredMessage {
                seq,
                topic,
                message: m.message,
                tag: m.tag,
                prompt: m.prompt,
                published_at_ms: now,
                expires_at_ms: p.expires_at_ms,
                publisher: m.publisher,
                attestation: m.attestation,
            }),
            prev_seq,
            duplicate: false,
        }))
    }

    /// Reads one record back; a record that cannot be read is an error.
    pub(crate) fn read(&self, loc: &Location) -> Result<StoredMessage> {
        self.log
            .read(loc)
            .map_err(|e| Error::Corrupt(e.to_string()))
    }

    /// Reads the records of a page; unreadable ones are logged and skipped
    /// (they can never be delivered, and must not wedge the client).
    fn read_page(&self, due: Vec<Due>) -> Vec<Arc<StoredMessage>> {
        let mut out = Vec::with_capacity(due.len());
        for d in due {
            match self.read(&d.loc) {
                Ok(m) => out.push(Arc::new(m)),
                Err(e) => {
                    tracing::error!(seq = d.seq, error = %e, "skipping unreadable message record")
                }
            }
        }
        out
    }

    /// What a page for `client` at `pos` holds: the records to read,
    /// whether more are pending, and the topic's newest seq.
    fn due(
        &self,
        pos: &Position,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> (Vec<Due>, bool, u64) {
        let me = self.hasher.hash(client.as_bytes());
        match self.topics.get(&topic) {
            None => (Vec::new(), false, 0),
            Some(index) => {
                let (due, more) =
                    index.pending(pos, me, after, limit, self.cfg.max_page_bytes, now_ms);
                (due, more, index.last_seq())
            }
        }
    }

    /// `pending` without blocking: only when the position is cached and
    /// every record is in memory or the page cache; `None` otherwise (the
    /// caller then runs [`pending`](Self::pending) on a blocking thread).
    pub(crate) fn pending_nowait(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Option<Result<PendingPage>> {
        let key: PairKey = (client_hash(client), topic);
        let pos: Position = self.state.positions().cached(&key)?.clone();
        let (due, has_more, last_seq) = self.due(&pos, client, topic, after, limit, now_ms);
        let mut messages = Vec::with_capacity(due.len());
        for d in due {
            match self.log.read_nowait(&d.loc)? {
                Ok(m) => messages.push(Arc::new(m)),
                Err(e) => {
                    tracing::error!(seq = d.seq, error = %e, "skipping unreadable message record")
                }
            }
        }
        Some(Ok(PendingPage {
            messages,
            last_seq,
            has_more,
        }))
    }

    /// Whether the client is known (from the cache) to follow the topic.
    /// Waits for the turn to write subscriptions (see
    /// `Inner::subscription_writes`).
    pub(crate) async fn subscription_write_turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.subscription_writes
            .acquire()
            .await
            .map_err(|_| Error::Closed)
    }

    pub(crate) fn known_follower(&self, client: &str, topic: TopicKey) -> bool {
        self.state
            .positions()
            .cached(&(client_hash(client), topic))
            .is_some_and(|p| p.followed)
    }

    /// Pending messages for a client (blocking: may load the position
    /// from sled and read records from files).
    pub(crate) fn pending(
        &self,
        client: &str,
        topic: TopicKey,
        after: u64,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        let key: PairKey = (client_hash(client), topic);
        let pos: Position = self.state.positions().load(&key)?.clone();
        let (due, has_more, last_seq) = self.due(&pos, client, topic, after, limit, now_ms);
        Ok(PendingPage {
            messages: self.read_page(due),
            last_seq,
            has_more,
        })
    }

    /// Like `pending` from the position, and marks what it returns as
    /// acknowledged in the same step, so two fetches never share a message.
    pub(crate) fn fetch(
        &self,
        client: &str,
        topic: TopicKey,
        limit: usize,
        now_ms: u64,
    ) -> Result<PendingPage> {
        let key: PairKey = (client_hash(client), topic);
        let me = self.hasher.hash(client.as_bytes());
        let (due, has_more, last_seq) = {
            let mut pos = self.state.positions().load(&key)?;
            let Some(index) = self.topics.get(&topic) else {
                return Ok(PendingPage::default());
            };
            let (due, more) = index.pending(&*pos, me, 0, limit, self.cfg.max_page_bytes, now_ms);
            if !due.is_empty() {
                pos.acked.extend(due.iter().map(|d| d.seq));
                let to = index.advance(pos.cursor, |s| pos.acked.contains(&s), me, now_ms);
                pos.move_cursor(to);
                self.state.positions().queue_write(key, &mut pos);
            }
            (due, more, index.last_seq())
        };
        Ok(PendingPage {
            messages: self.read_page(due),
            last_seq,
            has_more,
        })
    }

    /// Records acks on a loaded position; returns whether it changed.
    pub(crate) fn ack_into(
        &self,
        pos: &mut Position,
        client: &str,
        topic: &TopicKey,
        seqs: &[u64],
        now_ms: u64,
    ) -> bool {
        let Some(index) = self.topics.get(topic) else {
            // The topic holds nothing: there is nothing left to deliver.
            return false;
        };
        let mut changed = false;
        for &seq in seqs {
            // Acks of anything that is not a stored message are ignored.
            if seq > pos.cursor && index.contains(seq) && pos.acked.insert(seq) {
                changed = true;
            }
        }
        if changed {
            let me = self.hasher.hash(client.as_bytes());
            let to = index.advance(pos.cursor, |s| pos.acked.contains(&s), me, now_ms);
            pos.move_cursor(to);
        }
        changed
    }

    /// Acks on a position that may first need loading from sled (blocking).
    pub(crate) fn ack_loading(
        &self,
        client: &str,
        topic: TopicKey,
        seqs: &[u64],
        now_ms: u64,
    ) -> Result<()> {
        let key: PairKey = (client_hash(client), topic);
        let mut pos = self.state.positions().load(&key)?;
        if self.ack_into(&mut pos, client, &topic, seqs, now_ms) {
            self.state.positions().queue_write(key, &mut pos);
        }
        Ok(())
    }

    /// Drops up to `max` expired index entries, oldest expiry first (then
    /// by topic and seq), and deletes the segments whose bucket has ended;
    /// returns the entries dropped.
    pub(crate) fn sweep(&self, now_ms: u64, max: usize) -> Result<usize> {
        let mut due: Vec<(u64, TopicKey, u64)> = Vec::new();
        for index in self.topics.iter() {
            due.extend(
                index
                    .expired(now_ms)
                    .map(|(exp, seq)| (exp, *index.key(), seq)),
            );
        }
        due.sort_unstable();
        due.truncate(max);
        let mut dropped = 0usize;
        for (_, topic, seq) in due {
            if let Some(mut index) = self.topics.get_mut(&topic) {
                if index.remove(seq) {
                    dropped += 1;
                }
            }
        }
        if dropped > 0 {
            self.topics.retain(|_, index| !index.is_empty());
        }
        self.messages.fetch_sub(dropped as i64, Ordering::Relaxed);
        self.state.sweep_purges(now_ms)?;
        self.log
            .drop_expired(now_ms)
            .map_err(|e| Error::Storage(format!("deleting expired segments: {e}")))?;
        Ok(dropped)
    }

    /// One group commit of the message log. The error is text, copied to
    /// every waiter.
    pub(crate) fn commit_messages(&self) -> std::result::Result<(), String> {
        let result = self
            .log
            .commit()
            .map_err(|e| format!("committing the message log: {e}"));
        self.note_commit(Lane::Messages, result)
    }

    /// One group commit of sled, if a reply depends on one of its writes.
    pub(crate) fn commit_state(&self) -> std::result::Result<(), String> {
        let result = self
            .state
            .make_durable_if_dirty()
            .map_err(|e| format!("committing the mailbox state: {e}"));
        self.note_commit(Lane::State, result)
    }

    /// Logs a failed commit and tells the space figures which lane fails
    /// (the store is unhealthy while either does).
    fn note_commit(
        &self,
        lane: Lane,
        result: std::result::Result<(), String>,
    ) -> std::result::Result<(), String> {
        if let Err(e) = &result {
            tracing::error!(error = %e, "group commit failed");
        }
        self.space.set_failing(lane, result.is_err());
        result
    }

    /// The periodic work of the background thread: coalesced positions to
    /// sled, space figures, gauges.
    pub(crate) fn background_tick(&self) {
        if let Err(e) = self.state.positions().flush() {
            tracing::warn!(error = %e, "writing delivery positions failed; retrying next tick");
        }
        if let Err(e) = self.state.flush_seen() {
            tracing::warn!(error = %e, "writing last-seen times failed; retrying next tick");
        }
        self.state
            .positions()
            .evict_clean(self.cfg.max_cached_positions);
        let state_bytes = self.state.db().size_on_disk().unwrap_or(0);
        self.space.refresh(state_bytes);
        crate::store::publish_gauges(self);
    }

    /// On close: positions, then everything, made durable.
    pub(crate) fn final_flush(&self) {
        if let Err(e) = self.state.positions().flush() {
            tracing::error!(error = %e, "writing delivery positions at close failed");
        }
        if let Err(e) = self.state.flush_seen() {
            tracing::error!(error = %e, "writing last-seen times at close failed");
        }
        self.state.mark_dirty();
        // Failures are logged by the commits themselves.
        let _ = self.commit_messages();
        let _ = self.commit_state();
    }
}
