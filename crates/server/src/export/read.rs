//! Reading an export back into any backend (`relaybox import`).
//!
//! The file is checked whole first (header, version, every line parses,
//! the `end` line's counts match), so a truncated or foreign file changes
//! nothing. Importing is idempotent: a message already stored in its topic
//! is found again by its body, a subscription or an answer that exists is
//! kept, so an interrupted import can simply be run again.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context};
use flate2::read::GzDecoder;
use relaybox_store::{Answer, AttestError, NewAttestation, NewMessage, TopicKey};
use serde::Serialize;

use super::{AttestationLine, Line, Stores, FORMAT, VERSION};

/// Acks sent per store call while positions are restored.
const ACK_BATCH: usize = 1_000;

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Messages stored.
    pub messages: u64,
    /// Messages the target already held (same topic and body).
    pub duplicates: u64,
    /// Messages, requests and registrations that expired since the export.
    pub expired: u64,
    pub subscriptions: u64,
    /// Subscriptions refused by the target's per-client limit.
    pub over_limit: u64,
    pub attestations: u64,
    /// Requests the target holds with a different content (kept as they are).
    pub conflicts: u64,
    pub watches: u64,
}

/// The lines of `path`, gzip'd or plain.
fn lines(path: &Path) -> anyhow::Result<impl Iterator<Item = anyhow::Result<Line>>> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    let file = std::fs::File::open(path)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    Ok(BufReader::new(reader).lines().enumerate().map(|(i, line)| {
        let line = line.with_context(|| format!("reading line {}", i + 1))?;
        serde_json::from_str::<Line>(&line)
            .with_context(|| format!("line {} is not an export line", i + 1))
    }))
}

/// Checks the whole file; returns the relay key's seed.
fn check(path: &Path) -> anyhow::Result<[u8; 32]> {
    let mut lines = lines(path)?;
    match lines.next().transpose()? {
        Some(Line::Header {
            format, version, ..
        }) if format == FORMAT => {
            if version > VERSION {
                bail!("export version {version} is newer than this relaybox reads ({VERSION})");
            }
        }
        _ => bail!(
            "{} is not a relaybox export (no header line)",
            path.display()
        ),
    }
    let seed = match lines.next().transpose()? {
        Some(Line::Identity { relay_key }) => {
            crate::identity::parse_seed(&relay_key).context("the identity line")?
        }
        _ => bail!("the export has no identity line"),
    };
    let mut counts = [0u64; 4];
    let mut ended = None;
    for line in lines {
        let line = line?;
        if ended.is_some() {
            bail!("the export goes on after its end line");
        }
        match line {
            Line::Message { .. } => counts[0] += 1,
            Line::Subscription { .. } => counts[1] += 1,
            Line::Attestation(_) => counts[2] += 1,
            Line::Watch(_) => counts[3] += 1,
            Line::End {
                messages,
                subscriptions,
                attestations,
                watches,
            } => {
                ended = Some([messages, subscriptions, attestations, watches]);
            }
            Line::Header { .. } | Line::Identity { .. } => {
                bail!("a second header or identity line")
            }
        }
    }
    match ended {
        None => bail!("the export is truncated (no end line)"),
        Some(end) if end != counts => {
            bail!("the export's end line counts {end:?}, the file holds {counts:?}")
        }
        Some(_) => Ok(seed),
    }
}

/// The relay key in the export at `path`, after checking the whole file.
pub fn read_identity(path: &Path) -> anyhow::Result<[u8; 32]> {
    check(path)
}

/// Loads the export at `path` into `dst`. Subscriptions beyond
/// `max_subscriptions` per client are refused by the target and counted.
pub async fn import(
    path: &Path,
    dst: &Stores,
    max_subscriptions: usize,
) -> anyhow::Result<ImportReport> {
    check(path)?;
    let now = crate::now_ms();
    let mut report = ImportReport::default();
    // Each topic's (seq in the file, seq in the target), in order.
    let mut seqs: HashMap<TopicKey, Vec<(u64, u64)>> = HashMap::new();
    for line in lines(path)? {
        match line? {
            Line::Message {
                topic,
                seq,
                message,
                tag,
                prompt,
                published_at_ms,
                expires_at_ms,
                publisher,
                attestation,
            } => {
                let topic = parse_topic(&topic)?;
                if expires_at_ms <= now {
                    report.expired += 1;
                    continue;
                }
                let ttl_ms = expires_at_ms.saturating_sub(published_at_ms);
                let appended = dst
                    .mailbox
                    .append(NewMessage {
                        topic,
                        message: message.into(),
                        tag,
                        ttl_secs: u32::try_from(ttl_ms.div_ceil(1000))
                            .context("a message's TTL")?,
                        prompt,
                        attestation: attestation.map(Into::into),
                        publisher: publisher.into(),
                        published_at_ms,
                    })
                    .await
                    .with_context(|| format!("storing message {seq} of topic {topic}"))?;
                if appended.duplicate {
                    report.duplicates += 1;
                } else {
                    report.messages += 1;
                }
                seqs.entry(topic)
                    .or_default()
                    .push((seq, appended.message.seq));
            }
            Line::Subscription {
                client,
                topic,
                pending,
            } => {
                let topic = parse_topic(&topic)?;
                match dst
                    .mailbox
                    .subscribe(&client, topic, max_subscriptions)
                    .await
                {
                    Ok(_) => report.subscriptions += 1,
                    Err(relaybox_store::Error::SubscriptionLimit) => {
                        report.over_limit += 1;
                        continue;
                    }
                    Err(e) => return Err(e).context("storing a subscription"),
                }
                let pending: HashSet<u64> = pending.into_iter().collect();
                let done: Vec<u64> = seqs
                    .get(&topic)
                    .map(|all| {
                        all.iter()
                            .filter(|(old, _)| !pending.contains(old))
                            .map(|(_, new)| *new)
                            .collect()
                    })
                    .unwrap_or_default();
                for chunk in done.chunks(ACK_BATCH) {
                    dst.mailbox
                        .ack(&client, topic, chunk, now)
                        .await
                        .context("restoring a position")?;
                }
            }
            Line::Attestation(a) => import_attestation(dst, a, now, &mut report).await?,
            Line::Watch(w) => {
                let Some(watches) = &dst.watches else {
                    continue;
                };
                if w.expires_at <= (now / 1000) as i64 {
                    report.expired += 1;
                    continue;
                }
                watches
                    .put_watch(w, usize::MAX)
                    .await
                    .context("storing a webhook registration")?;
                report.watches += 1;
            }
            Line::Header { .. } | Line::Identity { .. } | Line::End { .. } => {}
        }
    }
    dst.mailbox.sync().await.context("committing the import")?;
    if let Some(watches) = &dst.watches {
        watches
            .sync()
            .await
            .context("committing the webhook registrations")?;
    }
    Ok(report)
}

async fn import_attestation(
    dst: &Stores,
    a: AttestationLine,
    now: u64,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if a.expires_at_ms < now {
        report.expired += 1;
        return Ok(());
    }
    let mut fingerprint = [0u8; 32];
    hex::decode_to_slice(&a.fingerprint, &mut fingerprint)
        .context("an attestation's fingerprint")?;
    let relay_topic = a.relay_topic.as_deref().map(parse_topic).transpose()?;
    let request = NewAttestation {
        request_id: a.request_id.clone(),
        app_identity: a.app_identity,
        auth_request: a.auth_request,
        created_at_ms: a.created_at_ms,
        expires_at_ms: a.expires_at_ms,
        relay_topic,
        wallet_did: a.wallet_did,
        fingerprint,
    };
    match dst.attest.create(request, a.created_at_ms).await {
        Ok(_) => {}
        Err(AttestError::Conflict) => {
            report.conflicts += 1;
            return Ok(());
        }
        Err(e) => return Err(e).context("storing an attestation request"),
    }
    let answer = match a.status.as_str() {
        "approved" => Answer::Approve {
            credential: a.credential.unwrap_or_default(),
        },
        "denied" => Answer::Deny {
            error: a.error.unwrap_or_else(|| "denied".into()),
        },
        _ => {
            report.attestations += 1;
            return Ok(());
        }
    };
    match dst
        .attest
        .answer(
            &a.request_id,
            answer,
            a.answered_at_ms.unwrap_or(a.created_at_ms),
        )
        .await
    {
        Ok(_) | Err(AttestError::AlreadyAnswered(_)) => report.attestations += 1,
        Err(e) => return Err(e).context("storing an attestation answer"),
    }
    Ok(())
}

fn parse_topic(hex: &str) -> anyhow::Result<TopicKey> {
    TopicKey::from_hex(hex).with_context(|| format!("{hex:?} is not a topic"))
}
