//! Writing an export: the walks over every store, one line each, gzip'd
//! into any async writer (a file, or the admin API's response).

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use flate2::write::GzEncoder;
use flate2::Compression;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use hyper::Response;
use relaybox_store::{AttestationRecord, TopicKey};
use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{AttestationLine, Line, Stores, FORMAT, VERSION};
use crate::relay::Relay;

/// Items read per store call.
const PAGE: usize = 500;
/// Compressed bytes gathered before a write to the output.
const CHUNK: usize = 64 * 1024;
/// JSON bytes (about) compressed in one blocking call.
const BATCH_BYTES: usize = 256 * 1024;

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    pub messages: u64,
    pub subscriptions: u64,
    pub attestations: u64,
    pub watches: u64,
}

/// Lines into gzip into `out`.
///
/// Lines are gathered, then serialized and compressed together on the
/// blocking pool: gzip of a page of large messages takes tens of
/// milliseconds or more, and an online export must not hold a relay worker
/// (and every socket on it) for that long.
struct Writer<W> {
    /// Taken while a batch is compressed.
    gz: Option<GzEncoder<Vec<u8>>>,
    batch: Vec<Line>,
    /// About how many JSON bytes `batch` makes.
    batch_bytes: usize,
    out: W,
}

impl<W: AsyncWrite + Unpin> Writer<W> {
    fn new(out: W) -> Self {
        Writer {
            gz: Some(GzEncoder::new(
                Vec::with_capacity(CHUNK * 2),
                Compression::default(),
            )),
            batch: Vec::new(),
            batch_bytes: 0,
            out,
        }
    }

    async fn line(&mut self, line: Line) -> anyhow::Result<()> {
        self.batch_bytes += json_weight(&line);
        self.batch.push(line);
        if self.batch_bytes >= BATCH_BYTES {
            self.compress_batch().await?;
        }
        Ok(())
    }

    /// Compresses the gathered lines off the async workers, then writes
    /// the compressed bytes once there are at least `CHUNK` of them.
    async fn compress_batch(&mut self) -> anyhow::Result<()> {
        let lines = std::mem::take(&mut self.batch);
        self.batch_bytes = 0;
        let mut gz = self.gz.take().context("the export writer failed earlier")?;
        let gz = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            for line in &lines {
                serde_json::to_writer(&mut gz, line)?;
                gz.write_all(b"\n")?;
            }
            Ok(gz)
        })
        .await
        .context("the export's compression task failed")??;
        let gz = self.gz.insert(gz);
        if gz.get_ref().len() >= CHUNK {
            let chunk = std::mem::take(gz.get_mut());
            self.out
                .write_all(&chunk)
                .await
                .context("writing the export")?;
        }
        Ok(())
    }

    async fn finish(mut self) -> anyhow::Result<()> {
        self.compress_batch().await?;
        let gz = self.gz.take().context("the export writer failed earlier")?;
        let rest = gz.finish()?;
        let mut out = self.out;
        out.write_all(&rest).await.context("writing the export")?;
        out.flush().await.context("writing the export")?;
        out.shutdown().await.context("closing the export")?;
        Ok(())
    }
}

/// About how many bytes of JSON `line` makes: large only for messages.
fn json_weight(line: &Line) -> usize {
    const SMALL: usize = 256;
    match line {
        Line::Message {
            message,
            attestation,
            ..
        } => SMALL + message.len() + attestation.as_ref().map_or(0, String::len),
        Line::Subscription { pending, .. } => SMALL + pending.len() * 8,
        Line::Attestation(a) => {
            SMALL
                + a.auth_request.len()
                + a.credential.as_ref().map_or(0, String::len)
                + a.error.as_ref().map_or(0, String::len)
        }
        _ => SMALL,
    }
}

/// Writes everything `src` holds to `out` (see the module doc of
/// `export` for the format).
pub async fn export<W: AsyncWrite + Unpin>(src: &Stores, out: W) -> anyhow::Result<ExportReport> {
    let mut w = Writer::new(out);
    let now = crate::now_ms();
    let mut report = ExportReport::default();
    w.line(Line::Header {
        format: FORMAT.into(),
        version: VERSION,
        created_at_ms: now,
        backend: src.backend.into(),
    })
    .await?;
    w.line(Line::Identity {
        relay_key: hex::encode(src.relay_seed),
    })
    .await?;

    let store = &src.mailbox;
    let mut cursor = None;
    loop {
        let page = store
            .topics_page(cursor, PAGE)
            .await
            .context("listing topics")?;
        for topic in page.items {
            report.messages += write_topic(&mut w, src, topic, now).await?;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    let mut cursor = None;
    loop {
        let page = store
            .subscriptions_page(cursor, PAGE)
            .await
            .context("listing subscriptions")?;
        for sub in page.items {
            let pending = pending_seqs(src, &sub.client, sub.topic, now).await?;
            w.line(Line::Subscription {
                client: sub.client,
                topic: sub.topic.to_hex(),
                pending,
            })
            .await?;
            report.subscriptions += 1;
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    let mut cursor = None;
    loop {
        let page = src
            .attest
            .ids_page(cursor, PAGE)
            .await
            .context("listing attestations")?;
        for id in page.items {
            // Swept since it was listed: nothing to keep.
            if let Some(rec) = src
                .attest
                .get(&id)
                .await
                .context("reading an attestation")?
            {
                w.line(Line::Attestation(attestation_line(rec))).await?;
                report.attestations += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    if let Some(watches) = &src.watches {
        for watch in watches.cache().all() {
            w.line(Line::Watch(watch)).await?;
            report.watches += 1;
        }
    }
    w.line(Line::End {
        messages: report.messages,
        subscriptions: report.subscriptions,
        attestations: report.attestations,
        watches: report.watches,
    })
    .await?;
    w.finish().await?;
    Ok(report)
}

async fn write_topic<W: AsyncWrite + Unpin>(
    w: &mut Writer<W>,
    src: &Stores,
    topic: TopicKey,
    now: u64,
) -> anyhow::Result<u64> {
    let (mut after, mut n) = (0, 0);
    loop {
        let page = src
            .mailbox
            .messages_after(topic, after, PAGE, now)
            .await
            .context("reading messages")?;
        let Some(last) = page.last() else {
            return Ok(n);
        };
        after = last.seq;
        for m in &page {
            w.line(Line::Message {
                topic: topic.to_hex(),
                seq: m.seq,
                message: m.message.to_string(),
                tag: m.tag,
                prompt: m.prompt,
                published_at_ms: m.published_at_ms,
                expires_at_ms: m.expires_at_ms,
                publisher: m.publisher.to_string(),
                attestation: m.attestation.as_deref().map(str::to_owned),
            })
            .await?;
            n += 1;
        }
    }
}

/// The seqs still owed to `client` in `topic`.
async fn pending_seqs(
    src: &Stores,
    client: &str,
    topic: TopicKey,
    now: u64,
) -> anyhow::Result<Vec<u64>> {
    let (mut out, mut after) = (Vec::new(), 0);
    loop {
        let page = src
            .mailbox
            .pending(client, topic, after, PAGE, now)
            .await
            .context("reading a client's pending messages")?;
        out.extend(page.messages.iter().map(|m| m.seq));
        match page.messages.last() {
            Some(last) if page.has_more => after = last.seq,
            _ => return Ok(out),
        }
    }
}

fn attestation_line(rec: AttestationRecord) -> AttestationLine {
    let r = rec.request;
    AttestationLine {
        request_id: r.request_id,
        app_identity: r.app_identity,
        auth_request: r.auth_request,
        created_at_ms: r.created_at_ms,
        expires_at_ms: r.expires_at_ms,
        relay_topic: r.relay_topic.map(|t| t.to_hex()),
        wallet_did: r.wallet_did,
        fingerprint: hex::encode(r.fingerprint),
        status: rec.status.as_str().into(),
        credential: rec.credential,
        error: rec.error,
        answered_at_ms: rec.answered_at_ms,
    }
}

/// `GET /admin/export`: the export of the running relay, streamed as it
/// is written (an online backup).
pub fn http_stream(relay: Arc<Relay>) -> Response<crate::http::Body> {
    let (writer, reader) = tokio::io::duplex(CHUNK);
    let src = Stores {
        mailbox: relay.store.clone(),
        attest: relay.attest.store.clone(),
        watches: relay.webhooks.store().cloned(),
        relay_seed: relay.identity.seed(),
        backend: relay.config.store.backend.name(),
    };
    relay.shutdown.tracker.spawn(async move {
        match export(&src, writer).await {
            Ok(report) => tracing::info!(?report, "admin export written"),
            // The response then ends without its `end` line: an import refuses it.
            Err(e) => tracing::error!(error = %e, "admin export failed"),
        }
    });
    let frames = tokio_util::io::ReaderStream::new(reader);
    let body = StreamBody::new(futures_util::StreamExt::map(frames, |chunk| {
        chunk.map(Frame::data)
    }));
    Response::builder()
        .header(CONTENT_TYPE, "application/gzip")
        .header(
            CONTENT_DISPOSITION,
            "attachment; filename=\"relaybox-export.ndjson.gz\"",
        )
        .body(BodyExt::boxed(body))
        .expect("static response parts are valid")
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;

    use super::*;

    /// Lines spanning several compressed batches come out whole and in
    /// order.
    #[tokio::test]
    async fn batches_keep_every_line_in_order() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        let big = "x".repeat(100 * 1024);
        for seq in 0..12u64 {
            w.line(Line::Message {
                topic: "ab".repeat(32),
                seq,
                message: format!("{seq}{big}"),
                tag: 1,
                prompt: false,
                published_at_ms: 1,
                expires_at_ms: 2,
                publisher: "did:key:z".into(),
                attestation: None,
            })
            .await
            .unwrap();
            w.line(Line::Identity {
                relay_key: seq.to_string(),
            })
            .await
            .unwrap();
        }
        w.finish().await.unwrap();
        let lines: Vec<Line> = std::io::BufReader::new(flate2::read::GzDecoder::new(&out[..]))
            .lines()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        assert_eq!(lines.len(), 24);
        for (i, pair) in lines.chunks(2).enumerate() {
            match (&pair[0], &pair[1]) {
                (Line::Message { seq, message, .. }, Line::Identity { relay_key }) => {
                    assert_eq!(*seq, i as u64);
                    assert_eq!(message.len(), 100 * 1024 + i.to_string().len());
                    assert_eq!(relay_key, &i.to_string());
                }
                other => panic!("unexpected lines {other:?}"),
            }
        }
    }
}
