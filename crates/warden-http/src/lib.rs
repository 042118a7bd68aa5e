//! The HTTP layer every outside product shares: the executor's connectors
//! and the LLM providers.
//!
//! - One TLS stack: rustls with the ring provider, installed once
//!   ([`ensure_crypto_provider`]); aws-lc-rs is never compiled in.
//! - A time-out per attempt, no redirects, bodies read up to a cap (1 MiB
//!   unless [`HttpClient::with_body_cap`] sets another).
//! - [`HttpClient::send_traced`] also reports what went over the wire
//!   (attempts, last status and body), for callers that keep a record.
//! - Retries: a 429 waits for `Retry-After` (delta-seconds or HTTP-date, or
//!   Okta's `X-Rate-Limit-Reset`), as long as the wait is within the
//!   configured maximum, and is honoured as given; 5xx answers and connection
//!   failures back off with a bounded doubling delay with equal jitter (half
//!   fixed, half random), so clients that failed together do not retry in
//!   lockstep. A request that must not be repeated once the
//!   product may have seen it ([`Retry::NonIdempotent`]) is retried only
//!   after a 429 or a failed connection.
//! - Classification into [`ConnectorErrorKind`]: 401/403 `Auth`, 429 after
//!   retries `RateLimited`, 5xx after retries `Unavailable`, time-out
//!   `Timeout`, other 4xx `Rejected`, an undecodable body `Protocol`.
//!
//! INVARIANT (S6): credentials are [`Secret`]s, which print as `[redacted]`;
//! error messages carry the product's own error text (sanitised, capped and
//! scrubbed of every credential the client knows), never a request header,
//! a request body or a raw answer body.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Largest answer body read from a product, unless the client says otherwise.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Longest product error text carried into an error message.
const MAX_PRODUCT_TEXT: usize = 400;
/// How many recently issued access tokens are scrubbed from messages.
const REMEMBERED_TOKENS: usize = 4;

/// How a call to a product failed, so callers and the record can tell a
/// refused credential from an outage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorErrorKind {
    /// Missing or unusable configuration or credentials on our side.
    Config,
    /// The product refused our credentials (401/403).
    Auth,
    /// The product asked us to slow down and retries ran out (429).
    RateLimited,
    /// The product failed (5xx) and retries ran out.
    Unavailable,
    /// No answer in time.
    Timeout,
    /// The product rejected the request itself (other 4xx, or an error
    /// body on a 200), or the target does not exist there.
    Rejected,
    /// The answer did not match the product's documented format.
    Protocol,
}

impl ConnectorErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorErrorKind::Config => "config",
            ConnectorErrorKind::Auth => "auth",
            ConnectorErrorKind::RateLimited => "rate_limited",
            ConnectorErrorKind::Unavailable => "unavailable",
            ConnectorErrorKind::Timeout => "timeout",
            ConnectorErrorKind::Rejected => "rejected",
            ConnectorErrorKind::Protocol => "protocol",
        }
    }
}

/// A failed call to a product. The message never carries a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error: {message}", kind.as_str())]
pub struct ConnectorError {
    pub kind: ConnectorErrorKind,
    pub message: String,
}

impl ConnectorError {
    pub fn new(kind: ConnectorErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// `value` on one line: control characters (newlines included) become
/// spaces, surrounding space is trimmed, and at most `max_chars` characters
/// are kept (an ellipsis marks a cut).
pub fn one_line(value: &str, max_chars: usize) -> String {
    let flat: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.chars().count() <= max_chars {
        return flat.to_owned();
    }
    let mut cut: String = flat.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Install rustls's ring provider as the process default, once. Another
/// component having installed it first is fine.
pub fn ensure_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means a provider is already installed: nothing to do.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A credential. It prints as `[redacted]` in `Debug` and `Display`, so it
/// cannot leak through an error, a log line or a derived `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential held in memory.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Read from the environment variable `name`.
    pub fn from_env(name: &str) -> Result<Self, ConnectorError> {
        let value = std::env::var(name).map_err(|e| {
            let why = match e {
                std::env::VarError::NotPresent => "is not set",
                std::env::VarError::NotUnicode(_) => "is not valid UTF-8",
            };
            ConnectorError::new(
                ConnectorErrorKind::Config,
                format!("environment variable {name} {why}"),
            )
        })?;
        Self::checked(value, || format!("environment variable {name}"))
    }

    /// Read from a file; one trailing newline (LF or CRLF) is dropped.
    pub fn from_file(path: &Path) -> Result<Self, ConnectorError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConnectorError::new(
                ConnectorErrorKind::Config,
                format!("cannot read secret file {}: {}", path.display(), e.kind()),
            )
        })?;
        let value = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(&text)
            .to_owned();
        Self::checked(value, || format!("secret file {}", path.display()))
    }

    fn checked(value: String, source: impl Fn() -> String) -> Result<Self, ConnectorError> {
        if value.trim().is_empty() {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                format!("{} is empty", source()),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Config,
                format!("{} holds control characters", source()),
            ));
        }
        Ok(Self(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where a credential comes from, as written in `warden.toml`:
/// `{ env = "NAME" }` or `{ file = "/path" }`. A credential is never
/// written in the configuration itself; an inline string is refused
/// without being echoed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
}

impl SecretRef {
    /// Read the credential now.
    pub fn load(&self) -> Result<Secret, ConnectorError> {
        match self {
            SecretRef::Env(name) => Secret::from_env(name),
            SecretRef::File(path) => Secret::from_file(path),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "environment variable {name}"),
            SecretRef::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretRefVisitor)
    }
}

struct SecretRefVisitor;

const INLINE_REFUSED: &str = "a credential is never written in the configuration: \
     use { env = \"NAME\" } or { file = \"/path\" }";

impl SecretRefVisitor {
    // Every scalar is refused with the same message, which never repeats the
    // value (serde's default message would quote it).
    fn refuse<E: serde::de::Error>() -> E {
        E::custom(INLINE_REFUSED)
    }
}

impl<'de> serde::de::Visitor<'de> for SecretRefVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{ env = \"NAME\" } or { file = \"/path\" }")
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<SecretRef, E> {
        Err(Self::refuse())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<SecretRef, A::Error> {
        Err(Self::refuse())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        use serde::de::Error;
        let Some(key) = map.next_key::<String>()? else {
            return Err(A::Error::custom(
                "empty secret reference: use { env = \"NAME\" } or { file = \"/path\" }",
            ));
        };
        let secret = match key.as_str() {
            "env" => SecretRef::Env(map.next_value::<String>()?),
            "file" => SecretRef::File(map.next_value::<PathBuf>()?),
            other => {
                return Err(A::Error::custom(format!(
                    "unknown secret source `{other}`: use {{ env = \"NAME\" }} or {{ file = \"/path\" }}"
                )));
            }
        };
        if map.next_key::<String>()?.is_some() {
            return Err(A::Error::custom(
                "a secret reference names one source: env or file",
            ));
        }
        Ok(secret)
    }
}

/// Time-outs and retry bounds, shared by every connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// Limit on one attempt, from connecting to the last body byte.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Longest single wait between attempts; a product asking for longer
    /// (`Retry-After`) ends the call as `RateLimited` at once.
    pub max_retry_wait: Duration,
    /// First back-off after a 5xx or a failed connection; doubles each
    /// retry up to `max_retry_wait`.
    pub initial_backoff: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_retries: 3,
            max_retry_wait: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(500),
        }
    }
}

/// Whether a request may be sent again after the product may have seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Repeating it changes nothing (reads, containment, PATCH to a fixed
    /// state): retry 429, 5xx and connection failures.
    Idempotent,
    /// A repeat could do it twice (creating a ticket): retry only a 429
    /// (not processed) or a connection that never opened; the caller
    /// reconciles anything else.
    NonIdempotent,
}

/// A product's answer: any status that was not retried away.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl fmt::Debug for Answer {
    // The body can hold an access token: only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// How reading the last answer body ended, when it did not end cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCut {
    /// The body passed the client's cap; reading stopped there.
    TooLarge,
    /// The connection failed or closed before the body was complete.
    Broken,
}

/// What one call put on the wire, for a caller that keeps a record of it.
/// Holds no request header, so no credential.
#[derive(Clone, Default)]
pub struct Trace {
    /// Attempts made, retries included.
    pub attempts: u32,
    /// The status of the last answer received, if any came.
    pub status: Option<StatusCode>,
    /// The last answer body received, at most the cap (partial when cut).
    pub body: Vec<u8>,
    /// That body's size in bytes: what was received, or the announced
    /// `Content-Length` when larger (so more than `body.len()` when cut).
    pub body_bytes: usize,
    /// Set when the last body was not read to its end.
    pub cut: Option<BodyCut>,
}

impl fmt::Debug for Trace {
    // Like `Answer`: the body can hold a token, only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("attempts", &self.attempts)
            .field("status", &self.status)
            .field("body_bytes", &self.body_bytes)
            .field("cut", &self.cut)
            .finish_non_exhaustive()
    }
}

/// Pulls a product's own error text out of an error body.
pub type ErrorText = fn(&[u8]) -> Option<String>;

/// One product's HTTP client.
pub struct HttpClient {
    product: &'static str,
    client: reqwest::Client,
    settings: HttpSettings,
    max_body_bytes: usize,
    error_text: ErrorText,
    credentials: Vec<Secret>,
    tokens: Mutex<Vec<Secret>>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("product", &self.product)
            .field("settings", &self.settings)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

enum AttemptError {
    Timeout,
    Connect(String),
    Transport(String),
    TooLarge,
}

impl HttpClient {
    /// A client for `product` (used in messages) at `bases`, whose error
    /// bodies `error_text` understands. Proxies from the environment
    /// (`HTTPS_PROXY`, `NO_PROXY`) apply, except when every base is a
    /// loopback address.
    pub fn new(
        product: &'static str,
        settings: HttpSettings,
        error_text: ErrorText,
        bases: &[&Url],
    ) -> Result<Self, ConnectorError> {
        ensure_crypto_provider();
        let mut builder = reqwest::Client::builder();
        if !bases.is_empty() && bases.iter().all(|b| is_loopback(b)) {
            builder = builder.no_proxy();
        }
        let client = builder
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.timeout)
            .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConnectorError::new(
                    ConnectorErrorKind::Config,
                    format!("cannot build the HTTP client for {product}: {}", chain(&e)),
                )
            })?;
        Ok(Self {
            product,
            client,
            settings,
            max_body_bytes: MAX_BODY_BYTES,
            error_text,
            credentials: Vec::new(),
            tokens: Mutex::new(Vec::new()),
        })
    }

    /// Read answer bodies up to `bytes` instead of 1 MiB (an LLM provider's
    /// configured `max_response_bytes`); a larger body fails the call.
    pub fn with_body_cap(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The largest answer body this client reads.
    pub fn body_cap(&self) -> usize {
        self.max_body_bytes
    }

    /// Scrub `secret` from every message this client produces.
    pub fn protect(mut self, secret: &Secret) -> Self {
        self.credentials.push(secret.clone());
        self
    }

    /// Scrub a freshly issued access token from messages too.
    pub fn protect_token(&self, token: &Secret) {
        if let Ok(mut tokens) = self.tokens.lock() {
            if tokens.len() >= REMEMBERED_TOKENS {
                tokens.remove(0);
            }
            tokens.push(token.clone());
        }
    }

    pub fn product(&self) -> &'static str {
        self.product
    }

    pub fn settings(&self) -> HttpSettings {
        self.settings
    }

    /// A request builder for `method` on `url`.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client.request(method, url)
    }

    /// `base` with `segments` appended, each percent-encoded as one path
    /// segment (a `/` or `?` in a user name cannot change the path).
    /// An empty, `.` or `..` segment is refused: the URL crate would drop
    /// it, changing the path.
    pub fn url(&self, base: &Url, segments: &[&str]) -> Result<Url, ConnectorError> {
        if segments.iter().any(|s| matches!(*s, "" | "." | "..")) {
            return Err(ConnectorError::new(
                ConnectorErrorKind::Rejected,
                format!(
                    "not a usable {} path: an empty, . or .. segment",
                    self.product
                ),
            ));
        }
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ConnectorError::new(
                    ConnectorErrorKind::Config,
                    format!("{} base URL cannot take a path", self.product),
                )
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Send `request`, retrying as `retry` allows. Any answer that was not
    /// retried away comes back, whatever its status; a 429 or 5xx that
    /// outlived the retries, a time-out or a transport failure is an error.
    pub async fn send(
        &self,
        what: &str,
        request: RequestBuilder,
        retry: Retry,
    ) -> Result<Answer, ConnectorError> {
        self.send_traced(what, request, retry).await.0
    }

    /// [`HttpClient::send`], also reporting what went over the wire: the
    /// attempts made and the last status and body received, even when the
    /// call failed (a 5xx that outlived the retries, a body cut short or
    /// too large, a time-out mid-body).
    pub async fn send_traced(
        &self,
        what: &str,
        request: RequestBuilder,
        retry: Retry,
    ) -> (Result<Answer, ConnectorError>, Trace) {
        let mut trace = Trace::default();
        let result = self.send_recorded(what, request, retry, &mut trace).await;
        (result, trace)
    }

    async fn send_recorded(
        &self,
        what: &str,
        request: RequestBuilder,
        retry: Retry,
        trace: &mut Trace,
    ) -> Result<Answer, ConnectorError> {
        let request = request.build().map_err(|e| {
            ConnectorError::new(
                ConnectorErrorKind::Config,
                format!(
                    "cannot build the {} request for {what}: {}",
                    self.product,
                    chain(&e)
                ),
            )
        })?;
        let mut backoff = self.settings.initial_backoff;
        let mut retries = 0u32;
        loop {
            let copy = request.try_clone().ok_or_else(|| {
                ConnectorError::new(
                    ConnectorErrorKind::Config,
                    format!("the {} request for {what} cannot be repeated", self.product),
                )
            })?;
            let exhausted = retries >= self.settings.max_retries;
            trace.attempts = trace.attempts.saturating_add(1);
            let wait = match self.attempt(copy, trace).await {
                Ok(answer) if answer.status == StatusCode::TOO_MANY_REQUESTS => {
                    if exhausted {
                        return Err(self.error(
                            ConnectorErrorKind::RateLimited,
                            format!(
                                "{} is rate limiting {what}: still HTTP 429 after {retries} retries",
                                self.product
                            ),
                        ));
                    }
                    // A wait the product asked for is honoured as given.
                    let wait = retry_after(&answer.headers, SystemTime::now())
                        .unwrap_or_else(|| jittered(backoff));
                    if wait > self.settings.max_retry_wait {
                        return Err(self.error(
                            ConnectorErrorKind::RateLimited,
                            format!(
                                "{} is rate limiting {what} and asks to wait {}s, longer than the {}ms allowed",
                                self.product,
                                wait.as_secs(),
                                self.settings.max_retry_wait.as_millis()
                            ),
                        ));
                    }
                    wait
                }
                Ok(answer) if answer.status.is_server_error() => {
                    if exhausted || retry == Retry::NonIdempotent {
                        let message = format!(
                            "{} failed {what} (HTTP {}) after {retries} retries: {}",
                            self.product,
                            answer.status.as_u16(),
                            self.product_text(&answer.body)
                        );
                        return Err(self.error(ConnectorErrorKind::Unavailable, message));
                    }
                    jittered(backoff)
                }
                Ok(answer) => return Ok(answer),
                Err(AttemptError::Timeout) => {
                    return Err(self.error(
                        ConnectorErrorKind::Timeout,
                        format!(
                            "{} did not answer {what} within {}ms",
                            self.product,
                            self.settings.timeout.as_millis()
                        ),
                    ));
                }
                Err(AttemptError::Connect(why)) => {
                    if exhausted {
                        return Err(self.error(
                            ConnectorErrorKind::Unavailable,
                            format!(
                                "cannot reach {} for {what} after {retries} retries: {why}",
                                self.product
                            ),
                        ));
                    }
                    jittered(backoff)
                }
                Err(AttemptError::Transport(why)) => {
                    return Err(self.error(
                        ConnectorErrorKind::Unavailable,
                        format!("{} connection failed during {what}: {why}", self.product),
                    ));
                }
                Err(AttemptError::TooLarge) => {
                    return Err(self.error(
                        ConnectorErrorKind::Protocol,
                        format!(
                            "{} answered {what} with more than {} bytes",
                            self.product, self.max_body_bytes
                        ),
                    ));
                }
            };
            retries = retries.saturating_add(1);
            tracing::debug!(
                product = self.product,
                what,
                retry = retries,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "retrying"
            );
            tokio::time::sleep(wait).await;
            backoff = backoff.saturating_mul(2).min(self.settings.max_retry_wait);
        }
    }

    /// One attempt; `trace` is filled as the answer arrives, so a time-out
    /// or a failure mid-body leaves what was received on the record.
    async fn attempt(
        &self,
        request: reqwest::Request,
        trace: &mut Trace,
    ) -> Result<Answer, AttemptError> {
        trace.status = None;
        trace.body.clear();
        trace.body_bytes = 0;
        trace.cut = None;
        let cap = self.max_body_bytes;
        let exchange = async {
            let mut response = self.client.execute(request).await.map_err(|e| {
                if e.is_timeout() {
                    AttemptError::Timeout
                } else if e.is_connect() {
                    AttemptError::Connect(chain(&e))
                } else {
                    AttemptError::Transport(chain(&e))
                }
            })?;
            let status = response.status();
            trace.status = Some(status);
            let announced = response
                .content_length()
                .and_then(|n| usize::try_from(n).ok());
            let headers = std::mem::take(response.headers_mut());
            loop {
                let chunk = match response.chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) if e.is_timeout() => return Err(AttemptError::Timeout),
                    Err(e) => {
                        trace.cut = Some(BodyCut::Broken);
                        return Err(AttemptError::Transport(chain(&e)));
                    }
                };
                trace.body_bytes = trace.body_bytes.saturating_add(chunk.len());
                if trace.body_bytes > cap {
                    let room = cap.saturating_sub(trace.body.len());
                    trace
                        .body
                        .extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
                    trace.body_bytes = trace.body_bytes.max(announced.unwrap_or(0));
                    trace.cut = Some(BodyCut::TooLarge);
                    return Err(AttemptError::TooLarge);
                }
                trace.body.extend_from_slice(&chunk);
            }
            Ok(Answer {
                status,
                headers,
                body: trace.body.clone(),
            })
        };
        tokio::time::timeout(self.settings.timeout, exchange)
            .await
            .unwrap_or(Err(AttemptError::Timeout))
    }

    /// The error for an answer that is not a success: 401/403 `Auth`,
    /// 429 `RateLimited`, 5xx `Unavailable`, other 4xx `Rejected`, anything
    /// else `Protocol`; with the product's own error text.
    pub fn failure(&self, what: &str, answer: &Answer) -> ConnectorError {
        let status = answer.status;
        let code = status.as_u16();
        let text = self.product_text(&answer.body);
        let product = self.product;
        let (kind, message) = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => (
                ConnectorErrorKind::Auth,
                format!("{product} refused our credentials for {what} (HTTP {code}): {text}"),
            ),
            StatusCode::TOO_MANY_REQUESTS => (
                ConnectorErrorKind::RateLimited,
                format!("{product} is rate limiting {what} (HTTP {code}): {text}"),
            ),
            s if s.is_server_error() => (
                ConnectorErrorKind::Unavailable,
                format!("{product} failed {what} (HTTP {code}): {text}"),
            ),
            s if s.is_client_error() => (
                ConnectorErrorKind::Rejected,
                format!("{product} rejected {what} (HTTP {code}): {text}"),
            ),
            _ => (
                ConnectorErrorKind::Protocol,
                format!("{product} answered {what} with unexpected HTTP {code}"),
            ),
        };
        self.error(kind, message)
    }

    /// Decode a success body as `T`; the message names the place of the
    /// fault, never the content (which may be a token).
    pub fn decode<T: DeserializeOwned>(
        &self,
        what: &str,
        answer: &Answer,
    ) -> Result<T, ConnectorError> {
        serde_json::from_slice(&answer.body).map_err(|e| {
            let category = match e.classify() {
                serde_json::error::Category::Io => "read",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "shape",
                serde_json::error::Category::Eof => "truncation",
            };
            ConnectorError::new(
                ConnectorErrorKind::Protocol,
                format!(
                    "undecodable answer to {what} from {} (HTTP {}): {category} error at line {} column {}",
                    self.product,
                    answer.status.as_u16(),
                    e.line(),
                    e.column()
                ),
            )
        })
    }

    /// A product's error text from `body`, sanitised, capped and scrubbed.
    pub fn product_text(&self, body: &[u8]) -> String {
        match (self.error_text)(body) {
            Some(text) if !text.trim().is_empty() => {
                self.redact(&one_line(&text, MAX_PRODUCT_TEXT))
            }
            _ => "no error detail in the answer".to_owned(),
        }
    }

    /// An error whose message is scrubbed of every known credential.
    pub fn error(&self, kind: ConnectorErrorKind, message: String) -> ConnectorError {
        let error = ConnectorError::new(kind, self.redact(&message));
        tracing::debug!(product = self.product, kind = kind.as_str(), message = %error.message, "connector call failed");
        error
    }

    /// `text` with every known credential replaced by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let tokens = self.tokens.lock().map(|t| t.clone()).unwrap_or_default();
        for secret in self.credentials.iter().chain(tokens.iter()) {
            let value = secret.expose();
            // Shorter values would redact ordinary words.
            if value.len() >= 6 && out.contains(value) {
                out = out.replace(value, "[redacted]");
            }
        }
        out
    }
}

/// The wait a 429 asks for: `Retry-After` as delta-seconds or an HTTP-date,
/// else Okta's `X-Rate-Limit-Reset` (epoch seconds). A time in the past
/// means no wait.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let until = |at: SystemTime| at.duration_since(now).unwrap_or(Duration::ZERO);
    if let Some(value) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(until(at));
        }
    }
    let reset = HeaderName::from_static("x-rate-limit-reset");
    let epoch = headers
        .get(reset)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    SystemTime::UNIX_EPOCH
        .checked_add(Duration::from_secs(epoch))
        .map(until)
}

/// Parse a configured base URL: `https`, or `http` to a loopback host
/// (tests, a local proxy). Credentials never travel in clear text.
pub fn base_url(field: &str, value: &str) -> Result<Url, ConnectorError> {
    let url = Url::parse(value).map_err(|e| {
        ConnectorError::new(
            ConnectorErrorKind::Config,
            format!("{field} is not a URL: {e}"),
        )
    })?;
    let allowed = url.scheme() == "https" || (url.scheme() == "http" && is_loopback(&url));
    if !allowed || url.cannot_be_a_base() {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Config,
            format!("{field} must be an https URL (http only to a loopback address)"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Config,
            format!("{field} must not carry credentials"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConnectorError::new(
            ConnectorErrorKind::Config,
            format!("{field} must not carry a query or fragment"),
        ));
    }
    Ok(url)
}

/// Whether `url` points at this machine.
fn is_loopback(url: &Url) -> bool {
    url.host_str().is_some_and(|host| {
        host == "localhost"
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    })
}

/// The OAuth 2.0 client-credentials grant, with the token cached until
/// shortly before `expires_in` and fetched again once after a 401.
pub struct ClientCredentials {
    token_url: Url,
    /// Form fields besides the secret (client_id, scope, grant_type...).
    fields: Vec<(&'static str, String)>,
    secret: Secret,
    cached: tokio::sync::Mutex<Option<(Secret, tokio::time::Instant)>>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl ClientCredentials {
    /// `fields` are sent with `client_secret = secret` as a form.
    pub fn new(token_url: Url, fields: Vec<(&'static str, String)>, secret: Secret) -> Self {
        Self {
            token_url,
            fields,
            secret,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// A valid access token, fetched if none is cached or it is about to
    /// expire.
    pub async fn token(&self, http: &HttpClient) -> Result<Secret, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && tokio::time::Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut form: Vec<(&str, &str)> =
            self.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("client_secret", self.secret.expose()));
        let request = http
            .request(Method::POST, self.token_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form);
        let what = "the token request";
        let answer = http.send(what, request, Retry::Idempotent).await?;
        if !answer.status.is_success() {
            // The token endpoint answers bad credentials with 400 or 401.
            let error = http.failure(what, &answer);
            return Err(match error.kind {
                ConnectorErrorKind::Rejected => {
                    ConnectorError::new(ConnectorErrorKind::Auth, error.message)
                }
                _ => error,
            });
        }
        let token: TokenAnswer = http.decode(what, &answer)?;
        if token.access_token.is_empty() {
            return Err(http.error(
                ConnectorErrorKind::Protocol,
                format!("{} issued an empty access token", http.product()),
            ));
        }
        let secret = Secret::new(token.access_token);
        http.protect_token(&secret);
        let lifetime = Duration::from_secs(token.expires_in.unwrap_or(300));
        // Renew a little early: a tenth of the lifetime, at most a minute.
        let margin = (lifetime / 10).min(Duration::from_secs(60));
        let now = tokio::time::Instant::now();
        let until = now
            .checked_add(lifetime.saturating_sub(margin))
            .unwrap_or(now);
        *cached = Some((secret.clone(), until));
        Ok(secret)
    }

    /// Forget `used` if it is still the cached token.
    pub async fn invalidate(&self, used: &Secret) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|(token, _)| token.expose() == used.expose())
        {
            *cached = None;
        }
    }

    /// Send a request carrying the bearer token; after a 401 the token is
    /// fetched again and the request sent once more. The answer comes back
    /// whatever its status.
    pub async fn send<F>(
        &self,
        http: &HttpClient,
        what: &str,
        build: F,
        retry: Retry,
    ) -> Result<Answer, ConnectorError>
    where
        F: Fn() -> RequestBuilder,
    {
        let token = self.token(http).await?;
        let answer = http
            .send(what, build().bearer_auth(token.expose()), retry)
            .await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::debug!(
            product = http.product(),
            what,
            "token refused, fetching a new one"
        );
        self.invalidate(&token).await;
        let token = self.token(http).await?;
        http.send(what, build().bearer_auth(token.expose()), retry)
            .await
    }
}

/// Run `fetch` up to `attempts` times while it fails as `Unavailable` or
/// `Timeout`, backing off between tries (the caller's reconciliation loop
/// for requests that must not be repeated blindly).
pub async fn reconcile<T, F, Fut>(http: &HttpClient, mut step: F) -> Result<T, ConnectorError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ConnectorError>>,
{
    let settings = http.settings();
    let mut backoff = settings.initial_backoff;
    let mut tries = 0u32;
    loop {
        match step().await {
            Err(e)
                if matches!(
                    e.kind,
                    ConnectorErrorKind::Unavailable | ConnectorErrorKind::Timeout
                ) && tries < settings.max_retries =>
            {
                tries = tries.saturating_add(1);
                tracing::debug!(
                    product = http.product(),
                    retry = tries,
                    "reconciling after {}",
                    e.kind.as_str()
                );
                tokio::time::sleep(jittered(backoff)).await;
                backoff = backoff.saturating_mul(2).min(settings.max_retry_wait);
            }
            other => return other,
        }
    }
}

/// `delay` with equal jitter: half of it fixed, the other half random, so
/// clients that failed at the same moment spread their retries. Never more
/// than `delay`, never less than half of it.
fn jittered(delay: Duration) -> Duration {
    let half = delay / 2;
    let spread = u64::try_from(delay.saturating_sub(half).as_nanos()).unwrap_or(u64::MAX);
    match spread.checked_add(1) {
        Some(range) => half.saturating_add(Duration::from_nanos(random_u64() % range)),
        None => delay,
    }
}

/// A cheap random number: std's per-process random hash keys (which also
/// change with every `RandomState`) over the current time. Good enough to
/// spread retries; not for anything secret.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(now);
    hasher.finish()
}

/// An error and its sources on one line (reqwest's URL left out).
fn chain(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_dates_and_okta_reset() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));

        let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, later.parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));

        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
        headers.insert(RETRY_AFTER, earlier.parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));

        let mut okta = HeaderMap::new();
        okta.insert("x-rate-limit-reset", "1000000005".parse().unwrap());
        assert_eq!(retry_after(&okta, now), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_delay() {
        let delay = Duration::from_millis(800);
        let waits: Vec<Duration> = (0..200).map(|_| jittered(delay)).collect();
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_millis(400) && *w <= delay)
        );
        // Spread, not one fixed value.
        let first = waits[0];
        assert!(waits.iter().any(|w| *w != first));
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
        assert!(jittered(Duration::MAX) >= Duration::MAX / 2);
    }

    #[test]
    fn base_urls_must_be_https_except_loopback() {
        assert!(base_url("x", "https://api.crowdstrike.com").is_ok());
        assert!(base_url("x", "http://127.0.0.1:8080").is_ok());
        assert!(base_url("x", "http://localhost:8080").is_ok());
        for bad in [
            "http://api.crowdstrike.com",
            "ftp://example.com",
            "https://user:pw@example.com",
            "https://example.com/?a=b",
            "not a url",
        ] {
            let err = base_url("x", bad).err();
            assert_eq!(
                err.map(|e| e.kind),
                Some(ConnectorErrorKind::Config),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2-very-secret");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }

    #[test]
    fn secret_files_lose_one_trailing_newline() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("token");
        std::fs::write(&path, "abc def\r\n")?;
        assert_eq!(Secret::from_file(&path)?.expose(), "abc def");
        std::fs::write(&path, "abc\n")?;
        assert_eq!(Secret::from_file(&path)?.expose(), "abc");
        std::fs::write(&path, "\n")?;
        let empty = Secret::from_file(&path).err();
        assert_eq!(empty.map(|e| e.kind), Some(ConnectorErrorKind::Config));
        let missing = Secret::from_file(&dir.path().join("nope")).err();
        assert!(missing.is_some_and(|e| e.message.contains("nope")));
        Ok(())
    }

    #[test]
    fn secrets_from_the_environment() {
        // Cargo sets this for every test run; setting a variable would need
        // unsafe code, which the workspace forbids.
        let Ok(value) = std::env::var("CARGO_PKG_NAME") else {
            return;
        };
        assert!(Secret::from_env("CARGO_PKG_NAME").is_ok_and(|s| s.expose() == value));
        let missing = Secret::from_env("WARDEN_TEST_SURELY_UNSET_VARIABLE").err();
        assert!(missing.is_some_and(|e| e.kind == ConnectorErrorKind::Config
            && e.message.contains("WARDEN_TEST_SURELY_UNSET_VARIABLE")));
    }

    #[derive(Debug, Deserialize)]
    struct Holder {
        secret: SecretRef,
    }

    #[test]
    fn secret_refs_parse_and_inline_values_are_refused_without_echo() {
        let env: Result<Holder, _> = toml::from_str("secret = { env = \"FALCON_SECRET\" }");
        assert_eq!(
            env.ok().map(|h| h.secret),
            Some(SecretRef::Env("FALCON_SECRET".into()))
        );
        let file: Result<Holder, _> = toml::from_str("secret = { file = \"/run/secrets/x\" }");
        assert_eq!(
            file.ok().map(|h| h.secret),
            Some(SecretRef::File("/run/secrets/x".into()))
        );
        for bad in [
            "secret = \"s3cr3t-inline-value\"",
            "secret = { value = \"s3cr3t-inline-value\" }",
            "secret = { env = \"A\", file = \"/b\" }",
            "secret = {}",
        ] {
            let err = toml::from_str::<Holder>(bad).expect_err(bad);
            // The TOML error quotes the source line; the message itself
            // must not repeat the value.
            assert!(
                !err.message().contains("s3cr3t"),
                "{bad}: {}",
                err.message()
            );
        }
    }
}
