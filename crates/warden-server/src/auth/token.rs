//! API tokens: `wdn_` and 64 hex digits, shown once at creation; the store
//! keeps the SHA-256. Sent as `Authorization: Bearer wdn_...`.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use time::OffsetDateTime;
use warden_audit::AuditLog;
use warden_domain::AuditEvent;
use warden_store::{ApiToken, AuthStore, StoreError};

use super::{SCOPES, new_secret, secret_hash};

/// The prefix that marks a Warden token (secret scanners can look for it).
pub const PREFIX: &str = "wdn_";

/// Why a token could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("unknown scope {0:?}; scopes are {scopes}", scopes = SCOPES.join(", "))]
    UnknownScope(String),
    #[error("a token needs at least one scope")]
    NoScope,
    #[error("token names are 1-64 letters, digits, '.', '_' or '-'; got {0:?}")]
    BadName(String),
    #[error("a token named {0} exists")]
    Taken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("audit log: {0}")]
    Audit(#[from] warden_audit::AuditError),
}

/// Create a token, on the record first; returns the secret, shown once,
/// and the stored record.
pub async fn create(
    store: &dyn AuthStore,
    audit: &dyn AuditLog,
    name: &str,
    scopes: &[String],
    created_by: &str,
    now: OffsetDateTime,
) -> Result<(String, ApiToken), TokenError> {
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !valid_name {
        return Err(TokenError::BadName(name.to_owned()));
    }
    if scopes.is_empty() {
        return Err(TokenError::NoScope);
    }
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(TokenError::UnknownScope(unknown.clone()));
    }
    let secret = format!("{PREFIX}{}", new_secret());
    let mut scopes = scopes.to_vec();
    scopes.sort();
    scopes.dedup();
    let token = ApiToken {
        id: format!("tok-{}", uuid::Uuid::now_v7()),
        name: name.to_owned(),
        token_hash: secret_hash(&secret),
        scopes,
        created_by: created_by.to_owned(),
        created_at: now,
        revoked_at: None,
    };
    if store
        .api_tokens()
        .await?
        .iter()
        .any(|t| t.name == token.name)
    {
        return Err(TokenError::Taken(name.to_owned()));
    }
    record(audit, &token, "created", created_by).await?;
    if !store.add_api_token(&token).await? {
        return Err(TokenError::Taken(name.to_owned()));
    }
    Ok((secret, token))
}

/// Revoke the live token `name`, on the record first; false when there is
/// none.
pub async fn revoke(
    store: &dyn AuthStore,
    audit: &dyn AuditLog,
    name: &str,
    by: &str,
    now: OffsetDateTime,
) -> Result<bool, TokenError> {
    let Some(token) = store
        .api_tokens()
        .await?
        .into_iter()
        .find(|t| t.name == name && t.revoked_at.is_none())
    else {
        return Ok(false);
    };
    record(audit, &token, "revoked", by).await?;
    Ok(store.revoke_api_token(name, now).await?)
}

async fn record(
    audit: &dyn AuditLog,
    token: &ApiToken,
    change: &str,
    by: &str,
) -> Result<(), TokenError> {
    audit
        .append(
            by,
            AuditEvent::ApiTokenChanged {
                name: token.name.clone(),
                scopes: token.scopes.clone(),
                change: change.to_owned(),
                by: by.to_owned(),
            },
        )
        .await?;
    Ok(())
}

/// The bearer secret in the request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, secret) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(secret.trim())
}

/// The live token whose secret is `secret`.
pub async fn resume(store: &dyn AuthStore, secret: &str) -> Result<Option<ApiToken>, StoreError> {
    let Some(hex) = secret.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    Ok(store
        .api_token_by_hash(&secret_hash(secret))
        .await?
        .filter(|token| token.revoked_at.is_none()))
}
