//! A local HTTP server standing in for a product, and helpers shared by the
//! connector wire-format tests.

#![allow(dead_code, reason = "each test file uses part of the helpers")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Response, StatusCode};
use tempfile::TempDir;
use warden_domain::{ActionName, ActionProposal, CaseId, EvidenceId, ObservableKind, Target};
use warden_execute::connectors::{HttpSettings, SecretRef};
use warden_execute::{ConnectorError, ConnectorRequest};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Query parameters, decoded.
    pub fn query_pairs(&self) -> BTreeMap<String, String> {
        decode_pairs(self.query.as_deref().unwrap_or(""))
    }

    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().get(name).cloned()
    }

    /// A form body, decoded.
    pub fn form(&self) -> BTreeMap<String, String> {
        decode_pairs(std::str::from_utf8(&self.body).unwrap_or(""))
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

fn decode_pairs(text: &str) -> BTreeMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://decode/?{text}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// What the server answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Respond = dyn Fn(&Seen) -> Reply + Send + Sync;

struct Inner {
    seen: Mutex<Vec<Seen>>,
    /// Injected answers: (method, path, remaining uses, reply).
    faults: Mutex<Vec<(String, String, usize, Reply)>>,
    respond: Box<Respond>,
}

/// A running fake product on 127.0.0.1.
#[derive(Clone)]
pub struct Mock {
    pub base: String,
    inner: Arc<Inner>,
}

impl Mock {
    /// Serve `respond` on a fresh port.
    pub async fn start(respond: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let inner = Arc::new(Inner {
            seen: Mutex::new(Vec::new()),
            faults: Mutex::new(Vec::new()),
            respond: Box::new(respond),
        });
        let app = Router::new().fallback(handle).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { base, inner }
    }

    /// Answer the next `times` requests to `method path` with `reply`
    /// instead of the product's normal answer.
    pub fn fail(&self, method: &str, path: &str, times: usize, reply: Reply) {
        self.inner
            .faults
            .lock()
            .unwrap()
            .push((method.into(), path.into(), times, reply));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.seen.lock().unwrap().clone()
    }

    /// How many requests went to `method path`.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.seen().iter().filter(|s| s.is(method, path)).count()
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap()
        .to_vec();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    };
    inner.seen.lock().unwrap().push(seen.clone());
    let injected = {
        let mut faults = inner.faults.lock().unwrap();
        let hit = faults
            .iter_mut()
            .position(|(m, p, left, _)| *left > 0 && seen.is(m, p));
        hit.map(|i| {
            let fault = &mut faults[i];
            fault.2 -= 1;
            fault.3.clone()
        })
    };
    let reply = injected.unwrap_or_else(|| (inner.respond)(&seen));
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// Fast settings: short time-out, two retries, waits capped at 1.5 s.
pub fn settings() -> HttpSettings {
    HttpSettings {
        timeout: Duration::from_millis(400),
        max_retries: 2,
        max_retry_wait: Duration::from_millis(1500),
        initial_backoff: Duration::from_millis(10),
    }
}

/// Write `value` to a file in `dir` (with a trailing newline, as editors
/// and `echo` leave it) and reference it.
pub fn secret_file(dir: &TempDir, name: &str, value: &str) -> SecretRef {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{value}\n")).unwrap();
    SecretRef::File(path)
}

pub fn proposal(action: ActionName, target: Target) -> ActionProposal {
    ActionProposal {
        case_id: CaseId::new(),
        action,
        target,
        parameters: BTreeMap::new(),
        proposed_by: "deterministic".into(),
        evidence: vec![EvidenceId::enrichment(1), EvidenceId::alert(1)],
    }
}

pub fn entity(kind: ObservableKind, value: &str) -> Target {
    Target::Entity {
        kind,
        value: value.into(),
    }
}

/// A request with a fixed idempotency key.
pub fn request(proposal: &ActionProposal) -> ConnectorRequest<'_> {
    ConnectorRequest {
        proposal,
        idempotency_key: KEY,
        gate: None,
    }
}

/// A proposal hash, as the executor passes it.
pub const KEY: &str = "3f2a9c0d41b7e6585a1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6";

/// The error's Display and Debug never contain any of `secrets`.
pub fn assert_no_secret(error: &ConnectorError, secrets: &[&str]) {
    let shown = format!("{error} {error:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "secret leaked into {shown}");
    }
}

/// Percent-decode one path segment.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// `Basic base64(user:password)`, as RFC 7617 spells it.
pub fn basic_auth(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::new();
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    format!("Basic {out}")
}
