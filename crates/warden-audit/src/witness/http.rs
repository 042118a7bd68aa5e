//! The HTTP witness: a small protocol any web service can speak.
//!
//! - **Push**: `POST URL` with `Content-Type: text/plain; charset=utf-8`
//!   and the exact bytes of the signed note as the body (and
//!   `Authorization: Bearer TOKEN` when a token is configured). Any 2xx
//!   answer means the witness keeps it; anything else fails the signing.
//!   The same checkpoint may arrive twice (a retry after a lost answer):
//!   keeping both is fine.
//! - **Read**: `GET URL` (`Accept: text/plain`, the same token) answers
//!   2xx with every checkpoint held, oldest first, in the file witness's
//!   format: one per line, each the signed note as a JSON string (an
//!   empty body holds none). `GET URL?newest=1` may answer only the
//!   newest line; a witness that ignores the query and answers every line
//!   is right too.
//!
//! Only `https`, or `http` to a loopback address: a witness elsewhere
//! would otherwise take checkpoints, and a token, in clear text over the
//! network. Requests go through [`warden_http::HttpClient`]: rustls with
//! ring, no redirects, a 5 s time-out per attempt and one retry, so a
//! witness that is down fails the signing within seconds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Url};
use warden_http::{HttpClient, HttpSettings, Retry, Secret, SecretRef};

use super::{parse_lines, shown};
use crate::AuditError;

/// Time-outs of a witness call. Signing waits for the witness (appends do
/// not: the log signs outside its commit lock), and the next checkpoint
/// waits for this one, so these stay short.
const SETTINGS: HttpSettings = HttpSettings {
    timeout: Duration::from_secs(5),
    max_retries: 1,
    max_retry_wait: Duration::from_secs(2),
    initial_backoff: Duration::from_millis(250),
};
/// Largest answer read back: about 250,000 checkpoints.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// An HTTP endpoint that keeps every checkpoint it is sent.
#[derive(Clone)]
pub struct HttpWitness {
    url: Url,
    client: Arc<HttpClient>,
    token: Option<Secret>,
}

impl fmt::Debug for HttpWitness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpWitness")
            .field("url", &self.url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The witness's own error text: its answer body, which the client
/// flattens, caps and scrubs of the token.
fn error_text(body: &[u8]) -> Option<String> {
    Some(String::from_utf8_lossy(body).into_owned())
}

impl HttpWitness {
    /// A witness at `url` (https, or http to a loopback address), with the
    /// bearer token `token` names, read now.
    pub fn new(url: &str, token: Option<&SecretRef>) -> Result<Self, AuditError> {
        let bad = |reason: String| AuditError::Witness {
            witness: shown(url),
            reason,
        };
        let url = warden_http::base_url("an http witness URL", url).map_err(|e| bad(e.message))?;
        let token = token
            .map(|source| {
                source
                    .load()
                    .map_err(|e| bad(format!("its token: {}", e.message)))
            })
            .transpose()?;
        let mut client = HttpClient::new("the witness", SETTINGS, error_text, &[&url])
            .map_err(|e| bad(e.message))?
            .with_body_cap(MAX_ANSWER_BYTES);
        if let Some(token) = &token {
            client = client.protect(token);
        }
        Ok(Self {
            url,
            client: Arc::new(client),
            token,
        })
    }

    pub fn name(&self) -> String {
        self.url.to_string()
    }

    fn failed(&self, reason: String) -> AuditError {
        AuditError::Witness {
            witness: self.name(),
            reason,
        }
    }

    fn authorised(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// POST the signed note, as is.
    pub async fn push(&self, note: &str) -> Result<(), AuditError> {
        const WHAT: &str = "a checkpoint push";
        let request = self
            .client
            .request(Method::POST, self.url.clone())
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(note.to_owned());
        // A repeat leaves a duplicate line at worst.
        let answer = self
            .client
            .send(WHAT, self.authorised(request), Retry::Idempotent)
            .await
            .map_err(|e| self.failed(e.message))?;
        if !answer.status.is_success() {
            return Err(self.failed(self.client.failure(WHAT, &answer).message));
        }
        Ok(())
    }

    /// GET what it holds: every checkpoint, or (`newest`) at least the
    /// newest one last.
    pub async fn checkpoints(&self, newest: bool) -> Result<Vec<String>, AuditError> {
        const WHAT: &str = "a checkpoint listing";
        let mut url = self.url.clone();
        if newest {
            url.query_pairs_mut().append_pair("newest", "1");
        }
        let request = self
            .client
            .request(Method::GET, url)
            .header(ACCEPT, "text/plain");
        let answer = self
            .client
            .send(WHAT, self.authorised(request), Retry::Idempotent)
            .await
            .map_err(|e| self.failed(e.message))?;
        if !answer.status.is_success() {
            return Err(self.failed(self.client.failure(WHAT, &answer).message));
        }
        let text = std::str::from_utf8(&answer.body)
            .map_err(|_| self.failed("the checkpoint listing is not UTF-8".into()))?;
        parse_lines(text).map_err(|reason| self.failed(format!("checkpoint listing {reason}")))
    }
}
