//! `warden audit export`: entries as JSON lines or RFC 5424 syslog
//! messages, to a file (or standard output), a UDP listener (RFC 5426, one
//! message per datagram) or a TCP listener (RFC 6587 octet counting, as
//! RFC 5425 frames it).
//!
//! Each JSON line is `{"seq", "leaf_hash", "entry"}` with the entry exactly
//! as hashed, so a SIEM can recompute every leaf hash. Each syslog message
//! carries the same entry as its MSG (UTF-8, with the BOM RFC 5424 asks
//! for) and the sequence number, stage, case and leaf hash as structured
//! data under `warden@32473` (32473 is the example enterprise number RFC
//! 5612 reserves; a deployment with its own number can rewrite the SD-ID).

use std::io::Write as _;
use std::net::SocketAddr;

use time::OffsetDateTime;
use tokio::io::AsyncWriteExt as _;
use warden_store::{AuditQuery, AuditRow, CaseReader};

use crate::AuditError;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    JsonLines,
    Syslog,
}

/// Where the entries go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    File(std::path::PathBuf),
    Udp(SocketAddr),
    Tcp(SocketAddr),
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Exported {
    pub entries: u64,
    pub bytes: u64,
    /// Sequence number of the last entry written (resume with `--after`).
    pub last_seq: Option<u64>,
}

/// The structured-data id of Warden's parameters.
pub const SD_ID: &str = "warden@32473";
/// Syslog facility 13, "log audit" (RFC 5424 table 1).
pub(crate) const FACILITY_LOG_AUDIT: u8 = 13;
/// Datagrams sent back to back before a short pause.
const UDP_BURST: usize = 16;
/// The largest UDP payload IPv4 can carry.
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// One entry as a JSON line (without the newline).
pub fn json_line(row: &AuditRow) -> String {
    let leaf = serde_json::Value::String(row.leaf_hash.clone());
    // The entry is canonical JSON already: embed it verbatim, unless the
    // stored text is not one line of JSON (a tampered row), which is then
    // carried as a string so it cannot forge lines or fields downstream.
    let one_line = !row.entry.contains(['\n', '\r'])
        && serde_json::from_str::<serde::de::IgnoredAny>(&row.entry).is_ok();
    if one_line {
        format!(
            "{{\"seq\":{},\"leaf_hash\":{leaf},\"entry\":{}}}",
            row.seq, row.entry
        )
    } else {
        format!(
            "{{\"seq\":{},\"leaf_hash\":{leaf},\"entry_text\":{}}}",
            row.seq,
            serde_json::Value::String(row.entry.clone())
        )
    }
}

/// RFC 5424 severity: notice for operators steering the agent and for
/// people's approvals, informational otherwise.
fn severity(row: &AuditRow) -> u8 {
    match row.stage.as_str() {
        "control" | "approve" => 5,
        _ => 6,
    }
}

/// `[`, `"`, `\` and `]` escaped as RFC 5424 section 6.3.3 asks.
pub(crate) fn sd_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// PRINTUSASCII only, at most `max` characters, `-` when empty.
pub(crate) fn header_field(text: &str, max: usize) -> String {
    let field: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if field.is_empty() { "-".into() } else { field }
}

/// RFC 3339 with at most six fraction digits, in UTC (RFC 5424 TIMESTAMP).
pub(crate) fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

/// One entry as an RFC 5424 message.
pub fn syslog_message(row: &AuditRow, hostname: &str, procid: u32) -> String {
    let pri = FACILITY_LOG_AUDIT * 8 + severity(row);
    let mut sd = format!(
        "[{SD_ID} seq=\"{}\" stage=\"{}\" actor=\"{}\" leaf=\"{}\"",
        row.seq,
        sd_value(&row.stage),
        sd_value(&row.actor),
        sd_value(&row.leaf_hash)
    );
    if let Some(case) = row.case_id {
        sd.push_str(&format!(" case=\"{case}\""));
    }
    sd.push(']');
    format!(
        "<{pri}>1 {} {} warden {procid} {} {sd} \u{FEFF}{}",
        timestamp(row.at),
        header_field(hostname, 255),
        header_field(&row.kind, 32),
        row.entry
    )
}

/// This machine's name, for the syslog HOSTNAME field.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

fn io_error(sink: &Sink, e: std::io::Error) -> AuditError {
    AuditError::Export(format!("{sink:?}: {e}"))
}

/// Export the entries `query` selects to `sink`.
pub async fn export<S: CaseReader + ?Sized>(
    store: &S,
    query: &AuditQuery,
    format: Format,
    sink: &Sink,
) -> Result<Exported, AuditError> {
    let rows = store.audit_search(query).await?;
    let host = hostname();
    let pid = std::process::id();
    let render = |row: &AuditRow| match format {
        Format::JsonLines => json_line(row),
        Format::Syslog => syslog_message(row, &host, pid),
    };
    let mut exported = Exported::default();
    match sink {
        Sink::Stdout | Sink::File(_) => {
            let mut out: Box<dyn std::io::Write> = match sink {
                Sink::File(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).map_err(|e| io_error(sink, e))?,
                )),
                _ => Box::new(std::io::stdout().lock()),
            };
            for row in &rows {
                let line = render(row);
                writeln!(out, "{line}").map_err(|e| io_error(sink, e))?;
                exported.note(row, line.len() + 1);
            }
            out.flush().map_err(|e| io_error(sink, e))?;
        }
        Sink::Udp(addr) => {
            let bind: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let socket = tokio::net::UdpSocket::bind(bind)
                .await
                .map_err(|e| io_error(sink, e))?;
            for (n, row) in rows.iter().enumerate() {
                // UDP has no congestion control (RFC 5426 section 3.4):
                // pause briefly between bursts so a receiver's socket
                // buffer is not overrun.
                if n > 0 && n % UDP_BURST == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                }
                let message = render(row);
                if message.len() > MAX_DATAGRAM {
                    return Err(AuditError::Export(format!(
                        "entry {} is {} bytes, more than one UDP datagram holds: export over TCP",
                        row.seq,
                        message.len()
                    )));
                }
                socket
                    .send_to(message.as_bytes(), addr)
                    .await
                    .map_err(|e| io_error(sink, e))?;
                exported.note(row, message.len());
            }
        }
        Sink::Tcp(addr) => {
            let mut stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| io_error(sink, e))?;
            for row in &rows {
                let message = render(row);
                let frame = format!("{} {message}", message.len());
                stream
                    .write_all(frame.as_bytes())
                    .await
                    .map_err(|e| io_error(sink, e))?;
                exported.note(row, frame.len());
            }
            stream.flush().await.map_err(|e| io_error(sink, e))?;
            stream.shutdown().await.map_err(|e| io_error(sink, e))?;
        }
    }
    Ok(exported)
}

impl Exported {
    fn note(&mut self, row: &AuditRow, bytes: usize) {
        self.entries += 1;
        self.bytes += bytes as u64;
        self.last_seq = Some(row.seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_entry_cannot_forge_json_lines() {
        let row = |entry: &str| AuditRow {
            seq: 3,
            at: OffsetDateTime::UNIX_EPOCH,
            actor: "a".into(),
            stage: "ingest".into(),
            kind: "k".into(),
            case_id: None,
            entry: entry.into(),
            leaf_hash: "ab\",\"x\":\"".into(),
        };
        let line = json_line(&row("{\"a\":1}"));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(value["entry"]["a"], 1);
        assert_eq!(value["leaf_hash"], "ab\",\"x\":\"");
        for forged in ["{\"a\":1}\n{\"seq\":1}", "not json", "{\"a\":\n1}"] {
            let line = json_line(&row(forged));
            assert!(!line.contains('\n'), "{line}");
            let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            assert_eq!(value["entry_text"], forged);
        }
    }

    #[test]
    fn structured_data_values_are_escaped() {
        assert_eq!(sd_value(r#"a"b\c]d"#), r#"a\"b\\c\]d"#);
        assert_eq!(header_field("két szó", 32), "ktsz");
        assert_eq!(header_field("", 32), "-");
    }
}
