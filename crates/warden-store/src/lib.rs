//! Persistence for cases, alerts, evidence, decisions, executions and the
//! audit log.
//!
//! # Layout
//!
//! - [`CaseReader`] and [`Store`]: the storage interface, split so that code
//!   which may only look (assessors, reports) can be handed a reader that
//!   cannot write. [`AuthStore`] holds the server's sign-in state, and
//!   [`Backend`] is all three, what a replica opens.
//! - [`sqlite`]: the embedded backend (SQLite through sqlx) with its own
//!   migrations under `migrations/sqlite/`.
//! - [`postgres`]: the scale-out backend (PostgreSQL, shared by replicas)
//!   with its own migrations under `migrations/postgres/`; appends to the
//!   audit log from every replica form one sequence under an advisory
//!   lock. `postgres::testing` (feature `test-support`) gives each test a
//!   schema of its own.
//! - [`location`]: `[store] url` / `WARDEN_STORE_URL` parsed into one of
//!   the two, and opened.
//! - `codec`: how both write times, JSON bodies and ids as text, so their
//!   rows are interchangeable.
//! - [`copy`]: an embedded store copied into PostgreSQL (`warden migrate`).
//! - `conformance`: the behaviour every backend must show, as functions the
//!   backends' tests call; both run it unchanged.
//!
//! The traits speak in domain types and plain values: no SQL, no
//! backend-specific types, no assumptions about how ids or times are stored.

use async_trait::async_trait;
use time::OffsetDateTime;
use warden_domain::{
    Alert, AlertId, Approval, ApprovalRequest, Assessment, Autonomy, Case, CaseId, CaseState,
    Decision, Disposition, Evidence, EvidenceGap, Execution, ObservableKind, ProposalHash,
    RequestStatus, Review,
};

mod codec;
pub mod conformance;
pub mod copy;
pub mod location;
pub mod merkle;
pub mod postgres;
pub mod sqlite;

pub use location::{StoreUrl, open};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {location}: {source}")]
    Open {
        location: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("migrating the store failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("stored record {what} is corrupt: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("case {0} does not exist")]
    NoSuchCase(CaseId),
    #[error("case {case} is {actual}, not {expected}: it changed underneath us")]
    Conflict {
        case: CaseId,
        expected: CaseState,
        actual: String,
    },
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// An audit entry ready to append (the audit crate computes the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditRow {
    pub at: OffsetDateTime,
    pub actor: String,
    pub stage: String,
    pub kind: String,
    pub case_id: Option<CaseId>,
    /// Canonical JSON of the whole entry.
    pub entry: String,
    /// Hex leaf hash of `entry`.
    pub leaf_hash: String,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub seq: u64,
    pub at: OffsetDateTime,
    pub actor: String,
    pub stage: String,
    pub kind: String,
    pub case_id: Option<CaseId>,
    pub entry: String,
    pub leaf_hash: String,
}

/// What an append did to the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditAppend {
    /// Sequence number of the first appended entry (the rest follow it).
    pub first_seq: u64,
    /// Entries in the log (and leaves in its Merkle tree) after the append.
    pub size: u64,
    /// RFC 6962 root of the tree after the append.
    pub root: merkle::Hash,
}

/// An entry as verification reads it: its text and recorded leaf hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLeafRow {
    pub seq: u64,
    /// The recorded hex leaf hash (as stored, unchecked).
    pub leaf_hash: String,
    pub entry: String,
}

/// A signed tree head as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Leaves the checkpoint covers.
    pub size: u64,
    /// Base64 root hash, as the note carries it.
    pub root: String,
    /// The whole C2SP signed note.
    pub note: String,
    pub at: OffsetDateTime,
}

/// Filters for reading the audit log; every one set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub case: Option<CaseId>,
    /// Exact actor (`person:alice`, `agent:phishing`, ...).
    pub actor: Option<String>,
    /// Event kinds (`policy_decided`, ...); empty: any.
    pub kinds: Vec<String>,
    /// Entries at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Entries at or before this instant.
    pub until: Option<OffsetDateTime>,
    /// Entries with a sequence number above this one.
    pub after_seq: Option<u64>,
    /// At most this many, oldest first.
    pub limit: Option<u32>,
}

/// A note on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNote {
    pub author: String,
    pub text: String,
    pub created_at: OffsetDateTime,
}

/// A payload that could not be ingested, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub id: String,
    pub origin: String,
    pub reason: String,
    pub payload: Vec<u8>,
    pub sha256: String,
    pub received_at: OffsetDateTime,
    /// Set once a retry ingested it.
    pub resolved_at: Option<OffsetDateTime>,
    /// What the retry made of it (`ingested as alert-...`).
    pub resolution: Option<String>,
}

/// Whether an idempotency key was claimed by this call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This caller owns the execution and must run it.
    Claimed,
    /// Someone claimed it before: do not run it again.
    AlreadyClaimed,
}

/// An execution claimed but never finished: the executor stopped (crashed,
/// was killed) between claiming the idempotency key and recording the
/// result. On restart it is performed again with the same key, which the
/// connectors make harmless.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfinishedExecution {
    pub idempotency_key: String,
    pub case_id: CaseId,
    pub proposal_hash: ProposalHash,
    pub claimed_at: OffsetDateTime,
}

/// A local account: who may approve, with which roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Lower-case login name.
    pub name: String,
    pub roles: Vec<String>,
    /// Argon2id PHC string; never shown.
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

/// A kill switch in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    /// `*` or a use case name.
    pub scope: String,
    pub by: String,
    pub reason: String,
    pub at: OffsetDateTime,
}

/// At most this many entities are looked up by one
/// [`CaseReader::related_cases`] call; the rest are ignored. The list is
/// sorted by kind then value and deduplicated first, so the cut is
/// deterministic and the kinds that matter most for history (host, user, IP)
/// come first. An alert group with more distinct structured entities than
/// this is unusual, and the lookup stays a bounded amount of work.
pub const MAX_RELATED_ENTITIES: usize = 200;

/// An earlier case that shares structured entities with the one being
/// triaged: the history enrichment hands to the assessor and to the
/// escalation triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedCase {
    /// The case as stored now: state, verdict, disposition, times.
    pub case: Case,
    /// The entities it shares with the query, sorted by kind then value.
    pub shared: Vec<(ObservableKind, String)>,
    /// Distinct rule names of its alerts, sorted.
    pub rules: Vec<String>,
}

impl RelatedCase {
    /// Whether a person was asked to look at it: its triage disposition was
    /// `escalated` or `awaiting_approval` (the contract counts both as
    /// escalated, see [`Disposition::is_escalated`]), or it is in one of
    /// those states now (an auto-closed case a person escalated afterwards
    /// keeps its `auto_closed` disposition but moves to `escalated`).
    pub fn was_escalated(&self) -> bool {
        self.case.disposition.is_some_and(Disposition::is_escalated)
            || matches!(
                self.case.state,
                CaseState::Escalated | CaseState::AwaitingApproval
            )
    }

    /// Whether it is still open: any state but `closed` and `auto_closed`.
    /// A case in triage (`new` ... `decided`), escalated, awaiting approval
    /// or actioned but not yet closed is open; an auto-closed case is over
    /// unless a person reopens it by escalating it.
    pub fn is_open(&self) -> bool {
        !matches!(self.case.state, CaseState::Closed | CaseState::AutoClosed)
    }

    /// Whether it is an active incident: still open with a threat verdict
    /// (malicious or suspicious). A new detection on the same entity is
    /// then tied to it.
    pub fn is_active_incident(&self) -> bool {
        self.is_open() && self.case.verdict.is_some_and(|v| v.is_threat())
    }
}

/// Read-only access. Code that must not change anything gets only this.
#[async_trait]
pub trait CaseReader: Send + Sync {
    async fn case(&self, id: CaseId) -> Result<Option<Case>, StoreError>;
    /// Most recently updated first.
    async fn cases(&self, limit: u32) -> Result<Vec<Case>, StoreError>;
    async fn alerts_of_case(&self, id: CaseId) -> Result<Vec<Alert>, StoreError>;
    async fn evidence_of_case(&self, id: CaseId) -> Result<Vec<Evidence>, StoreError>;
    async fn notes_of_case(&self, id: CaseId) -> Result<Vec<CaseNote>, StoreError>;
    async fn executions_of_case(&self, id: CaseId) -> Result<Vec<Execution>, StoreError>;
    /// Policy decisions made for the case, oldest first.
    async fn decisions_of_case(&self, id: CaseId) -> Result<Vec<Decision>, StoreError>;
    /// Assessments of the case, oldest first.
    async fn assessments_of_case(&self, id: CaseId) -> Result<Vec<Assessment>, StoreError>;
    /// Evidence sources enrichment could not use for the case.
    async fn gaps_of_case(&self, id: CaseId) -> Result<Vec<EvidenceGap>, StoreError>;
    async fn approval_request(
        &self,
        hash: &ProposalHash,
    ) -> Result<Option<ApprovalRequest>, StoreError>;
    /// Approval requests, oldest first, narrowed by status and case.
    async fn approval_requests(
        &self,
        status: Option<RequestStatus>,
        case: Option<CaseId>,
    ) -> Result<Vec<ApprovalRequest>, StoreError>;
    /// Every answer recorded for a proposal, in order.
    async fn approvals_of(&self, hash: &ProposalHash) -> Result<Vec<Approval>, StoreError>;
    /// Executions claimed and never finished, oldest first.
    async fn unfinished_executions(&self) -> Result<Vec<UnfinishedExecution>, StoreError>;
    /// The autonomy set for a use case at run time (by a person or the
    /// trust ladder), overriding its playbook's.
    async fn autonomy_override(&self, use_case: &str) -> Result<Option<Autonomy>, StoreError>;
    /// The last `limit` reviews of a use case's cases, newest first.
    async fn reviews(&self, use_case: &str, limit: u32) -> Result<Vec<Review>, StoreError>;
    async fn person(&self, name: &str) -> Result<Option<Person>, StoreError>;
    async fn people(&self) -> Result<Vec<Person>, StoreError>;
    /// Kill switches in force.
    async fn pauses(&self) -> Result<Vec<Pause>, StoreError>;
    /// Audit entries in sequence order; `case` narrows to one case.
    async fn audit_rows(&self, case: Option<CaseId>) -> Result<Vec<AuditRow>, StoreError>;
    /// Audit entries matching `query`, in sequence order.
    async fn audit_search(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;
    /// Up to `limit` entries after sequence number `after`, in order, with
    /// only what verification needs (fast to read in bulk).
    async fn audit_entries(&self, after: u64, limit: u32) -> Result<Vec<AuditLeafRow>, StoreError>;
    /// Entries in the audit log (leaves in its tree).
    async fn audit_size(&self) -> Result<u64, StoreError>;
    /// Stored Merkle hashes by stored-hash index (see [`merkle`]), in the
    /// order asked; an index that is not stored is an error.
    async fn audit_tree_hashes(&self, indexes: &[u64]) -> Result<Vec<merkle::Hash>, StoreError>;
    /// Every stored Merkle hash, by index (verification compares them all).
    async fn audit_tree(&self) -> Result<Vec<(u64, merkle::Hash)>, StoreError>;
    /// Signed checkpoints, smallest tree first.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// Every dead letter, oldest first, resolved ones included.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;
    async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, StoreError>;
    /// Which of `ids` are already stored with a case: a queue that
    /// delivers at least once redelivers alerts whose case committed, and
    /// those must not make a second case.
    async fn stored_alert_ids(&self, ids: &[AlertId]) -> Result<Vec<AlertId>, StoreError>;
    /// Whether execution is paused globally or for `use_case`.
    async fn is_paused(&self, use_case: &str) -> Result<bool, StoreError>;
    /// Earlier cases sharing at least one structured entity with `entities`,
    /// newest first, excluding `exclude`, at most `limit`.
    ///
    /// Only entities found in a structured field of a stored case's alerts
    /// count (an entity seen only in alert text relates nothing), and values
    /// are compared exactly, so pass them normalised as
    /// [`warden_domain::Observable`] holds them (for instance from
    /// [`Alert::structured`]). At most [`MAX_RELATED_ENTITIES`] entities are
    /// looked up. "Earlier" means already stored (pass the case under
    /// triage as `exclude`); no time bound is applied. "Newest" is by
    /// creation time. Cases stored before the store kept an entity index
    /// are not found.
    async fn related_cases(
        &self,
        entities: &[(ObservableKind, String)],
        exclude: Option<CaseId>,
        limit: u32,
    ) -> Result<Vec<RelatedCase>, StoreError>;
}

/// Full access: the pipeline, the executor and the audit log write through it.
#[async_trait]
pub trait Store: CaseReader {
    /// Store a new case with its alerts (their duplicate counts given per
    /// alert), atomically.
    async fn insert_case(&self, case: &Case, alerts: &[(Alert, u64)]) -> Result<(), StoreError>;
    /// Replace a case's record if it is still in `expected` state
    /// (compare-and-set), else [`StoreError::Conflict`].
    async fn update_case(&self, case: &Case, expected: CaseState) -> Result<(), StoreError>;
    async fn save_evidence(
        &self,
        case: CaseId,
        evidence: &[Evidence],
        gaps: &[EvidenceGap],
    ) -> Result<(), StoreError>;
    async fn save_assessment(
        &self,
        case: CaseId,
        assessment: &Assessment,
    ) -> Result<(), StoreError>;
    async fn save_decision(&self, case: CaseId, decision: &Decision) -> Result<(), StoreError>;
    /// Claim an idempotency key before running an action.
    async fn claim_execution(
        &self,
        case: CaseId,
        key: &str,
        proposal: &ProposalHash,
        at: OffsetDateTime,
    ) -> Result<Claim, StoreError>;
    /// Record how a claimed execution ended.
    async fn finish_execution(&self, case: CaseId, execution: &Execution)
    -> Result<(), StoreError>;
    async fn add_note(&self, case: CaseId, note: &CaseNote) -> Result<(), StoreError>;
    /// Append entries to the audit log in one durable transaction that
    /// also extends its Merkle tree (see [`merkle::extend`]).
    async fn append_audit(&self, rows: &[NewAuditRow]) -> Result<AuditAppend, StoreError>;
    /// Keep a signed checkpoint; false when one for that size exists.
    async fn add_checkpoint(&self, checkpoint: &StoredCheckpoint) -> Result<bool, StoreError>;
    async fn add_dead_letter(&self, letter: &DeadLetter) -> Result<(), StoreError>;
    /// Mark a dead letter resolved; false when it was already resolved or
    /// does not exist.
    async fn resolve_dead_letter(
        &self,
        id: &str,
        resolution: &str,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Store a new approval request; false when one exists for the hash.
    async fn save_approval_request(&self, request: &ApprovalRequest) -> Result<bool, StoreError>;
    /// Move a request from `from` to `to` (compare-and-set); false when it
    /// was not in `from`.
    async fn set_request_status(
        &self,
        hash: &ProposalHash,
        from: RequestStatus,
        to: RequestStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Record one person's answer; false when that person already answered
    /// this proposal (answers are final and append-only).
    async fn add_approval(&self, approval: &Approval) -> Result<bool, StoreError>;
    async fn set_autonomy(
        &self,
        use_case: &str,
        autonomy: Autonomy,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn add_review(&self, review: &Review) -> Result<(), StoreError>;
    /// Create an account; false when the name is taken.
    async fn add_person(&self, person: &Person) -> Result<bool, StoreError>;
    /// Pause execution for a scope (`*` for everything, or a use case).
    async fn pause(
        &self,
        scope: &str,
        by: &str,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    async fn resume(&self, scope: &str) -> Result<(), StoreError>;
}

/// The scope name of the global kill switch.
pub const GLOBAL_SCOPE: &str = "*";

/// A signed-in browser session. The cookie carries a random secret; the
/// store keeps only its SHA-256 (`token_hash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    /// The account's lower-case name.
    pub person: String,
    /// The secret every form and state-changing API call must echo.
    pub csrf_token: String,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// An API token for an integration (an alert source, a metrics scraper).
/// The store keeps only the SHA-256 of the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: String,
    /// Unique name, usually the source it is for (`splunk-prod`).
    pub name: String,
    pub token_hash: String,
    /// What it may do (`alerts:write`, `read`, `metrics:read`).
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
}

/// Sign-in state for the server: sessions and API tokens.
#[async_trait]
pub trait AuthStore: Send + Sync {
    async fn add_session(&self, session: &Session) -> Result<(), StoreError>;
    /// The session with this hash, if it exists (expired ones included:
    /// the caller checks `expires_at`).
    async fn session(&self, token_hash: &str) -> Result<Option<Session>, StoreError>;
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    /// Remove sessions that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Store a new token; false when its name is taken.
    async fn add_api_token(&self, token: &ApiToken) -> Result<bool, StoreError>;
    async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiToken>, StoreError>;
    /// Every token, revoked ones included, by name.
    async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Revoke a token by name; false when there is none or it was revoked.
    async fn revoke_api_token(&self, name: &str, at: OffsetDateTime) -> Result<bool, StoreError>;
}

/// Everything a replica needs from its store: cases, control plane, audit
/// log and sign-in state. Both backends are one; commands and the server
/// hold an `Arc<dyn Backend>` and hand it on as `Arc<dyn Store>` where less
/// is needed.
pub trait Backend: Store + AuthStore + std::fmt::Debug {}

impl<T: Store + AuthStore + std::fmt::Debug + ?Sized> Backend for T {}
