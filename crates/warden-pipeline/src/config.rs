//! `warden.toml`: every setting, with its default. Unknown keys are errors,
//! so a typo is caught instead of silently ignored. The doc comments here are
//! the reference (`docs/configuration.md` mirrors them).

use std::path::Path;

use serde::{Deserialize, Serialize};
use warden_assess::AssessorConfig;
use warden_enrich::{ContextConfig, ToolConfig};
use warden_ingest::CorrelationConfig;
use warden_policy::EscalationConfig;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Limits on incoming alerts.
    pub ingest: IngestConfig,
    /// How alerts are grouped into cases.
    pub correlation: CorrelationConfig,
    /// How old context files may be.
    pub context: ContextConfig,
    /// Guard rails of every context tool call.
    pub tools: ToolConfig,
    /// Where playbooks (use cases) come from.
    pub playbooks: PlaybooksConfig,
    /// The deterministic assessor's weights and thresholds.
    pub assessor: AssessorConfig,
    /// When a person must decide.
    pub escalation: EscalationConfig,
    /// Which policies decide.
    pub policy: PolicyConfig,
    /// How long approval requests and approvals stay valid.
    pub approvals: crate::control::ApprovalConfig,
    /// The executor's limits.
    pub executor: warden_execute::ExecutorConfig,
    /// The audit log's checkpoints.
    pub audit: AuditConfig,
    /// `warden serve`: sessions, sign-in throttling, background workers.
    pub server: ServerConfig,
    /// Where cases, approvals, sessions and the audit log are kept
    /// (`[store]`). Never written back out: the URL may carry a password.
    #[serde(skip_serializing)]
    pub store: StoreConfig,
    /// `warden serve`: alerts taken from the network (`[intake.syslog]`).
    /// Left out of the serialised configuration while empty, so that a
    /// file without it hashes as it did before the section existed.
    #[serde(skip_serializing_if = "IntakeConfig::is_empty")]
    pub intake: IntakeConfig,
    /// `warden serve`: where accepted alerts wait for triage (`[queue]`):
    /// in the process by default, or a NATS JetStream stream shared by
    /// every replica. Left out of the serialised configuration while it is
    /// the default, so older files hash as before.
    #[serde(skip_serializing_if = "QueueConfig::is_default")]
    pub queue: QueueConfig,
    /// The LLM assessor (`--assessor llm|ensemble`): provider, limits,
    /// budgets. The `WARDEN_LLM_*` environment wins over it.
    pub llm: warden_llm::LlmConfig,
    /// Products the executor acts on (`docs/connectors.md`). None by
    /// default: only case notes run until a connector is configured.
    /// Never written back out (it names where secrets live).
    #[serde(skip_serializing)]
    pub connectors: warden_execute::ConnectorsConfig,
}

/// `[audit]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Sign a checkpoint every this many entries (commands also sign one
    /// when they finish, and `warden audit checkpoint` on demand).
    pub checkpoint_every: u64,
    /// The log's private signing key. Unset: `keys/audit.key` in the data
    /// directory, which lets whoever holds the data directory rewrite the
    /// log and re-sign it. Set it to a path outside the data directory,
    /// owned by another account that lets Warden's account read it (the
    /// public key is expected beside it as `audit.pub`, unless the data
    /// directory's `keys/audit.pub` is the only one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<std::path::PathBuf>,
    /// Where every signed checkpoint is also pushed, outside the data
    /// directory, as it is signed: `file:///PATH` on another mount,
    /// `https://HOST/PATH` (plain `http://` only to a loopback address;
    /// `{ url = "https://...", token = { env = "NAME" } }` for a bearer
    /// token), `syslog+udp://HOST:PORT` or `syslog+tcp://HOST:PORT`. A
    /// witness that cannot take a checkpoint fails the signing. `warden
    /// audit verify` checks the log against every checkpoint the file and
    /// HTTP witnesses hold; syslog is push-only and cannot be checked.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub witnesses: Vec<warden_audit::witness::WitnessConfig>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            checkpoint_every: 1000,
            signing_key: None,
            witnesses: Vec::new(),
        }
    }
}

/// `[store]`
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Where the store is: `postgres://USER:PASSWORD@HOST:PORT/DATABASE`
    /// for PostgreSQL shared by every replica (`?sslmode=require` for TLS,
    /// `?options[search_path]=SCHEMA` for a schema other than `public`),
    /// or a SQLite file (`sqlite:PATH` or a plain path, relative to the
    /// data directory). Unset: `warden.db` in the data directory. The
    /// `WARDEN_STORE_URL` environment variable wins over it, which keeps
    /// a password out of this file.
    pub url: Option<String>,
}

// The URL may carry a password: never print it.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field(
                "url",
                &self.url.as_deref().map(warden_store::postgres::mask_url),
            )
            .finish()
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How long a browser session lasts after sign-in, in minutes.
    pub session_minutes: u32,
    /// Mark cookies `Secure` (set when a TLS proxy fronts the server; the
    /// session cookie is then named `__Host-warden_session`).
    pub secure_cookies: bool,
    /// Failed sign-ins for one account (or from one address, times four)
    /// before it is locked out for a while.
    pub login_max_failures: u32,
    /// The first lock-out, in seconds; it doubles with each further failure,
    /// up to 15 minutes.
    pub login_lockout_seconds: u32,
    /// Largest request body accepted, in bytes (alert batches included).
    pub max_body_bytes: usize,
    /// How often the executor worker runs ready orders, in seconds.
    pub executor_interval_seconds: u32,
    /// How often a checkpoint is signed over new audit entries, in seconds.
    pub checkpoint_interval_seconds: u32,
    /// Most alerts (records) one push may carry; a larger batch is refused
    /// whole with 413, to be split by the sender.
    pub ingest_max_batch_alerts: usize,
    /// Alerts each principal (API token or account) may push per minute,
    /// on average: a token bucket refilled at this rate. Over it, a push
    /// is answered 429 with `Retry-After`.
    pub ingest_alerts_per_minute: u32,
    /// The bucket's size: alerts a principal may push at once after a
    /// quiet spell. Never below `ingest_max_batch_alerts`, so that one
    /// full batch can always pass.
    pub ingest_burst_alerts: u32,
    /// Bytes of pushed alerts (as received) waiting for triage, from all
    /// senders together; a push that would go over it is answered 429
    /// with `Retry-After` (one push is always taken into an empty queue).
    pub triage_queue_max_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            session_minutes: 8 * 60,
            secure_cookies: false,
            login_max_failures: 5,
            login_lockout_seconds: 30,
            max_body_bytes: 8 * 1024 * 1024,
            executor_interval_seconds: 5,
            checkpoint_interval_seconds: 60,
            ingest_max_batch_alerts: 1000,
            ingest_alerts_per_minute: 6000,
            ingest_burst_alerts: 2000,
            triage_queue_max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// `[intake]`: where `warden serve` takes alerts from besides HTTP pushes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntakeConfig {
    /// The syslog receiver (RFC 5424 and RFC 3164 carrying CEF, LEEF or a
    /// JSON alert); off unless the section is there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syslog: Option<SyslogConfig>,
}

impl IntakeConfig {
    /// No intake configured.
    pub fn is_empty(&self) -> bool {
        self.syslog.is_none()
    }
}

/// `[queue]`: the alert stream between intake and triage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// `nats://HOST:PORT` for a NATS JetStream stream; unset keeps the
    /// queue in the process. `WARDEN_QUEUE_URL` wins over it.
    pub url: Option<String>,
    /// The JetStream stream (created if missing, work-queue retention).
    pub stream: String,
    /// The subject alerts are published on.
    pub subject: String,
    /// The durable pull consumer every replica's triage worker shares.
    pub consumer: String,
    /// Alerts the stream holds before pushes are refused with 429.
    pub max_alerts: i64,
    /// How long a worker may hold an alert before NATS redelivers it to
    /// another worker (the worker reports progress while it triages).
    pub ack_wait_seconds: u64,
    /// Alerts a worker takes from the stream at once.
    pub fetch_batch: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            url: None,
            stream: "WARDEN_ALERTS".into(),
            subject: "warden.alerts".into(),
            consumer: "warden-triage".into(),
            max_alerts: 1_000_000,
            ack_wait_seconds: 120,
            fetch_batch: 64,
        }
    }
}

impl QueueConfig {
    /// Nothing changed from the default.
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

/// `[intake.syslog]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    /// Listeners, each `udp://HOST:PORT`, `tcp://HOST:PORT` (RFC 6587
    /// octet counting or newline framing, detected per connection) or
    /// `tls://HOST:PORT` (the same framing inside TLS).
    pub listen: Vec<String>,
    /// PEM certificate chain of the `tls://` listeners (server certificate
    /// first), relative to the data directory.
    pub tls_certificate: Option<String>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the `tls://` listeners,
    /// relative to the data directory.
    pub tls_key: Option<String>,
    /// Largest message taken, in bytes (after framing); a longer one is
    /// refused, counted and dead-lettered with its first bytes.
    pub max_message_bytes: usize,
    /// Messages read from the sockets and waiting to be parsed, per
    /// listener (so at most `queue_messages` x `max_message_bytes` bytes
    /// each). When full, UDP messages are dropped (and counted) and TCP
    /// and TLS connections are no longer read (the senders are pushed
    /// back).
    pub queue_messages: usize,
    /// Open TCP and TLS connections per listener; one over it is closed
    /// at once.
    pub max_connections: usize,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        Self {
            listen: Vec::new(),
            tls_certificate: None,
            tls_key: None,
            max_message_bytes: 64 * 1024,
            queue_messages: 2048,
            max_connections: 256,
        }
    }
}

/// `[playbooks]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlaybooksConfig {
    /// A folder of playbook files (`*.toml`) to use instead of the shipped
    /// set, relative to the data directory. It must hold exactly one
    /// catch-all playbook. Unset, the shipped set is used (its files are in
    /// `crates/warden-playbook/playbooks/`, a starting point for your own).
    pub dir: Option<String>,
}

/// `[ingest]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Largest alert payload accepted, in bytes (larger ones go to the
    /// dead-letter store).
    pub max_alert_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_depth: usize,
    /// An ATT&CK technique table (`{tactics, techniques}` JSON, such as the
    /// compact Enterprise table) used to name techniques and tactics;
    /// relative to the data directory. Unset: ids are kept as sent.
    pub attack_catalogue: Option<String>,
    /// Mapping files (TOML) describing further JSON sources with JSON
    /// pointers, relative to the data directory; see `docs/formats.md`.
    pub mappings: Vec<String>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        let limits = warden_ingest::Limits::default();
        Self {
            max_alert_bytes: limits.max_alert_bytes,
            max_depth: limits.max_depth,
            attack_catalogue: None,
            mappings: Vec::new(),
        }
    }
}

/// `[policy]`
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// A Cedar policy file to use instead of the shipped default set
    /// (relative paths are relative to the data directory). It must
    /// validate against the shipped schema.
    pub policies: Option<String>,
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
}

impl Config {
    /// Load `path`; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Ok(config)
    }

    /// The defaults as a commented TOML file (written by `warden init`).
    pub fn default_file() -> String {
        let body = toml::to_string_pretty(&Config::default()).unwrap_or_default();
        format!(
            "# Warden configuration. Every key is optional; these are the defaults.\n\
             # Reference: docs/configuration.md\n\n{body}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_round_trips() {
        let parsed: Config = toml::from_str(&Config::default_file()).expect("parses");
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = std::env::temp_dir().join(format!("warden-cfg-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("warden.toml");
        std::fs::write(&path, "[correlation]\nwindow_minuts = 5\n").expect("write");
        let err = Config::load(&path).expect_err("typo refused").to_string();
        assert!(err.contains("window_minuts"), "{err}");
        std::fs::write(&path, "[tools]\ntimeout_ms = \"soon\"\n").expect("write");
        assert!(Config::load(&path).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
