//! The syslog witness: every checkpoint as one RFC 5424 message to a SIEM
//! or a log collector that another team runs.
//!
//! The message is the one `warden audit export --format syslog` would
//! write for an entry, with the checkpoint in it instead:
//!
//! ```text
//! <109>1 2026-11-22T01:00:17.000000Z HOST warden PID checkpoint [warden@32473 origin="warden.audit/…" size="129" root="…"] BOM<signed note>
//! ```
//!
//! Facility 13 (log audit), severity 5 (notice): PRI 109. APP-NAME
//! `warden`, MSGID `checkpoint`, the timestamp the checkpoint was signed.
//! MSG is the signed note byte for byte (UTF-8 after the BOM RFC 5424
//! asks for), its newlines included: over UDP (RFC 5426) the datagram is
//! the frame; over TCP each message is framed by octet counting (RFC 6587
//! section 3.4.1, `LEN SP MSG`), so a newline cannot split it. A collector
//! that stores messages one per line may escape the newlines (rsyslog
//! writes `#012`); undo that to check the note with the public key.
//!
//! Syslog is push-only: nothing can be read back from it, so `warden audit
//! verify` cannot check against a syslog witness and says so.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use warden_store::StoredCheckpoint;

use crate::AuditError;
use crate::export::{FACILITY_LOG_AUDIT, MAX_DATAGRAM, SD_ID, header_field, sd_value, timestamp};

/// Longest a push may take (name look-up, connection, write).
const TIMEOUT: Duration = Duration::from_secs(5);
/// RFC 5424 severity 5, notice.
const SEVERITY_NOTICE: u8 = 5;

/// How messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// RFC 5426: one message per datagram.
    Udp,
    /// RFC 6587 octet counting: `LEN SP MSG`, one connection per message.
    Tcp,
}

/// A syslog receiver that is sent every checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogWitness {
    transport: Transport,
    host: String,
    port: u16,
}

impl SyslogWitness {
    /// Parse `syslog+udp://HOST:PORT` or `syslog+tcp://HOST:PORT`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let transport = match parsed.scheme() {
            "syslog+udp" => Transport::Udp,
            "syslog+tcp" => Transport::Tcp,
            _ => return Err("a syslog witness is syslog+udp:// or syslog+tcp://".into()),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err("a syslog witness takes no credentials".into());
        }
        if !matches!(parsed.path(), "" | "/") || parsed.query().is_some() {
            return Err("a syslog witness is HOST:PORT, with no path or query".into());
        }
        let host = parsed
            .host_str()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty())
            .ok_or("a syslog witness needs a host: syslog+udp://HOST:PORT")?;
        let port = parsed
            .port()
            .ok_or("a syslog witness needs a port: syslog+udp://HOST:PORT")?;
        Ok(Self {
            transport,
            host: host.to_owned(),
            port,
        })
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    pub fn name(&self) -> String {
        let scheme = match self.transport {
            Transport::Udp => "syslog+udp",
            Transport::Tcp => "syslog+tcp",
        };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }

    /// Send `checkpoint` as one message.
    pub async fn push(&self, checkpoint: &StoredCheckpoint) -> Result<(), AuditError> {
        let message = message(checkpoint, &crate::export::hostname(), std::process::id());
        tokio::time::timeout(TIMEOUT, self.send(message.as_bytes()))
            .await
            .unwrap_or_else(|_| Err(format!("no delivery within {}s", TIMEOUT.as_secs())))
            .map_err(|reason| AuditError::Witness {
                witness: self.name(),
                reason,
            })
    }

    async fn send(&self, message: &[u8]) -> Result<(), String> {
        let addr = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} has no address", self.host))?;
        match self.transport {
            Transport::Udp => {
                if message.len() > MAX_DATAGRAM {
                    return Err(format!(
                        "the message is {} bytes, more than one UDP datagram holds",
                        message.len()
                    ));
                }
                let bind: SocketAddr = if addr.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let socket = tokio::net::UdpSocket::bind(bind)
                    .await
                    .map_err(|e| e.to_string())?;
                socket
                    .send_to(message, addr)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Transport::Tcp => {
                let mut stream = tokio::net::TcpStream::connect(addr)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut frame = format!("{} ", message.len()).into_bytes();
                frame.extend_from_slice(message);
                stream.write_all(&frame).await.map_err(|e| e.to_string())?;
                stream.flush().await.map_err(|e| e.to_string())?;
                stream.shutdown().await.map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// One checkpoint as an RFC 5424 message (without transport framing).
pub fn message(checkpoint: &StoredCheckpoint, hostname: &str, procid: u32) -> String {
    let pri = FACILITY_LOG_AUDIT * 8 + SEVERITY_NOTICE;
    let origin = checkpoint.note.lines().next().unwrap_or_default();
    format!(
        "<{pri}>1 {} {} warden {procid} checkpoint [{SD_ID} origin=\"{}\" size=\"{}\" root=\"{}\"] \u{FEFF}{}",
        timestamp(checkpoint.at),
        header_field(hostname, 255),
        sd_value(origin),
        checkpoint.size,
        sd_value(&checkpoint.root),
        checkpoint.note
    )
}
