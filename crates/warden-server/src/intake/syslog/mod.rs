//! The syslog receiver (`[intake.syslog]`): RFC 5424 and RFC 3164
//! messages over UDP, TCP and TLS, carrying CEF, LEEF (1.0 and 2.0) or a
//! JSON alert in a format Warden reads.
//!
//! # Layout
//!
//! - `listen.rs`: the `listen` URLs (`udp://`, `tcp://`, `tls://`).
//! - `framing.rs`: RFC 6587 framing of a byte stream (octet counting or
//!   newlines, detected per connection), bounded by `max_message_bytes`.
//! - `transport.rs`: the sockets. UDP reads a datagram a message and never
//!   blocks: when the queue is full the message is dropped and counted.
//!   TCP and TLS connections wait for room in the queue instead (the
//!   sender is pushed back through TCP flow control); a semaphore bounds
//!   the connections of each listener.
//! - `ingest.rs`: a task per listener parses its queued messages (the syslog header
//!   split off by `warden_ingest::syslog::split`, the payload normalised
//!   with the receipt time for payloads that carry none), sends the alerts
//!   to the triage queue the push API uses, and dead-letters the rest with
//!   their reason.
//! - `stats.rs`: the counters of each listener (received, parsed,
//!   dead-lettered, dropped, oversized), also exported to `/metrics`.
//!
//! Data flow: socket -> framing -> the listener's bounded queue
//! (`queue_messages`) -> its ingest task -> triage queue (bounded in batches and bytes, as pushes
//! are) -> triage worker. Every message received ends as exactly one of:
//! an alert (`parsed`), a dead letter (`dead_lettered`), or, over UDP
//! only, a drop under overload (`dropped`).
//!
//! [`SyslogIntake::shutdown`] stops the listeners, lets each connection
//! hand over the messages it has already read, and waits until every
//! queued message is in the triage queue or the dead-letter store; stop it
//! before the workers, so that the triage worker still takes them.

mod framing;
mod ingest;
mod listen;
mod stats;
#[cfg(test)]
mod tests;
mod transport;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use warden_pipeline::config::SyslogConfig;

use crate::AppState;

pub use framing::{Decoder, Frame};
pub use listen::{ListenAddr, Transport};
pub use stats::{ListenerStats, Snapshot};

/// Why the receiver cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("[intake.syslog] listen: {0}")]
    Listen(String),
    #[error("[intake.syslog] cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("[intake.syslog] tls: {0}")]
    Tls(String),
}

/// One listener as bound.
#[derive(Debug, Clone)]
pub struct Listener {
    /// `syslog+udp://127.0.0.1:5514`: the listener part of every origin.
    pub name: String,
    pub transport: Transport,
    pub local_addr: SocketAddr,
    pub stats: Arc<ListenerStats>,
}

/// A message as read from a socket, waiting to be parsed.
#[derive(Debug)]
struct Received {
    listener: Arc<Listener>,
    peer: SocketAddr,
    frame: Frame,
    at: time::OffsetDateTime,
}

/// The running receiver.
#[derive(Debug)]
pub struct SyslogIntake {
    listeners: Vec<Arc<Listener>>,
    stop: watch::Sender<bool>,
    sockets: JoinSet<()>,
    ingest: JoinSet<()>,
}

/// Start the receiver `[intake.syslog]` describes in `state`'s
/// configuration, or `None` when it is not configured. Relative TLS paths
/// are read from `base` (the data directory). Every listener is bound
/// before this returns, so an address in use stops the server from
/// starting.
pub async fn start(state: &AppState, base: &Path) -> Result<Option<SyslogIntake>, StartError> {
    let Some(config) = state.pipeline().config().intake.syslog.clone() else {
        return Ok(None);
    };
    start_with(state, &config, base).await.map(Some)
}

/// [`start`] with an explicit configuration.
pub async fn start_with(
    state: &AppState,
    config: &SyslogConfig,
    base: &Path,
) -> Result<SyslogIntake, StartError> {
    let addrs = config
        .listen
        .iter()
        .map(|text| text.parse::<ListenAddr>().map_err(StartError::Listen))
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(StartError::Listen(
            "no listener: give at least one of udp://HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT"
                .into(),
        ));
    }
    let tls = if addrs.iter().any(|a| a.transport == Transport::Tls) {
        Some(transport::tls_acceptor(config, base)?)
    } else {
        None
    };
    let (stop, stopped) = watch::channel(false);
    let mut sockets = JoinSet::new();
    let mut ingest = JoinSet::new();
    let mut listeners = Vec::new();
    for addr in addrs {
        let bound = transport::bind(&addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: addr.to_string(),
                source,
            })?;
        let local_addr = bound.local_addr().map_err(|source| StartError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        let listener = Arc::new(Listener {
            name: format!("syslog+{}://{local_addr}", addr.transport.scheme()),
            transport: addr.transport,
            local_addr,
            stats: Arc::new(ListenerStats::default()),
        });
        listener.stats.register(&listener.name);
        // A queue and a parsing task per listener: a TCP sender waiting for
        // room never takes the room a UDP listener needs, and listeners
        // parse in parallel. The task ends once its listener has stopped
        // (every sender dropped) and its queue is empty.
        let (tx, rx) = mpsc::channel(config.queue_messages.max(1));
        ingest.spawn(ingest::run(state.clone(), rx));
        let run = transport::Run {
            listener: listener.clone(),
            queue: tx,
            stopped: stopped.clone(),
            max_message_bytes: config.max_message_bytes.max(1),
            max_connections: config.max_connections.max(1),
            tls: tls.clone(),
            state: state.clone(),
        };
        sockets.spawn(transport::run(bound, run));
        tracing::info!(listener = %listener.name, "syslog listener ready");
        listeners.push(listener);
    }
    Ok(SyslogIntake {
        listeners,
        stop,
        sockets,
        ingest,
    })
}

impl SyslogIntake {
    /// The listeners as bound (port 0 resolved).
    pub fn listeners(&self) -> &[Arc<Listener>] {
        &self.listeners
    }

    /// The listener bound to `local_addr` over `transport`.
    pub fn listener(&self, transport: Transport) -> Option<&Arc<Listener>> {
        self.listeners.iter().find(|l| l.transport == transport)
    }

    /// Stop: no new connections or datagrams; open connections hand over
    /// the messages already read and close; every queued message is
    /// parsed and sent to triage or dead-lettered before this returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.sockets.join_next().await.is_some() {}
        while let Some(done) = self.ingest.join_next().await {
            if let Err(err) = done {
                tracing::error!(error = %err, "a syslog ingest task failed");
            }
        }
        for listener in &self.listeners {
            let s = listener.stats.snapshot();
            tracing::info!(
                listener = %listener.name,
                received = s.received,
                parsed = s.parsed,
                dead_lettered = s.dead_lettered,
                dropped = s.dropped,
                "syslog listener stopped"
            );
        }
    }
}
