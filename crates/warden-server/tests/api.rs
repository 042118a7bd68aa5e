#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The JSON API end to end: alerts pushed with a token (one, a JSON array,
//! JSON lines; malformed ones dead-lettered), triaged by the worker and
//! listed; approval requests approved and rejected; metrics; the audit log
//! verified and proven. Every JSON answer is validated against the
//! OpenAPI document the server publishes.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tempfile::TempDir;
use tower::ServiceExt as _;
use warden_domain::RequestStatus;
use warden_pipeline::Config;
use warden_server::auth;
use warden_server::guard::Access;
use warden_server::{AppState, TriageQueue};

use common::{PASSWORD, ROLES, example, repo};

struct Harness {
    _dir: TempDir,
    state: AppState,
    app: Router,
    queue: Option<TriageQueue>,
    /// The published OpenAPI document.
    doc: Value,
}

/// Who calls: a bearer token, or a person's session cookie and CSRF token.
#[derive(Clone)]
enum Caller {
    Token(String),
    Person { cookie: String, csrf: String },
}

/// An answer: status, the raw body, and the body as JSON when it is JSON.
struct Answer {
    status: StatusCode,
    text: String,
    json: Value,
}

async fn harness() -> Harness {
    let parts = common::Parts::with_role_accounts(Config::default()).await;
    let server = parts.serve();
    Harness {
        _dir: server.dir,
        state: server.state,
        app: server.router,
        queue: Some(server.queue),
        doc: warden_server::api::openapi::build(),
    }
}

impl Harness {
    async fn token(&self, name: &str, scopes: &[&str]) -> Caller {
        Caller::Token(common::token(&self.state, name, scopes).await)
    }

    /// A person signed in through the form.
    async fn person(&self, name: &str) -> Caller {
        let secure = self.state.config().secure_cookies;
        let (_, response) = common::sign_in(&self.app, secure, name, PASSWORD, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let cookie = common::session_cookie(&response, secure);
        let caller = Caller::Person {
            cookie,
            csrf: String::new(),
        };
        let me = self.call(&caller, Method::GET, "/api/v1/me", None).await;
        let Caller::Person { cookie, .. } = caller else {
            unreachable!()
        };
        Caller::Person {
            cookie,
            csrf: me.json["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Call the API; a JSON answer is checked against the OpenAPI
    /// document's schema for the route and status.
    async fn call(
        &self,
        caller: &Caller,
        method: Method,
        uri: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(uri)
            .header(header::HOST, "localhost");
        request = match caller {
            Caller::Token(secret) => {
                request.header(header::AUTHORIZATION, format!("Bearer {secret}"))
            }
            Caller::Person { cookie, csrf } => request
                .header(header::COOKIE, cookie)
                .header("x-csrf-token", csrf),
        };
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Body::from(bytes)
            }
            None => Body::empty(),
        };
        let response = self
            .app
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let json_body = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap().starts_with("application/json"));
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = if json_body {
            serde_json::from_slice(&bytes).unwrap()
        } else {
            Value::Null
        };
        let path = uri.split('?').next().unwrap();
        if let Some(template) = template_of(path) {
            conforms(&self.doc, &method, template, status, json_body, &json);
        }
        Answer { status, text, json }
    }

    async fn post_json(&self, caller: &Caller, uri: &str, body: Value) -> Answer {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.call(caller, Method::POST, uri, Some(("application/json", bytes)))
            .await
    }
}

/// The route-table path (`/api/v1/cases/{id}`) a concrete API path matches.
fn template_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    warden_server::routes::table()
        .into_iter()
        .filter(|r| warden_server::guard::is_api(r.path))
        .map(|r| r.path)
        .filter(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            parts.len() == segments.len()
                && parts
                    .iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        // A literal segment beats a parameter (`/audit/checkpoint`).
        .min_by_key(|template| template.matches('{').count())
}

/// The answer is one the document declares for this operation, with a
/// body its schema accepts.
fn conforms(
    doc: &Value,
    method: &Method,
    template: &str,
    status: StatusCode,
    json_body: bool,
    body: &Value,
) {
    let op = &doc["paths"][template][method.as_str().to_lowercase()];
    assert!(op.is_object(), "{method} {template} is not in the document");
    let declared = &op["responses"][status.as_str()];
    assert!(
        declared.is_object(),
        "{method} {template} answered {status}, which the document does not declare: {body}"
    );
    if !json_body {
        assert!(
            declared["content"].get("application/json").is_none(),
            "{method} {template} {status}: not JSON"
        );
        return;
    }
    let schema = &declared["content"]["application/json"]["schema"];
    let wrapped = json!({ "components": doc["components"], "allOf": [schema] });
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&wrapped)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template} {status} does not match its schema:\n{}",
        errors.join("\n")
    );
}

/// Wait until the triage worker has made `cases` cases.
async fn wait_for_cases(h: &Harness, caller: &Caller, cases: u64) -> Value {
    for _ in 0..600 {
        let list = h.call(caller, Method::GET, "/api/v1/cases", None).await;
        assert_eq!(list.status, StatusCode::OK);
        if list.json["total"].as_u64().unwrap() >= cases {
            return list.json;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the triage worker did not make {cases} cases");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_pushed_singly_in_arrays_and_as_json_lines_are_triaged_and_malformed_ones_dead_lettered()
 {
    let mut h = harness().await;
    let pusher = h.token("pusher", &["alerts:write", "read"]).await;

    let one = h
        .call(
            &pusher,
            Method::POST,
            "/api/v1/alerts",
            Some(("application/json", example("ecs-lsass-access.json"))),
        )
        .await;
    assert_eq!(one.status, StatusCode::ACCEPTED, "{}", one.text);
    assert_eq!(one.json["accepted"].as_array().unwrap().len(), 1);
    assert!(
        one.json["accepted"][0]["alert_id"]
            .as_str()
            .unwrap()
            .starts_with("alert-")
    );

    let array = format!(
        "[{}, {}]",
        String::from_utf8(example("ecs-powershell-encoded.json")).unwrap(),
        String::from_utf8(example("ocsf-mfa-fatigue.json")).unwrap()
    );
    let batch = h
        .call(
            &pusher,
            Method::POST,
            "/api/v1/alerts/batch",
            Some(("application/json", array.into_bytes())),
        )
        .await;
    assert_eq!(batch.status, StatusCode::ACCEPTED, "{}", batch.text);
    assert_eq!(batch.json["accepted"].as_array().unwrap().len(), 2);

    let lines = example("ocsf-port-scan.jsonl");
    let expected = String::from_utf8_lossy(&lines)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let ndjson = h
        .call(
            &pusher,
            Method::POST,
            "/api/v1/alerts/batch",
            Some(("application/x-ndjson", lines)),
        )
        .await;
    assert_eq!(ndjson.status, StatusCode::ACCEPTED, "{}", ndjson.text);
    assert_eq!(ndjson.json["accepted"].as_array().unwrap().len(), expected);

    // A record no format reads: 422, kept as a dead letter.
    let bad = h
        .post_json(
            &pusher,
            "/api/v1/alerts",
            json!({ "hello": "not an alert" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let dead_letter = bad.json["rejected"][0]["dead_letter"].as_str().unwrap();
    let stored = h.state.store().dead_letters().await.unwrap();
    assert!(stored.iter().any(|d| d.id == dead_letter), "{dead_letter}");
    // Not a batch at all, an empty batch, a forced unknown format: 400.
    for (uri, body) in [
        ("/api/v1/alerts/batch", json!({ "not": "an array" })),
        ("/api/v1/alerts/batch", json!([])),
        ("/api/v1/alerts?format=no-such-format", json!({})),
    ] {
        let answer = h.post_json(&pusher, uri, body).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            answer.text
        );
    }
    // A token without alerts:write cannot push.
    let reader = h.token("reader", &["read"]).await;
    let refused = h
        .call(
            &reader,
            Method::POST,
            "/api/v1/alerts",
            Some(("application/json", example("ecs-lsass-access.json"))),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // The triage worker turns them into cases.
    let workers = warden_server::workers::spawn(&h.state, h.queue.take().unwrap());
    let list = wait_for_cases(&h, &pusher, 3).await;
    let cases = list["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    let case_id = cases[0]["id"].as_str().unwrap();
    let detail = h
        .call(
            &pusher,
            Method::GET,
            &format!("/api/v1/cases/{case_id}"),
            None,
        )
        .await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(!detail.json["alerts"].as_array().unwrap().is_empty());
    let filtered = h
        .call(
            &pusher,
            Method::GET,
            "/api/v1/cases?severity=critical&limit=1",
            None,
        )
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    assert!(filtered.json["cases"].as_array().unwrap().len() <= 1);
    let wrong = h
        .call(&pusher, Method::GET, "/api/v1/cases?state=nonsense", None)
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    let wrong = h
        .call(&pusher, Method::GET, "/api/v1/cases?limit=-1", None)
        .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "a JSON error body");
    workers.shutdown().await;
}

/// Triage every example; the pending approval requests, with a person
/// who may answer each.
async fn pending_requests(h: &Harness) -> Vec<(String, String)> {
    let pipeline = h.state.pipeline();
    let mut records = Vec::new();
    for entry in std::fs::read_dir(repo().join("examples/alerts")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            records.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    let alerts: Vec<_> = pipeline
        .accept_records(records, None)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    pipeline.triage_alerts(alerts).await.unwrap();
    h.state
        .store()
        .approval_requests(Some(RequestStatus::Pending), None)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let role = r
                .card
                .roles
                .iter()
                .find(|role| ROLES.contains(&role.as_str()))
                .cloned()
                .unwrap_or_else(|| "analyst".to_owned());
            (r.proposal_hash.to_string(), role)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_requests_are_approved_and_rejected_by_people_through_the_api() {
    let h = harness().await;
    let requests = pending_requests(&h).await;
    assert!(
        requests.len() >= 2,
        "the examples ask for approvals: {requests:?}"
    );
    let reader = h.token("reader", &["read"]).await;
    let listed = h
        .call(&reader, Method::GET, "/api/v1/approvals", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.json.as_array().unwrap().len(), requests.len());
    let all = h
        .call(&reader, Method::GET, "/api/v1/approvals?status=all", None)
        .await;
    assert_eq!(all.status, StatusCode::OK);
    let (first, first_role) = &requests[0];
    let (second, second_role) = &requests[1];
    let card = h
        .call(
            &reader,
            Method::GET,
            &format!("/api/v1/approvals/{first}"),
            None,
        )
        .await;
    assert_eq!(card.status, StatusCode::OK);
    assert_eq!(card.json["request"]["proposal_hash"], first.as_str());

    // A token never decides, whatever its scopes.
    let everything = h.token("everything", &auth::SCOPES).await;
    let refused = h
        .post_json(
            &everything,
            &format!("/api/v1/approvals/{first}/approve"),
            json!({}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let approver = h.person(first_role).await;
    let approved = h
        .call(
            &approver,
            Method::POST,
            &format!("/api/v1/approvals/{first}/approve"),
            None,
        )
        .await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
    assert_eq!(approved.json["valid"], 1);
    // The same person cannot count twice.
    let again = h
        .post_json(
            &approver,
            &format!("/api/v1/approvals/{first}/approve"),
            json!({}),
        )
        .await;
    assert!(
        [StatusCode::CONFLICT, StatusCode::FORBIDDEN].contains(&again.status),
        "{}",
        again.text
    );

    let rejecter = h.person(second_role).await;
    let bad_reason = h
        .post_json(
            &rejecter,
            &format!("/api/v1/approvals/{second}/reject"),
            json!({ "reason": "because", "note": "no" }),
        )
        .await;
    assert_eq!(bad_reason.status, StatusCode::BAD_REQUEST);
    let missing_note = h
        .post_json(
            &rejecter,
            &format!("/api/v1/approvals/{second}/reject"),
            json!({ "reason": "too_disruptive" }),
        )
        .await;
    assert_eq!(missing_note.status, StatusCode::UNPROCESSABLE_ENTITY);
    let rejected = h
        .post_json(
            &rejecter,
            &format!("/api/v1/approvals/{second}/reject"),
            json!({ "reason": "too_disruptive", "note": "the CFO's laptop; call first" }),
        )
        .await;
    assert_eq!(rejected.status, StatusCode::OK, "{}", rejected.text);
    let after = h
        .call(
            &reader,
            Method::GET,
            &format!("/api/v1/approvals/{second}"),
            None,
        )
        .await;
    assert_eq!(after.json["request"]["status"], "rejected");
    let twice = h
        .post_json(
            &rejecter,
            &format!("/api/v1/approvals/{second}/reject"),
            json!({ "reason": "too_disruptive", "note": "again" }),
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
    let unknown = h
        .post_json(
            &rejecter,
            "/api/v1/approvals/no-such-hash/approve",
            json!({}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Notes and closing, as an analyst.
    let case_id = card.json["request"]["proposal"]["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let analyst = h.person("analyst").await;
    let note = h
        .post_json(
            &analyst,
            &format!("/api/v1/cases/{case_id}/notes"),
            json!({ "text": "looked at it" }),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED, "{}", note.text);
    let closed = h
        .post_json(
            &analyst,
            &format!("/api/v1/cases/{case_id}/close"),
            json!({ "verdict": "malicious", "note": "confirmed with the owner" }),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    let detail = h
        .call(
            &reader,
            Method::GET,
            &format!("/api/v1/cases/{case_id}"),
            None,
        )
        .await;
    assert_eq!(detail.json["case"]["state"], "closed");
    let notes = detail.json["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n["text"] == "looked at it" && n["author"] == "analyst")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_happened_and_the_audit_log_verifies_and_proves_entries() {
    let h = harness().await;
    let pusher = h
        .token("pusher", &["alerts:write", "read", "metrics:read"])
        .await;
    let pushed = h
        .call(
            &pusher,
            Method::POST,
            "/api/v1/alerts",
            Some(("application/json", example("ecs-lsass-access.json"))),
        )
        .await;
    assert_eq!(pushed.status, StatusCode::ACCEPTED);
    let metrics = h.call(&pusher, Method::GET, "/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    for series in [
        "warden_alerts_ingested_total",
        "warden_cases",
        "warden_approvals_pending",
        "warden_kill_switches",
    ] {
        assert!(
            metrics.text.lines().any(|l| l.starts_with(series)),
            "{series} in\n{}",
            metrics.text
        );
    }
    let reader = h.token("reader", &["read"]).await;
    let refused = h.call(&reader, Method::GET, "/metrics", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let verification = h
        .call(&pusher, Method::GET, "/api/v1/audit/verification", None)
        .await;
    assert_eq!(verification.status, StatusCode::OK);
    assert_eq!(verification.json["ok"], true, "{}", verification.text);
    assert!(verification.json["entries"].as_u64().unwrap() > 0);

    let proof = h
        .call(&pusher, Method::GET, "/api/v1/audit/proofs/1", None)
        .await;
    assert_eq!(proof.status, StatusCode::OK, "{}", proof.text);
    let parsed = warden_audit::proof::AnyProof::parse(&proof.text).unwrap();
    parsed.verify(h.state.public_key()).unwrap();
    for (uri, status) in [
        ("/api/v1/audit/proofs/0", StatusCode::NOT_FOUND),
        ("/api/v1/audit/proofs/999999", StatusCode::NOT_FOUND),
        ("/api/v1/audit/proofs/abc", StatusCode::BAD_REQUEST),
        (
            "/api/v1/audit?after=18446744073709551615",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/audit?since=yesterday", StatusCode::BAD_REQUEST),
        ("/api/v1/audit?case=nope", StatusCode::NOT_FOUND),
    ] {
        let answer = h.call(&pusher, Method::GET, uri, None).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text);
    }
    let checkpoint = h
        .call(&pusher, Method::GET, "/api/v1/audit/checkpoint", None)
        .await;
    assert_eq!(checkpoint.status, StatusCode::OK);
    assert!(checkpoint.json["size"].as_u64().unwrap() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answer_matches_the_openapi_document() {
    let h = harness().await;
    let requests = pending_requests(&h).await;
    let (hash, _) = &requests[0];
    let case = h
        .state
        .store()
        .approval_request(&warden_domain::ProposalHash::from_stored(hash.clone()))
        .await
        .unwrap()
        .unwrap()
        .proposal
        .case_id
        .to_string();
    // An admin reads everything; the document must describe every answer.
    let admin = h.person("admin").await;
    let openapi = h.call(&admin, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(openapi.json, h.doc, "the served document is the built one");
    let mut read = 0;
    for route in warden_server::routes::table() {
        if route.method != Method::GET
            || !warden_server::guard::is_api(route.path)
            || route.access == Access::Public
        {
            continue;
        }
        let uri = route
            .path
            .replace("{id}", &case)
            .replace("{hash}", hash)
            .replace("{seq}", "2");
        let answer = h.call(&admin, Method::GET, &uri, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {}", answer.text);
        read += 1;
    }
    assert!(read >= 15, "{read}");
    // Changes, as the people allowed to make them.
    let lead = h.person("soc_lead").await;
    let use_cases = h.call(&lead, Method::GET, "/api/v1/use-cases", None).await;
    let name = use_cases.json[0]["name"].as_str().unwrap().to_owned();
    let answer = h
        .call(
            &lead,
            Method::PUT,
            &format!("/api/v1/use-cases/{name}/autonomy"),
            Some((
                "application/json",
                br#"{"level": "draft", "reason": "tuning"}"#.to_vec(),
            )),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    for (uri, body, status) in [
        (
            "/api/v1/kill-switch",
            json!({ "reason": "drill" }),
            StatusCode::OK,
        ),
        (
            "/api/v1/kill-switch/release",
            json!({ "reason": "drill over" }),
            StatusCode::OK,
        ),
        (
            "/api/v1/kill-switch",
            json!({ "use_case": "no-such", "reason": "x" }),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/v1/kill-switch",
            json!({ "reason": 5 }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let answer = h.post_json(&lead, uri, body).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text);
    }
    let not_json = h
        .call(
            &lead,
            Method::POST,
            "/api/v1/kill-switch",
            Some(("application/json", b"{not json".to_vec())),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let no_type = h
        .call(
            &lead,
            Method::POST,
            "/api/v1/kill-switch",
            Some(("text/plain", b"{}".to_vec())),
        )
        .await;
    assert_eq!(no_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let modified = h
        .post_json(
            &lead,
            &format!("/api/v1/approvals/{hash}/modify"),
            json!({ "parameters": { "reason": "narrower" } }),
        )
        .await;
    assert!(
        [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::CONFLICT
        ]
        .contains(&modified.status),
        "{}",
        modified.text
    );
    let created = h
        .post_json(
            &admin,
            "/api/v1/tokens",
            json!({ "name": "siem", "scopes": ["read"] }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    for (body, status) in [
        (
            json!({ "name": "siem", "scopes": ["read"] }),
            StatusCode::CONFLICT,
        ),
        (
            json!({ "name": "x", "scopes": ["root"] }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let answer = h.post_json(&admin, "/api/v1/tokens", body).await;
        assert_eq!(answer.status, status, "{}", answer.text);
    }
    let signed = h
        .call(&admin, Method::POST, "/api/v1/audit/checkpoint", None)
        .await;
    assert_eq!(signed.status, StatusCode::OK);
    let tokens = h.call(&admin, Method::GET, "/api/v1/tokens", None).await;
    assert_eq!(tokens.status, StatusCode::OK);
    let revoked = h
        .call(&admin, Method::DELETE, "/api/v1/tokens/siem", None)
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    let gone = h
        .call(&admin, Method::DELETE, "/api/v1/tokens/siem", None)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

/// S6: a case's alerts are served redacted to viewers and `read` tokens;
/// unredacted only to a soc_lead or an admin who asks (`?raw=true`), and
/// that read is on the record.
#[tokio::test]
async fn case_alerts_are_redacted_unless_a_lead_asks_for_them_raw() {
    let mut h = harness().await;
    let pusher = h.token("pusher", &["alerts:write", "read"]).await;
    let secret = "Wint3r-Sky-42x";
    let mut alert: Value = serde_json::from_slice(&example("ecs-lsass-access.json")).unwrap();
    alert["url"] = json!({"full": format!("https://svc_deploy:{secret}@files.corp.example/b.zip")});
    let pushed = h.post_json(&pusher, "/api/v1/alerts", alert).await;
    assert_eq!(pushed.status, StatusCode::ACCEPTED, "{}", pushed.text);
    let workers = warden_server::workers::spawn(&h.state, h.queue.take().unwrap());
    let list = wait_for_cases(&h, &pusher, 1).await;
    let case_id = list["cases"][0]["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/v1/cases/{case_id}");
    let raw_uri = format!("{uri}?raw=true");

    let reader = h.token("reader", &["read"]).await;
    let viewer = h.person("viewer").await;
    for caller in [&reader, &viewer, &pusher] {
        let detail = h.call(caller, Method::GET, &uri, None).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(!detail.text.contains(secret), "served unredacted");
        assert!(detail.text.contains("[REDACTED:connection_string]"));
        let refused = h.call(caller, Method::GET, &raw_uri, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    }
    let analyst = h.person("analyst").await;
    let refused = h.call(&analyst, Method::GET, &raw_uri, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let lead = h.person("soc_lead").await;
    let raw = h.call(&lead, Method::GET, &raw_uri, None).await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.text);
    assert!(raw.text.contains(secret));
    let reads: Vec<_> = h
        .state
        .store()
        .audit_rows(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == "raw_payload_read")
        .collect();
    assert_eq!(reads.len(), 1, "one raw read, on the record");
    assert_eq!(reads[0].actor, "person:soc_lead");
    workers.shutdown().await;
}
