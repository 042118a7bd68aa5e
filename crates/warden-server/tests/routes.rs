#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The gate, route by route: every entry of the route table refuses the
//! unauthenticated and grants each role and each token scope exactly what
//! `auth::role_grants` / `auth::scope_grants` say; CSRF and origin checks;
//! sign-in throttling; cookie attributes; tokens stored hashed.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tempfile::TempDir;
use tower::ServiceExt as _;
use warden_pipeline::Config;
use warden_server::auth::{self, Permission};
use warden_server::guard::Access;
use warden_server::{AppState, TriageQueue};
use warden_store::CaseReader as _;

use common::{PASSWORD, ROLES, repo, set_cookie_line};

struct Harness {
    dir: TempDir,
    state: AppState,
    app: Router,
    #[allow(dead_code, reason = "kept so the triage queue stays open")]
    queue: TriageQueue,
    case_id: String,
    hash: String,
    use_case: String,
}

/// A server over a fresh data directory, with one account per role and a
/// triaged case that waits for approval.
async fn harness(config: Config) -> Harness {
    let parts = common::Parts::with_role_accounts(config).await;
    let raw = common::example("ecs-lsass-access.json");
    let alerts: Vec<_> = parts
        .pipeline
        .accept_records(vec![("test".into(), raw)], None)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let outcomes = parts.pipeline.triage_alerts(alerts).await.unwrap();
    let case = outcomes[0].case.id;
    let requests = parts
        .store
        .approval_requests(None, Some(case))
        .await
        .unwrap();
    assert!(!requests.is_empty(), "the example asks for approval");
    let server = parts.serve();
    Harness {
        dir: server.dir,
        app: server.router,
        queue: server.queue,
        case_id: case.to_string(),
        hash: requests[0].proposal_hash.to_string(),
        use_case: outcomes[0].use_case.clone(),
        state: server.state,
    }
}

impl Harness {
    async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.app.clone().oneshot(request).await.unwrap()
    }

    /// `path` with its parameters filled in with things that exist.
    fn fill(&self, path: &str) -> String {
        path.split('/')
            .map(|segment| match segment {
                "{id}" => self.case_id.clone(),
                "{hash}" => self.hash.clone(),
                "{seq}" => "1".to_owned(),
                "{name}" if path.contains("token") => "no-such-token".to_owned(),
                "{name}" => self.use_case.clone(),
                s if s.starts_with('{') => "x".to_owned(),
                s => s.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Sign in through the form; returns the response to the POST.
    async fn sign_in(&self, name: &str, password: &str) -> Response<Body> {
        let secure = self.state.config().secure_cookies;
        let (page, response) =
            common::sign_in(&self.app, secure, name, password, Some("/cases")).await;
        assert_eq!(page, StatusCode::OK);
        response
    }

    /// A signed-in person's cookie header and CSRF token.
    async fn person(&self, name: &str) -> Caller {
        let response = self.sign_in(name, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name} signs in");
        let cookie = common::session_cookie(&response, self.state.config().secure_cookies);
        let me = self
            .send(
                Request::get("/api/v1/me")
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(me.status(), StatusCode::OK);
        let me = json(me).await;
        Caller::Person {
            cookie,
            csrf: me["csrf_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn token(&self, name: &str, scopes: &[&str]) -> Caller {
        Caller::Token(common::token(&self.state, name, scopes).await)
    }

    /// Call `method path` as `caller` with a body no handler accepts as a
    /// valid change (so the walk changes nothing but tests the gate).
    async fn call(&self, caller: &Caller, method: &Method, path: &str) -> Response<Body> {
        let mut request = Request::builder()
            .method(method.clone())
            .uri(self.fill(path))
            .header(header::HOST, "localhost");
        if *method != Method::GET {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        request = match caller {
            Caller::Nobody => request,
            Caller::Person { cookie, csrf } => request
                .header(header::COOKIE, cookie)
                .header("x-csrf-token", csrf),
            Caller::Token(secret) => {
                request.header(header::AUTHORIZATION, format!("Bearer {secret}"))
            }
            Caller::Raw(name, value) => request.header(*name, value),
        };
        let body = if *method == Method::GET {
            Body::empty()
        } else {
            Body::from("[]")
        };
        self.send(request.body(body).unwrap()).await
    }
}

enum Caller {
    Nobody,
    Person { cookie: String, csrf: String },
    Token(String),
    Raw(&'static str, String),
}

async fn json(response: Response<Body>) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// The answer refuses an unauthenticated caller: 401 for the API, a
/// redirect to the sign-in page for a page.
fn assert_refused_unauthenticated(method: &Method, path: &str, response: &Response<Body>) {
    let status = response.status();
    assert!(
        !status.is_success(),
        "{method} {path}: {status} without credentials"
    );
    if warden_server::guard::is_api(path) {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
    } else {
        assert_eq!(status, StatusCode::SEE_OTHER, "{method} {path}");
        let location = response.headers()[header::LOCATION].to_str().unwrap();
        assert!(
            location.starts_with("/login"),
            "{method} {path}: {location}"
        );
    }
}

fn assert_gate(who: &str, allowed: bool, method: &Method, path: &str, response: &Response<Body>) {
    let status = response.status();
    if allowed {
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{who} may {method} {path} but got {status}"
        );
        if *method == Method::GET
            && let Some(location) = response.headers().get(header::LOCATION)
        {
            let location = location.to_str().unwrap();
            assert!(!location.starts_with("/login"), "{who}: {method} {path}");
        }
        assert!(
            !status.is_server_error(),
            "{who}: {method} {path}: {status}"
        );
    } else {
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{who} may not {method} {path}"
        );
    }
}

fn allowed(access: Access, is_person: bool, grants: &[Permission]) -> bool {
    match access {
        Access::Public | Access::Authenticated => true,
        Access::Person => is_person,
        Access::Needs(permission) => grants.contains(&permission),
    }
}

/// Log-out last: it ends the session the walk uses.
fn walk_order() -> Vec<warden_server::routes::Route> {
    let mut table = warden_server::routes::table();
    table.sort_by_key(|r| r.path.ends_with("logout"));
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_refuses_the_unauthenticated_and_grants_each_role_exactly_its_rights() {
    let h = harness(Config::default()).await;
    let table = walk_order();
    assert!(table.len() > 30, "the table lists every route");

    // No credentials, a garbage token, a deleted and an expired session.
    let deleted = {
        let Caller::Person { cookie, .. } = h.person("viewer").await else {
            unreachable!()
        };
        let secret = cookie.split_once('=').unwrap().1;
        h.state
            .store()
            .delete_session(&auth::secret_hash(secret))
            .await
            .unwrap();
        cookie
    };
    let expired = {
        let person = h.state.store().person("analyst").await.unwrap().unwrap();
        let long_ago = h.state.now() - time::Duration::hours(2);
        let (secret, _) = auth::session::start(&**h.state.store(), &person, long_ago, 5)
            .await
            .unwrap();
        format!("warden_session={secret}")
    };
    let strangers = [
        ("nobody", Caller::Nobody),
        (
            "a garbage token",
            Caller::Raw("authorization", "Bearer wdn_not-a-token".into()),
        ),
        (
            "a well-formed unknown token",
            Caller::Raw("authorization", format!("Bearer wdn_{}", "a".repeat(64))),
        ),
        ("a deleted session", Caller::Raw("cookie", deleted)),
        ("an expired session", Caller::Raw("cookie", expired)),
    ];
    for (who, caller) in &strangers {
        for route in &table {
            if route.access == Access::Public {
                continue;
            }
            let response = h.call(caller, &route.method, route.path).await;
            assert_refused_unauthenticated(&route.method, route.path, &response);
            let _ = who;
        }
    }

    // Each role, signed in through the form.
    let mut checked = 0;
    for role in ROLES {
        let caller = h.person(role).await;
        let grants = auth::role_grants(role);
        for route in &table {
            if route.access == Access::Public {
                continue;
            }
            let response = h.call(&caller, &route.method, route.path).await;
            let may = allowed(route.access, true, &grants);
            assert_gate(role, may, &route.method, route.path, &response);
            checked += 1;
        }
    }
    // Each token scope, alone and all together; no CSRF token is sent.
    let mut scope_sets: Vec<Vec<&str>> = auth::SCOPES.iter().map(|s| vec![*s]).collect();
    scope_sets.push(auth::SCOPES.to_vec());
    for (n, scopes) in scope_sets.iter().enumerate() {
        let caller = h.token(&format!("walk-{n}"), scopes).await;
        let grants: Vec<Permission> = scopes.iter().flat_map(|s| auth::scope_grants(s)).collect();
        for route in &table {
            if route.access == Access::Public {
                continue;
            }
            let response = h.call(&caller, &route.method, route.path).await;
            let may = allowed(route.access, false, &grants);
            assert_gate(
                &format!("a token with {scopes:?}"),
                may,
                &route.method,
                route.path,
                &response,
            );
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} calls checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_changes_need_the_csrf_token_and_the_same_origin_and_tokens_need_neither() {
    let h = harness(Config::default()).await;
    let Caller::Person { cookie, csrf } = h.person("soc_lead").await else {
        unreachable!()
    };
    let pause = |csrf: Option<&str>, origin: Option<&str>| {
        let mut request = Request::post("/api/v1/kill-switch")
            .header(header::HOST, "localhost:8080")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, &cookie);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.body(Body::from(r#"{"reason": "drill"}"#)).unwrap()
    };
    let wrong = auth::new_secret();
    for (what, request) in [
        ("no CSRF token", pause(None, None)),
        ("a wrong CSRF token", pause(Some(&wrong), None)),
        (
            "another origin",
            pause(Some(&csrf), Some("https://evil.example")),
        ),
        (
            "a look-alike origin",
            pause(Some(&csrf), Some("http://localhost:8080.evil.example")),
        ),
    ] {
        let response = h.send(request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
        let body = json(response).await;
        assert!(
            ["csrf", "cross_origin"].contains(&body["error"]["code"].as_str().unwrap()),
            "{what}: {body}"
        );
    }
    assert!(h.state.store().pauses().await.unwrap().is_empty());
    // A form without its csrf field is refused too.
    let response = h
        .send(
            Request::post(format!("/cases/{}/notes", h.case_id))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &cookie)
                .body(Body::from("text=hello"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    let response = h
        .send(pause(Some(&csrf), Some("http://localhost:8080")))
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the right token passes");
    assert_eq!(h.state.store().pauses().await.unwrap().len(), 1);

    // A token changes state without any CSRF token (it is not ambient).
    let Caller::Token(secret) = h.token("pusher", &["alerts:write"]).await else {
        unreachable!()
    };
    let raw = std::fs::read(repo().join("examples/alerts/ocsf-mfa-fatigue.json")).unwrap();
    let response = h
        .send(
            Request::post("/api/v1/alerts")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .header(header::ORIGIN, "https://elsewhere.example")
                .body(Body::from(raw))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_refused_with_retry_after_once_the_failures_reach_the_limit() {
    let mut config = Config::default();
    config.server.login_max_failures = 3;
    config.server.login_lockout_seconds = 60;
    let h = harness(config).await;
    for _ in 0..3 {
        let response = h.sign_in("analyst", "wrong password, twelve+").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = h.sign_in("analyst", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(
        set_cookie_line(&response, "warden_session").is_none(),
        "no session while locked out"
    );
    // Another account is not locked by this one's failures.
    assert_eq!(
        h.sign_in("viewer", PASSWORD).await.status(),
        StatusCode::SEE_OTHER
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookies_are_http_only_and_strict_and_host_prefixed_and_secure_when_configured() {
    let h = harness(Config::default()).await;
    let response = h.sign_in("viewer", PASSWORD).await;
    let line = set_cookie_line(&response, "warden_session").expect("session cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(line.contains(part), "{line}");
    }
    assert!(!line.contains("Secure"), "{line}");

    let mut config = Config::default();
    config.server.secure_cookies = true;
    let h = harness(config).await;
    let response = h.sign_in("viewer", PASSWORD).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert!(set_cookie_line(&response, "warden_session").is_none());
    let line = set_cookie_line(&response, "__Host-warden_session").expect("__Host- cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(line.contains(part), "{line}");
    }
    assert!(!line.contains("Domain="), "{line}");
    // And the prefixed cookie is the one that signs in.
    let Caller::Person { .. } = h.person("viewer").await else {
        unreachable!()
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_stored_hashed_and_a_revoked_token_is_refused() {
    let h = harness(Config::default()).await;
    let Caller::Person { cookie, csrf } = h.person("admin").await else {
        unreachable!()
    };
    let response = h
        .send(
            Request::post("/api/v1/tokens")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .body(Body::from(
                    r#"{"name": "splunk-prod", "scopes": ["alerts:write", "read"]}"#,
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created = json(response).await;
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("wdn_") && secret.len() == 68, "{secret}");

    let me = |secret: String| {
        Request::get("/api/v1/me")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(Body::empty())
            .unwrap()
    };
    let response = h.send(me(secret.clone())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["kind"], "token");

    // Neither the database nor its write-ahead log holds the secret.
    let hex = &secret[4..];
    for file in ["warden.db", "warden.db-wal"] {
        let path = h.dir.path().join(file);
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for needle in [secret.as_bytes(), hex.as_bytes()] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{file} holds the token's secret"
            );
        }
    }
    let listed = h.state.store().api_tokens().await.unwrap();
    let stored = listed.iter().find(|t| t.name == "splunk-prod").unwrap();
    assert_eq!(stored.token_hash, auth::secret_hash(&secret));

    let response = h
        .send(
            Request::delete("/api/v1/tokens/splunk-prod")
                .header(header::COOKIE, &cookie)
                .header("x-csrf-token", &csrf)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = h.send(me(secret)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
}
