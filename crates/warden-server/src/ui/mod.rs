//! The analyst web UI: server-rendered HTML (askama templates in
//! `templates/`, which escape every value by default), plain forms that
//! post back here, and no JavaScript at all, so it works with scripts off
//! and under a CSP that allows none. Every form carries the session's CSRF
//! token (checked in `guard`); the sign-in form uses a double-submit
//! cookie, since there is no session yet.
//!
//! # Layout
//!
//! - this file: the route list, the navigation bar, rendering and error
//!   pages, sign-in and sign-out, and the small helpers pages share
//!   (flash messages, form fields);
//! - [`cases`]: the case queue and case detail (notes, closing);
//! - [`approvals`]: the approval queue and approval cards (approve, reject,
//!   modify);
//! - [`audit`]: the audit explorer and the log's verification;
//! - [`use_cases`]: autonomy levels and the kill switch;
//! - [`dashboard`]: metrics with charts drawn as inline SVG on the server.
//!
//! Text that came from outside (alert fields, rule names, evidence,
//! rationale, notes, reasons) reaches a page only through askama's default
//! HTML escaping: no template marks anything `safe`.

mod approvals;
mod audit;
mod cases;
mod charts;
mod dashboard;
mod use_cases;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{self, Principal, session};
use crate::error::ApiError;
use crate::guard::Access;
use crate::routes::Route;

/// The UI's routes.
pub fn routes() -> Vec<Route> {
    let r = Route::new;
    let mut routes = vec![
        r(
            Method::GET,
            "/",
            Access::Authenticated,
            "Home: the case queue",
            get(home),
        ),
        r(
            Method::GET,
            "/login",
            Access::Public,
            "The sign-in page",
            get(login_page),
        ),
        r(
            Method::POST,
            "/login",
            Access::Public,
            "Sign in",
            post(login),
        ),
        r(
            Method::POST,
            "/logout",
            Access::Person,
            "Sign out",
            post(logout),
        ),
        r(
            Method::GET,
            "/static/app.css",
            Access::Public,
            "The stylesheet",
            get(stylesheet),
        ),
    ];
    routes.extend(cases::routes());
    routes.extend(approvals::routes());
    routes.extend(audit::routes());
    routes.extend(use_cases::routes());
    routes.extend(dashboard::routes());
    routes
}

/// The navigation bar's view of the signed-in person.
#[derive(Debug, Clone)]
pub struct Nav {
    pub current: &'static str,
    pub name: String,
    pub roles: String,
    pub csrf: String,
}

impl Nav {
    pub fn of(principal: &Principal, current: &'static str) -> Self {
        let roles = match principal {
            Principal::Person { person, .. } => person.roles.join(", "),
            Principal::Token(token) => token.scopes.join(", "),
        };
        Self {
            current,
            name: principal.name().to_owned(),
            roles,
            csrf: principal.csrf().unwrap_or_default().to_owned(),
        }
    }
}

/// Render a template, or answer 500 (logged) if it cannot be.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Option<Nav>,
    status: String,
    message: &'a str,
}

/// An error page with `status`.
pub fn error_page(status: StatusCode, message: &str, principal: Option<&Principal>) -> Response {
    let page = ErrorPage {
        nav: principal.map(|p| Nav::of(p, "")),
        status: status.to_string(),
        message,
    };
    (status, render(&page)).into_response()
}

/// An [`ApiError`] as a page.
pub fn error_response(err: ApiError, principal: &Principal) -> Response {
    error_page(err.status, &err.message, Some(principal))
}

/// The page's answer, or its error as a page.
fn page(result: Result<Response, ApiError>, principal: &Principal) -> Response {
    result.unwrap_or_else(|err| error_response(err, principal))
}

/// A page that changes something needs a signed-in person (tokens carry
/// no CSRF token and hold no permission that reaches these forms).
fn person_of(principal: &Principal) -> Result<&warden_store::Person, ApiError> {
    principal
        .person()
        .ok_or_else(|| ApiError::forbidden("this needs a signed-in person, not a token"))
}

/// The message for a `?done=` code. Only fixed texts are shown, so a link
/// cannot make a page say something of the sender's choosing.
fn flash(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "note_added" => "Note added.",
        "closed" => "Case closed.",
        "closed_stepped_down" => {
            "Case closed. Analysts overrode the agent too often, so this use case stepped down a level (see Use cases)."
        }
        "approved" => "Approved. More approvals are needed before it runs.",
        "ready" => {
            "Approved. Every required approval is in: the order goes to the executor, which checks it again before it runs; its outcome shows here."
        }
        "rejected" => "Rejected; the action will not run.",
        "modified" => "Modified: this is a new proposal, which someone else must approve.",
        "autonomy_set" => "Autonomy level changed.",
        "paused" => "Kill switch pulled: execution is paused.",
        "resumed" => "Kill switch released: execution resumes.",
        _ => return None,
    })
}

/// An empty form or query field means "not given".
fn given(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `path?done=code`, a 303 after a change.
fn done(path: &str, code: &str) -> Response {
    Redirect::to(&format!("{path}?done={code}")).into_response()
}

/// A path segment, percent-encoded (ids and names in links and form
/// targets).
fn segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One `<option>` of a `<select>`.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    fn list<'a>(values: impl IntoIterator<Item = &'a str>, selected: Option<&str>) -> Vec<Choice> {
        values
            .into_iter()
            .map(|v| Choice {
                value: v.to_owned(),
                label: v.replace('_', " "),
                selected: selected == Some(v),
            })
            .collect()
    }
}

/// Unknown paths: 404 without saying more (no authentication needed to
/// learn that nothing is there).
pub async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "There is no such page.", None)
}

async fn home() -> Redirect {
    Redirect::to("/cases")
}

async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    nav: Option<Nav>,
    csrf: String,
    next: String,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

/// Only a local path is a place to go back to after signing in: a
/// relative reference with no scheme and no authority, starting with one
/// `/` not followed by another `/` or a `\\`, made only of the characters
/// RFC 3986 allows in a path, query and fragment (so no backslash, no
/// space and no control character: browsers drop tabs and line breaks, and
/// read `/\t/evil.example` as `//evil.example`). Anything else goes home
/// (`/`); no `next` at all goes to the case queue.
fn safe_next(next: Option<&str>) -> String {
    let Some(path) = next else {
        return "/cases".to_owned();
    };
    if is_local_path(path) {
        path.to_owned()
    } else {
        "/".to_owned()
    }
}

fn is_local_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    let uri_char = |b: &u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#%".contains(b);
    bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && bytes.iter().all(uri_char)
}

fn login_form(
    state: &AppState,
    next: String,
    message: Option<String>,
    status: StatusCode,
) -> Response {
    let secure = state.config().secure_cookies;
    let csrf = auth::new_secret();
    let page = LoginPage {
        nav: None,
        csrf: csrf.clone(),
        next,
        message,
    };
    let mut response = (status, render(&page)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&session::set_cookie(
        session::login_cookie_name(secure),
        &csrf,
        3600,
        secure,
    )) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

async fn login_page(State(state): State<AppState>, Query(query): Query<LoginQuery>) -> Response {
    login_form(
        &state,
        safe_next(query.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

/// The account name a sign-in form was given, as a log line may show it
/// (S6): people type passwords there, and a newline would forge lines. A
/// keyed hash (a key drawn at start, never stored), so repeated attempts
/// on one name can be told apart from a spray, and the typed text never
/// reaches the log.
fn account_for_log(typed: &str) -> String {
    use sha2::Digest as _;
    static KEY: std::sync::LazyLock<[u8; 32]> = std::sync::LazyLock::new(|| {
        let mut key = [0u8; 32];
        rand_core_06::RngCore::fill_bytes(&mut rand_core_06::OsRng, &mut key);
        key
    });
    let mut hasher = sha2::Sha256::new();
    hasher.update(*KEY);
    hasher.update(typed.as_bytes());
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("typed:{hex} ({} chars)", typed.chars().count())
}

#[derive(Debug, Deserialize)]
struct LoginFields {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    connection: Option<axum::Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    Form(fields): Form<LoginFields>,
) -> Response {
    let secure = state.config().secure_cookies;
    let next = safe_next(fields.next.as_deref());
    let expected = session::cookie(&headers, session::login_cookie_name(secure));
    if !expected.is_some_and(|e| auth::same_secret(e, &fields.csrf)) {
        return login_form(
            &state,
            next,
            Some("The sign-in form expired; try again.".into()),
            StatusCode::FORBIDDEN,
        );
    }
    let address = connection.map(|axum::Extension(ConnectInfo(addr))| addr.ip().to_string());
    let now = state.now();
    let name = fields.username.trim().to_lowercase();
    if let Some(wait) = state.throttle().wait(&name, address.as_deref(), now) {
        tracing::warn!(account = %account_for_log(&name), "sign-in refused: locked out after failures");
        let seconds = wait.whole_seconds().max(1);
        let mut response = login_form(
            &state,
            next,
            Some(format!(
                "Too many failed sign-ins; try again in {seconds} seconds."
            )),
            StatusCode::TOO_MANY_REQUESTS,
        );
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let person =
        match warden_pipeline::accounts::authenticate(&**state.store(), &name, &fields.password)
            .await
        {
            Ok(person) => person,
            Err(_) => {
                state.throttle().failed(&name, address.as_deref(), now);
                tracing::warn!(account = %account_for_log(&name), "sign-in failed");
                return login_form(
                    &state,
                    next,
                    Some("Wrong name or password.".into()),
                    StatusCode::UNAUTHORIZED,
                );
            }
        };
    state.throttle().succeeded(&name);
    let minutes = state.config().session_minutes;
    let (secret, _) = match session::start(&**state.store(), &person, now, minutes).await {
        Ok(started) => started,
        Err(err) => return ApiError::internal(err).into_response(),
    };
    tracing::info!(account = %person.name, "signed in");
    let mut response = Redirect::to(&next).into_response();
    let cookies = [
        session::set_cookie(
            session::cookie_name(secure),
            &secret,
            i64::from(minutes) * 60,
            secure,
        ),
        session::set_cookie(session::login_cookie_name(secure), "", 0, secure),
    ];
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn logout(
    State(state): State<AppState>,
    axum::Extension(principal): axum::Extension<Principal>,
) -> Response {
    if let Principal::Person { session, .. } = &principal
        && let Err(err) = state.store().delete_session(&session.token_hash).await
    {
        return ApiError::internal(err).into_response();
    }
    let secure = state.config().secure_cookies;
    let mut response = Redirect::to("/login").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::set_cookie(
        session::cookie_name(secure),
        "",
        0,
        secure,
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}
