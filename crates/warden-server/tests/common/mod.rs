#![allow(dead_code, reason = "each test file uses a part")]
//! What the server's integration tests share: a server over a fresh data
//! directory, accounts and tokens, signing in through the form, and
//! reading `Set-Cookie` headers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use tempfile::TempDir;
use tower::ServiceExt as _;
use warden_domain::{Clock, SystemClock};
use warden_pipeline::{Config, Pipeline};
use warden_policy::PolicyEngine;
use warden_server::{AppState, Audit, TriageQueue, auth};
use warden_store::SqliteStore;

pub const PASSWORD: &str = "correct horse battery staple";
pub const ROLES: [&str; 5] = [
    "viewer",
    "analyst",
    "soc_lead",
    "incident_commander",
    "admin",
];

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An example alert from `examples/alerts`, as bytes.
pub fn example(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("examples/alerts").join(name)).unwrap()
}

/// The example context (`examples/context`), loaded as `config` says.
pub fn example_context(config: &Config) -> warden_enrich::Context {
    warden_enrich::Context::load(&repo().join("examples/context"), &config.context).unwrap()
}

/// A fresh data directory's parts (store, signed audit log, pipeline),
/// before the server's state is made over them.
pub struct Parts {
    pub dir: TempDir,
    pub store: Arc<SqliteStore>,
    pub pipeline: Arc<Pipeline>,
    audit: Arc<Audit>,
    public_key: warden_audit::PublicKey,
    clock: Arc<dyn Clock>,
}

/// A server over a fresh data directory: its state, its (undrained)
/// triage queue and its router.
pub struct Server {
    pub dir: TempDir,
    pub state: AppState,
    pub queue: TriageQueue,
    pub router: Router,
}

impl Parts {
    pub async fn new(
        config: Config,
        policy: PolicyEngine,
        context: warden_enrich::Context,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(
            SqliteStore::open(&dir.path().join("warden.db"))
                .await
                .unwrap(),
        );
        let key = warden_audit::LogKey::create_files(&dir.path().join("keys"), "warden.audit/test")
            .unwrap();
        let public_key = key.public().clone();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        // The server holds its store behind the traits (either backend).
        let backend: Arc<dyn warden_store::Backend> = store.clone();
        let audit = Arc::new(
            warden_audit::StoreAuditLog::new(backend, clock.clone())
                .with_checkpointer(warden_audit::Checkpointer::new(key, 1000)),
        );
        let pipeline = Arc::new(
            Pipeline::new(
                config,
                store.clone(),
                audit.clone(),
                clock.clone(),
                policy,
                context,
            )
            .unwrap(),
        );
        Self {
            dir,
            store,
            pipeline,
            audit,
            public_key,
            clock,
        }
    }

    /// The shipped policies and the example context, with one account per
    /// role (as [`Parts::add_role_accounts`]).
    pub async fn with_role_accounts(config: Config) -> Self {
        let context = example_context(&config);
        let parts = Self::new(config, PolicyEngine::default_set().unwrap(), context).await;
        parts.add_role_accounts().await;
        parts
    }

    /// One account per role in [`ROLES`], named after it, with [`PASSWORD`].
    pub async fn add_role_accounts(&self) {
        for role in ROLES {
            self.pipeline
                .control()
                .add_person(role, &[role.to_owned()], PASSWORD, "test")
                .await
                .unwrap();
        }
    }

    /// The server's state and router over these parts.
    pub fn serve(self) -> Server {
        let (state, queue) = AppState::new(
            self.store,
            self.pipeline,
            self.audit,
            self.public_key,
            self.clock,
        );
        let router = warden_server::router(state.clone());
        Server {
            dir: self.dir,
            state,
            queue,
            router,
        }
    }
}

/// A new API token's secret.
pub async fn token(state: &AppState, name: &str, scopes: &[&str]) -> String {
    let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
    let (secret, _) = auth::token::create(
        &**state.store(),
        &**state.audit(),
        name,
        &scopes,
        "test",
        state.now(),
    )
    .await
    .unwrap();
    secret
}

/// Sign in through the form: the login page for its CSRF cookie, then the
/// form posted with it (and `next`, when given); `secure` as the server's
/// `secure_cookies`. The login page's status and the answer to the POST.
pub async fn sign_in(
    router: &Router,
    secure: bool,
    name: &str,
    password: &str,
    next: Option<&str>,
) -> (StatusCode, Response<Body>) {
    let page = router
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let login_cookie = auth::session::login_cookie_name(secure);
    let csrf = set_cookie_value(&page, login_cookie).expect("login CSRF cookie");
    let mut form = format!(
        "username={name}&password={}&csrf={csrf}",
        password.replace(' ', "+")
    );
    if let Some(next) = next {
        let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
        form.push_str(&format!("&next={next}"));
    }
    let response = router
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("{login_cookie}={csrf}"))
                .body(Body::from(form))
                .unwrap(),
        )
        .await
        .unwrap();
    (page.status(), response)
}

/// The `name=value` session cookie a successful sign-in set.
pub fn session_cookie(response: &Response<Body>, secure: bool) -> String {
    let name = auth::session::cookie_name(secure);
    let secret = set_cookie_value(response, name).expect("session cookie");
    format!("{name}={secret}")
}

/// The value of the cookie `name` the response sets.
pub fn set_cookie_value(response: &Response<Body>, name: &str) -> Option<String> {
    set_cookie_line(response, name)?
        .split(';')
        .next()?
        .split_once('=')
        .map(|(_, v)| v.to_owned())
}

/// The whole `Set-Cookie` line for the cookie `name`.
pub fn set_cookie_line(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|line| line.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}
