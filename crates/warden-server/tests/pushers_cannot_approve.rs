#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Separation of duties through the API (S1, issue 18): whoever pushed a
//! case's alerts counts as a requester of its proposals, so the person
//! whose session pushed them gets 403 when approving what the case asks
//! for (through the API and the approval card's form), even holding every
//! approving role; the token that pushed them never decides; another
//! person entitled to approve does, and only their approval counts.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt as _;
use warden_domain::{ProposalHash, RequestStatus};
use warden_pipeline::Config;
use warden_server::{AppState, TriageQueue};

use common::{PASSWORD, example};

/// The server's state and router (its triage queue is drained apart).
struct Harness {
    _dir: TempDir,
    state: AppState,
    router: Router,
}

/// Who calls: a bearer token, or a person's session cookie and CSRF token.
enum Caller {
    Token(String),
    Person { cookie: String, csrf: String },
}

/// A server over a fresh data directory with one account per role, and
/// `dana`, who holds every role that approves.
async fn harness() -> (Harness, TriageQueue) {
    let server = common::Parts::with_role_accounts(Config::default())
        .await
        .serve();
    server
        .state
        .pipeline()
        .control()
        .add_person(
            "dana",
            &[
                "analyst".to_owned(),
                "soc_lead".to_owned(),
                "incident_commander".to_owned(),
            ],
            PASSWORD,
            "test",
        )
        .await
        .unwrap();
    let h = Harness {
        _dir: server.dir,
        state: server.state,
        router: server.router,
    };
    (h, server.queue)
}

async fn call(
    h: &Harness,
    caller: &Caller,
    method: Method,
    uri: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (StatusCode, Value, String) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "localhost");
    request = match caller {
        Caller::Token(secret) => request.header(header::AUTHORIZATION, format!("Bearer {secret}")),
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
    let response = h
        .router
        .clone()
        .oneshot(request.body(body).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text,
    )
}

/// The account `name`, signed in through the form.
async fn sign_in(h: &Harness, name: &str) -> Caller {
    let secure = h.state.config().secure_cookies;
    let (_, response) = common::sign_in(&h.router, secure, name, PASSWORD, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name} signs in");
    let cookie = common::session_cookie(&response, secure);
    let caller = Caller::Person {
        cookie: cookie.clone(),
        csrf: String::new(),
    };
    let (status, me, _) = call(h, &caller, Method::GET, "/api/v1/me", None).await;
    assert_eq!(status, StatusCode::OK);
    Caller::Person {
        cookie,
        csrf: me["csrf_token"].as_str().unwrap().to_owned(),
    }
}

/// Push an example alert as `caller`, then let the triage worker make its
/// case.
async fn push_and_triage(h: &Harness, queue: TriageQueue, caller: &Caller, alert: &str) {
    let (status, body, _) = call(
        h,
        caller,
        Method::POST,
        "/api/v1/alerts",
        Some(("application/json", example(alert))),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{alert}: {body}");
    warden_server::workers::spawn(&h.state, queue)
        .shutdown()
        .await;
}

/// The pending requests (each with the first role it accepts among the
/// accounts' roles), all of one case, whose alerts came from `origin`.
async fn pending_of(h: &Harness, origin: &str) -> Vec<(ProposalHash, String)> {
    let store = h.state.store();
    let requests = store
        .approval_requests(Some(RequestStatus::Pending), None)
        .await
        .unwrap();
    assert!(!requests.is_empty(), "the case asks for approvals");
    let mut found = Vec::new();
    for request in requests {
        let alerts = store
            .alerts_of_case(request.proposal.case_id)
            .await
            .unwrap();
        assert!(
            !alerts.is_empty() && alerts.iter().all(|a| a.origin == origin),
            "{origin}: {:?}",
            alerts.iter().map(|a| &a.origin).collect::<Vec<_>>()
        );
        let role = request
            .card
            .roles
            .iter()
            .find(|r| ["analyst", "soc_lead", "incident_commander"].contains(&r.as_str()))
            .cloned()
            .unwrap_or_else(|| "analyst".to_owned());
        found.push((request.proposal_hash, role));
    }
    found
}

/// Who approved `hash`, as recorded.
async fn approvers(h: &Harness, hash: &ProposalHash) -> Vec<String> {
    h.state
        .store()
        .approvals_of(hash)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.approver)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_person_who_pushed_a_cases_alert_gets_403_approving_its_actions_and_another_may() {
    let (h, queue) = harness().await;
    let dana = sign_in(&h, "dana").await;
    push_and_triage(&h, queue, &dana, "ecs-lsass-access.json").await;

    let requests = pending_of(&h, "http:dana").await;
    for (hash, role) in &requests {
        let uri = format!("/api/v1/approvals/{hash}/approve");
        // Neither in the role the card asks for, nor letting the server
        // pick one of hers.
        for body in [
            Some((
                "application/json",
                format!(r#"{{"role": "{role}"}}"#).into_bytes(),
            )),
            None,
        ] {
            let (status, answer, text) = call(&h, &dana, Method::POST, &uri, body).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "dana approves {hash}: {text}"
            );
            assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.contains("dana") && message.contains("pushed an alert"),
                "{message}"
            );
        }
        // The approval card's form refuses her the same way.
        let Caller::Person { csrf, .. } = &dana else {
            unreachable!()
        };
        let (status, _, page) = call(
            &h,
            &dana,
            Method::POST,
            &format!("/approvals/{hash}/approve"),
            Some((
                "application/x-www-form-urlencoded",
                format!("csrf={csrf}&role={role}").into_bytes(),
            )),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "the form: {page}");
        assert!(page.contains("pushed an alert"), "{page}");
        assert!(approvers(&h, hash).await.is_empty(), "nothing recorded");

        // Someone else entitled approves, and theirs is the one approval.
        let other = sign_in(&h, role).await;
        let (status, progress, text) = call(&h, &other, Method::POST, &uri, None).await;
        assert_eq!(status, StatusCode::OK, "{role} approves {hash}: {text}");
        assert_eq!(progress["valid"], 1, "{progress}");
        assert_eq!(approvers(&h, hash).await, [role.as_str()]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_that_pushed_a_cases_alert_never_approves_and_a_person_who_did_not_push_may() {
    let (h, queue) = harness().await;
    let feed = Caller::Token(common::token(&h.state, "feed", &["alerts:write", "read"]).await);
    push_and_triage(&h, queue, &feed, "ecs-lsass-access.json").await;

    let requests = pending_of(&h, "http:feed").await;
    let dana = sign_in(&h, "dana").await;
    for (hash, _) in &requests {
        let uri = format!("/api/v1/approvals/{hash}/approve");
        let (status, answer, text) = call(&h, &feed, Method::POST, &uri, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "the token approves: {text}");
        assert_eq!(answer["error"]["code"], "forbidden", "{answer}");
        assert!(approvers(&h, hash).await.is_empty(), "nothing recorded");
        // Dana pushed nothing of this case: she may approve it.
        let (status, progress, text) = call(&h, &dana, Method::POST, &uri, None).await;
        assert_eq!(status, StatusCode::OK, "dana approves {hash}: {text}");
        assert_eq!(progress["valid"], 1, "{progress}");
        assert_eq!(approvers(&h, hash).await, ["dana"]);
    }
}
