//! Witnesses over real sockets on loopback: an HTTP witness (axum) that
//! keeps what it is sent and lists it back, and syslog listeners over UDP
//! and TCP that parse what arrives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use time::OffsetDateTime;
use warden_domain::{AuditEvent, CaseId, FixedClock};
use warden_http::SecretRef;
use warden_store::{CaseReader as _, SqliteStore};

use super::*;
use crate::{AuditLog as _, Checkpointer, LogKey, StoreAuditLog, signing, verify};

// ---------------------------------------------------------------------------
// Fixtures

fn escalated(n: u64) -> AuditEvent {
    AuditEvent::Escalated {
        case_id: CaseId::new(),
        reasons: vec![n.to_string()],
    }
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock::new(OffsetDateTime::UNIX_EPOCH))
}

/// A store, and a log on it that signs with a fresh key and pushes to
/// `witnesses`; the key's directory is kept for a later "theft".
async fn signed_log(
    witnesses: Vec<Witness>,
) -> (
    Arc<SqliteStore>,
    StoreAuditLog<SqliteStore>,
    tempfile::TempDir,
) {
    let store = Arc::new(SqliteStore::in_memory().await.expect("store"));
    let key_dir = tempfile::tempdir().expect("dir");
    let key = LogKey::create_files(key_dir.path(), "warden.test/audit").expect("key");
    let log = StoreAuditLog::new(store.clone(), clock())
        .with_checkpointer(Checkpointer::new(key, 1000).with_witnesses(witnesses));
    (store, log, key_dir)
}

fn stolen_key(key_dir: &tempfile::TempDir) -> LogKey {
    LogKey::load(&key_dir.path().join(signing::PRIVATE_KEY_FILE)).expect("key")
}

/// What the test witness saw and keeps.
#[derive(Clone, Default)]
struct HttpWitnessServer {
    notes: Arc<Mutex<Vec<String>>>,
    content_types: Arc<Mutex<Vec<String>>>,
    authorizations: Arc<Mutex<Vec<String>>>,
    /// The bearer token it demands, if any.
    token: Option<&'static str>,
    /// Answer 503 to everything while set.
    down: Arc<AtomicBool>,
    /// Pushes wait for this lock before they are answered (a test holds it
    /// to make the witness slow), counted as they arrive.
    stall: Arc<tokio::sync::Mutex<()>>,
    pushes_arrived: Arc<std::sync::atomic::AtomicUsize>,
}

impl HttpWitnessServer {
    fn notes(&self) -> Vec<String> {
        self.notes.lock().expect("lock").clone()
    }

    /// 401 (echoing the credential it got, as a careless server might) or
    /// 503 when the request may not go on.
    fn refusal(&self, headers: &HeaderMap) -> Option<(StatusCode, String)> {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        self.authorizations.lock().expect("lock").push(auth.clone());
        if self.down.load(Ordering::SeqCst) {
            return Some((
                StatusCode::SERVICE_UNAVAILABLE,
                "down for maintenance".into(),
            ));
        }
        match self.token {
            Some(token) if auth != format!("Bearer {token}") => {
                Some((StatusCode::UNAUTHORIZED, format!("bad credential: {auth}")))
            }
            _ => None,
        }
    }
}

async fn keep(
    State(server): State<HttpWitnessServer>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    server.pushes_arrived.fetch_add(1, Ordering::SeqCst);
    drop(server.stall.lock().await);
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    server
        .content_types
        .lock()
        .expect("lock")
        .push(content_type);
    match String::from_utf8(body.to_vec()) {
        Ok(note) => {
            server.notes.lock().expect("lock").push(note);
            (StatusCode::CREATED, String::new())
        }
        Err(_) => (StatusCode::BAD_REQUEST, "not UTF-8".into()),
    }
}

async fn list(
    State(server): State<HttpWitnessServer>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> (StatusCode, String) {
    if let Some(refused) = server.refusal(&headers) {
        return refused;
    }
    let notes = server.notes();
    let notes = match query.as_deref() {
        Some("newest=1") => notes.last().cloned().into_iter().collect(),
        _ => notes,
    };
    (StatusCode::OK, notes.iter().map(|n| line_of(n)).collect())
}

/// Start an HTTP witness on loopback; its URL and what it holds.
async fn http_witness(token: Option<&'static str>) -> (String, HttpWitnessServer) {
    let server = HttpWitnessServer {
        token,
        ..HttpWitnessServer::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/warden/checkpoints", get(list).post(keep))
        .with_state(server.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/warden/checkpoints"), server)
}

/// The rewrite of the issue's reproduction: entry 5 onwards replaced
/// (entry 5 changed, the rest appended again), the stored checkpoints
/// deleted, the tree rebuilt by the store, and a checkpoint re-signed with
/// the key beside the database, by a log configured with no witness.
async fn rewrite_and_re_sign(store: &Arc<SqliteStore>, key: LogKey) {
    for statement in [
        "DROP TRIGGER audit_log_no_delete",
        "DROP TRIGGER audit_tree_no_delete",
        "DROP TRIGGER audit_checkpoints_no_delete",
        "DELETE FROM audit_log WHERE seq >= 5",
        "DELETE FROM audit_checkpoints",
    ] {
        sqlx::query(statement)
            .execute(store.pool())
            .await
            .expect(statement);
    }
    sqlx::query("DELETE FROM audit_tree WHERE idx >= ?")
        .bind(i64::try_from(warden_store::merkle::stored_hash_count(4)).expect("count"))
        .execute(store.pool())
        .await
        .expect("truncate tree");
    let forged =
        StoreAuditLog::new(store.clone(), clock()).with_checkpointer(Checkpointer::new(key, 1000));
    forged
        .append("system:test", escalated(404))
        .await
        .expect("append");
    for n in 5..10 {
        forged
            .append("system:test", escalated(n))
            .await
            .expect("append");
    }
    forged
        .checkpoint()
        .await
        .expect("sign")
        .expect("checkpoint");
}

// ---------------------------------------------------------------------------
// HTTP

/// The issue's reproduction against an HTTP witness: it receives each
/// signed note as is, lists it back, and after the data directory's holder
/// rewrote and re-signed the log, verify against it fails (the store alone
/// passes) and a log configured with it refuses to sign over the rewrite.
#[tokio::test]
async fn an_http_witness_catches_a_rewritten_and_re_signed_log() {
    let (url, server) = http_witness(None).await;
    let witnesses = parse_all(&[url.clone().into()]).expect("witness");
    let (store, log, key_dir) = signed_log(witnesses.clone()).await;
    let public = stolen_key(&key_dir).public().clone();
    for n in 0..10 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    log.checkpoint().await.expect("sign").expect("checkpoint");

    // It got the exact signed note, as text/plain.
    let stored: Vec<String> = store
        .checkpoints()
        .await
        .expect("checkpoints")
        .into_iter()
        .map(|c| c.note)
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(server.notes(), stored);
    assert_eq!(
        *server.content_types.lock().expect("lock"),
        vec!["text/plain; charset=utf-8".to_owned()]
    );
    // And lists it back, whole or newest only.
    let witnessed = witnesses[0].checkpoints().await.expect("read");
    assert_eq!(witnessed, stored);
    assert_eq!(
        witnesses[0].newest().await.expect("newest"),
        stored.last().cloned()
    );
    let before = verify::verify_with(store.as_ref(), &public, &witnessed)
        .await
        .expect("verify");
    assert!(before.ok(), "{before:?}");

    rewrite_and_re_sign(&store, stolen_key(&key_dir)).await;

    let alone = verify::verify(store.as_ref(), &public)
        .await
        .expect("verify");
    assert!(alone.ok(), "the store alone cannot tell: {alone:?}");
    // What an auditor does: read the witness again and verify against it.
    let witnessed = Witness::parse(&url)
        .expect("witness")
        .checkpoints()
        .await
        .expect("read");
    let report = verify::verify_with(store.as_ref(), &public, &witnessed)
        .await
        .expect("verify");
    let problem = report.problem.expect("the witness catches the rewrite");
    assert_eq!(problem.kind, verify::ProblemKind::Checkpoint, "{problem:?}");

    // A log configured with the witness refuses to sign over it.
    let honest = StoreAuditLog::new(store.clone(), clock()).with_checkpointer(
        Checkpointer::new(stolen_key(&key_dir), 1000).with_witnesses(witnesses.clone()),
    );
    honest
        .append("system:test", escalated(11))
        .await
        .expect("append");
    let refused = honest.checkpoint().await.expect_err("must refuse");
    assert!(
        refused.to_string().contains("refusing to sign"),
        "{refused}"
    );
    assert_eq!(server.notes().len(), 1, "nothing more was witnessed");
}

/// A witness that takes its time holds up that checkpoint's signing, not
/// the log: appends go on (the signing is outside the commit lock), and
/// the checkpoint lands once the witness answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_witness_holds_up_its_checkpoint_and_never_the_appends() {
    let (url, server) = http_witness(None).await;
    let witnesses = parse_all(&[url.into()]).expect("witness");
    let (store, log, _key_dir) = signed_log(witnesses).await;
    let log = Arc::new(log);
    for n in 0..10 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    let stalled = server.stall.clone().lock_owned().await;
    let signing = tokio::spawn({
        let log = log.clone();
        async move { log.checkpoint().await }
    });
    // Wait until the push reached the witness, which does not answer.
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while server.pushes_arrived.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < until, "the push never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Well under the witness's 5 s time-out: with the signing under the
    // commit lock these would wait for it.
    tokio::time::timeout(Duration::from_secs(3), async {
        for n in 10..30 {
            log.append("system:test", escalated(n))
                .await
                .expect("append");
        }
    })
    .await
    .expect("appends went on while the witness was slow");
    assert!(!signing.is_finished(), "the signing waits for its witness");
    drop(stalled);
    let checkpoint = signing
        .await
        .expect("task")
        .expect("signed")
        .expect("a checkpoint");
    assert_eq!(
        checkpoint.size, 10,
        "it covers what was committed when asked"
    );
    assert_eq!(server.notes(), vec![checkpoint.note]);
    assert_eq!(store.audit_size().await.expect("size"), 30);
}

/// A witness that is down fails the signing, as a file witness that
/// cannot be written does: an error naming it, the entries durable, no
/// checkpoint pushed. Once it is back, the next checkpoint goes through.
#[tokio::test]
async fn a_down_http_witness_fails_signing_and_says_which() {
    // Nothing listens: the connection is refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let nowhere = format!("http://127.0.0.1:{port}/warden/checkpoints");
    let (store, log, _keys) = signed_log(parse_all(&[nowhere.clone().into()]).expect("w")).await;
    log.append("system:test", escalated(1))
        .await
        .expect("entries do not wait for a witness");
    let error = log.checkpoint().await.expect_err("the witness is down");
    assert!(error.to_string().contains(&nowhere), "{error}");
    assert_eq!(store.audit_size().await.expect("size"), 1);

    // The same for a file witness that cannot be written today.
    let dir = tempfile::tempdir().expect("dir");
    let unwritable = format!("file://{}", dir.path().join("no-such-dir/cp").display());
    let (_, file_log, _keys) =
        signed_log(parse_all(&[unwritable.clone().into()]).expect("w")).await;
    file_log
        .append("system:test", escalated(1))
        .await
        .expect("append");
    let error = file_log.checkpoint().await.expect_err("cannot write");
    assert!(error.to_string().contains(&unwritable), "{error}");

    // A witness that answers 503, then comes back.
    let (url, server) = http_witness(None).await;
    server.down.store(true, Ordering::SeqCst);
    let (store, log, _keys) = signed_log(parse_all(&[url.clone().into()]).expect("w")).await;
    log.append("system:test", escalated(1))
        .await
        .expect("append");
    let error = log.checkpoint().await.expect_err("the witness is down");
    let message = error.to_string();
    assert!(
        message.contains(&url) && message.contains("503"),
        "{message}"
    );
    assert!(store.checkpoints().await.expect("read").is_empty());
    server.down.store(false, Ordering::SeqCst);
    let signed = log.checkpoint().await.expect("sign").expect("checkpoint");
    assert_eq!(server.notes(), vec![signed.note]);
}

/// The bearer token goes with every request, and shows nowhere: not in
/// the witness's `Debug`, not in an error even when the witness echoes the
/// credential it was sent.
#[tokio::test]
async fn the_bearer_token_is_sent_and_never_shown() {
    const TOKEN: &str = "witness-token-7f3a9c2e51";
    let (url, server) = http_witness(Some(TOKEN)).await;
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("token");
    std::fs::write(&good, format!("{TOKEN}\n")).expect("write");
    let with_token = |path: &std::path::Path| WitnessConfig {
        url: url.clone(),
        token: Some(SecretRef::File(path.to_owned())),
    };
    let witnesses = parse_all(&[with_token(&good)]).expect("witness");
    assert!(!format!("{witnesses:?}").contains(TOKEN));
    let (_, log, _keys) = signed_log(witnesses.clone()).await;
    log.append("system:test", escalated(1))
        .await
        .expect("append");
    log.checkpoint().await.expect("sign").expect("checkpoint");
    assert_eq!(server.notes().len(), 1);
    assert_eq!(witnesses[0].checkpoints().await.expect("read").len(), 1);
    let sent = server.authorizations.lock().expect("lock").clone();
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|a| *a == format!("Bearer {TOKEN}")),
        "{sent:?}"
    );

    // A wrong token: refused, and the echo is scrubbed from the error.
    const WRONG: &str = "not-the-token-0b9d44e1";
    let bad = dir.path().join("wrong");
    std::fs::write(&bad, WRONG).expect("write");
    let wrong = Witness::from_config(&with_token(&bad)).expect("witness");
    let error = wrong.checkpoints().await.expect_err("refused");
    let message = error.to_string();
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains(WRONG), "{message}");

    // A token that cannot be read is a configuration error, at once.
    let missing = with_token(&dir.path().join("absent"));
    let error = Witness::from_config(&missing).expect_err("no token");
    assert!(error.to_string().contains("token"), "{error}");
}

#[test]
fn plain_http_is_refused_except_to_loopback() {
    for ok in [
        "https://witness.example.org/warden/checkpoints",
        "http://127.0.0.1:8080/warden",
        "http://localhost:8080/warden",
        "http://[::1]:8080/warden",
        "file:///mnt/other/warden-checkpoints",
        "syslog+udp://siem.example.org:514",
        "syslog+tcp://[2001:db8::5]:6514",
    ] {
        let witness = Witness::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(witness.name(), ok, "the name shows where it is");
    }
    for (bad, why) in [
        ("http://witness.example.org/warden", "https"),
        ("http://10.0.0.5:8080/warden", "https"),
        ("https://witness.example.org/w?key=1", "query"),
        ("ftp://witness.example.org/w", "file:///PATH"),
        ("file://relative/path", "absolute"),
        ("syslog+udp://siem.example.org", "port"),
        ("syslog+tcp://siem.example.org:6514/path", "no path"),
    ] {
        let error = Witness::parse(bad).expect_err(bad).to_string();
        assert!(error.contains(why), "{bad}: {error}");
    }
    // A credential written into the URL is refused and never echoed.
    let error = Witness::parse("https://svc:hunter2-pw@witness.example.org/w")
        .expect_err("credentials")
        .to_string();
    assert!(error.contains("credentials"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
    // Only an http witness takes a token.
    let error = Witness::from_config(&WitnessConfig {
        url: "syslog+udp://127.0.0.1:514".into(),
        token: Some(SecretRef::Env("WITNESS_TOKEN".into())),
    })
    .expect_err("token");
    assert!(error.to_string().contains("token"), "{error}");
}

#[test]
fn witness_entries_are_urls_or_tables_with_a_token_source() {
    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Audit {
        witnesses: Vec<WitnessConfig>,
    }
    let text = r#"witnesses = [
        "file:///mnt/other/warden-checkpoints",
        { url = "https://witness.example.org/w", token = { env = "WARDEN_WITNESS_TOKEN" } },
        { url = "https://witness.example.org/v" },
        "syslog+tcp://siem.example.org:6514",
    ]"#;
    let audit: Audit = toml::from_str(text).expect("parses");
    assert_eq!(
        audit.witnesses,
        vec![
            WitnessConfig::url("file:///mnt/other/warden-checkpoints"),
            WitnessConfig {
                url: "https://witness.example.org/w".into(),
                token: Some(SecretRef::Env("WARDEN_WITNESS_TOKEN".into())),
            },
            WitnessConfig::url("https://witness.example.org/v"),
            WitnessConfig::url("syslog+tcp://siem.example.org:6514"),
        ]
    );
    // Written back: plain URLs stay strings (the configuration hash of a
    // file-witness setup is unchanged), the token as its source.
    let written = toml::to_string(&audit).expect("writes");
    let again: Audit = toml::from_str(&written).expect("reads back");
    assert_eq!(again.witnesses, audit.witnesses);
    assert_eq!(
        serde_json::to_value(&audit.witnesses[0]).expect("json"),
        serde_json::json!("file:///mnt/other/warden-checkpoints")
    );

    for (bad, why) in [
        (
            r#"witnesses = [{ url = "https://w.example/x", token = "s3cr3t-inline" }]"#,
            "never written in the configuration",
        ),
        (
            r#"witnesses = [{ url = "https://w.example/x", bearer = { env = "T" } }]"#,
            "unknown witness key `bearer`",
        ),
        (
            r#"witnesses = [{ token = { env = "T" } }]"#,
            "needs a `url`",
        ),
    ] {
        // The message itself (the parser's display also quotes the line).
        let error = toml::from_str::<Audit>(bad)
            .expect_err(bad)
            .message()
            .to_owned();
        assert!(error.contains(why), "{bad}: {error}");
        assert!(!error.contains("s3cr3t"), "{error}");
    }
}

// ---------------------------------------------------------------------------
// Syslog

/// An RFC 5424 message taken apart (section 6).
#[derive(Debug)]
struct Syslog {
    pri: u8,
    version: String,
    timestamp: String,
    app_name: String,
    msgid: String,
    structured_data: String,
    msg: Vec<u8>,
}

fn parse_rfc5424(bytes: &[u8]) -> Syslog {
    let rest = bytes.strip_prefix(b"<").expect("PRI opens with <");
    let close = rest.iter().position(|b| *b == b'>').expect("PRI closes");
    let pri = std::str::from_utf8(&rest[..close])
        .expect("ascii")
        .parse()
        .expect("PRI");
    let mut rest = &rest[close + 1..];
    let mut field = || {
        let end = rest.iter().position(|b| *b == b' ').expect("SP");
        let text = String::from_utf8(rest[..end].to_vec()).expect("ascii header");
        rest = &rest[end + 1..];
        text
    };
    let version = field();
    let timestamp = field();
    let _hostname = field();
    let app_name = field();
    let _procid = field();
    let msgid = field();
    // STRUCTURED-DATA: `-`, or SD-ELEMENTs whose quoted values may hold
    // escaped `"`, `\` and `]`.
    let mut end = 0;
    if rest.first() != Some(&b'-') {
        let (mut quoted, mut escaped) = (false, false);
        for (i, b) in rest.iter().enumerate() {
            match (*b, quoted, escaped) {
                (_, true, true) => escaped = false,
                (b'\\', true, false) => escaped = true,
                (b'"', _, false) => quoted = !quoted,
                (b']', false, _) if rest.get(i + 1) != Some(&b'[') => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
    }
    let structured_data = String::from_utf8(rest[..=end].to_vec()).expect("utf-8 SD");
    let msg = rest[end + 1..]
        .strip_prefix(b" ")
        .expect("SP before MSG")
        .to_vec();
    Syslog {
        pri,
        version,
        timestamp,
        app_name,
        msgid,
        structured_data,
        msg,
    }
}

/// What every checkpoint message must say, and the note it carries.
fn assert_checkpoint_message(message: &Syslog, note: &str) {
    assert_eq!(message.pri, 13 * 8 + 5, "log audit, notice");
    assert_eq!(message.version, "1");
    assert_eq!(message.timestamp, "1970-01-01T00:00:00.000000Z");
    assert_eq!(message.app_name, "warden");
    assert_eq!(message.msgid, "checkpoint");
    assert!(
        message
            .structured_data
            .starts_with("[warden@32473 origin=\"warden.test/audit\" size=\"3\" root=\""),
        "{}",
        message.structured_data
    );
    let body = message
        .msg
        .strip_prefix("\u{FEFF}".as_bytes())
        .expect("MSG is UTF-8 after a BOM");
    assert_eq!(body, note.as_bytes(), "the note's bytes arrive intact");
    assert!(note.contains('\n') && note.contains('—'), "a real note");
}

async fn sign_three(log: &StoreAuditLog<SqliteStore>) -> String {
    for n in 0..3 {
        log.append("system:test", escalated(n))
            .await
            .expect("append");
    }
    log.checkpoint()
        .await
        .expect("sign")
        .expect("checkpoint")
        .note
}

#[tokio::test]
async fn a_syslog_udp_witness_gets_each_checkpoint_as_one_rfc5424_datagram() {
    let listener = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "syslog+udp://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let (_, log, _keys) = signed_log(parse_all(&[url.into()]).expect("witness")).await;
    let note = sign_three(&log).await;
    let mut datagram = vec![0; 65_536];
    let (len, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        listener.recv_from(&mut datagram),
    )
    .await
    .expect("a datagram arrives")
    .expect("recv");
    assert_checkpoint_message(&parse_rfc5424(&datagram[..len]), &note);
}

#[tokio::test]
async fn a_syslog_tcp_witness_frames_each_checkpoint_by_octet_count() {
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "syslog+tcp://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let received = tokio::spawn(async move {
        let mut streams = Vec::new();
        for _ in 0..2 {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).await.expect("read");
            streams.push(bytes);
        }
        streams
    });
    let (_, log, _keys) = signed_log(parse_all(&[url.into()]).expect("witness")).await;
    let first = sign_three(&log).await;
    log.append("system:test", escalated(4))
        .await
        .expect("append");
    let second = log.checkpoint().await.expect("sign").expect("cp").note;
    let streams = tokio::time::timeout(std::time::Duration::from_secs(5), received)
        .await
        .expect("both arrive")
        .expect("listener");
    for (bytes, note) in streams.iter().zip([&first, &second]) {
        // RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, and nothing else.
        let space = bytes.iter().position(|b| *b == b' ').expect("SP");
        let len: usize = std::str::from_utf8(&bytes[..space])
            .expect("digits")
            .parse()
            .expect("MSG-LEN");
        assert_eq!(bytes.len(), space + 1 + len, "exactly one framed message");
        let message = parse_rfc5424(&bytes[space + 1..]);
        if note == &first {
            assert_checkpoint_message(&message, note);
        } else {
            let body = message
                .msg
                .strip_prefix("\u{FEFF}".as_bytes())
                .expect("BOM");
            assert_eq!(body, note.as_bytes());
        }
    }
}

/// Syslog cannot be read back: a log whose only witness is syslog still
/// signs (there is nothing to compare with), and asking for what it
/// holds is an error that says why.
#[tokio::test]
async fn a_syslog_witness_is_push_only() {
    let witness = Witness::parse("syslog+udp://127.0.0.1:9").expect("witness");
    assert!(!witness.readable());
    assert_eq!(witness.newest().await.expect("newest"), None);
    let error = witness.checkpoints().await.expect_err("push-only");
    assert!(error.to_string().contains("push-only"), "{error}");
    assert!(Witness::parse("file:///x").expect("file").readable());
    assert!(
        Witness::parse("https://w.example/x")
            .expect("http")
            .readable()
    );
}
