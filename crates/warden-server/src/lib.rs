//! `warden serve`: the HTTP API, the analyst web UI, sign-in, metrics and
//! the workers that triage pushed alerts and run approved orders, in one
//! process over the embedded store.
//!
//! # Layout
//!
//! - [`routes`]: the route table. Every route is listed once with its
//!   method, path and the [`auth::Permission`] it needs; the router, the
//!   OpenAPI document and the route-walk test are all built from it, so a
//!   route cannot exist without an access rule.
//! - [`guard`]: the middleware every route passes: authentication (session
//!   cookie or bearer token), the permission check, CSRF and origin checks
//!   for state changes, and the security headers (strict CSP).
//! - [`auth`]: principals, roles and scopes, sessions, API tokens, sign-in
//!   throttling.
//! - [`api`]: the JSON API under `/api/v1`, and `/api/openapi.json`.
//! - [`ui`]: the server-rendered web UI (askama templates in `templates/`,
//!   escaped by default; no JavaScript).
//! - [`metrics`]: Prometheus metrics.
//! - [`workers`]: triage of pushed alerts, the executor, periodic audit
//!   checkpoints, expired-session clean-up; stopped gracefully on shutdown.
//! - [`intake`]: alerts from the network besides pushes: the syslog
//!   receiver (`[intake.syslog]`), feeding the same triage queue.
//! - [`queue`]: the alert stream between intake and triage: in the process
//!   by default, or NATS JetStream (`[queue] url`) shared by replicas, with
//!   acknowledgement only after a case commits.
//!
//! Data flow: an integration `POST`s alerts; ingest parses them (failures
//! go to the dead-letter store) and queues the alerts; the triage worker
//! runs them through the pipeline; people decide on approval cards in the
//! UI or API; the executor worker runs the orders that are ready, with all
//! its own checks. Every step is in the audit log.

pub mod api;
pub mod auth;
pub mod error;
pub mod guard;
pub mod intake;
pub mod limits;
pub mod metrics;
pub mod queue;
pub mod routes;
pub mod ui;
pub mod workers;

use std::sync::Arc;

use tokio::sync::mpsc;
use warden_domain::{Alert, Clock};
use warden_pipeline::{Pipeline, ServerConfig};
use warden_store::Backend;

pub use error::ApiError;
pub use routes::router;

/// The audit log the server writes through, on either backend.
pub type Audit = warden_audit::StoreAuditLog<dyn Backend>;

/// Pushes waiting for the triage worker; bounded (and bounded in bytes by
/// `[server] triage_queue_max_bytes`), so a flood pushes back on senders
/// (429 with `Retry-After`) instead of growing memory.
pub const TRIAGE_QUEUE: usize = 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Backend>,
    pipeline: Arc<Pipeline>,
    audit: Arc<Audit>,
    public_key: warden_audit::PublicKey,
    config: ServerConfig,
    throttle: auth::throttle::Throttle,
    limits: limits::IngestLimits,
    clock: Arc<dyn Clock>,
    triage: mpsc::Sender<Batch>,
    /// The shared alert stream, when `[queue] url` names one.
    stream: std::sync::OnceLock<queue::AlertStream>,
    case_facts: api::views::FactsCache,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Alerts accepted in one request, with when they arrived (triage time
/// is measured from there).
#[derive(Debug)]
pub(crate) struct Batch {
    pub alerts: Vec<Alert>,
    pub received: std::time::Instant,
    /// The batch's bytes in the triage queue, given back once it is
    /// triaged (when the batch is dropped).
    pub queued: limits::Reservation,
    /// Its messages on the alert stream (`[queue] url`), acknowledged once
    /// triage is over; `None` for the in-process queue.
    pub delivery: Option<queue::Delivery>,
}

/// The receiving end of the triage queue, for [`workers::spawn`].
#[derive(Debug)]
pub struct TriageQueue(pub(crate) mpsc::Receiver<Batch>);

impl AppState {
    /// The state over an opened data directory's parts. The returned queue
    /// must be handed to [`workers::spawn`] (or drained by a test).
    pub fn new(
        store: Arc<dyn Backend>,
        pipeline: Arc<Pipeline>,
        audit: Arc<Audit>,
        public_key: warden_audit::PublicKey,
        clock: Arc<dyn Clock>,
    ) -> (Self, TriageQueue) {
        let config = pipeline.config().server.clone();
        let (tx, rx) = mpsc::channel(TRIAGE_QUEUE);
        let throttle =
            auth::throttle::Throttle::new(config.login_max_failures, config.login_lockout_seconds);
        let limits = limits::IngestLimits::new(&config);
        metrics::install();
        (
            Self {
                inner: Arc::new(Inner {
                    store,
                    pipeline,
                    audit,
                    public_key,
                    config,
                    throttle,
                    limits,
                    clock,
                    triage: tx,
                    stream: std::sync::OnceLock::new(),
                    case_facts: api::views::FactsCache::default(),
                }),
            },
            TriageQueue(rx),
        )
    }

    /// The store: SQLite in the data directory, or PostgreSQL shared by
    /// replicas (`[store] url`).
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.inner.pipeline
    }

    pub fn audit(&self) -> &Arc<Audit> {
        &self.inner.audit
    }

    pub fn public_key(&self) -> &warden_audit::PublicKey {
        &self.inner.public_key
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    pub fn throttle(&self) -> &auth::throttle::Throttle {
        &self.inner.throttle
    }

    /// Limits on pushed alerts.
    pub fn limits(&self) -> &limits::IngestLimits {
        &self.inner.limits
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.inner.clock.now()
    }

    /// What the case queue keeps of each case's alerts.
    pub(crate) fn case_facts(&self) -> &api::views::FactsCache {
        &self.inner.case_facts
    }

    pub(crate) fn triage_sender(&self) -> &mpsc::Sender<Batch> {
        &self.inner.triage
    }

    /// Send accepted alerts through `stream` from now on (set once, at
    /// start, before the router serves; a second call changes nothing).
    pub fn use_stream(&self, stream: queue::AlertStream) {
        let _ = self.inner.stream.set(stream);
    }

    /// The shared alert stream, if one is configured.
    pub fn stream(&self) -> Option<&queue::AlertStream> {
        self.inner.stream.get()
    }
}

/// Serve `router` on `listener` until `shutdown` resolves, then finish the
/// requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
