//! The alert stream between intake and triage (`[queue]`).
//!
//! By default accepted alerts wait in the process (a bounded channel): a
//! crash loses what was queued and not yet triaged. With `[queue] url =
//! "nats://..."` they go to a NATS JetStream stream instead:
//!
//! - intake (pushes, syslog) publishes each accepted alert, its id as the
//!   `Nats-Msg-Id` (JetStream drops a re-sent copy within its duplicate
//!   window), and answers the sender only once the stream holds them all;
//! - every replica's [`feed`] task pulls from one durable consumer and
//!   hands the alerts to the same triage worker as the local queue;
//! - a message is acknowledged only after its case committed (or its
//!   failure was handled), so a replica that dies mid-triage leaves it to
//!   be redelivered; an alert redelivered after its case committed is
//!   recognised by its id in the store and never makes a second case.
//!
//! The stream uses work-queue retention: an acknowledged alert leaves it.

use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures_util::StreamExt as _;
use tokio::sync::watch;
use warden_domain::{Alert, AlertId};
use warden_pipeline::QueueConfig;

use crate::AppState;

/// How long one pull waits for messages before looking at the stop signal.
const FETCH_WAIT: Duration = Duration::from_secs(1);
/// Back-off after NATS failed a pull (it reconnects by itself meanwhile).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// Redelivery delay asked for an alert whose triage could not start (its
/// receipt could not be recorded: the store is unavailable).
const REDELIVER_AFTER: Duration = Duration::from_secs(5);

/// Why the stream could not be used; each names the URL (never a
/// password) and what failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("NATS at {url}: cannot open stream {stream}: {reason}")]
    Stream {
        url: String,
        stream: String,
        reason: String,
    },
    #[error("NATS at {url}: cannot open consumer {consumer} on stream {stream}: {reason}")]
    Consumer {
        url: String,
        stream: String,
        consumer: String,
        reason: String,
    },
}

/// Why alerts could not be published: the sender should try again.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The stream holds `[queue] max_alerts`: triage is behind.
    #[error("the alert stream is full")]
    Full,
    /// NATS did not take or did not confirm the alerts.
    #[error("the alert stream at {url} did not take the alerts: {reason}")]
    Unavailable { url: String, reason: String },
}

/// A JetStream stream of alerts, shared by every replica.
#[derive(Debug, Clone)]
pub struct AlertStream {
    url: String,
    config: QueueConfig,
    jetstream: jetstream::Context,
    consumer: PullConsumer,
    /// The last failure pulling from NATS, cleared by the next success
    /// (shown by `warden intake status`).
    last_error: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl AlertStream {
    /// Connect to `url`, creating the stream and the durable consumer when
    /// they are missing.
    pub async fn connect(url: &str, config: &QueueConfig) -> Result<Self, QueueError> {
        let shown = masked(url);
        let client = async_nats::ConnectOptions::new()
            .name("warden")
            .connection_timeout(Duration::from_secs(5))
            // Keep reconnecting while running: a restart of NATS pauses
            // intake and triage instead of stopping the replica.
            .max_reconnects(None)
            .connect(url)
            .await
            .map_err(|err| QueueError::Connect {
                url: shown.clone(),
                reason: err.to_string(),
            })?;
        let jetstream = jetstream::new(client);
        let stream = jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: config.stream.clone(),
                subjects: vec![config.subject.clone()],
                retention: jetstream::stream::RetentionPolicy::WorkQueue,
                storage: jetstream::stream::StorageType::File,
                discard: jetstream::stream::DiscardPolicy::New,
                max_messages: config.max_alerts,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|err| QueueError::Stream {
                url: shown.clone(),
                stream: config.stream.clone(),
                reason: err.to_string(),
            })?;
        let consumer = stream
            .get_or_create_consumer(
                &config.consumer,
                jetstream::consumer::pull::Config {
                    durable_name: Some(config.consumer.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(config.ack_wait_seconds.max(1)),
                    ..Default::default()
                },
            )
            .await
            .map_err(|err| QueueError::Consumer {
                url: shown.clone(),
                stream: config.stream.clone(),
                consumer: config.consumer.clone(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            url: shown,
            config: config.clone(),
            jetstream,
            consumer,
            last_error: std::sync::Arc::default(),
        })
    }

    /// The stream's URL as it may be shown (password masked).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Backlog and last error, for `warden intake status`.
    pub async fn status(&self) -> crate::intake::status::StreamStatus {
        let (pending, in_triage, asked) = match self.consumer.get_info().await {
            Ok(info) => (
                Some(info.num_pending),
                Some(info.num_ack_pending as u64),
                None,
            ),
            Err(err) => (None, None, Some(err.to_string())),
        };
        let last_error = asked.or_else(|| self.last_error().clone());
        crate::intake::status::StreamStatus {
            url: self.url.clone(),
            stream: self.config.stream.clone(),
            consumer: self.config.consumer.clone(),
            pending,
            in_triage,
            last_error,
        }
    }

    fn last_error(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Publish `alerts` and wait until the stream holds every one.
    ///
    /// A batch that would not fit is refused whole before anything is
    /// published, so a sender told to retry does not also leave part of it
    /// queued (two pushes racing for the last places can still split one).
    pub async fn publish(&self, alerts: &[Alert]) -> Result<(), PublishError> {
        let unavailable = |reason: String| PublishError::Unavailable {
            url: self.url.clone(),
            reason,
        };
        let held = self
            .jetstream
            .get_stream(&self.config.stream)
            .await
            .map_err(|err| unavailable(err.to_string()))?
            .cached_info()
            .state
            .messages;
        let room = u64::try_from(self.config.max_alerts).unwrap_or(0);
        if held.saturating_add(alerts.len() as u64) > room {
            return Err(PublishError::Full);
        }
        let mut pending = Vec::with_capacity(alerts.len());
        for alert in alerts {
            let body = serde_json::to_vec(alert).map_err(|err| unavailable(err.to_string()))?;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert(async_nats::header::NATS_MESSAGE_ID, alert.id.to_string());
            let ack = self
                .jetstream
                .publish_with_headers(self.config.subject.clone(), headers, body.into())
                .await
                .map_err(|err| unavailable(err.to_string()))?;
            pending.push(ack);
        }
        for ack in pending {
            if let Err(err) = ack.await {
                let reason = err.to_string();
                // JetStream's "maximum messages exceeded" (discard new).
                if reason.contains("maximum messages") {
                    return Err(PublishError::Full);
                }
                return Err(unavailable(reason));
            }
        }
        Ok(())
    }
}

/// Alerts taken from the stream, settled once their triage is over.
pub(crate) struct Delivery {
    /// Each message with the alert it carries.
    messages: Vec<(AlertId, jetstream::Message)>,
    progress: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("messages", &self.messages.len())
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Hold `messages` while they are triaged: NATS is told the work is in
    /// progress well before the ack wait lapses, so a slow triage is not
    /// redelivered to another replica.
    fn hold(messages: Vec<(AlertId, jetstream::Message)>, ack_wait: Duration) -> Self {
        let replies: Vec<_> = messages
            .iter()
            .filter_map(|(_, m)| m.reply.clone())
            .collect();
        let client = messages.first().map(|(_, m)| m.context.clone());
        let progress = tokio::spawn(async move {
            let Some(context) = client else { return };
            let client = context.client();
            let every = (ack_wait / 3).max(Duration::from_millis(200));
            loop {
                tokio::time::sleep(every).await;
                for reply in &replies {
                    // "+WPI": JetStream's in-progress acknowledgement.
                    let _ = client.publish(reply.clone(), "+WPI".into()).await;
                }
            }
        });
        Self { messages, progress }
    }

    /// Triage is over: acknowledge each message (confirmed by NATS), or
    /// ask for its redelivery when `again` says its alert's outcome could
    /// not be recorded (the store or the log failing).
    pub(crate) async fn settle(self, again: impl Fn(&AlertId) -> bool) {
        self.progress.abort();
        for (alert, message) in &self.messages {
            let result = if !again(alert) {
                message.double_ack().await
            } else {
                message.ack_with(AckKind::Nak(Some(REDELIVER_AFTER))).await
            };
            if let Err(err) = result {
                // Not acknowledged: NATS redelivers it after the ack wait,
                // and the store recognises its alert.
                tracing::warn!(error = %err, "cannot acknowledge an alert on the stream");
            }
        }
    }
}

/// Pull alerts from the stream and hand them to the triage worker until
/// `stopped`. Alerts whose case is already stored (a redelivery) are
/// acknowledged without triage; a message that is not an alert is
/// dead-lettered with its reason and taken off the stream.
pub async fn feed(state: AppState, stream: AlertStream, mut stopped: watch::Receiver<bool>) {
    let ack_wait = Duration::from_secs(stream.config.ack_wait_seconds.max(1));
    loop {
        if *stopped.borrow() {
            break;
        }
        let batch = stream
            .consumer
            .fetch()
            .max_messages(stream.config.fetch_batch.max(1))
            .expires(FETCH_WAIT)
            .messages()
            .await;
        let mut batch = match batch {
            Ok(batch) => {
                *stream.last_error() = None;
                batch
            }
            Err(err) => {
                tracing::error!(url = %stream.url, error = %err, "cannot pull alerts from the stream");
                *stream.last_error() = Some(format!("{}: {err}", state.now()));
                crate::metrics::stream_failure();
                tokio::select! {
                    _ = stopped.changed() => break,
                    () = tokio::time::sleep(RETRY_AFTER_FAILURE) => continue,
                }
            }
        };
        let mut messages = Vec::new();
        while let Some(next) = batch.next().await {
            match next {
                Ok(message) => messages.push(message),
                Err(err) => {
                    tracing::warn!(url = %stream.url, error = %err, "a pull from the stream ended early");
                    break;
                }
            }
        }
        if messages.is_empty() {
            continue;
        }
        hand_over(&state, messages, ack_wait).await;
    }
}

/// Decode, drop what is already stored, and queue the rest for triage.
async fn hand_over(state: &AppState, messages: Vec<jetstream::Message>, ack_wait: Duration) {
    let received = std::time::Instant::now();
    let mut alerts = Vec::with_capacity(messages.len());
    let mut kept = Vec::with_capacity(messages.len());
    for message in messages {
        match serde_json::from_slice::<Alert>(&message.payload) {
            Ok(alert) => {
                kept.push((alert.id, message));
                alerts.push(alert);
            }
            Err(err) => {
                not_an_alert(state, &message, &err.to_string()).await;
                let _ = message.ack_with(AckKind::Term).await;
            }
        }
    }
    let ids: Vec<_> = alerts.iter().map(|a| a.id).collect();
    let stored = match state.store().stored_alert_ids(&ids).await {
        Ok(stored) => stored,
        Err(err) => {
            tracing::error!(error = %err, "cannot look up redelivered alerts; they wait on the stream");
            Delivery::hold(kept, ack_wait).settle(|_| true).await;
            return;
        }
    };
    if !stored.is_empty() {
        let mut fresh = Vec::with_capacity(alerts.len());
        let mut fresh_messages = Vec::with_capacity(alerts.len());
        for (alert, (id, message)) in alerts.into_iter().zip(kept) {
            if stored.contains(&id) {
                crate::metrics::alert_redelivered();
                tracing::info!(alert = %alert.id, "redelivered alert already has its case");
                if let Err(err) = message.double_ack().await {
                    tracing::warn!(error = %err, "cannot acknowledge a redelivered alert");
                }
            } else {
                fresh.push(alert);
                fresh_messages.push((id, message));
            }
        }
        alerts = fresh;
        kept = fresh_messages;
    }
    if alerts.is_empty() {
        return;
    }
    let delivery = Delivery::hold(kept, ack_wait);
    let bytes = alerts.iter().map(|a| a.raw.to_string().len()).sum();
    let Ok(permit) = state.triage_sender().reserve().await else {
        tracing::error!("the triage worker is gone; alerts stay on the stream");
        delivery.settle(|_| true).await;
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
        delivery: Some(delivery),
    });
}

/// Keep a message that is not an alert as a dead letter, with its reason.
async fn not_an_alert(state: &AppState, message: &jetstream::Message, reason: &str) {
    use sha2::Digest as _;
    let letter = warden_store::DeadLetter {
        id: format!("dl-{}", uuid::Uuid::now_v7()),
        origin: format!("nats:{}", message.subject),
        reason: format!("not an alert: {reason}"),
        payload: message.payload.to_vec(),
        sha256: hex::encode(sha2::Sha256::digest(&message.payload)),
        received_at: state.now(),
        resolved_at: None,
        resolution: None,
    };
    if let Err(err) = state.store().add_dead_letter(&letter).await {
        tracing::error!(error = %err, "cannot store a dead letter from the stream");
    }
}

/// `url` with any password replaced, for messages and logs.
pub fn masked(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::masked;

    #[test]
    fn passwords_never_show_in_a_stream_url() {
        assert_eq!(
            masked("nats://warden:s3cret@10.0.0.5:4222"),
            "nats://warden:***@10.0.0.5:4222"
        );
        assert_eq!(masked("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }
}
