#![allow(dead_code, reason = "each test file uses a part")]
//! A server with its workers and a syslog receiver on loopback, and ways to
//! send to it and to read what it made of the messages.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpStream, UdpSocket};
use warden_audit::AuditLog as _;
use warden_domain::AuditEvent;
use warden_pipeline::Config;
use warden_pipeline::config::SyslogConfig;
use warden_policy::PolicyEngine;
use warden_server::intake::syslog::{Listener, Snapshot, SyslogIntake, Transport};
use warden_server::workers::Workers;
use warden_store::DeadLetter;

use crate::common;

/// A running server: state, workers and the receiver.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub state: warden_server::AppState,
    pub workers: Option<Workers>,
    pub intake: Option<SyslogIntake>,
}

/// What the server made of the messages, read after it stopped.
#[derive(Debug)]
pub struct Outcome {
    /// `(origin, format)` of every `alert_ingested` entry.
    pub ingested: Vec<(String, String)>,
    pub dead_letters: Vec<DeadLetter>,
    pub cases: usize,
}

/// A vendor example line from `crates/warden-ingest/testdata`.
pub fn testdata_line(file: &str, line: usize) -> String {
    let path = common::repo()
        .join("crates/warden-ingest/testdata")
        .join(file);
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .nth(line - 1)
        .unwrap()
        .to_owned()
}

impl Harness {
    /// A server over a fresh data directory whose `[intake.syslog]` is
    /// `syslog` (TLS paths relative to the data directory).
    pub async fn start(syslog: SyslogConfig) -> Self {
        let mut config = Config::default();
        config.intake.syslog = Some(syslog.clone());
        let context = common::example_context(&config);
        let parts = common::Parts::new(config, PolicyEngine::default_set().unwrap(), context).await;
        Self::start_over(parts, syslog).await
    }

    /// As [`Harness::start`], after `prepare` has written files into the
    /// data directory (certificates).
    pub async fn start_with_files(syslog: SyslogConfig, prepare: impl FnOnce(&Path)) -> Self {
        let mut config = Config::default();
        config.intake.syslog = Some(syslog.clone());
        let context = common::example_context(&config);
        let parts = common::Parts::new(config, PolicyEngine::default_set().unwrap(), context).await;
        prepare(parts.dir.path());
        Self::start_over(parts, syslog).await
    }

    async fn start_over(parts: common::Parts, _syslog: SyslogConfig) -> Self {
        let common::Server {
            dir, state, queue, ..
        } = parts.serve();
        let workers = warden_server::workers::spawn(&state, queue);
        let intake = warden_server::intake::syslog::start(&state, dir.path())
            .await
            .unwrap()
            .expect("[intake.syslog] is configured");
        Self {
            dir,
            state,
            workers: Some(workers),
            intake: Some(intake),
        }
    }

    pub fn listener(&self, transport: Transport) -> Arc<Listener> {
        self.intake
            .as_ref()
            .unwrap()
            .listener(transport)
            .unwrap()
            .clone()
    }

    pub fn addr(&self, transport: Transport) -> SocketAddr {
        self.listener(transport).local_addr
    }

    pub fn stats(&self, transport: Transport) -> Snapshot {
        self.listener(transport).stats.snapshot()
    }

    /// Wait until `transport`'s listener has received `n` messages and
    /// accounted for each (parsed, dead-lettered or dropped), or `limit`.
    pub async fn settle(&self, transport: Transport, n: u64, limit: Duration) -> Snapshot {
        let start = Instant::now();
        loop {
            let s = self.stats(transport);
            if (s.received >= n && s.in_flight() == 0) || start.elapsed() > limit {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Alerts the triage worker has recorded (`alert_ingested`) so far.
    pub async fn triaged(&self) -> usize {
        self.state
            .store()
            .audit_search(&warden_store::AuditQuery {
                kinds: vec!["alert_ingested".into()],
                ..Default::default()
            })
            .await
            .unwrap()
            .len()
    }

    /// Stop the receiver only (its queue drained into triage).
    pub async fn stop_receiver(&mut self) {
        if let Some(intake) = self.intake.take() {
            intake.shutdown().await;
        }
    }

    /// Stop as `warden serve` does (receiver, then workers), and read what
    /// the store holds.
    pub async fn stop(mut self) -> Outcome {
        if let Some(intake) = self.intake.take() {
            intake.shutdown().await;
        }
        if let Some(workers) = self.workers.take() {
            workers.shutdown().await;
        }
        let state = &self.state;
        let ingested = state
            .audit()
            .records(None)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|r| match r.entry.event {
                AuditEvent::AlertIngested { origin, format, .. } => {
                    Some((origin, format.as_str().to_owned()))
                }
                _ => None,
            })
            .collect();
        let dead_letters = state.store().dead_letters().await.unwrap();
        let cases = state.store().cases(u32::MAX).await.unwrap().len();
        Outcome {
            ingested,
            dead_letters,
            cases,
        }
    }
}

/// The receiver's configuration with `listen`, other settings default.
pub fn config(listen: &[&str]) -> SyslogConfig {
    SyslogConfig {
        listen: listen.iter().map(|s| (*s).to_owned()).collect(),
        ..SyslogConfig::default()
    }
}

pub async fn send_udp(to: SocketAddr, messages: &[String]) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for message in messages {
        socket.send_to(message.as_bytes(), to).await.unwrap();
    }
}

/// RFC 6587 octet counting.
pub fn octet_counted(messages: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
    }
    out
}

/// Newline framing.
pub fn newline_framed(messages: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(m.as_bytes());
        out.push(b'\n');
    }
    out
}

pub async fn send_tcp(to: SocketAddr, bytes: &[u8]) -> SocketAddr {
    let mut stream = TcpStream::connect(to).await.unwrap();
    let local = stream.local_addr().unwrap();
    stream.write_all(bytes).await.unwrap();
    stream.shutdown().await.unwrap();
    local
}
