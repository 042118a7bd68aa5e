//! Browser sessions: a random secret in an HttpOnly, SameSite=Strict cookie
//! (Secure, with the `__Host-` prefix, when `[server] secure_cookies`), its
//! SHA-256 in the store with an expiry and the session's CSRF token.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use time::{Duration, OffsetDateTime};
use warden_store::{AuthStore, CaseReader, Person, Session, StoreError};

use super::{new_secret, secret_hash};

/// The session cookie's name: `__Host-` prefixed when cookies are Secure
/// (browsers then refuse it from any other host or path, or over HTTP).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-warden_session"
    } else {
        "warden_session"
    }
}

/// The sign-in form's double-submit CSRF cookie (before there is a session).
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-warden_login"
    } else {
        "warden_login"
    }
}

/// A `Set-Cookie` value for `name=value`, HttpOnly and SameSite=Strict;
/// `max_age` in seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The value of cookie `name` in the request, if sent.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
}

/// A new session for `person`; returns the cookie secret (never stored).
pub async fn start(
    store: &dyn AuthStore,
    person: &Person,
    now: OffsetDateTime,
    minutes: u32,
) -> Result<(String, Session), StoreError> {
    let secret = new_secret();
    let session = Session {
        token_hash: secret_hash(&secret),
        person: person.name.clone(),
        csrf_token: new_secret(),
        created_at: now,
        expires_at: now + Duration::minutes(i64::from(minutes)),
    };
    store.add_session(&session).await?;
    Ok((secret, session))
}

/// The live session whose secret is `secret`, with its person as stored
/// now (so a role change applies at once).
pub async fn resume<S: AuthStore + CaseReader + ?Sized>(
    store: &S,
    secret: &str,
    now: OffsetDateTime,
) -> Result<Option<(Person, Session)>, StoreError> {
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let hash = secret_hash(secret);
    let Some(session) = store.session(&hash).await? else {
        return Ok(None);
    };
    if session.expires_at <= now {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    Ok(store
        .person(&session.person)
        .await?
        .map(|person| (person, session)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; warden_session=abc; xwarden_session=no"),
        );
        assert_eq!(cookie(&headers, "warden_session"), Some("abc"));
        assert_eq!(cookie(&headers, "a"), Some("1"));
        assert_eq!(cookie(&headers, "b"), None);
        let set = set_cookie("warden_session", "v", 60, true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie("n", "v", 0, false).contains("Secure"));
    }
}
