//! The sockets: a UDP socket, or a TCP listener whose connections are
//! read (through TLS for `tls://`) with RFC 6587 framing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use warden_pipeline::config::SyslogConfig;

use super::stats::Count;
use super::{Frame, ListenAddr, Listener, Received, StartError, Transport};
use crate::AppState;

/// Longest a TLS handshake may take before the connection is dropped (a
/// client that opens connections and never speaks holds no slot longer).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound socket.
#[derive(Debug)]
pub(super) enum Bound {
    Udp(UdpSocket),
    Tcp(TcpListener),
}

impl Bound {
    pub(super) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Bound::Udp(socket) => socket.local_addr(),
            Bound::Tcp(listener) => listener.local_addr(),
        }
    }
}

pub(super) async fn bind(addr: &ListenAddr) -> std::io::Result<Bound> {
    Ok(match addr.transport {
        Transport::Udp => Bound::Udp(UdpSocket::bind(&addr.host_port).await?),
        Transport::Tcp | Transport::Tls => Bound::Tcp(TcpListener::bind(&addr.host_port).await?),
    })
}

/// What a listener task needs.
#[derive(Clone)]
pub(super) struct Run {
    pub listener: Arc<Listener>,
    pub queue: mpsc::Sender<Received>,
    pub stopped: watch::Receiver<bool>,
    pub max_message_bytes: usize,
    pub max_connections: usize,
    pub tls: Option<TlsAcceptor>,
    pub state: AppState,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("listener", &self.listener.name)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Run {
    fn received(&self, peer: SocketAddr, frame: Frame) -> Received {
        self.listener
            .stats
            .add(&self.listener.name, Count::Received, 1);
        Received {
            listener: self.listener.clone(),
            peer,
            frame,
            at: self.state.now(),
        }
    }
}

pub(super) async fn run(bound: Bound, run: Run) {
    match bound {
        Bound::Udp(socket) => udp(socket, run).await,
        Bound::Tcp(listener) => tcp(listener, run).await,
    }
}

/// One message a datagram. Never waits for the queue: a full queue drops
/// the message and counts it (the sender cannot be pushed back).
async fn udp(socket: UdpSocket, mut run: Run) {
    // One byte more than the limit tells an oversized datagram (the kernel
    // truncates it to the buffer) from one exactly at the limit.
    let mut buf = vec![0u8; run.max_message_bytes.saturating_add(1).min(65_536)];
    loop {
        let (n, peer) = tokio::select! {
            biased;
            _ = run.stopped.changed() => break,
            read = socket.recv_from(&mut buf) => match read {
                Ok(read) => read,
                Err(err) => {
                    // ICMP errors surface here on some systems; keep going.
                    tracing::debug!(listener = %run.listener.name, error = %err, "udp receive");
                    continue;
                }
            },
        };
        let data = buf.get(..n).unwrap_or_default();
        let frame = if n > run.max_message_bytes {
            Frame::Oversized {
                prefix: data.get(..run.max_message_bytes).unwrap_or(data).to_vec(),
                length: n,
            }
        } else {
            let mut end = data.len();
            while end > 0 && matches!(data.get(end - 1), Some(b'\n' | b'\r' | b'\0')) {
                end -= 1;
            }
            let message = data.get(..end).unwrap_or_default();
            if message.is_empty() {
                continue;
            }
            Frame::Message(message.to_vec())
        };
        let received = run.received(peer, frame);
        if run.queue.try_send(received).is_err() {
            run.listener
                .stats
                .add(&run.listener.name, Count::Dropped, 1);
        }
    }
}

/// Accept connections (up to `max_connections` at once) and read each in
/// its own task.
async fn tcp(listener: TcpListener, mut run: Run) {
    let slots = Arc::new(Semaphore::new(run.max_connections));
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = run.stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(listener = %run.listener.name, error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(
                listener = %run.listener.name,
                %peer,
                max = run.max_connections,
                "syslog connection refused: too many open connections"
            );
            drop(stream);
            continue;
        };
        let run = run.clone();
        connections.spawn(async move {
            connection(stream, peer, run).await;
            drop(slot);
        });
    }
    // Stopping: each connection hands over what it has read, then closes.
    while connections.join_next().await.is_some() {}
}

async fn connection(stream: TcpStream, peer: SocketAddr, run: Run) {
    let _ = stream.set_nodelay(true);
    match run.tls.clone() {
        None => read_frames(stream, peer, run).await,
        Some(acceptor) => {
            let mut stopped = run.stopped.clone();
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            let tls = tokio::select! {
                _ = stopped.changed() => return,
                done = handshake => done,
            };
            match tls {
                Ok(Ok(stream)) => read_frames(stream, peer, run).await,
                Ok(Err(err)) => {
                    tracing::warn!(listener = %run.listener.name, %peer, error = %err, "TLS handshake failed");
                }
                Err(_) => {
                    tracing::warn!(listener = %run.listener.name, %peer, "TLS handshake timed out");
                }
            }
        }
    }
}

/// Read a connection until it closes, it breaks the framing, or the
/// receiver stops. Each message waits for room in the queue: while it
/// waits nothing more is read, so TCP flow control pushes the sender back.
async fn read_frames<S: AsyncRead + Unpin>(mut stream: S, peer: SocketAddr, run: Run) {
    let mut stopped = run.stopped.clone();
    let mut decoder = super::Decoder::new(run.max_message_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    let mut frames = Vec::new();
    loop {
        let want = decoder.room().min(buf.len());
        let read = tokio::select! {
            biased;
            _ = stopped.changed() => break,
            read = stream.read(buf.get_mut(..want).unwrap_or_default()) => read,
        };
        match read {
            Ok(0) => {
                decoder.finish(&mut frames);
                let _ = hand_over(&run, peer, &mut frames).await;
                break;
            }
            Ok(n) => decoder.push(buf.get(..n).unwrap_or_default(), &mut frames),
            Err(err) => {
                tracing::debug!(listener = %run.listener.name, %peer, error = %err, "syslog connection read");
                decoder.finish(&mut frames);
                let _ = hand_over(&run, peer, &mut frames).await;
                break;
            }
        }
        if hand_over(&run, peer, &mut frames).await.is_err() || decoder.is_broken() {
            break;
        }
    }
    // Stopping (or broken): what was read whole is already handed over.
    let _ = hand_over(&run, peer, &mut frames).await;
    if decoder.is_broken() {
        tracing::warn!(
            listener = %run.listener.name,
            %peer,
            framing = decoder.mode_name().unwrap_or("none"),
            "syslog connection closed: framing broken"
        );
    }
}

/// Queue `frames`, waiting for room (backpressure). Err when the ingest
/// task is gone.
async fn hand_over(run: &Run, peer: SocketAddr, frames: &mut Vec<Frame>) -> Result<(), ()> {
    for frame in frames.drain(..) {
        let received = run.received(peer, frame);
        if run.queue.send(received).await.is_err() {
            return Err(());
        }
    }
    Ok(())
}

/// The TLS acceptor of the `tls://` listeners, with rustls' ring provider
/// handed in (never installed process-wide: see DEPENDENCIES.md).
pub(super) fn tls_acceptor(config: &SyslogConfig, base: &Path) -> Result<TlsAcceptor, StartError> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let (Some(cert), Some(key)) = (&config.tls_certificate, &config.tls_key) else {
        return Err(StartError::Tls(
            "a tls:// listener needs tls_certificate and tls_key (PEM files)".into(),
        ));
    };
    let cert_path = base.join(cert);
    let key_path = base.join(key);
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| StartError::Tls(format!("cannot read {}: {e}", cert_path.display())))?;
    if certs.is_empty() {
        return Err(StartError::Tls(format!(
            "{} holds no PEM certificate",
            cert_path.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| StartError::Tls(format!("cannot read {}: {e}", key_path.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StartError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| StartError::Tls(format!("certificate and key: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}
