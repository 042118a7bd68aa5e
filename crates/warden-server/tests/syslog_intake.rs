#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! The syslog receiver (issue 23) on loopback with real sockets: RFC 5424
//! and RFC 3164 messages carrying vendors' CEF and LEEF examples (and a
//! JSON alert) over UDP, TCP (octet counting and newline framing) and TLS
//! become alerts triaged into cases, with the listener and the sender in
//! their origin; malformed and oversized messages become dead letters
//! with their reason; every listener's counters add up and are on
//! `/metrics`.

mod common;
mod syslog_common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tokio::io::AsyncWriteExt as _;
use tower::ServiceExt as _;
use warden_server::intake::syslog::Transport;

use syslog_common::{
    Harness, config, newline_framed, octet_counted, send_tcp, send_udp, testdata_line,
};

const SETTLE: Duration = Duration::from_secs(30);

/// Four real vendor messages: CEF and LEEF, each under an RFC 3164 and an
/// RFC 5424 header (`(message, format)`).
fn vendor_messages() -> Vec<(String, &'static str)> {
    vec![
        // FortiGate CEF without `rt`: dated by the receipt.
        (
            format!("<134>{}", testdata_line("cef/syslog-examples.log", 1)),
            "cef",
        ),
        // Trend Micro Apex Central CEF under a full RFC 5424 header.
        (
            format!(
                "<134>1 2026-12-07T10:00:00.000Z apex-central TMCM 4242 EAC [origin ip=\"192.0.2.10\"] {}",
                testdata_line("cef/vendor-examples.cef", 1)
            ),
            "cef",
        ),
        // Carbon Black LEEF 1.0 (tab-separated), RFC 3164.
        (
            format!("<13>{}", testdata_line("leef/syslog-examples.log", 1)),
            "leef",
        ),
        // StealthWatch LEEF 2.0 without devTime under QRadar's short
        // RFC 5424 header: dated by the header.
        (
            format!(
                "<13>1 2026-12-07T10:00:01Z stealthwatch {}",
                testdata_line("leef/syslog-examples.log", 2)
            ),
            "leef",
        ),
    ]
}

fn texts(messages: &[(String, &'static str)]) -> Vec<String> {
    messages.iter().map(|(m, _)| m.clone()).collect()
}

/// A syslog message with no payload Warden reads.
const NO_PAYLOAD: &str = "<13>Jan 18 11:07:53 host sshd[42]: session opened for user root";
/// A CEF header cut short.
const BROKEN_CEF: &str = "<134>1 2026-12-07T10:00:00Z fw01 - - - - CEF:0|Fortinet|Fortigate";

#[tokio::test]
async fn udp_rfc5424_and_rfc3164_cef_and_leef_messages_become_triaged_alerts() {
    let harness = Harness::start(config(&["udp://127.0.0.1:0"])).await;
    let to = harness.addr(Transport::Udp);
    let messages = vendor_messages();
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let from = socket.local_addr().unwrap();
    for m in texts(&messages) {
        socket.send_to(m.as_bytes(), to).await.unwrap();
    }
    // A JSON alert (OCSF) after an RFC 5424 header, read as a push is.
    let json = std::fs::read_to_string(common::repo().join("examples/alerts/ocsf-port-scan.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let with_json = format!("<14>1 2026-12-07T10:00:02Z scanner-01 ocsf - - - {json}");
    socket.send_to(with_json.as_bytes(), to).await.unwrap();

    let stats = harness.settle(Transport::Udp, 5, SETTLE).await;
    assert_eq!(
        (stats.received, stats.parsed, stats.dead_lettered),
        (5, 5, 0),
        "{stats:?}"
    );
    let listener = harness.listener(Transport::Udp).name.clone();
    assert_eq!(listener, format!("syslog+udp://{to}"));
    let outcome = harness.stop().await;
    let origin = format!("{listener} from {from}");
    let mut formats: Vec<&str> = outcome
        .ingested
        .iter()
        .map(|(o, f)| {
            assert_eq!(o, &origin);
            f.as_str()
        })
        .collect();
    formats.sort_unstable();
    assert_eq!(formats, ["cef", "cef", "leef", "leef", "ocsf"]);
    assert!(
        outcome.dead_letters.is_empty(),
        "{:?}",
        outcome.dead_letters
    );
    assert!(outcome.cases >= 1, "the alerts were triaged into cases");
}

#[tokio::test]
async fn tcp_octet_counted_and_newline_framed_connections_are_both_read() {
    let harness = Harness::start(config(&["tcp://127.0.0.1:0"])).await;
    let to = harness.addr(Transport::Tcp);
    let messages = texts(&vendor_messages());
    let octets = send_tcp(to, &octet_counted(&messages)).await;
    let lines = send_tcp(to, &newline_framed(&messages)).await;
    // CRLF line endings and a message with a line break inside, counted.
    let crlf: Vec<u8> = messages
        .iter()
        .flat_map(|m| format!("{m}\r\n").into_bytes())
        .collect();
    send_tcp(to, &crlf).await;

    let stats = harness.settle(Transport::Tcp, 12, SETTLE).await;
    assert_eq!(
        (stats.received, stats.parsed, stats.dead_lettered),
        (12, 12, 0),
        "{stats:?}"
    );
    let listener = harness.listener(Transport::Tcp).name.clone();
    let outcome = harness.stop().await;
    assert_eq!(outcome.ingested.len(), 12);
    for sender in [octets, lines] {
        let origin = format!("{listener} from {sender}");
        assert_eq!(
            outcome
                .ingested
                .iter()
                .filter(|(o, _)| *o == origin)
                .count(),
            4,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn tls_listener_reads_both_framings_with_a_certificate_made_in_the_test() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_pem = certified.cert.pem();
    let key_pem = certified.signing_key.serialize_pem();
    let mut syslog = config(&["tls://127.0.0.1:0"]);
    syslog.tls_certificate = Some("tls/syslog.crt".into());
    syslog.tls_key = Some("tls/syslog.key".into());
    let harness = Harness::start_with_files(syslog, |dir| {
        std::fs::create_dir_all(dir.join("tls")).unwrap();
        std::fs::write(dir.join("tls/syslog.crt"), &cert_pem).unwrap();
        std::fs::write(dir.join("tls/syslog.key"), &key_pem).unwrap();
    })
    .await;
    let to = harness.addr(Transport::Tls);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(certified.cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let messages = texts(&vendor_messages());
    let mut senders = Vec::new();
    for bytes in [octet_counted(&messages), newline_framed(&messages)] {
        let tcp = tokio::net::TcpStream::connect(to).await.unwrap();
        senders.push(tcp.local_addr().unwrap());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.unwrap();
        tls.write_all(&bytes).await.unwrap();
        tls.shutdown().await.unwrap();
    }
    // Plain TCP on the TLS port is not read as syslog.
    let mut plain = tokio::net::TcpStream::connect(to).await.unwrap();
    let _ = plain.write_all(&newline_framed(&messages)).await;
    drop(plain);

    let stats = harness.settle(Transport::Tls, 8, SETTLE).await;
    assert_eq!(
        (stats.received, stats.parsed, stats.dead_lettered),
        (8, 8, 0),
        "{stats:?}"
    );
    let listener = harness.listener(Transport::Tls).name.clone();
    assert!(listener.starts_with("syslog+tls://127.0.0.1:"));
    let outcome = harness.stop().await;
    for sender in senders {
        let origin = format!("{listener} from {sender}");
        assert_eq!(
            outcome
                .ingested
                .iter()
                .filter(|(o, _)| *o == origin)
                .count(),
            4
        );
    }
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_with_its_reason() {
    let harness = Harness::start(config(&["udp://127.0.0.1:0", "tcp://127.0.0.1:0"])).await;
    send_udp(
        harness.addr(Transport::Udp),
        &[NO_PAYLOAD.to_owned(), BROKEN_CEF.to_owned()],
    )
    .await;
    // An octet count that is not one: the rest of the connection cannot be
    // framed; what was held is dead-lettered and the connection closed.
    let good = texts(&vendor_messages());
    let mut bytes = octet_counted(&good[..1]);
    bytes.extend_from_slice(b"12x <13>garbage");
    send_tcp(harness.addr(Transport::Tcp), &bytes).await;

    let udp = harness.settle(Transport::Udp, 2, SETTLE).await;
    assert_eq!(
        (udp.received, udp.parsed, udp.dead_lettered),
        (2, 0, 2),
        "{udp:?}"
    );
    let tcp = harness.settle(Transport::Tcp, 2, SETTLE).await;
    assert_eq!(
        (tcp.received, tcp.parsed, tcp.dead_lettered),
        (2, 1, 1),
        "{tcp:?}"
    );
    let udp_listener = harness.listener(Transport::Udp).name.clone();
    let state = harness.state.clone();
    let outcome = harness.stop().await;

    let reasons: Vec<(&str, &str)> = outcome
        .dead_letters
        .iter()
        .map(|d| {
            (
                std::str::from_utf8(&d.payload).unwrap_or(""),
                d.reason.as_str(),
            )
        })
        .collect();
    let reason_of = |payload: &str| {
        reasons
            .iter()
            .find(|(p, _)| *p == payload)
            .map(|(_, r)| *r)
            .unwrap_or_else(|| panic!("no dead letter for {payload}: {reasons:?}"))
    };
    assert!(reason_of(NO_PAYLOAD).contains("no CEF, LEEF or JSON payload"));
    assert!(
        reason_of(BROKEN_CEF).to_lowercase().contains("cef"),
        "{}",
        reason_of(BROKEN_CEF)
    );
    assert!(
        reasons
            .iter()
            .any(|(_, r)| r.contains("RFC 6587 framing broken"))
    );
    for letter in &outcome.dead_letters {
        assert!(letter.origin.starts_with("syslog+"), "{}", letter.origin);
    }
    assert!(outcome.dead_letters.iter().any(|d| {
        d.origin
            .starts_with(&format!("{udp_listener} from 127.0.0.1:"))
    }));
    // Each is on the audit log as `ingest_rejected`, with its origin.
    let rejected = state
        .store()
        .audit_search(&warden_store::AuditQuery {
            kinds: vec!["ingest_rejected".into()],
            limit: Some(100),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(rejected.len(), 3);
}

#[tokio::test]
async fn oversized_messages_are_refused_counted_and_dead_lettered() {
    let mut syslog = config(&["udp://127.0.0.1:0", "tcp://127.0.0.1:0"]);
    syslog.max_message_bytes = 1024;
    let harness = Harness::start(syslog).await;
    let good = texts(&vendor_messages());
    let huge = format!(
        "<13>Jan 18 11:07:53 host CEF:0|a|b|1|x|y|5|msg={}",
        "A".repeat(5000)
    );
    send_udp(
        harness.addr(Transport::Udp),
        &[huge.clone(), good[2].clone()],
    )
    .await;
    // Octet counting: the long message is read past; the next is taken.
    send_tcp(
        harness.addr(Transport::Tcp),
        &octet_counted(&[huge.clone(), good[2].clone()]),
    )
    .await;
    // Newline framing: the long line is read past to its end.
    send_tcp(
        harness.addr(Transport::Tcp),
        &newline_framed(&[huge.clone(), good[2].clone()]),
    )
    .await;

    let udp = harness.settle(Transport::Udp, 2, SETTLE).await;
    assert_eq!(
        (udp.received, udp.parsed, udp.dead_lettered, udp.oversized),
        (2, 1, 1, 1),
        "{udp:?}"
    );
    let tcp = harness.settle(Transport::Tcp, 4, SETTLE).await;
    assert_eq!(
        (tcp.received, tcp.parsed, tcp.dead_lettered, tcp.oversized),
        (4, 2, 2, 2),
        "{tcp:?}"
    );
    let outcome = harness.stop().await;
    assert_eq!(outcome.dead_letters.len(), 3);
    for letter in &outcome.dead_letters {
        assert!(
            letter.reason.contains("max_message_bytes"),
            "{}",
            letter.reason
        );
        assert_eq!(letter.payload.len(), 1024, "its first bytes are kept");
        assert!(huge.as_bytes().starts_with(&letter.payload));
    }
    // Over TCP the length is known; a datagram is cut at the limit.
    let exact = format!("message of {} bytes", huge.len());
    assert_eq!(
        outcome
            .dead_letters
            .iter()
            .filter(|d| d.reason.contains(&exact))
            .count(),
        2
    );
    assert!(
        outcome
            .dead_letters
            .iter()
            .any(|d| d.reason.contains("message of more than 1024 bytes")
                && d.origin.starts_with("syslog+udp://"))
    );
    assert_eq!(outcome.ingested.len(), 3);
}

#[tokio::test]
async fn every_listener_s_counters_are_on_the_metrics_endpoint() {
    let harness = Harness::start(config(&["udp://127.0.0.1:0", "tcp://127.0.0.1:0"])).await;
    let good = texts(&vendor_messages());
    send_udp(
        harness.addr(Transport::Udp),
        &[good[0].clone(), NO_PAYLOAD.to_owned()],
    )
    .await;
    send_tcp(harness.addr(Transport::Tcp), &newline_framed(&good)).await;
    harness.settle(Transport::Udp, 2, SETTLE).await;
    harness.settle(Transport::Tcp, 4, SETTLE).await;

    let token = common::token(&harness.state, "prometheus", &["metrics:read"]).await;
    let router = warden_server::router(harness.state.clone());
    let response = router
        .oneshot(
            Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    let udp = harness.listener(Transport::Udp).name.clone();
    let tcp = harness.listener(Transport::Tcp).name.clone();
    for (metric, listener, value) in [
        ("warden_syslog_received_total", &udp, 2),
        ("warden_syslog_parsed_total", &udp, 1),
        ("warden_syslog_dead_lettered_total", &udp, 1),
        ("warden_syslog_dropped_total", &udp, 0),
        ("warden_syslog_received_total", &tcp, 4),
        ("warden_syslog_parsed_total", &tcp, 4),
        ("warden_syslog_oversized_total", &tcp, 0),
    ] {
        let line = format!("{metric}{{listener=\"{listener}\"}} {value}");
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn a_bad_listen_address_or_missing_certificate_stops_the_start() {
    let mut config = warden_pipeline::Config::default();
    let context = common::example_context(&config);
    config.intake.syslog = Some(syslog_common::config(&["tls://127.0.0.1:0"]));
    let parts = common::Parts::new(
        config,
        warden_policy::PolicyEngine::default_set().unwrap(),
        context,
    )
    .await;
    let server = parts.serve();
    let err = warden_server::intake::syslog::start(&server.state, server.dir.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tls_certificate"), "{err}");
    for (listen, expected) in [
        ("syslog://0.0.0.0:514", "unknown transport"),
        ("udp://0.0.0.0", "no port"),
    ] {
        let err = warden_server::intake::syslog::start_with(
            &server.state,
            &syslog_common::config(&[listen]),
            server.dir.path(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn intake_syslog_configuration_parses_with_documented_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.toml");
    std::fs::write(
        &path,
        "[intake.syslog]\nlisten = [\"udp://0.0.0.0:5514\", \"tls://[::]:6514\"]\n\
         tls_certificate = \"tls/syslog.crt\"\ntls_key = \"tls/syslog.key\"\n",
    )
    .unwrap();
    let config = warden_pipeline::Config::load(&path).unwrap();
    let syslog = config.intake.syslog.unwrap();
    assert_eq!(syslog.listen, ["udp://0.0.0.0:5514", "tls://[::]:6514"]);
    assert_eq!(syslog.max_message_bytes, 64 * 1024);
    assert_eq!(syslog.queue_messages, 2048);
    assert_eq!(syslog.max_connections, 256);
    // A typo is an error, and no section means no receiver.
    std::fs::write(
        &path,
        "[intake.syslog]\nlisten = []\nmax_message_byte = 1\n",
    )
    .unwrap();
    let err = warden_pipeline::Config::load(&path).unwrap_err();
    assert!(err.to_string().contains("max_message_byte"), "{err}");
    std::fs::write(&path, "").unwrap();
    assert!(
        warden_pipeline::Config::load(&path)
            .unwrap()
            .intake
            .syslog
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_udp_messages_counted_and_pushes_tcp_senders_back() {
    let mut syslog = config(&["udp://127.0.0.1:0", "tcp://127.0.0.1:0"]);
    syslog.queue_messages = 4;
    let harness = Harness::start(syslog).await;
    let good = texts(&vendor_messages());
    let burst: Vec<String> = (0..2000).map(|n| good[n % 4].clone()).collect();
    let udp_to = harness.addr(Transport::Udp);
    let tcp_to = harness.addr(Transport::Tcp);
    let framed = octet_counted(&burst);
    let (_, _) = tokio::join!(send_udp(udp_to, &burst), send_tcp(tcp_to, &framed));
    let tcp = harness.settle(Transport::Tcp, 2000, SETTLE).await;
    assert_eq!(
        (tcp.received, tcp.parsed, tcp.dropped),
        (2000, 2000, 0),
        "{tcp:?}"
    );
    let udp = harness
        .settle(Transport::Udp, 2000, Duration::from_secs(2))
        .await;
    println!("udp burst of 2000 into a queue of 4: {udp:?}");
    assert_eq!(udp.in_flight(), 0, "{udp:?}");
    assert_eq!(udp.received, udp.parsed + udp.dropped, "{udp:?}");
    harness.stop().await;
}

#[tokio::test]
async fn stopping_hands_every_message_already_read_to_triage() {
    let harness = Harness::start(config(&["tcp://127.0.0.1:0"])).await;
    let good = texts(&vendor_messages());
    let mut messages: Vec<String> = (0..400).map(|n| good[n % 4].clone()).collect();
    messages.push(NO_PAYLOAD.to_owned());
    send_tcp(harness.addr(Transport::Tcp), &newline_framed(&messages)).await;
    // Stop as soon as everything is read, before it is parsed.
    let start = std::time::Instant::now();
    while harness.stats(Transport::Tcp).received < 401 && start.elapsed() < SETTLE {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let listener = harness.listener(Transport::Tcp);
    let outcome = harness.stop().await;
    let stats = listener.stats.snapshot();
    assert_eq!(
        (stats.received, stats.parsed, stats.dead_lettered),
        (401, 400, 1),
        "{stats:?}"
    );
    assert_eq!(outcome.ingested.len(), 400, "every alert was triaged");
    assert_eq!(outcome.dead_letters.len(), 1);
}
