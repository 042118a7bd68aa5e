//! Queued messages to alerts (sent to triage) or dead letters.
//!
//! A message is read as `warden_ingest::syslog::split` reads it: the
//! syslog header, then a CEF or LEEF payload from its marker, normalised
//! with [`warden_ingest::formats::normalise_received`] so that a payload
//! that carries no time of its own (a CEF line without `rt`, a LEEF line
//! without `devTime`, a year-less date) takes the RFC 5424 header's time,
//! else the time the receiver read it. A message with no CEF or LEEF
//! marker may carry a JSON alert after its header (`{` ...), read by
//! `warden_ingest::parse_record` as a pushed alert is, every format and
//! configured mapping included. The alert's raw copy is the whole message
//! as received, header included.
//!
//! Alerts go to the push API's triage queue in batches of what arrived
//! within [`LINGER`] (at most [`BATCH`] messages), so alerts that arrived together are
//! correlated together, as the alerts of one push are. The queue is
//! bounded in batches and in bytes (`[server] triage_queue_max_bytes`):
//! when it is full this task waits, the syslog queue fills, and TCP
//! senders are pushed back (UDP messages are dropped and counted).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use warden_audit::AuditLog as _;
use warden_domain::{Alert, AuditEvent, SourceFormat};
use warden_ingest::{IngestError, Limits, ReadOptions};
use warden_store::DeadLetter;

use super::stats::Count;
use super::{Frame, Listener, Received};
use crate::AppState;

/// Most messages parsed and sent to triage as one batch.
pub(super) const BATCH: usize = 256;

/// Longest a message waits for others to share its batch. The triage
/// queue is bounded in batches (as in bytes): a trickle sent one message
/// a batch would fill it long before its bytes do.
const LINGER: Duration = Duration::from_millis(100);

/// The audit actor of the receiver's dead letters.
const ACTOR: &str = "system:syslog";

pub(super) async fn run(state: AppState, mut queue: mpsc::Receiver<Received>) {
    let mut waiting = Vec::with_capacity(BATCH);
    // Ends when every listener has stopped and the queue is empty.
    while queue.recv_many(&mut waiting, BATCH).await > 0 {
        let until = tokio::time::Instant::now() + LINGER;
        while waiting.len() < BATCH {
            let room = BATCH - waiting.len();
            match tokio::time::timeout_at(until, queue.recv_many(&mut waiting, room)).await {
                // Closed (stopping), or the time is up.
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let mut alerts = Vec::new();
        let mut parsed_by: Vec<Arc<Listener>> = Vec::new();
        let mut bytes = 0;
        for received in waiting.drain(..) {
            match parse(&state, &received) {
                Ok(alert) => {
                    bytes += message_len(&received.frame);
                    alerts.push(alert);
                    parsed_by.push(received.listener);
                }
                Err(error) => {
                    let oversized = matches!(received.frame, Frame::Oversized { .. });
                    reject(&state, &received.listener, error, oversized).await;
                }
            }
        }
        if alerts.is_empty() {
            continue;
        }
        let count = alerts.len();
        to_triage(&state, alerts, bytes).await;
        crate::metrics::alerts_received(count, 0);
        for listener in parsed_by {
            listener.stats.add(&listener.name, Count::Parsed, 1);
        }
    }
}

fn message_len(frame: &Frame) -> usize {
    match frame {
        Frame::Message(bytes) => bytes.len(),
        Frame::Oversized { prefix, .. } => prefix.len(),
        Frame::Broken { bytes, .. } => bytes.len(),
    }
}

/// The origin every alert and dead letter of a message names:
/// `syslog+udp://0.0.0.0:5514 from 192.0.2.7:40000`.
pub(super) fn origin(listener: &Listener, peer: std::net::SocketAddr) -> String {
    format!("{} from {peer}", listener.name)
}

/// One message to an alert, or the reason it is not one (with the bytes
/// to keep).
fn parse(state: &AppState, received: &Received) -> Result<Alert, IngestError> {
    let origin = origin(&received.listener, received.peer);
    let refuse = |reason: String, payload: &[u8]| IngestError {
        origin: origin.clone(),
        reason,
        payload: payload.to_vec(),
    };
    let bytes = match &received.frame {
        Frame::Message(bytes) => bytes,
        Frame::Oversized { prefix, length } => {
            let max = prefix.len();
            // A datagram is cut by the kernel at one byte over the limit:
            // its real length is not known.
            let size = if *length > max + 1 {
                format!("message of {length} bytes")
            } else {
                format!("message of more than {max} bytes")
            };
            return Err(refuse(
                format!(
                    "{size} is over the limit of {max} bytes ([intake.syslog] \
                     max_message_bytes); its first {max} bytes are kept"
                ),
                prefix,
            ));
        }
        Frame::Broken { bytes, reason } => return Err(refuse(reason.clone(), bytes)),
    };
    let text = std::str::from_utf8(bytes)
        .map_err(|e| refuse(format!("invalid UTF-8 at byte {}", e.valid_up_to()), bytes))?;
    match warden_ingest::syslog::split(text) {
        Ok(message) => {
            let format = match message.format {
                warden_ingest::syslog::PayloadFormat::Cef => SourceFormat::Cef,
                warden_ingest::syslog::PayloadFormat::Leef => SourceFormat::Leef,
            };
            let line = text.trim_end_matches(['\r', '\n', '\0']);
            let dated = message.header.time.unwrap_or(received.at);
            warden_ingest::formats::normalise_received(
                format,
                serde_json::Value::String(line.to_owned()),
                &origin,
                &warden_domain::hashing::sha256_hex(bytes),
                Some(dated),
            )
            .map_err(|e| refuse(e.to_string(), bytes))
        }
        Err(warden_ingest::syslog::SyslogError::NoPayload) => match text.find('{') {
            // A JSON alert after the header, read as a pushed one.
            Some(at) => {
                let pipeline = state.pipeline();
                let ingest = &pipeline.config().ingest;
                let options = ReadOptions {
                    limits: Limits {
                        max_alert_bytes: ingest.max_alert_bytes,
                        max_depth: ingest.max_depth,
                    },
                    formats: pipeline.formats().clone(),
                    forced: None,
                };
                let json = text.get(at..).unwrap_or_default().trim_end();
                warden_ingest::parse_record(&origin, json.as_bytes(), &options)
                    .map_err(|e| refuse(e.reason, bytes))
            }
            None => Err(refuse(
                "no CEF, LEEF or JSON payload: no CEF: or LEEF: marker and no JSON object \
                 after the syslog header"
                    .into(),
                bytes,
            )),
        },
        Err(err) => Err(refuse(err.to_string(), bytes)),
    }
}

/// Keep a message that is not an alert in the dead-letter store, on the
/// record first (S5), as the pipeline keeps a rejected record
/// (`ingest_rejected` with the reason redacted, then the letter with the
/// payload). A failure to record it is logged and the message is lost:
/// the store is then failing for everything else too.
async fn reject(state: &AppState, listener: &Listener, error: IngestError, oversized: bool) {
    // INVARIANT: the audit entry is appended before the letter is stored.
    let sha256 = warden_domain::hashing::sha256_hex(&error.payload);
    let recorded = state
        .audit()
        .append(
            ACTOR,
            AuditEvent::IngestRejected {
                origin: error.origin.clone(),
                reason: warden_domain::redact::redacted(&error.reason),
                raw_sha256: sha256.clone(),
            },
        )
        .await;
    if let Err(err) = recorded {
        tracing::error!(origin = %error.origin, error = %err, "cannot record a rejected syslog message");
        return;
    }
    let letter = DeadLetter {
        id: format!("dl-{}", uuid::Uuid::now_v7()),
        origin: error.origin.clone(),
        reason: error.reason.clone(),
        payload: error.payload,
        sha256,
        received_at: state.now(),
        resolved_at: None,
        resolution: None,
    };
    if let Err(err) = state.store().add_dead_letter(&letter).await {
        tracing::error!(origin = %error.origin, error = %err, "cannot store a syslog dead letter");
        return;
    }
    if oversized {
        listener.stats.add(&listener.name, Count::Oversized, 1);
    }
    listener.stats.add(&listener.name, Count::DeadLettered, 1);
    crate::metrics::alerts_received(0, 1);
    tracing::info!(
        origin = %error.origin,
        reason = %warden_domain::redact::redacted(&error.reason),
        dead_letter = %letter.id,
        "syslog message dead-lettered"
    );
}

/// Hand `alerts` to the triage worker through the push API's queue,
/// waiting while it is full (in batches or in bytes).
async fn to_triage(state: &AppState, alerts: Vec<Alert>, bytes: usize) {
    let received = std::time::Instant::now();
    if let Some(stream) = state.stream() {
        // The shared stream (`[queue] url`): syslog has no way to ask the
        // sender to resend, so keep trying while the stream is full or
        // away (the listener's buffers push back meanwhile).
        loop {
            match stream.publish(&alerts).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, alerts = alerts.len(), "syslog alerts wait for the stream");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }
    let Ok(permit) = state.triage_sender().reserve().await else {
        tracing::error!(
            alerts = alerts.len(),
            "the triage worker is gone; syslog alerts not triaged"
        );
        return;
    };
    let queued = loop {
        if let Some(queued) = state.limits().reserve(bytes) {
            break queued;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    permit.send(crate::Batch {
        alerts,
        received,
        queued,
        delivery: None,
    });
}
