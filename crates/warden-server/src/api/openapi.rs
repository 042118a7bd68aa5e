//! `/api/openapi.json`: the OpenAPI 3.1 document, built from the route
//! table so that it lists exactly the routes the server answers.
//!
//! Every API route (and `/metrics`) is described by [`operation`]: its
//! operation id, path and query parameters, request body and each answer
//! it can give with its schema. Schemas of the API's own types come from
//! schemars (JSON Schema 2020-12, which OpenAPI 3.1 uses), generated once
//! for what requests deserialise and once for what answers serialise, with
//! their definitions under `#/components/schemas`. The domain types that a
//! case's record and an approval request carry are described by hand in
//! [`domain_schemas`]; the route tests validate real answers against them.

use axum::Json;
use schemars::generate::{Contract, SchemaSettings};
use schemars::{JsonSchema, SchemaGenerator};
use serde::Serialize;
use serde_json::{Map, Value, json};
use warden_domain::{
    ActionName, CaseState, Disposition, ExecutionStatus, ObservableKind, RequestStatus, Severity,
    SourceFormat, Verdict,
};

use crate::error::ErrorBody;
use crate::guard::Access;
use crate::routes::Route;

/// Where component schemas live; every `$ref` points under it.
pub const COMPONENTS: &str = "#/components/schemas/";

/// The document.
pub fn build() -> Value {
    let mut builder = Builder::new();
    let mut paths = Map::new();
    let mut routes = crate::api::routes();
    routes.extend(
        crate::routes::table()
            .into_iter()
            .filter(|r| r.path == "/metrics"),
    );
    for route in &routes {
        let Some(op) = operation(&mut builder, route) else {
            // Every API route is described (a test holds this); a route
            // without a description is still listed, with what is known.
            tracing::warn!(path = route.path, "route without an OpenAPI description");
            continue;
        };
        let entry = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(methods) = entry {
            methods.insert(
                route.method.as_str().to_lowercase(),
                builder.finish(route, op),
            );
        }
    }
    let schemas = builder.components();
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Warden API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Push alerts, read cases, answer approval requests, search and verify \
                the audit log. Integrations authenticate with an API token \
                (`Authorization: Bearer wdn_...`, made with `warden token add` or \
                `POST /api/v1/tokens`); people with the session cookie of the web UI, \
                sending the session's CSRF token (from `GET /api/v1/me`) as `X-CSRF-Token` \
                on every change. Approving, closing cases, autonomy and the kill switch are \
                for people only. Errors are `{\"error\": {\"code\", \"message\"}}`.",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token, `wdn_` and 64 hex digits",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "warden_session",
                    "description": "The web UI's session (`__Host-warden_session` when \
                        `[server] secure_cookies`); changes also need the `X-CSRF-Token` header",
                },
            }
        }
    })
}

/// `GET /api/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(build())
}

/// What one operation takes and answers, before the parts every
/// operation shares (security, 401/403) are added.
struct Op {
    id: &'static str,
    /// Query parameters (path parameters come from the path).
    query: Vec<Value>,
    body: Option<Value>,
    /// Success: status, description, schema (`None`: no JSON body).
    ok: Vec<(u16, &'static str, Value)>,
    /// Error statuses besides 401/403, answered with the error body.
    errors: &'static [u16],
    /// Answers of another shape for an error status (ingest's 422).
    other: Vec<(u16, &'static str, Value)>,
    /// `text/plain` instead of JSON for the success answer.
    text: bool,
}

impl Op {
    fn new(id: &'static str, ok: u16, description: &'static str, schema: Value) -> Self {
        Self {
            id,
            query: Vec::new(),
            body: None,
            ok: vec![(ok, description, schema)],
            errors: &[],
            other: Vec::new(),
            text: false,
        }
    }

    fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }

    fn query(mut self, query: Vec<Value>) -> Self {
        self.query = query;
        self
    }

    fn body(mut self, schema: Value, required: bool) -> Self {
        self.body = Some(json!({
            "required": required,
            "content": { "application/json": { "schema": schema } },
        }));
        self
    }
}

/// The schema generators and the hand-written schemas.
struct Builder {
    /// What request bodies and query strings deserialise.
    requests: SchemaGenerator,
    /// What answers serialise.
    answers: SchemaGenerator,
}

fn settings(contract: Contract) -> SchemaSettings {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    settings.contract = contract;
    settings
}

impl Builder {
    fn new() -> Self {
        Self {
            requests: SchemaGenerator::new(settings(Contract::Deserialize)),
            answers: SchemaGenerator::new(settings(Contract::Serialize)),
        }
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    fn answer<T: JsonSchema>(&mut self) -> Value {
        self.answers.subschema_for::<T>().to_value()
    }

    /// Each property of a query struct as a query parameter.
    fn query<T: JsonSchema>(&mut self) -> Vec<Value> {
        let mut inline = settings(Contract::Deserialize);
        inline.inline_subschemas = true;
        let root = SchemaGenerator::new(inline).into_root_schema_for::<T>();
        let root = root.to_value();
        let required: Vec<&str> = root
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = root.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        properties
            .iter()
            .map(|(name, schema)| {
                let mut schema = not_null(schema.clone());
                let description = match &mut schema {
                    Value::Object(map) => map.remove("description"),
                    _ => None,
                };
                let mut parameter = json!({
                    "name": name,
                    "in": "query",
                    "required": required.contains(&name.as_str()),
                    "schema": schema,
                });
                if let (Some(description), Value::Object(map)) = (description, &mut parameter) {
                    map.insert("description".into(), description);
                }
                parameter
            })
            .collect()
    }

    /// Every component schema: both generators' definitions and the
    /// hand-written domain schemas.
    fn components(&mut self) -> Map<String, Value> {
        let mut schemas = Map::new();
        for (name, schema) in domain_schemas() {
            schemas.insert(name.to_owned(), schema);
        }
        for (name, schema) in self.requests.take_definitions(true) {
            schemas.insert(name, schema);
        }
        for (name, schema) in self.answers.take_definitions(true) {
            schemas.insert(name, schema);
        }
        schemas
    }

    /// The operation object.
    fn finish(&mut self, route: &Route, op: Op) -> Value {
        let error = self.answer::<ErrorBody>();
        let mut parameters: Vec<Value> = path_parameters(route.path);
        parameters.extend(op.query);
        let mut responses = Map::new();
        let media = if op.text {
            "text/plain"
        } else {
            "application/json"
        };
        for (status, description, schema) in op.ok {
            responses.insert(
                status.to_string(),
                json!({ "description": description, "content": { media: { "schema": schema } } }),
            );
        }
        for (status, description, schema) in op.other {
            responses.insert(
                status.to_string(),
                json!({
                    "description": description,
                    "content": { "application/json": { "schema": schema } },
                }),
            );
        }
        let mut errors: Vec<u16> = op.errors.to_vec();
        if route.access != Access::Public {
            errors.push(401);
        }
        if matches!(route.access, Access::Needs(_) | Access::Person) {
            errors.push(403);
        }
        if op.body.is_some() {
            // The JSON extractor: no JSON content type, or a body of the
            // wrong shape.
            errors.extend([400, 415, 422]);
        }
        if !params_of(route.path).is_empty() {
            errors.push(400);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            if responses.contains_key(&status.to_string()) {
                continue;
            }
            let mut answer = json!({
                "description": error_description(status),
                "content": { "application/json": { "schema": error.clone() } },
            });
            if let (429 | 503, Value::Object(map)) = (status, &mut answer) {
                map.insert(
                    "headers".into(),
                    json!({ "Retry-After": {
                        "description": "Seconds to wait before sending again",
                        "required": true,
                        "schema": { "type": "integer", "minimum": 1 },
                    }}),
                );
            }
            responses.insert(status.to_string(), answer);
        }
        let security = match route.access {
            Access::Public => json!([]),
            Access::Person => json!([{ "session": [] }]),
            _ => json!([{ "bearer": [] }, { "session": [] }]),
        };
        let mut operation = json!({
            "operationId": op.id,
            "summary": route.summary,
            "tags": [tag(route.path)],
            "security": security,
            "responses": responses,
        });
        if let Value::Object(map) = &mut operation {
            if let Access::Needs(permission) = route.access {
                map.insert(
                    "description".into(),
                    Value::String(format!("Needs the `{}` permission.", permission.as_str())),
                );
            }
            if !parameters.is_empty() {
                map.insert("parameters".into(), Value::Array(parameters));
            }
            if let Some(body) = op.body {
                map.insert("requestBody".into(), body);
            }
        }
        operation
    }
}

/// A path's parameter names, in order (`/cases/{id}` → `id`).
pub fn params_of(path: &'static str) -> Vec<&'static str> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .collect()
}

fn path_parameters(path: &'static str) -> Vec<Value> {
    params_of(path)
        .into_iter()
        .map(|name| {
            let (schema, description) = match name {
                "seq" => (
                    json!({ "type": "integer", "format": "uint64", "minimum": 0 }),
                    "An audit entry's sequence number (1 is the first)",
                ),
                "id" => (
                    json!({ "type": "string", "minLength": 1 }),
                    "A case id (`case-...`)",
                ),
                "hash" => (
                    json!({ "type": "string", "minLength": 1 }),
                    "A proposal hash, in full",
                ),
                _ => (json!({ "type": "string", "minLength": 1 }), "A name"),
            };
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": description,
                "schema": schema,
            })
        })
        .collect()
}

/// A query parameter's schema without `null` (a parameter left out is
/// absent, never null).
fn not_null(schema: Value) -> Value {
    let Value::Object(mut map) = schema else {
        return schema;
    };
    if let Some(Value::Array(types)) = map.get("type") {
        let mut types: Vec<Value> = types
            .iter()
            .filter(|t| t.as_str() != Some("null"))
            .cloned()
            .collect();
        let single = (types.len() == 1).then(|| types.pop()).flatten();
        let value = single.unwrap_or(Value::Array(types));
        map.insert("type".into(), value);
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = map.get(key) {
            let options: Vec<Value> = options
                .iter()
                .filter(|o| o.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if let [only] = options.as_slice() {
                let only = only.clone();
                map.remove(key);
                if let Value::Object(inner) = only {
                    map.extend(inner);
                }
            } else {
                map.insert(key.into(), Value::Array(options));
            }
        }
    }
    Value::Object(map)
}

fn tag(path: &str) -> &'static str {
    let rest = path.strip_prefix("/api/v1/").unwrap_or("");
    match rest.split('/').next().unwrap_or("") {
        "alerts" => "alerts",
        "cases" => "cases",
        "approvals" | "actions" | "executions" => "approvals",
        "audit" => "audit",
        "use-cases" | "kill-switch" | "policy" => "control",
        "tokens" => "tokens",
        _ if path == "/metrics" => "metrics",
        _ => "meta",
    }
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "The request is malformed (a parameter or body field is not valid)",
        401 => "Not signed in and no valid API token",
        403 => "The caller may not do this (role, scope, people-only, CSRF or origin)",
        404 => "No such thing",
        409 => "The state does not allow it (already answered, expired, taken)",
        415 => "The body is not sent as application/json",
        422 => "The body is JSON of the wrong shape",
        413 => "More alerts in one push than `[server] ingest_max_batch_alerts`: split the batch",
        429 => {
            "The sender is over its rate (`rate_limited`) or the triage queue is full \
            (`queue_full`): send again after `Retry-After` seconds"
        }
        503 => {
            "The shared alert stream (`[queue] url`) did not take the alerts; nothing was \
            queued: send again after `Retry-After` seconds"
        }
        _ => "An error",
    }
}

/// The operation for one route, or `None` for a route not described.
fn operation(b: &mut Builder, route: &Route) -> Option<Op> {
    use super::*;
    let any_json = json!({ "description": "An alert in any supported format" });
    let op = match (route.method.clone(), route.path) {
        (Method::GET, "/api/openapi.json") => Op::new(
            "getOpenApi",
            200,
            "This document",
            json!({ "type": "object", "required": ["openapi", "paths"] }),
        ),
        (Method::GET, "/api/v1/me") => Op::new("getMe", 200, "The caller", b.answer::<Me>()),
        (Method::POST, "/api/v1/alerts") => {
            let result = b.answer::<IngestResult>();
            let mut op = Op::new("ingestAlert", 202, "Accepted and queued", result.clone())
                .query(b.query::<IngestQuery>())
                .errors(&[400, 413, 429, 503]);
            op.body = Some(json!({
                "required": true,
                "description": "One alert: OCSF, ECS, Suricata EVE, chainsaw, Splunk, Microsoft \
                    Graph, hayabusa, Falcon, GuardDuty or a configured mapping; or, as \
                    `warden triage` reads a `.json` file, an array of alerts or a vendor \
                    response listing them (GuardDuty `{\"Findings\": [...]}`, Splunk \
                    `results`, Microsoft Graph `value`, CrowdStrike `resources`, \
                    Elasticsearch `hits.hits`)",
                "content": { "application/json": { "schema": any_json } },
            }));
            op.other = vec![(
                422,
                "Refused; the record is in the dead-letter store",
                result,
            )];
            op
        }
        (Method::POST, "/api/v1/alerts/batch") => {
            let result = b.answer::<IngestResult>();
            let mut op = Op::new(
                "ingestAlerts",
                202,
                "At least one alert accepted and queued",
                result.clone(),
            )
            .query(b.query::<IngestQuery>())
            .errors(&[400, 413, 429, 503]);
            op.body = Some(json!({
                "required": true,
                "description": "A JSON array of alerts, a vendor response listing them \
                    (GuardDuty `{\"Findings\": [...]}`, Splunk `results`, ...), or JSON lines \
                    sent as `application/x-ndjson`",
                "content": {
                    "application/json": { "schema": { "oneOf": [
                        { "type": "array", "items": any_json },
                        { "type": "object", "description": "A vendor response listing alerts" },
                    ] } },
                },
            }));
            op.other = vec![(
                422,
                "Every record refused; each is in the dead-letter store",
                result,
            )];
            op
        }
        (Method::GET, "/api/v1/cases") => Op::new(
            "listCases",
            200,
            "Matching cases, newest first, with counts",
            b.answer::<views::CaseList>(),
        )
        .query(b.query::<views::CaseFilter>())
        .errors(&[400]),
        (Method::GET, "/api/v1/cases/{id}") => Op::new(
            "getCase",
            200,
            "The case's whole record",
            reference("CaseDetail"),
        )
        .errors(&[404]),
        (Method::POST, "/api/v1/cases/{id}/notes") => {
            Op::new("addNote", 201, "Note added", b.answer::<Done>())
                .body(b.request::<NoteBody>(), true)
                .errors(&[404, 409])
        }
        (Method::POST, "/api/v1/cases/{id}/close") => {
            Op::new("closeCase", 200, "Case closed", b.answer::<Done>())
                .body(b.request::<CloseBody>(), true)
                .errors(&[404, 409])
        }
        (Method::GET, "/api/v1/approvals") => Op::new(
            "listApprovals",
            200,
            "Approval requests",
            b.answer::<Vec<ApprovalSummary>>(),
        )
        .query(b.query::<ApprovalFilter>())
        .errors(&[400, 404]),
        (Method::GET, "/api/v1/approvals/{hash}") => Op::new(
            "getApproval",
            200,
            "The request, its card and answers",
            reference("RequestWithAnswers"),
        )
        .errors(&[404]),
        (Method::POST, "/api/v1/approvals/{hash}/approve") => {
            Op::new("approve", 200, "Approval recorded", b.answer::<Progress>())
                .body(b.request::<ApproveBody>(), false)
                .errors(&[404, 409])
        }
        (Method::POST, "/api/v1/approvals/{hash}/reject") => {
            Op::new("reject", 200, "Rejection recorded", b.answer::<Done>())
                .body(b.request::<RejectBody>(), true)
                .errors(&[404, 409])
        }
        (Method::POST, "/api/v1/approvals/{hash}/modify") => Op::new(
            "modify",
            200,
            "The modified proposal, a new request",
            b.answer::<Modified>(),
        )
        .body(b.request::<ModifyBody>(), true)
        .errors(&[404, 409]),
        (Method::GET, "/api/v1/actions") => Op::new(
            "listActions",
            200,
            "The action catalogue",
            b.answer::<Vec<ActionInfo>>(),
        ),
        (Method::GET, "/api/v1/executions") => Op::new(
            "listExecutions",
            200,
            "The audit entries of executions",
            b.answer::<Vec<views::AuditEntryView>>(),
        )
        .query(b.query::<ExecutionFilter>())
        .errors(&[400, 404]),
        (Method::GET, "/api/v1/audit") => Op::new(
            "searchAudit",
            200,
            "Matching audit entries, in order",
            b.answer::<Vec<views::AuditEntryView>>(),
        )
        .query(b.query::<AuditFilter>())
        .errors(&[400, 404]),
        (Method::GET, "/api/v1/audit/verification") => Op::new(
            "verifyAudit",
            200,
            "The verification (`ok` false names the first failure)",
            b.answer::<VerificationView>(),
        ),
        (Method::GET, "/api/v1/audit/checkpoint") => Op::new(
            "getCheckpoint",
            200,
            "The newest checkpoint, or null before the first",
            b.answer::<Option<CheckpointView>>(),
        ),
        (Method::POST, "/api/v1/audit/checkpoint") => Op::new(
            "signCheckpoint",
            200,
            "The checkpoint signed, or null when the log is empty",
            b.answer::<Option<CheckpointView>>(),
        ),
        (Method::GET, "/api/v1/audit/proofs/{seq}") => Op::new(
            "proveInclusion",
            200,
            "The inclusion proof (verify with `warden audit verify-proof`)",
            reference("InclusionProof"),
        )
        .errors(&[404]),
        (Method::GET, "/api/v1/use-cases") => Op::new(
            "listUseCases",
            200,
            "Use cases",
            b.answer::<Vec<views::UseCaseView>>(),
        ),
        (Method::PUT, "/api/v1/use-cases/{name}/autonomy") => {
            Op::new("setAutonomy", 200, "Level set", b.answer::<Done>())
                .body(b.request::<AutonomyBody>(), true)
                .errors(&[404, 409])
        }
        (Method::GET, "/api/v1/kill-switch") => Op::new(
            "listKillSwitches",
            200,
            "Kill switches in force",
            b.answer::<Vec<PauseView>>(),
        ),
        (Method::POST, "/api/v1/kill-switch") => Op::new(
            "pullKillSwitch",
            200,
            "Execution paused",
            b.answer::<Done>(),
        )
        .body(b.request::<SwitchBody>(), true)
        .errors(&[404, 409]),
        (Method::POST, "/api/v1/kill-switch/release") => Op::new(
            "releaseKillSwitch",
            200,
            "Execution resumed",
            b.answer::<Done>(),
        )
        .body(b.request::<SwitchBody>(), true)
        .errors(&[404, 409]),
        (Method::GET, "/api/v1/policy") => {
            Op::new("getPolicy", 200, "The policy set", b.answer::<PolicyView>())
        }
        (Method::GET, "/api/v1/tokens") => Op::new(
            "listTokens",
            200,
            "API tokens",
            b.answer::<Vec<TokenView>>(),
        ),
        (Method::POST, "/api/v1/tokens") => Op::new(
            "createToken",
            201,
            "Created; the secret is in `token`, shown this once",
            b.answer::<CreatedToken>(),
        )
        .body(b.request::<NewToken>(), true)
        .errors(&[409]),
        (Method::DELETE, "/api/v1/tokens/{name}") => {
            Op::new("revokeToken", 200, "Revoked", b.answer::<Done>()).errors(&[404])
        }
        (Method::GET, "/metrics") => {
            let mut op = Op::new(
                "getMetrics",
                200,
                "Prometheus text exposition format",
                json!({ "type": "string" }),
            );
            op.text = true;
            op
        }
        _ => return None,
    };
    // The hand-written answers cite these generated schemas.
    b.answer::<views::AuditEntryView>();
    Some(op)
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{COMPONENTS}{name}") })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn nullable_string() -> Value {
    json!({ "type": ["string", "null"] })
}

fn instant() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

fn count() -> Value {
    json!({ "type": "integer", "minimum": 0 })
}

fn number() -> Value {
    json!({ "type": "number" })
}

fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

fn nullable(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "null" }] })
}

/// An object with exactly these fields, all present (null where the
/// field's schema allows it).
fn object(fields: &[(&str, Value)]) -> Value {
    let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    let properties: Map<String, Value> = fields
        .iter()
        .map(|(name, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// A string that is one of these values' serialisations.
fn one_of<T: Serialize>(values: impl IntoIterator<Item = T>) -> Value {
    let names: Vec<Value> = values
        .into_iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .collect();
    json!({ "type": "string", "enum": names })
}

/// The domain types an answer carries as they are stored (a case's
/// record, approval requests, the inclusion proof), described by hand:
/// they live in crates without schemars.
fn domain_schemas() -> Vec<(&'static str, Value)> {
    let r = reference;
    let disposition = one_of(Disposition::ALL);
    let observable_kind = one_of(ObservableKind::ALL);
    let formats = SourceFormat::ALL
        .into_iter()
        .chain([SourceFormat::Mapped])
        .collect::<Vec<_>>();
    vec![
        ("Severity", one_of(Severity::ALL)),
        ("Verdict", one_of(Verdict::ALL)),
        ("CaseState", one_of(CaseState::ALL)),
        ("Disposition", disposition),
        ("RequestStatus", one_of(RequestStatus::ALL)),
        (
            "ExecutionStatus",
            one_of([
                ExecutionStatus::Succeeded,
                ExecutionStatus::Failed,
                ExecutionStatus::Refused,
            ]),
        ),
        ("ObservableKind", observable_kind),
        ("SourceFormat", one_of(formats)),
        ("ActionName", one_of(ActionName::ALL.iter().copied())),
        (
            "Target",
            json!({
                "description": "What an action acts on: the case, or an entity of it",
                "oneOf": [
                    object(&[("type", json!({ "const": "case" })), ("id", string())]),
                    object(&[
                        ("type", json!({ "const": "entity" })),
                        ("kind", r("ObservableKind")),
                        ("value", string()),
                    ]),
                ],
            }),
        ),
        (
            "Case",
            object(&[
                ("id", string()),
                ("state", r("CaseState")),
                ("title", string()),
                ("alert_ids", array(string())),
                ("alert_count", count()),
                ("grouping_reasons", array(string())),
                ("severity", r("Severity")),
                ("verdict", nullable(r("Verdict"))),
                ("disposition", nullable(r("Disposition"))),
                ("created_at", instant()),
                ("updated_at", instant()),
            ]),
        ),
        (
            "Alert",
            object(&[
                ("id", string()),
                ("format", r("SourceFormat")),
                ("class_uid", count()),
                ("product", string()),
                ("vendor_id", nullable_string()),
                ("time", instant()),
                (
                    "rule",
                    object(&[("uid", nullable_string()), ("name", string())]),
                ),
                ("title", string()),
                ("description", string()),
                (
                    "severity",
                    object(&[("level", r("Severity")), ("original", string())]),
                ),
                (
                    "observables",
                    array(object(&[
                        ("kind", r("ObservableKind")),
                        ("value", string()),
                        ("provenance", json!({ "type": "array" })),
                    ])),
                ),
                (
                    "attacks",
                    array(object(&[
                        ("id", string()),
                        ("name", nullable_string()),
                        ("tactics", array(string())),
                    ])),
                ),
                ("origin", string()),
                ("raw_sha256", string()),
                (
                    "raw",
                    json!({ "description": "The payload as received, parsed" }),
                ),
            ]),
        ),
        (
            "Evidence",
            object(&[
                ("id", string()),
                ("kind", string()),
                ("source", string()),
                (
                    "subject",
                    nullable(json!({
                        "type": "array",
                        "prefixItems": [r("ObservableKind"), string()],
                        "items": false,
                    })),
                ),
                ("summary", string()),
                (
                    "facts",
                    json!({ "description": "The facts as the source gave them" }),
                ),
                ("collected_at", instant()),
                (
                    "freshness",
                    json!({
                        "oneOf": [
                            object(&[("state", json!({ "const": "fresh" }))]),
                            object(&[
                                ("state", json!({ "const": "stale" })),
                                ("age_seconds", json!({ "type": "integer" })),
                            ]),
                        ],
                    }),
                ),
            ]),
        ),
        (
            "EvidenceGap",
            object(&[("source", string()), ("reason", string())]),
        ),
        (
            "ActionProposal",
            object(&[
                ("case_id", string()),
                ("action", r("ActionName")),
                ("target", r("Target")),
                (
                    "parameters",
                    json!({ "type": "object", "additionalProperties": string() }),
                ),
                ("proposed_by", string()),
                ("evidence", array(string())),
            ]),
        ),
        (
            "Assessment",
            object(&[
                ("assessor", string()),
                ("verdict", r("Verdict")),
                ("severity", r("Severity")),
                ("confidence", number()),
                ("risk_score", number()),
                (
                    "rationale",
                    array(object(&[
                        ("factor", string()),
                        ("text", string()),
                        ("weight", number()),
                        ("evidence", array(string())),
                    ])),
                ),
                ("proposed_actions", array(r("ActionProposal"))),
            ]),
        ),
        (
            "DecisionOutcome",
            json!({
                "oneOf": [
                    object(&[("outcome", json!({ "const": "allow" }))]),
                    object(&[
                        ("outcome", json!({ "const": "needs_approval" })),
                        ("approvals", count()),
                        ("roles", array(string())),
                    ]),
                    object(&[("outcome", json!({ "const": "deny" }))]),
                ],
            }),
        ),
        (
            "Decision",
            object(&[
                ("proposal_hash", string()),
                ("action", r("ActionName")),
                ("target", r("Target")),
                ("outcome", r("DecisionOutcome")),
                ("policy_ids", array(string())),
                ("reasons", array(string())),
                ("policy_version", string()),
            ]),
        ),
        (
            "Approval",
            object(&[
                ("proposal_hash", string()),
                ("approver", string()),
                ("role", string()),
                ("approved", json!({ "type": "boolean" })),
                ("reason", nullable_string()),
                ("decided_at", instant()),
                ("expires_at", instant()),
            ]),
        ),
        (
            "ApprovalCard",
            object(&[
                ("title", string()),
                ("use_case", string()),
                ("verdict", r("Verdict")),
                ("severity", r("Severity")),
                ("confidence", number()),
                ("rationale", array(string())),
                (
                    "evidence",
                    array(object(&[
                        ("id", string()),
                        ("source", string()),
                        ("summary", string()),
                        ("freshness", string()),
                    ])),
                ),
                ("side_effects", string()),
                (
                    "parameters",
                    array(json!({
                        "type": "array",
                        "prefixItems": [string(), string()],
                        "items": false,
                        "minItems": 2,
                    })),
                ),
                ("rollback", string()),
                ("approvals_required", count()),
                ("roles", array(string())),
                ("policy_ids", array(string())),
            ]),
        ),
        (
            "ApprovalRequest",
            object(&[
                ("proposal", r("ActionProposal")),
                ("proposal_hash", string()),
                ("decision", r("Decision")),
                ("use_case", string()),
                ("requester", string()),
                ("card", r("ApprovalCard")),
                ("status", r("RequestStatus")),
                ("created_at", instant()),
                ("expires_at", instant()),
                ("supersedes", nullable_string()),
            ]),
        ),
        (
            "RequestWithAnswers",
            object(&[
                ("request", r("ApprovalRequest")),
                ("approvals", array(r("Approval"))),
            ]),
        ),
        (
            "Execution",
            object(&[
                ("proposal_hash", string()),
                ("idempotency_key", string()),
                ("action", r("ActionName")),
                ("target", r("Target")),
                ("connector", string()),
                ("status", r("ExecutionStatus")),
                ("detail", string()),
                ("rollback", nullable_string()),
                ("at", instant()),
            ]),
        ),
        (
            "CaseNote",
            object(&[
                ("author", string()),
                ("text", string()),
                ("created_at", instant()),
            ]),
        ),
        (
            "CaseDetail",
            object(&[
                ("case", r("Case")),
                ("use_case", string()),
                ("alerts", array(r("Alert"))),
                ("evidence", array(r("Evidence"))),
                ("gaps", array(r("EvidenceGap"))),
                ("assessments", array(r("Assessment"))),
                ("decisions", array(r("Decision"))),
                ("approvals", array(r("RequestWithAnswers"))),
                ("executions", array(r("Execution"))),
                ("notes", array(r("CaseNote"))),
                ("timeline", array(r("AuditEntryView"))),
            ]),
        ),
        (
            "InclusionProof",
            object(&[
                ("format", string()),
                ("seq", count()),
                (
                    "entry",
                    json!({ "type": "string", "description": "The entry as hashed" }),
                ),
                ("tree_size", count()),
                ("path", array(string())),
                (
                    "checkpoint",
                    json!({ "type": "string", "description": "C2SP signed note" }),
                ),
            ]),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `value`.
    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    match (key.as_str(), inner) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => refs(inner, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_api_route_is_described_once_and_every_ref_resolves() {
        let doc = build();
        assert_eq!(doc.get("openapi"), Some(&json!("3.1.0")));
        let paths = doc.get("paths").and_then(Value::as_object);
        let Some(paths) = paths else {
            unreachable!("the document has paths")
        };
        let mut expected: Vec<(String, String)> = crate::api::routes()
            .iter()
            .map(|r| (r.path.to_owned(), r.method.as_str().to_lowercase()))
            .collect();
        expected.push(("/metrics".into(), "get".into()));
        expected.sort();
        let mut listed: Vec<(String, String)> = paths
            .iter()
            .flat_map(|(path, methods)| {
                methods
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .map(move |method| (path.clone(), method.clone()))
            })
            .collect();
        listed.sort();
        assert_eq!(
            listed, expected,
            "the document lists exactly the API routes"
        );
        let mut ids: Vec<&str> = paths
            .values()
            .filter_map(Value::as_object)
            .flat_map(|m| m.values())
            .filter_map(|op| op.get("operationId").and_then(Value::as_str))
            .collect();
        assert_eq!(ids.len(), expected.len(), "every operation has an id");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), expected.len(), "operation ids are unique");

        let schemas = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object);
        let Some(schemas) = schemas else {
            unreachable!("the document has component schemas")
        };
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for target in all {
            let name = target.strip_prefix(COMPONENTS);
            assert!(
                name.is_some_and(|n| schemas.contains_key(n)),
                "{target} does not resolve"
            );
        }
        // Path parameters are declared for every `{name}` in a path.
        for (path, methods) in paths {
            for op in methods.as_object().into_iter().flat_map(|m| m.values()) {
                for name in path
                    .split('/')
                    .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                {
                    let declared =
                        op.get("parameters")
                            .and_then(Value::as_array)
                            .is_some_and(|ps| {
                                ps.iter().any(|p| {
                                    p.get("in") == Some(&json!("path"))
                                        && p.get("name") == Some(&json!(name))
                                })
                            });
                    assert!(declared, "{path}: {name}");
                }
            }
        }
    }

    #[test]
    fn hand_written_and_generated_schemas_do_not_share_names() {
        let mut builder = Builder::new();
        for route in crate::api::routes() {
            operation(&mut builder, &route);
        }
        let mut generated: Vec<String> = builder.requests.definitions().keys().cloned().collect();
        generated.extend(builder.answers.definitions().keys().cloned());
        for (name, _) in domain_schemas() {
            assert!(!generated.iter().any(|g| g == name), "{name} is taken");
        }
        let mut sorted = generated.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), generated.len(), "{generated:?}");
    }

    /// The values a schema at `pointer` lists.
    fn listed(doc: &Value, pointer: &str) -> Vec<String> {
        let values = doc.pointer(pointer).and_then(Value::as_array);
        assert!(values.is_some_and(|v| !v.is_empty()), "{pointer}");
        values
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    fn query_enum(doc: &Value, path: &str, name: &str) -> Vec<String> {
        let params = doc
            .pointer(&format!(
                "/paths/{}/get/parameters",
                path.replace('/', "~1")
            ))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let param = params.iter().find(|p| p.get("name") == Some(&json!(name)));
        param
            .and_then(|p| p.pointer("/schema/enum"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn documented_values_are_exactly_what_the_handlers_accept() {
        use warden_domain::{Autonomy, RejectionReason};
        let doc = build();
        let names = |values: Vec<String>| {
            let mut v = values;
            v.sort();
            v
        };
        let sorted = |values: Vec<&str>| {
            let mut v: Vec<String> = values.into_iter().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(
            names(listed(
                &doc,
                "/components/schemas/CloseBody/properties/verdict/enum"
            )),
            sorted(Verdict::ALL.map(Verdict::as_str).to_vec())
        );
        assert_eq!(
            names(listed(
                &doc,
                "/components/schemas/RejectBody/properties/reason/enum"
            )),
            sorted(RejectionReason::ALL.map(RejectionReason::as_str).to_vec())
        );
        assert_eq!(
            names(listed(
                &doc,
                "/components/schemas/AutonomyBody/properties/level/enum"
            )),
            sorted(Autonomy::ALL.map(Autonomy::as_str).to_vec())
        );
        let mut states = CaseState::ALL.map(CaseState::as_str).to_vec();
        states.extend([crate::api::views::OPEN, crate::api::views::ALL]);
        assert_eq!(
            names(query_enum(&doc, "/api/v1/cases", "state")),
            sorted(states)
        );
        assert_eq!(
            names(listed(
                &doc,
                "/components/schemas/CloseBody/properties/reason/enum"
            )),
            sorted(
                warden_domain::OverrideReason::ALL
                    .map(warden_domain::OverrideReason::as_str)
                    .to_vec()
            )
        );
        assert_eq!(
            names(query_enum(&doc, "/api/v1/cases", "severity")),
            sorted(Severity::ALL.map(|s| s.as_str()).to_vec())
        );
        let mut statuses = RequestStatus::ALL.map(RequestStatus::as_str).to_vec();
        statuses.push("all");
        assert_eq!(
            names(query_enum(&doc, "/api/v1/approvals", "status")),
            sorted(statuses)
        );
    }

    #[test]
    fn query_parameters_come_from_the_query_structs() {
        let mut builder = Builder::new();
        let params = builder.query::<super::super::AuditFilter>();
        let names: Vec<&str> = params
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .collect();
        for name in ["case", "actor", "kind", "since", "until", "after", "limit"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        for param in &params {
            assert_eq!(param.get("in"), Some(&json!("query")));
            assert_eq!(param.get("required"), Some(&json!(false)));
            let ty = param.pointer("/schema/type");
            assert!(ty.is_some_and(Value::is_string), "{param}: no null");
        }
    }
}
