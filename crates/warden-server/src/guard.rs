//! The gate every route passes (attached per route by `routes::router`).
//!
//! 1. Authenticate: a bearer API token, else the session cookie. Public
//!    routes (sign-in, the stylesheet) skip this.
//! 2. Authorise: the route's [`Permission`] must be held.
//! 3. For a person changing state (any method but GET/HEAD): the request's
//!    `Origin`, when sent, must be this server, and the session's CSRF
//!    token must come back in the `X-CSRF-Token` header or the form's
//!    `csrf` field. Tokens are exempt: they are not sent by browsers on
//!    their own, so they cannot be ridden cross-site.
//!
//! Refusals: an API route answers 401/403 JSON; a page answers a redirect
//! to the sign-in page (not signed in) or a 403 page.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::{self, Permission, Principal};
use crate::error::ApiError;
use crate::{AppState, ui};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: the sign-in page and form, the stylesheet.
    Public,
    /// Any signed-in person or valid token.
    Authenticated,
    /// Any signed-in person (sign-out, own profile), not tokens.
    Person,
    /// Callers holding this permission.
    Needs(Permission),
}

/// Largest form body read for its CSRF field.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Whether a path is an API route (JSON errors) rather than a page.
pub fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

pub async fn authorize(
    State((state, access)): State<(AppState, Access)>,
    request: Request,
    next: Next,
) -> Response {
    if access == Access::Public {
        return next.run(request).await;
    }
    let api = is_api(request.uri().path());
    let principal = match authenticate(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) => return unauthenticated(api, &request),
        Err(err) => return err.into_response(),
    };
    let allowed = match access {
        Access::Public | Access::Authenticated => true,
        Access::Person => principal.person().is_some(),
        Access::Needs(permission) => principal.can(permission),
    };
    if !allowed {
        let message = match access {
            Access::Needs(p) => format!(
                "{} may not do this (needs {})",
                principal.name(),
                p.as_str()
            ),
            _ => "this needs a signed-in person".to_owned(),
        };
        return refuse(api, StatusCode::FORBIDDEN, "forbidden", message, &principal);
    }
    let mut request = request;
    if changes_state(request.method())
        && let Some(expected) = principal.csrf()
    {
        if !same_origin(&request) {
            return refuse(
                api,
                StatusCode::FORBIDDEN,
                "cross_origin",
                "the request came from another origin".into(),
                &principal,
            );
        }
        let expected = expected.to_owned();
        match csrf_checked(request, &expected).await {
            Ok(checked) => request = checked,
            Err(()) => {
                return refuse(
                    api,
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "missing or wrong CSRF token; reload the page and try again".into(),
                    &principal,
                );
            }
        }
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The caller, from a bearer token or the session cookie.
pub async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Principal>, ApiError> {
    if let Some(secret) = auth::token::bearer(headers) {
        // A bad token is a refusal, not a fall-back to the cookie.
        return Ok(auth::token::resume(&**state.store(), secret)
            .await?
            .map(Principal::Token));
    }
    let name = auth::session::cookie_name(state.config().secure_cookies);
    let Some(secret) = auth::session::cookie(headers, name) else {
        return Ok(None);
    };
    Ok(auth::session::resume(&**state.store(), secret, state.now())
        .await?
        .map(|(person, session)| Principal::Person { person, session }))
}

fn unauthenticated(api: bool, request: &Request) -> Response {
    if api {
        return ApiError::unauthorized().into_response();
    }
    // Back to this page after signing in (a local path only).
    let target = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str())
        .filter(|_| request.method() == Method::GET)
        .unwrap_or("/");
    let next: String = form_urlencoded::byte_serialize(target.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

fn refuse(
    api: bool,
    status: StatusCode,
    code: &'static str,
    message: String,
    principal: &Principal,
) -> Response {
    tracing::warn!(caller = %principal.actor(), code, "request refused");
    if api {
        ApiError::new(status, code, message).into_response()
    } else {
        ui::error_page(status, &message, Some(principal))
    }
}

/// The `Origin` header, when a browser sends one, names this host.
fn same_origin(request: &Request) -> bool {
    let Some(origin) = request.headers().get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

/// Check the CSRF token in the header or, for a form, its `csrf` field;
/// the form body is read and put back for the handler.
async fn csrf_checked(request: Request, expected: &str) -> Result<Request, ()> {
    if let Some(sent) = request
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if auth::same_secret(sent, expected) {
            Ok(request)
        } else {
            Err(())
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(());
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_FORM_BYTES).await.map_err(|_| ())?;
    let sent = form_urlencoded::parse(&bytes)
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.into_owned());
    match sent {
        Some(sent) if auth::same_secret(&sent, expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(()),
    }
}

/// Security headers on every answer: a CSP that allows no script at all,
/// styles and images from this server only, forms posting only here, no
/// framing; no MIME sniffing; no referrer to other sites; nothing cached.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // same-origin, not no-referrer: under no-referrer browsers send
        // `Origin: null` on form posts, and the origin check needs it.
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
