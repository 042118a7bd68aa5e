//! `warden serve` as an operator runs it: a real process on a real port.
//! Alerts pushed over HTTP with an API token are triaged by the in-process
//! worker; SIGTERM stops it gracefully, triaging what was queued and
//! signing a checkpoint, and the log verifies afterwards. The same run on
//! PostgreSQL (`WARDEN_STORE_URL`) shows the binary works on either store.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stdout, warden, warden_with_env};
use warden_testkit::repo;

/// One HTTP/1.1 request over a fresh connection; returns status and body.
fn http(addr: &str, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text[9..12].parse().expect("status code");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn token(data: &Path, vars: &[(&str, &str)]) -> String {
    let out = warden_with_env(
        data,
        &[
            "token",
            "add",
            "siem",
            "--scope",
            "alerts:write",
            "--scope",
            "read",
        ],
        vars,
    );
    assert!(out.status.success(), "{out:?}");
    stdout(&out).trim().to_owned()
}

#[test]
fn serve_triages_pushed_alerts_and_stops_gracefully() {
    serve_run(None);
}

/// The same on PostgreSQL: the store is named by `WARDEN_STORE_URL`, the
/// data directory keeps only the configuration and the audit key.
#[test]
fn serve_on_postgres_triages_pushed_alerts_and_stops_gracefully() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let schema = runtime
        .block_on(warden_store::postgres::testing::TestSchema::create(
            "serve_on_postgres",
        ))
        .unwrap_or_else(|why| panic!("{why}"));
    let Some(schema) = schema else {
        return;
    };
    serve_run(Some(&schema.url()));
    drop(schema);
    drop(runtime);
}

fn serve_run(store_url: Option<&str>) {
    let vars: Vec<(&str, &str)> = store_url
        .map(|url| ("WARDEN_STORE_URL", url))
        .into_iter()
        .collect();
    let warden = |data: &Path, args: &[&str]| warden_with_env(data, args, &vars);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(warden(&data, &["init"]).status.success());
    assert_eq!(
        data.join("warden.db").exists(),
        store_url.is_none(),
        "the embedded store only without a store url"
    );
    let secret = token(&data, &vars);
    assert!(secret.starts_with("wdn_"), "{secret}");

    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(&data)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--context",
            "examples/context",
        ])
        .current_dir(repo())
        .env_remove("WARDEN_CONFIG")
        .env_remove("WARDEN_STORE_URL")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next().expect("a banner").unwrap();
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address in the banner")
        .to_owned();
    if let Some(url) = store_url {
        let shown = warden_store::postgres::mask_url(url);
        assert!(banner.contains(&format!("store {shown}")), "{banner}");
    }

    // Nothing answers without a credential.
    assert_eq!(http(&addr, "GET", "/api/v1/cases", None, b"").0, 401);
    assert_eq!(
        http(&addr, "GET", "/api/v1/cases", Some("wdn_0000"), b"").0,
        401
    );

    let mut accepted = 0;
    for file in std::fs::read_dir(repo().join("examples/alerts")).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let (status, body) = if path.extension().is_some_and(|e| e == "jsonl") {
            let mut stream = TcpStream::connect(&addr).unwrap();
            let head = format!(
                "POST /api/v1/alerts/batch HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {secret}\r\n\
                 Content-Type: application/x-ndjson\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                bytes.len()
            );
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(&bytes).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            (
                response[9..12].parse::<u16>().unwrap(),
                response.split_once("\r\n\r\n").unwrap().1.to_owned(),
            )
        } else {
            http(&addr, "POST", "/api/v1/alerts", Some(&secret), &bytes)
        };
        assert_eq!(status, 202, "{}: {body}", path.display());
        let result: serde_json::Value = serde_json::from_str(&body).unwrap();
        accepted += result["accepted"].as_array().unwrap().len();
    }
    assert_eq!(accepted, 8, "the eight example alerts");

    // A malformed alert is refused with its dead letter, not lost.
    let (status, body) = http(
        &addr,
        "POST",
        "/api/v1/alerts",
        Some(&secret),
        b"{\"not\": ",
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("\"dead_letter\":\"dl-"), "{body}");

    // The worker triages every one. Each request is correlated on its own
    // (one file per request here), so there are at least the five cases
    // `warden triage` makes of the whole folder at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let cases = loop {
        let (status, body) = http(&addr, "GET", "/api/v1/cases", Some(&secret), b"");
        assert_eq!(status, 200, "{body}");
        let list: serde_json::Value = serde_json::from_str(&body).unwrap();
        let triaged = list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["disposition"].is_string())
            .count();
        let total = list["total"].as_u64().unwrap() as usize;
        if (total >= 5 && triaged == total) || Instant::now() > deadline {
            break list;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let total = cases["total"].as_u64().unwrap();
    assert!((5..=8).contains(&total), "{cases}");
    for case in cases["cases"].as_array().unwrap() {
        assert!(case["disposition"].is_string(), "untriaged: {case}");
    }

    // SIGTERM: a graceful stop.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "serve exits 0 on SIGTERM: {status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("stopping"), "{err}");

    // Everything it did is on a log that verifies, under a checkpoint
    // that covers it.
    let verify = warden(&data, &["audit", "verify"]);
    assert!(verify.status.success(), "{}", stdout(&verify));
    let report = stdout(&verify);
    assert!(report.starts_with("ok: "), "{report}");
    let search = warden(
        &data,
        &["audit", "search", "--kind", "alert_ingested", "--json"],
    );
    assert_eq!(stdout(&search).lines().count(), 8, "{}", stdout(&search));

    // The token's creation is on the record, without its secret.
    let tokens = warden(
        &data,
        &["audit", "search", "--kind", "api_token_changed", "--json"],
    );
    let tokens = stdout(&tokens);
    assert_eq!(tokens.lines().count(), 1, "{tokens}");
    assert!(
        tokens.contains("siem") && tokens.contains("created"),
        "{tokens}"
    );
    assert!(
        !tokens.contains(&secret[4..]),
        "the secret is not in the log"
    );
}

/// `warden intake status` while `warden serve` runs and after it stopped:
/// each syslog listener's counts, and the shared alert stream (NATS at
/// 127.0.0.1:4222) with its backlog, read from the snapshot the server
/// writes to the data directory.
#[test]
fn intake_status_shows_each_listener_and_the_stream_while_running_and_after() {
    let nats = (
        std::net::TcpStream::connect_timeout(
            &"127.0.0.1:4222".parse().unwrap(),
            Duration::from_secs(2),
        )
        .is_ok(),
        std::env::var("WARDEN_REQUIRE_NATS").is_ok_and(|v| v == "1"),
    );
    match nats {
        (true, _) => {}
        (false, true) => {
            panic!("NATS is required (WARDEN_REQUIRE_NATS=1) but 127.0.0.1:4222 is down")
        }
        (false, false) => {
            println!("skipping: no NATS server at 127.0.0.1:4222");
            return;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    assert!(warden(&data, &["init"]).status.success());
    let before = warden(&data, &["intake", "status"]);
    assert!(before.status.success());
    assert!(
        stdout(&before).contains("no `warden serve` has run"),
        "{}",
        stdout(&before)
    );

    let tag = std::process::id();
    let mut toml = std::fs::read_to_string(data.join("warden.toml")).unwrap();
    toml.push_str(&format!(
        "\n[intake.syslog]\nlisten = [\"udp://127.0.0.1:0\"]\n\n\
         [queue]\nstream = \"WARDEN_CLI_TEST_{tag}\"\nsubject = \"warden.cli-test.{tag}\"\n\
         consumer = \"cli-test-{tag}\"\n"
    ));
    std::fs::write(data.join("warden.toml"), toml).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(repo())
        .env_remove("WARDEN_CONFIG")
        .env("WARDEN_QUEUE_URL", "nats://127.0.0.1:4222")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut syslog = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("warden: syslog on syslog+udp://") {
            syslog = Some(rest.trim().to_owned());
        }
        if line.contains("serving on") {
            break;
        }
    }
    let syslog = syslog.expect("the syslog listener's address");

    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..3 {
        let message = format!(
            "<134>1 2026-12-07T10:00:0{n}Z fw01 - - - - CEF:0|Fortinet|Fortigate|7.2|13056|\
             Port scan {n}|7|src=203.0.113.{n} dst=10.0.0.5 dpt=22"
        );
        socket.send_to(message.as_bytes(), &syslog).unwrap();
    }
    socket
        .send_to(
            b"<13>Jan 18 11:07:53 host sshd[42]: session opened",
            &syslog,
        )
        .unwrap();

    // The snapshot is written every few seconds: wait for the four.
    let deadline = Instant::now() + Duration::from_secs(60);
    let running: serde_json::Value = loop {
        let out = warden(&data, &["intake", "status", "--json"]);
        assert!(out.status.success(), "{out:?}");
        let text = stdout(&out);
        if let Some(line) = text.lines().next() {
            let status: serde_json::Value = serde_json::from_str(line).unwrap();
            let l = &status["listeners"][0];
            if l["received"] == 4 && l["in_flight"] == 0 {
                break status;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no status with four messages: {text}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let listener = &running["listeners"][0];
    assert_eq!(listener["parsed"], 3, "{running}");
    assert_eq!(listener["dead_lettered"], 1, "{running}");
    assert_eq!(running["stopped"], false);
    let stream = &running["stream"];
    assert_eq!(stream["stream"], format!("WARDEN_CLI_TEST_{tag}"));
    assert!(stream["pending"].is_u64(), "{running}");
    let human = stdout(&warden(&data, &["intake", "status"]));
    assert!(human.contains("running"), "{human}");
    assert!(human.contains("parsed 3, dead-lettered 1"), "{human}");
    assert!(
        human.contains("queue: NATS JetStream nats://127.0.0.1:4222"),
        "{human}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert!(child.wait().unwrap().success());
    let stopped = stdout(&warden(&data, &["intake", "status"]));
    assert!(stopped.contains("stopped at"), "{stopped}");
    assert!(stopped.contains("received 4"), "{stopped}");
}

/// PostgreSQL unreachable at start: the replica says which setting named
/// which store (password masked) and what failed, and stops.
#[test]
fn an_unreachable_store_stops_the_start_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Nothing listens on port 1.
    let url = "postgres://warden:s3cr3t@127.0.0.1:1/warden";
    let out = warden_with_env(
        &data,
        &["serve", "--listen", "127.0.0.1:0"],
        &[("WARDEN_STORE_URL", url)],
    );
    assert!(!out.status.success());
    let err = common::stderr(&out);
    assert!(err.contains("WARDEN_STORE_URL"), "{err}");
    assert!(
        err.contains("postgres://warden:***@127.0.0.1:1/warden"),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(!data.join("warden.db").exists());
}
