#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The web UI through the whole router, without a socket: every view
//! rendered over alerts that carry real injection payloads and classic XSS
//! strings (they must come out escaped, under a CSP that allows no script,
//! in pages that hold no script), and the flows people run through the
//! forms: two-person approval, Control's refusals, rejection, modification,
//! the kill switch, autonomy, notes, closing, and the refusals the guard
//! makes (viewers, missing CSRF, no session).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use warden_domain::{ActionName, CaseId, Clock as _, RequestStatus, SystemClock};
use warden_pipeline::Config;
use warden_policy::PolicyEngine;
use warden_server::AppState;
use warden_store::CaseReader as _;

use common::PASSWORD;

// ---- the application under test ----

struct App {
    router: Router,
    state: AppState,
    _queue: warden_server::TriageQueue,
    _dir: tempfile::TempDir,
}

async fn app_with(policy: PolicyEngine) -> App {
    let server = common::Parts::new(Config::default(), policy, warden_enrich::Context::none())
        .await
        .serve();
    App {
        router: server.router,
        state: server.state,
        _queue: server.queue,
        _dir: server.dir,
    }
}

async fn app() -> App {
    app_with(PolicyEngine::default_set().unwrap()).await
}

/// The shipped policies, except that an agent's ticket needs two people.
fn two_person_policy() -> PolicyEngine {
    let text = warden_policy::DEFAULT_POLICIES;
    let at = text
        .find("@id(\"default.ticket.approved\")")
        .expect("the shipped ticket policy");
    let (head, tail) = text.split_at(at);
    assert!(tail.contains("@approvals(\"1\")"));
    let tail = tail.replacen("@approvals(\"1\")", "@approvals(\"2\")", 1);
    PolicyEngine::load(warden_policy::DEFAULT_SCHEMA, &format!("{head}{tail}")).unwrap()
}

/// A signed-in browser: its cookies and the session's CSRF token.
#[derive(Debug, Clone)]
struct Browser {
    cookie: String,
    csrf: String,
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

fn cookies_of(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter(|pair| !pair.ends_with('='))
        .map(str::to_owned)
        .collect()
}

/// The value of the first `name="csrf" value="..."` field.
fn csrf_field(body: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let at = body.find(marker).expect("a csrf field") + marker.len();
    body[at..].split('"').next().unwrap().to_owned()
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields {
        form.append_pair(key, value);
    }
    form.finish()
}

fn path_segment(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl App {
    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let answer = Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
        };
        check_headers(&answer);
        answer
    }

    async fn get(&self, path: &str, browser: Option<&Browser>) -> Answer {
        let mut request = Request::get(path);
        if let Some(browser) = browser {
            request = request.header(header::COOKIE, &browser.cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A page that must render (200) and hold only safe markup.
    async fn page(&self, path: &str, browser: &Browser) -> String {
        let answer = self.get(path, Some(browser)).await;
        assert_eq!(answer.status, StatusCode::OK, "GET {path}: {}", answer.body);
        check_markup(path, &answer.body);
        answer.body
    }

    /// POST a form as `browser`, with its CSRF token unless `csrf` is given.
    async fn post_with(
        &self,
        path: &str,
        browser: &Browser,
        csrf: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Answer {
        let mut all: Vec<(&str, &str)> = Vec::new();
        match csrf {
            Some("") => {}
            Some(token) => all.push(("csrf", token)),
            None => all.push(("csrf", &browser.csrf)),
        }
        all.extend_from_slice(fields);
        let request = Request::post(path)
            .header(header::COOKIE, &browser.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&all)))
            .unwrap();
        let answer = self.send(request).await;
        if answer.headers.get(header::CONTENT_TYPE).is_some() {
            check_markup(path, &answer.body);
        }
        answer
    }

    async fn post(&self, path: &str, browser: &Browser, fields: &[(&str, &str)]) -> Answer {
        self.post_with(path, browser, None, fields).await
    }

    /// A new account holding `roles`, signed in through the sign-in form.
    async fn person(&self, name: &str, roles: &[&str]) -> Browser {
        let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
        self.state
            .pipeline()
            .control()
            .add_person(name, &roles, PASSWORD, "test")
            .await
            .unwrap();
        let form = self.get("/login", None).await;
        assert_eq!(form.status, StatusCode::OK);
        let login_cookie = cookies_of(&form.headers).join("; ");
        let request = Request::post("/login")
            .header(header::COOKIE, &login_cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form_body(&[
                ("username", name),
                ("password", PASSWORD),
                ("csrf", &csrf_field(&form.body)),
                ("next", "/cases"),
            ])))
            .unwrap();
        let signed_in = self.send(request).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        assert_eq!(signed_in.location(), "/cases");
        let cookie = cookies_of(&signed_in.headers).join("; ");
        assert!(cookie.contains("warden_session="), "{cookie}");
        let mut browser = Browser {
            cookie,
            csrf: String::new(),
        };
        let queue = self.page("/cases", &browser).await;
        browser.csrf = csrf_field(&queue);
        browser
    }

    /// Ingest `payloads` (vendor JSON) and triage each alone; the cases.
    async fn triage(&self, payloads: &[Value]) -> Vec<CaseId> {
        let pipeline = self.state.pipeline();
        let mut cases = Vec::new();
        for (n, payload) in payloads.iter().enumerate() {
            let records = vec![(format!("test:{n}"), serde_json::to_vec(payload).unwrap())];
            let accepted = pipeline.accept_records(records, None).await.unwrap();
            let alerts: Vec<_> = accepted
                .into_iter()
                .map(|r| r.unwrap_or_else(|e| panic!("alert {n} refused: {}", e.reason)))
                .collect();
            let outcomes = pipeline.triage_alerts(alerts).await.unwrap();
            cases.extend(outcomes.iter().map(|o| o.case.id));
        }
        cases
    }

    async fn requests(
        &self,
        case: CaseId,
        status: Option<RequestStatus>,
    ) -> Vec<warden_domain::ApprovalRequest> {
        self.state
            .store()
            .approval_requests(status, Some(case))
            .await
            .unwrap()
    }
}

// ---- what every answer and page must satisfy ----

/// Every HTML answer carries a CSP that allows no script at all.
fn check_headers(answer: &Answer) {
    let html = answer
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html {
        return;
    }
    let csp = answer
        .headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .expect("every page has a CSP");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

const TAGS: &[&str] = &[
    "html",
    "head",
    "meta",
    "title",
    "link",
    "body",
    "header",
    "main",
    "span",
    "a",
    "form",
    "input",
    "button",
    "h1",
    "h2",
    "h3",
    "div",
    "p",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "ul",
    "li",
    "dl",
    "dt",
    "dd",
    "details",
    "summary",
    "pre",
    "label",
    "select",
    "option",
    "textarea",
    "strong",
    "br",
    "figure",
    "figcaption",
    "svg",
    "desc",
    "line",
    "rect",
    "text",
];

const ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "name",
    "content",
    "rel",
    "href",
    "class",
    "data-testid",
    "method",
    "action",
    "type",
    "value",
    "id",
    "for",
    "selected",
    "required",
    "autofocus",
    "autocomplete",
    "role",
    "placeholder",
    "viewbox",
    "aria-labelledby",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "width",
    "height",
    "text-anchor",
];

/// The page holds no script and only the markup the templates write:
/// known tags and attributes, no event handlers, no inline styles, links
/// and form targets on this server only. Escaped text never holds `<`,
/// `>` or `"`, so every tag found here was written by a template.
fn check_markup(path: &str, body: &str) {
    let lower = body.to_ascii_lowercase();
    for banned in [
        "<script", "<iframe", "<img", "<object", "<embed", "<base", "<style",
    ] {
        assert!(!lower.contains(banned), "{path}: {banned} in the page");
    }
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after
            .find('>')
            .unwrap_or_else(|| panic!("{path}: an unclosed tag"));
        check_tag(path, &after[..end]);
        rest = &after[end + 1..];
    }
}

fn check_tag(path: &str, tag: &str) {
    if let Some(declaration) = tag.strip_prefix('!') {
        assert!(
            declaration.eq_ignore_ascii_case("doctype html"),
            "{path}: <!{declaration}>"
        );
        return;
    }
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let name: String = tag
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    assert!(TAGS.contains(&name.as_str()), "{path}: tag <{tag}>");
    let mut rest = &tag[name.len()..];
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest == "/" {
            break;
        }
        let attr: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '=')
            .collect();
        assert!(!attr.is_empty(), "{path}: junk in <{tag}>");
        rest = &rest[attr.len()..];
        let lower = attr.to_ascii_lowercase();
        assert!(
            ATTRIBUTES.contains(&lower.as_str()),
            "{path}: attribute {attr:?} in <{tag}>"
        );
        if let Some(valued) = rest.strip_prefix('=') {
            let quoted = valued
                .strip_prefix('"')
                .unwrap_or_else(|| panic!("{path}: unquoted value in <{tag}>"));
            let close = quoted
                .find('"')
                .unwrap_or_else(|| panic!("{path}: unterminated value in <{tag}>"));
            let value = &quoted[..close];
            if lower == "href" || lower == "action" {
                assert!(
                    (value.starts_with('/') && !value.starts_with("//")) || value.starts_with('#'),
                    "{path}: {attr}={value:?} leaves this server"
                );
            }
            rest = &quoted[close + 1..];
        }
    }
}

/// Text as askama's HTML escaping writes it (numeric references).
fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&#38;"),
            '<' => out.push_str("&#60;"),
            '>' => out.push_str("&#62;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Markup an attacker would want rendered: text with `<` or `"` long
/// enough not to occur in the page's own markup.
fn is_markup(payload: &str) -> bool {
    (payload.contains('<') || payload.contains('"')) && payload.trim().len() >= 6
}

fn assert_never_raw(path: &str, body: &str, payloads: &[String]) {
    let lower = body.to_lowercase();
    for payload in payloads.iter().filter(|p| is_markup(p)) {
        assert!(
            !body.contains(payload.as_str()),
            "{path}: payload rendered raw: {payload:?}"
        );
        assert!(
            !lower.contains(&payload.to_lowercase()),
            "{path}: payload rendered raw (lower-cased): {payload:?}"
        );
    }
}

// ---- payloads ----

const CLASSIC_XSS: &[&str] = &[
    "<script>alert(1)</script>",
    "\"><img src=x onerror=alert(1)>",
    "javascript:alert(1)",
    "</textarea><svg onload=alert(1)>",
    "{{7*7}}",
    "{{ nav.csrf }}",
    "{% if true %}ssti{% endif %}",
    "' onmouseover='alert(1)",
    "\" onmouseover=\"alert(1)\" x=\"",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "</title><script>alert(document.domain)</script>",
    "<style>*{display:none}</style>",
    "\"><a href=\"javascript:alert(1)\">click</a>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<!-- --><base href=\"//evil.example/\">",
    "</pre><script>alert(1)</script><pre>",
    "<svg><desc><![CDATA[</desc><script>alert(1)</script>]]></svg>",
    "\u{202e}exe.txt <b>bidi</b>",
];

/// Every string in the shared injection corpus: each string of each JSON
/// file, and each text file whole and line by line.
fn injection_corpus(dir: &Path) -> Vec<String> {
    fn strings(value: &Value, out: &mut BTreeSet<String>) {
        match value {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
            Value::Object(map) => map.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    fn walk(dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let value: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                strings(&value, out);
            } else if path.extension().is_some_and(|e| e == "txt") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.extend(text.lines().map(str::to_owned));
                out.insert(text);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, &mut out);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

fn now() -> String {
    warden_server::api::views::rfc3339(SystemClock.now())
}

/// An Elastic Security alert with `payload` in its rule name, reason,
/// command line and host name (when it can be one: no whitespace, so that
/// actions target it), and `other` in its description and user name.
fn ecs_alert(n: usize, payload: &str, other: &str) -> Value {
    json!({
        "@timestamp": now(),
        "kibana.alert.uuid": format!("ui-test-{n}"),
        "kibana.alert.rule.name": format!("R{n} {payload}"),
        "kibana.alert.rule.rule_id": format!("ui-rule-{n}"),
        "kibana.alert.reason": payload,
        "kibana.alert.rule.description": other,
        "kibana.alert.severity": "high",
        "kibana.alert.risk_score": 80,
        "event": {"kind": "signal", "category": ["process"]},
        "host": {"name": host_for(n, payload)},
        "user": {"name": other},
        "process": {"command_line": payload}
    })
}

/// An OCSF Detection Finding with `payload` in its analytic name, title,
/// message, command line and host name, and `other` in its description
/// and user name.
fn ocsf_alert(n: usize, payload: &str, other: &str) -> Value {
    json!({
        "class_uid": 2004,
        "category_uid": 2,
        "activity_id": 1,
        "type_uid": 200_401,
        "severity_id": 4,
        "time_dt": now(),
        "message": payload,
        "metadata": {"version": "1.3.0", "product": {"name": "UI Test EDR", "vendor_name": "Test"}},
        "finding_info": {
            "uid": format!("ui-finding-{n}"),
            "title": payload,
            "desc": other,
            "analytic": {"uid": format!("ui-analytic-{n}"), "name": format!("R{n} {payload}")}
        },
        "actor": {"user": {"name": other}, "process": {"cmd_line": payload}},
        "device": {"hostname": host_for(n, payload)}
    })
}

fn host_for(n: usize, payload: &str) -> String {
    if payload.contains(char::is_whitespace) || payload.len() > 200 {
        format!("host-{n}")
    } else {
        payload.to_owned()
    }
}

/// Triage an alert per two payloads (ECS and OCSF in turn), add notes
/// with them, then render every view and check each one.
async fn render_every_view(payloads: &[String]) {
    let app = app().await;
    let analyst = app.person("alice", &["analyst"]).await;
    let lead = app.person("lead", &["soc_lead"]).await;

    let pairs: Vec<(&str, &str)> = payloads
        .chunks(2)
        .map(|pair| {
            let first = pair[0].as_str();
            (first, pair.get(1).map_or(first, String::as_str))
        })
        .collect();
    let alerts: Vec<Value> = pairs
        .iter()
        .enumerate()
        .map(|(n, (a, b))| {
            if n % 2 == 0 {
                ecs_alert(n, a, b)
            } else {
                ocsf_alert(n, a, b)
            }
        })
        .collect();
    let cases = app.triage(&alerts).await;
    assert_eq!(cases.len(), pairs.len(), "one case per alert");

    // People's text too: a note per case, a rejection reason, a modified
    // parameter, a kill-switch reason.
    for (case, (a, b)) in cases.iter().zip(&pairs) {
        for text in [a, b] {
            let answer = app
                .post(&format!("/cases/{case}/notes"), &analyst, &[("text", text)])
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        }
    }
    let mut rejected = 0;
    let mut modified = 0;
    for (case, (payload, _)) in cases.iter().zip(&pairs).take(8) {
        let pending = app.requests(*case, Some(RequestStatus::Pending)).await;
        if let Some(request) = pending.first() {
            let path = format!("/approvals/{}/reject", request.proposal_hash);
            let answer = app
                .post(&path, &analyst, &[("reason", "other"), ("note", payload)])
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
            rejected += 1;
        }
        if let Some(request) = pending.get(1) {
            let path = format!("/approvals/{}/modify", request.proposal_hash);
            let answer = app
                .post(
                    &path,
                    &analyst,
                    &[("param_key", "comment"), ("param_value", payload)],
                )
                .await;
            assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
            modified += 1;
        }
    }
    assert!(rejected > 0, "some case asked for approval");
    let reason = payloads.first().map(String::as_str).unwrap_or("x");
    let answer = app
        .post("/kill-switch/pause", &lead, &[("reason", reason)])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    // The case pages: the payload is shown, escaped.
    for (case, (a, b)) in cases.iter().zip(&pairs) {
        let path = format!("/cases/{case}");
        let body = app.page(&path, &analyst).await;
        assert_never_raw(&path, &body, payloads);
        for payload in [a, b] {
            let shown = escaped(payload.trim());
            assert!(
                body.contains(&shown),
                "{path}: the escaped payload is missing: {shown:?}"
            );
        }
    }
    // Every other view.
    let mut paths = vec![
        "/cases".to_owned(),
        "/cases?state=escalated&severity=high".to_owned(),
        "/cases?state=&severity=&use_case=".to_owned(),
        "/approvals".to_owned(),
        "/approvals?status=all".to_owned(),
        "/approvals?status=rejected".to_owned(),
        "/audit".to_owned(),
        "/audit?kind=alert_ingested".to_owned(),
        "/audit?kind=case_note_added".to_owned(),
        "/audit?actor=person%3Aalice".to_owned(),
        "/use-cases".to_owned(),
        "/dashboard".to_owned(),
        "/dashboard?days=1".to_owned(),
        format!("/cases/{}?done=%3Cscript%3Ealert(1)%3C/script%3E", cases[0]),
    ];
    for case in cases.iter().take(3) {
        paths.push(format!("/audit?case={case}"));
    }
    for case in &cases {
        for request in app.requests(*case, None).await {
            paths.push(format!("/approvals/{}", request.proposal_hash));
        }
    }
    for path in &paths {
        let body = app.page(path, &analyst).await;
        assert_never_raw(path, &body, payloads);
    }
    let cards = paths
        .iter()
        .filter(|p| p.starts_with("/approvals/"))
        .count();
    assert!(
        cards > rejected + modified,
        "approval cards rendered: {cards}"
    );

    // Error pages that repeat what was asked for.
    for payload in payloads.iter().filter(|p| is_markup(p)).take(40) {
        for path in [
            format!("/cases/{}", path_segment(payload)),
            format!("/approvals/{}", path_segment(payload)),
            format!("/audit?case={}", path_segment(payload)),
            format!("/cases?state={}", path_segment(payload)),
        ] {
            let answer = app.get(&path, Some(&analyst)).await;
            assert!(answer.status.is_client_error(), "{path}: {}", answer.status);
            check_markup(&path, &answer.body);
            assert_never_raw(&path, &answer.body, payloads);
        }
    }
    let missing = app.get("/no/such/page", Some(&analyst)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    check_markup("/no/such/page", &missing.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_view_escapes_injection_payloads_under_a_strict_csp() {
    let Some(dir) = warden_testkit::shared_data("injection") else {
        return;
    };
    let mut payloads = injection_corpus(&dir);
    assert!(
        payloads.len() > 100,
        "the corpus: {} strings",
        payloads.len()
    );
    payloads.extend(CLASSIC_XSS.iter().map(|s| (*s).to_owned()));
    let unique: BTreeSet<String> = payloads.into_iter().collect();
    render_every_view(&unique.into_iter().collect::<Vec<_>>()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_view_escapes_classic_xss_strings() {
    let payloads: Vec<String> = CLASSIC_XSS.iter().map(|s| (*s).to_owned()).collect();
    render_every_view(&payloads).await;
}

// ---- flows ----

fn lsass() -> Value {
    warden_testkit::example_json("ecs-lsass-access.json")
}

async fn request_for(
    app: &App,
    case: CaseId,
    action: ActionName,
) -> warden_domain::ApprovalRequest {
    app.requests(case, Some(RequestStatus::Pending))
        .await
        .into_iter()
        .find(|r| r.proposal.action == action)
        .unwrap_or_else(|| panic!("a pending {action} request"))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_people_approve_and_control_refuses_the_same_person_twice() {
    let app = app_with(two_person_policy()).await;
    let alice = app.person("alice", &["analyst"]).await;
    let bob = app.person("bob", &["soc_lead"]).await;
    let case = app.triage(&[lsass()]).await[0];
    let request = request_for(&app, case, ActionName::TicketCreate).await;
    assert_eq!(request.card.approvals_required, 2);
    let card = format!("/approvals/{}", request.proposal_hash);

    let body = app.page(&card, &alice).await;
    assert!(
        body.contains("data-testid=\"card-progress\">0 of 2"),
        "{body}"
    );
    assert!(body.contains("data-testid=\"approve-form\""));
    let listed = app.page("/approvals", &alice).await;
    assert!(listed.contains(&card), "the pending list links the card");

    let first = app
        .post(&format!("{card}/approve"), &alice, &[("role", "analyst")])
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(first.location(), format!("{card}?done=approved"));
    let body = app.page(first.location(), &alice).await;
    assert!(body.contains("data-testid=\"flash\""), "{body}");
    assert!(
        body.contains("data-testid=\"card-progress\">1 of 2"),
        "{body}"
    );
    assert!(body.contains("<td>alice</td><td>analyst</td>"), "{body}");

    // The same person again: refused, on the card, with Control's reason.
    let again = app
        .post(&format!("{card}/approve"), &alice, &[("role", "analyst")])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(again.body.contains("data-testid=\"error\""));
    assert!(again.body.contains("already answered"), "{}", again.body);
    assert!(again.body.contains("1 of 2"));

    // A role bob does not hold: refused.
    let wrong = app
        .post(&format!("{card}/approve"), &bob, &[("role", "analyst")])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.body);
    assert!(
        wrong.body.contains("does not hold the role"),
        "{}",
        wrong.body
    );

    let second = app
        .post(&format!("{card}/approve"), &bob, &[("role", "soc_lead")])
        .await;
    assert_eq!(second.location(), format!("{card}?done=ready"));
    let body = app.page(&card, &bob).await;
    assert!(body.contains("data-testid=\"card-status\">ready"), "{body}");
    assert!(body.contains("2 of 2"));
    assert!(
        !body.contains("approve-form"),
        "a closed request has no forms"
    );

    // Too late to answer now.
    let late = app
        .post(
            &format!("{card}/reject"),
            &bob,
            &[("reason", "other"), ("note", "changed my mind")],
        )
        .await;
    assert!(late.status == StatusCode::CONFLICT, "{}", late.status);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejection_keeps_its_reason_and_a_modification_is_not_its_authors_to_approve() {
    let app = app().await;
    let alice = app.person("alice", &["analyst"]).await;
    let bob = app.person("bob", &["analyst"]).await;
    let case = app.triage(&[lsass()]).await[0];

    let ticket = request_for(&app, case, ActionName::TicketCreate).await;
    let card = format!("/approvals/{}", ticket.proposal_hash);
    let body = app.page(&card, &alice).await;
    for reason in warden_domain::RejectionReason::ALL {
        assert!(body.contains(&format!("<option value=\"{}\">", reason.as_str())));
    }
    let missing_note = app
        .post(
            &format!("{card}/reject"),
            &alice,
            &[("reason", "wrong_target")],
        )
        .await;
    assert_eq!(missing_note.status, StatusCode::BAD_REQUEST);
    let rejected = app
        .post(
            &format!("{card}/reject"),
            &alice,
            &[("reason", "wrong_target"), ("note", "not <this> host")],
        )
        .await;
    assert_eq!(rejected.location(), format!("{card}?done=rejected"));
    let body = app.page(&card, &bob).await;
    assert!(body.contains("data-testid=\"card-status\">rejected"));
    assert!(
        body.contains("wrong_target: not &#60;this&#62; host"),
        "{body}"
    );
    let rejected_list = app.page("/approvals?status=rejected", &bob).await;
    assert!(rejected_list.contains(&card));

    let second = app.triage(&[lsass()]).await[0];
    assert_ne!(second, case);
    let ticket = request_for(&app, second, ActionName::TicketCreate).await;
    let card = format!("/approvals/{}", ticket.proposal_hash);
    let modified = app
        .post(
            &format!("{card}/modify"),
            &alice,
            &[
                ("param_key", "queue"),
                ("param_value", "call the owner now"),
            ],
        )
        .await;
    assert_eq!(modified.status, StatusCode::SEE_OTHER, "{}", modified.body);
    let new_card = modified
        .location()
        .trim_end_matches("?done=modified")
        .to_owned();
    assert_ne!(new_card, card);
    let body = app.page(&new_card, &alice).await;
    assert!(body.contains("call the owner now"));
    assert!(
        body.contains("data-testid=\"card-requester\">alice"),
        "{body}"
    );
    let old = app.page(&card, &alice).await;
    assert!(old.contains("data-testid=\"card-status\">superseded"));

    let own = app.post(&format!("{new_card}/approve"), &alice, &[]).await;
    assert_eq!(own.status, StatusCode::FORBIDDEN, "{}", own.body);
    assert!(own.body.contains("cannot approve"), "{}", own.body);
    let other = app.post(&format!("{new_card}/approve"), &bob, &[]).await;
    assert_eq!(other.location(), format!("{new_card}?done=ready"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kill_switch_and_autonomy_forms_change_the_use_cases_page() {
    let app = app().await;
    let lead = app.person("lead", &["soc_lead"]).await;
    let commander = app.person("ic", &["incident_commander"]).await;
    let analyst = app.person("alice", &["analyst"]).await;
    let use_case = app
        .state
        .pipeline()
        .playbooks()
        .iter()
        .next()
        .unwrap()
        .name()
        .to_owned();

    let page = app.page("/use-cases", &analyst).await;
    assert!(page.contains("data-testid=\"global-running\""));
    assert!(
        !page.contains("pause-all-form"),
        "analysts see no kill switch"
    );
    assert!(!page.contains("autonomy-form"));
    let refused = app
        .post("/kill-switch/pause", &analyst, &[("reason", "no")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let page = app.page("/use-cases", &commander).await;
    assert!(page.contains("pause-all-form"));
    assert!(
        !page.contains("autonomy-form"),
        "commanders do not set autonomy"
    );

    let pulled = app
        .post(
            "/kill-switch/pause",
            &commander,
            &[("reason", "ransomware <outbreak>")],
        )
        .await;
    assert_eq!(pulled.location(), "/use-cases?done=paused");
    let page = app.page("/use-cases?done=paused", &commander).await;
    assert!(page.contains("data-testid=\"global-paused\""));
    assert!(page.contains("ransomware &#60;outbreak&#62;"));
    assert!(page.contains("Kill switch pulled"));
    let released = app
        .post("/kill-switch/resume", &lead, &[("reason", "contained")])
        .await;
    assert_eq!(released.location(), "/use-cases?done=resumed");

    let one = app
        .post(
            "/kill-switch/pause",
            &lead,
            &[("use_case", &use_case), ("reason", "tuning")],
        )
        .await;
    assert_eq!(one.status, StatusCode::SEE_OTHER, "{}", one.body);
    let page = app.page("/use-cases", &lead).await;
    assert!(page.contains("data-testid=\"use-case-paused\""));
    assert!(page.contains("data-testid=\"global-running\""));
    let unknown = app
        .post(
            "/kill-switch/pause",
            &lead,
            &[("use_case", "no-such"), ("reason", "x")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let no_reason = app.post("/kill-switch/pause", &lead, &[]).await;
    assert_eq!(no_reason.status, StatusCode::BAD_REQUEST);

    let path = format!("/use-cases/{}/autonomy", path_segment(&use_case));
    let set = app
        .post(
            &path,
            &lead,
            &[("level", "shadow"), ("reason", "new rules")],
        )
        .await;
    assert_eq!(set.location(), "/use-cases?done=autonomy_set");
    let level = app
        .state
        .pipeline()
        .control()
        .autonomy(
            &app.state
                .pipeline()
                .playbooks()
                .get(&use_case)
                .unwrap()
                .use_case,
        )
        .await
        .unwrap();
    assert_eq!(level.as_str(), "shadow");
    let page = app.page("/use-cases", &lead).await;
    assert!(page.contains("data-testid=\"autonomy\">shadow"));
    let bad = app
        .post(&path, &lead, &[("level", "godmode"), ("reason", "x")])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let analyst_set = app
        .post(&path, &analyst, &[("level", "autonomous"), ("reason", "x")])
        .await;
    assert_eq!(analyst_set.status, StatusCode::FORBIDDEN);

    let audit = app.page("/audit?kind=kill_switch_changed", &lead).await;
    assert_eq!(audit.matches("data-testid=\"audit-entry\"").count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn analysts_add_notes_and_close_cases_from_the_case_page() {
    let app = app().await;
    let alice = app.person("alice", &["analyst"]).await;
    let case = app.triage(&[lsass()]).await[0];
    let path = format!("/cases/{case}");
    let body = app.page(&path, &alice).await;
    assert!(body.contains("data-testid=\"note-form\""));
    assert!(body.contains("data-testid=\"close-form\""));
    assert!(body.contains("LSASS Memory Access by Unusual Process"));
    assert!(
        body.contains("href=\"#ev-alert-1\""),
        "rationale cites evidence"
    );
    assert!(
        body.contains("id=\"ev-alert-1\""),
        "evidence has its anchor"
    );

    let noted = app
        .post(
            &format!("{path}/notes"),
            &alice,
            &[("text", "checked with the <owner>")],
        )
        .await;
    assert_eq!(noted.location(), format!("{path}?done=note_added"));
    let body = app.page(noted.location(), &alice).await;
    assert!(body.contains("checked with the &#60;owner&#62;"));
    assert!(body.contains("Note added."));
    let empty = app
        .post(&format!("{path}/notes"), &alice, &[("text", "  ")])
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    let bad = app
        .post(
            &format!("{path}/close"),
            &alice,
            &[("verdict", "meh"), ("note", "x")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let closed = app
        .post(
            &format!("{path}/close"),
            &alice,
            &[("verdict", "benign"), ("note", "approved backup job")],
        )
        .await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER, "{}", closed.body);
    let body = app.page(&path, &alice).await;
    assert!(body.contains("data-testid=\"case-state\">closed"), "{body}");
    assert!(body.contains("approved backup job"));
    assert!(!body.contains("close-form"));
    let queue = app.page("/cases?state=closed", &alice).await;
    assert!(queue.contains(&format!("href=\"/cases/{case}\"")));
    assert!(queue.contains("<option value=\"closed\" selected>"));
    let timeline = app.page(&format!("/audit?case={case}"), &alice).await;
    assert!(timeline.contains("case_note_added"));
    assert!(timeline.contains("case_reviewed"));
}

#[tokio::test(flavor = "multi_thread")]
async fn viewers_are_refused_every_form_and_forms_need_the_csrf_token() {
    let app = app().await;
    let viewer = app.person("vic", &["viewer"]).await;
    let alice = app.person("alice", &["analyst"]).await;
    let case = app.triage(&[lsass()]).await[0];
    let notes_before = app.state.store().notes_of_case(case).await.unwrap();
    let statuses = |requests: Vec<warden_domain::ApprovalRequest>| -> Vec<RequestStatus> {
        requests.into_iter().map(|r| r.status).collect()
    };
    let statuses_before = statuses(app.requests(case, None).await);
    let request = app
        .requests(case, Some(RequestStatus::Pending))
        .await
        .remove(0);
    let card = format!("/approvals/{}", request.proposal_hash);

    let body = app.page(&format!("/cases/{case}"), &viewer).await;
    assert!(!body.contains("note-form"), "viewers see no forms");
    let body = app.page(&card, &viewer).await;
    assert!(!body.contains("approve-form"));
    for path in ["/audit", "/dashboard", "/use-cases", "/approvals", "/cases"] {
        app.page(path, &viewer).await;
    }

    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/cases/{case}/notes"), vec![("text", "hi")]),
        (
            format!("/cases/{case}/close"),
            vec![("verdict", "benign"), ("note", "x")],
        ),
        (format!("{card}/approve"), vec![]),
        (
            format!("{card}/reject"),
            vec![("reason", "other"), ("note", "x")],
        ),
        (
            format!("{card}/modify"),
            vec![("param_key", "a"), ("param_value", "b")],
        ),
        (
            "/use-cases/x/autonomy".to_owned(),
            vec![("level", "shadow"), ("reason", "x")],
        ),
        ("/kill-switch/pause".to_owned(), vec![("reason", "x")]),
        ("/kill-switch/resume".to_owned(), vec![("reason", "x")]),
    ];
    for (path, fields) in &forms {
        let answer = app.post(path, &viewer, fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "viewer POST {path}");
        assert!(answer.body.contains("may not do this"), "{}", answer.body);
    }
    // Without the CSRF token, or with another one, an analyst is refused.
    for csrf in ["", "0000"] {
        let answer = app
            .post_with(
                &format!("/cases/{case}/notes"),
                &alice,
                Some(csrf),
                &[("text", "forged")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(answer.body.contains("CSRF"), "{}", answer.body);
    }
    let stolen = app
        .post_with(&format!("{card}/approve"), &alice, Some(&viewer.csrf), &[])
        .await;
    assert_eq!(stolen.status, StatusCode::FORBIDDEN);
    let notes = app.state.store().notes_of_case(case).await.unwrap();
    assert_eq!(notes, notes_before, "nothing was written");
    assert_eq!(statuses(app.requests(case, None).await), statuses_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_without_a_session_send_people_to_sign_in() {
    let app = app().await;
    for path in [
        "/cases",
        "/cases/case-x",
        "/approvals",
        "/audit",
        "/use-cases",
        "/dashboard",
    ] {
        let answer = app.get(path, None).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path}");
        assert!(answer.location().starts_with("/login?next="), "{path}");
    }
    let request = Request::post("/kill-switch/pause")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("reason=x"))
        .unwrap();
    let answer = app.send(request).await;
    assert!(answer.location().starts_with("/login"), "{answer:?}");
    assert!(app.state.store().pauses().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_queue_filters_and_counts_and_the_dashboard_and_audit_show_the_log() {
    let app = app().await;
    let alice = app.person("alice", &["analyst"]).await;
    let mut alerts = vec![lsass()];
    alerts.push(warden_testkit::example_json(
        "ecs-outbound-malicious-ip.json",
    ));
    alerts.push(warden_testkit::example_json("ocsf-mfa-fatigue.json"));
    let cases = app.triage(&alerts).await;
    assert_eq!(cases.len(), 3);

    let queue = app.page("/cases", &alice).await;
    assert_eq!(queue.matches("data-testid=\"case-row\"").count(), 3);
    assert!(queue.contains("data-testid=\"case-count\">3<"));
    let mut total = 0;
    for severity in warden_domain::Severity::ALL {
        let page = app
            .page(&format!("/cases?severity={severity}"), &alice)
            .await;
        assert!(page.contains(&format!("<option value=\"{severity}\" selected>")));
        total += page.matches("data-testid=\"case-row\"").count();
    }
    assert_eq!(total, 3, "every case has one severity");
    let none = app.page("/cases?state=new", &alice).await;
    assert!(none.contains("data-testid=\"no-cases\""));
    let bad = app.get("/cases?state=bogus", Some(&alice)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let audit = app.page("/audit", &alice).await;
    assert!(audit.contains("data-testid=\"verification-status\">verified"));
    let ingested = app.page("/audit?kind=alert_ingested", &alice).await;
    assert_eq!(ingested.matches("data-testid=\"audit-entry\"").count(), 3);
    assert!(ingested.contains("<option value=\"alert_ingested\" selected>"));

    let dashboard = app.page("/dashboard?days=1", &alice).await;
    assert_eq!(dashboard.matches("data-testid=\"chart-svg\"").count(), 4);
    assert_eq!(dashboard.matches("<title id=").count(), 4);
    assert_eq!(dashboard.matches("<desc id=").count(), 4);
    assert_eq!(dashboard.matches("data-testid=\"chart-table\"").count(), 4);
    assert!(
        dashboard.contains("data-testid=\"metric-triaged\">3<"),
        "{dashboard}"
    );
    assert!(dashboard.contains("<rect class=\"bar"), "bars are drawn");
    let escalations = app
        .state
        .store()
        .audit_search(&warden_store::AuditQuery {
            kinds: vec!["escalated".into()],
            ..warden_store::AuditQuery::default()
        })
        .await
        .unwrap()
        .len();
    assert!(dashboard.contains(&format!(
        "data-testid=\"metric-escalations\">{escalations}<"
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_case_page_names_the_policy_that_let_a_case_close_without_a_person() {
    let context = warden_enrich::Context::load(
        &warden_testkit::repo().join("examples/context"),
        &warden_enrich::ContextConfig::default(),
    )
    .unwrap();
    let server = common::Parts::new(
        Config::default(),
        PolicyEngine::default_set().unwrap(),
        context,
    )
    .await
    .serve();
    let app = App {
        router: server.router,
        state: server.state,
        _queue: server.queue,
        _dir: server.dir,
    };
    let alice = app.person("alice", &["analyst"]).await;
    // The pentest VM's Mimikatz closes under the shipped permit; the
    // domain controller's LSASS access escalates and triage never asks.
    let pentest = warden_testkit::example_json("ocsf-test-vm-mimikatz.json");
    let closed = app.triage(&[pentest]).await[0];
    let body = app.page(&format!("/cases/{closed}"), &alice).await;
    assert!(body.contains("auto_closed"), "{body}");
    assert!(
        body.contains("data-testid=\"case-closing-policy\">closed under auto-close.permit<"),
        "{body}"
    );
    let escalated = app.triage(&[lsass()]).await[0];
    let body = app.page(&format!("/cases/{escalated}"), &alice).await;
    assert!(!body.contains("case-closing-policy"), "{body}");
}

/// Every log line a test writes.
#[derive(Clone, Default)]
struct LogLines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// S6: a failed sign-in never logs what was typed as the account name
/// (people type passwords there), and a newline in it forges no line.
#[tokio::test]
async fn a_failed_sign_in_logs_no_typed_account_name() {
    let lines = LogLines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let app = app().await;
    let secure = app.state.config().secure_cookies;
    let typed = "Hunter2-Blue-77\nWARN forged: sign-in ok account=admin";
    for _ in 0..6 {
        let (status, _) = common::sign_in(&app.router, secure, typed, "wrong", None).await;
        assert_ne!(status, StatusCode::SEE_OTHER);
    }
    let logged = String::from_utf8_lossy(&lines.0.lock().unwrap()).into_owned();
    assert!(logged.contains("sign-in failed"), "{logged}");
    assert!(!logged.to_lowercase().contains("hunter2"), "{logged}");
    assert!(!logged.contains("forged"), "{logged}");
}
