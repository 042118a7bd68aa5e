//! `warden audit`, driven as an auditor would: verify after real runs,
//! tamper with the database, prove entries to someone holding only the
//! public key, and ship the log to syslog listeners on loopback.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "integration tests fail by panicking"
)]

mod common;
use common::{stdout, warden};

use std::io::Read as _;
use std::path::Path;
use std::process::Output;

use serde_json::Value;

fn triage(data_dir: &Path) {
    let out = warden(
        data_dir,
        &[
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn verify_json(data_dir: &Path) -> (bool, Value) {
    let out = warden(data_dir, &["audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("json report");
    (out.status.success(), report)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Run SQL against the data directory's database as an attacker with file
/// access would: the append-only triggers are dropped first.
fn tamper(data_dir: &Path, statements: &[&str]) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = warden_store::SqliteStore::open(&data_dir.join("warden.db"))
            .await
            .expect("store");
        for trigger in ["audit_log_no_update", "audit_log_no_delete"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP TRIGGER IF EXISTS {trigger}"
            )))
            .execute(store.pool())
            .await
            .expect("drop trigger");
        }
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(store.pool())
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        store.pool().close().await;
    });
}

#[test]
fn verify_passes_after_a_full_eval_and_names_the_entry_after_any_single_edit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let eval = warden(
        &data,
        &["eval", "validation/core", "--json", "--approve-all"],
    );
    // Exit 1 means some labelled cases did not pass; the run itself ran.
    assert!(
        matches!(eval.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let scored: Value = serde_json::from_str(stdout(&eval).trim()).expect("eval json");
    assert_eq!(scored["errors"].as_u64(), Some(0), "{scored}");
    assert_eq!(scored["unsafe_executions"].as_u64(), Some(0), "{scored}");
    let (ok, report) = verify_json(&data);
    assert!(ok, "{report}");
    let entries = report["entries"].as_u64().expect("entries");
    assert!(entries > 1000, "{report}");
    assert_eq!(report["signed_entries"].as_u64(), Some(entries));
    let text = stdout(&warden(&data, &["audit", "verify"]));
    assert!(text.starts_with("ok: "), "{text}");

    let middle = entries / 2;
    let cases: Vec<(String, Vec<String>, u64, &str)> = vec![
        (
            "edit the first entry".into(),
            vec![
                "UPDATE audit_log SET entry = replace(entry, 'system', 'sysTem') WHERE seq = 1"
                    .into(),
            ],
            1,
            "changed",
        ),
        (
            "edit an entry in the middle".into(),
            vec![format!(
                "UPDATE audit_log SET entry = replace(entry, '\"at\":\"', '\"at\":\"1') WHERE seq = {middle}"
            )],
            middle,
            "changed",
        ),
        (
            "edit the last entry".into(),
            vec![format!(
                "UPDATE audit_log SET actor = 'x', entry = replace(entry, '\"actor\":\"', '\"actor\":\"x') WHERE seq = {entries}"
            )],
            entries,
            "changed",
        ),
        (
            "delete an entry".into(),
            vec![format!("DELETE FROM audit_log WHERE seq = {middle}")],
            middle,
            "missing",
        ),
        (
            "append an entry behind the log's back".into(),
            vec![format!(
                "INSERT INTO audit_log (seq, at, actor, stage, kind, case_id, entry, leaf_hash) \
                 SELECT {}, at, actor, stage, kind, case_id, entry, leaf_hash FROM audit_log WHERE seq = 3",
                entries + 1
            )],
            entries + 1,
            "inserted",
        ),
        (
            // Entries, tree and the store's checkpoints all cut back
            // consistently: the shipped checkpoint file still pins the log.
            "truncate the log and delete its checkpoints".into(),
            vec![
                "DROP TRIGGER audit_tree_no_delete".into(),
                "DROP TRIGGER audit_checkpoints_no_delete".into(),
                "DELETE FROM audit_checkpoints".into(),
                format!("DELETE FROM audit_log WHERE seq > {middle}"),
                format!(
                    "DELETE FROM audit_tree WHERE idx >= {}",
                    warden_store::merkle::stored_hash_count(middle)
                ),
            ],
            middle + 1,
            "missing",
        ),
        (
            "swap two entries".into(),
            vec![
                format!("UPDATE audit_log SET seq = -1 WHERE seq = {middle}"),
                format!(
                    "UPDATE audit_log SET seq = {middle} WHERE seq = {}",
                    middle + 2
                ),
                format!("UPDATE audit_log SET seq = {} WHERE seq = -1", middle + 2),
            ],
            middle,
            "reordered",
        ),
    ];
    for (what, statements, seq, kind) in cases {
        let copy = dir.path().join(format!("copy-{}", what.replace(' ', "-")));
        copy_dir(&data, &copy);
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        tamper(&copy, &statements);
        let out = warden(&copy, &["audit", "verify"]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stdout(&out));
        let text = stdout(&out);
        assert!(
            text.starts_with(&format!("FAILED at entry {seq}: {kind}: ")),
            "{what}: {text}"
        );
    }
}

/// Parse one RFC 5424 message: header fields, Warden's structured data
/// and the entry after the BOM.
fn parse_syslog(message: &str) -> (u8, String, Value) {
    let (pri, rest) = message
        .strip_prefix('<')
        .and_then(|m| m.split_once('>'))
        .expect("PRI");
    let pri: u8 = pri.parse().expect("PRI number");
    let mut fields = rest.splitn(7, ' ');
    assert_eq!(fields.next(), Some("1"), "VERSION");
    let timestamp = fields.next().expect("TIMESTAMP");
    time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339 timestamp");
    assert!(
        timestamp.ends_with('Z') && timestamp.split('.').nth(1).is_some_and(|f| f.len() == 7),
        "{timestamp}"
    );
    let host = fields.next().expect("HOSTNAME");
    assert!(!host.is_empty() && host.chars().all(|c| c.is_ascii_graphic()));
    assert_eq!(fields.next(), Some("warden"), "APP-NAME");
    assert!(fields.next().expect("PROCID").parse::<u32>().is_ok());
    let msgid = fields.next().expect("MSGID").to_owned();
    assert!(msgid.len() <= 32 && msgid.chars().all(|c| c.is_ascii_graphic()));
    let rest = fields.next().expect("SD and MSG");
    let sd_end = rest.find("] \u{FEFF}").expect("SD then BOM");
    let sd = &rest[..=sd_end];
    assert!(sd.starts_with("[warden@32473 seq=\""), "{sd}");
    let msg = &rest[sd_end + 2 + '\u{FEFF}'.len_utf8()..];
    let leaf = sd
        .split("leaf=\"")
        .nth(1)
        .and_then(|l| l.split('"').next())
        .expect("leaf param");
    assert_eq!(leaf, warden_audit::leaf_hash(msg.as_bytes()), "leaf of MSG");
    (
        pri,
        msgid,
        serde_json::from_str(msg).expect("MSG is the JSON entry"),
    )
}

#[test]
fn export_reaches_syslog_listeners_on_loopback_and_a_jsonl_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    triage(&data);
    let (_, report) = verify_json(&data);
    let entries = report["entries"].as_u64().expect("entries") as usize;

    // UDP (RFC 5426): one message per datagram.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    udp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let addr = udp.local_addr().expect("addr").to_string();
    let receiver = std::thread::spawn(move || {
        let mut messages = Vec::new();
        let mut buffer = vec![0_u8; 65_536];
        while messages.len() < entries {
            let (n, _) = udp.recv_from(&mut buffer).expect("datagram");
            messages.push(String::from_utf8(buffer[..n].to_vec()).expect("utf-8"));
        }
        messages
    });
    let out = warden(
        &data,
        &["audit", "export", "--format", "syslog", "--udp", &addr],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let messages = receiver.join().expect("receiver");
    assert_eq!(messages.len(), entries);
    let mut kinds = std::collections::BTreeSet::new();
    for (i, message) in messages.iter().enumerate() {
        let (pri, msgid, entry) = parse_syslog(message);
        assert_eq!(pri / 8, 13, "facility log audit");
        assert_eq!(entry["event"]["type"].as_str(), Some(msgid.as_str()));
        assert!(message.contains(&format!("seq=\"{}\"", i + 1)), "in order");
        kinds.insert(msgid);
    }
    for kind in [
        "run_started",
        "alert_ingested",
        "policy_decided",
        "action_executed",
    ] {
        assert!(kinds.contains(kind), "{kinds:?}");
    }

    // TCP (RFC 6587 octet counting), resuming after entry 10.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("tcp");
    let addr = listener.local_addr().expect("addr").to_string();
    let receiver = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).expect("read");
        bytes
    });
    let out = warden(
        &data,
        &[
            "audit", "export", "--format", "syslog", "--tcp", &addr, "--after", "10",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = receiver.join().expect("receiver");
    let mut rest = bytes.as_slice();
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let space = rest.iter().position(|b| *b == b' ').expect("length");
        let length: usize = std::str::from_utf8(&rest[..space])
            .expect("digits")
            .parse()
            .expect("length");
        let frame = &rest[space + 1..space + 1 + length];
        frames.push(String::from_utf8(frame.to_vec()).expect("utf-8"));
        rest = &rest[space + 1 + length..];
    }
    assert_eq!(frames.len(), entries - 10);
    assert!(frames[0].contains("seq=\"11\""));
    for frame in &frames {
        parse_syslog(frame);
    }

    // JSON lines to a file: the entry exactly as hashed.
    let file = dir.path().join("audit.jsonl");
    let out = warden(
        &data,
        &["audit", "export", "--output", file.to_str().expect("path")],
    );
    assert!(out.status.success());
    let text = std::fs::read_to_string(&file).expect("jsonl");
    assert_eq!(text.lines().count(), entries);
    for line in text.lines() {
        let value: Value = serde_json::from_str(line).expect("json line");
        let entry = warden_audit::canonical::to_string(&value["entry"]);
        assert_eq!(
            value["leaf_hash"].as_str(),
            Some(warden_audit::leaf_hash(entry.as_bytes()).as_str())
        );
    }
}

/// `warden audit verify-proof` as an auditor runs it: from a data directory
/// that does not exist, with only the proof and the public key.
fn verify_proof(nowhere: &Path, proof: &Path, key: &str) -> Output {
    warden(
        nowhere,
        &[
            "audit",
            "verify-proof",
            proof.to_str().expect("path"),
            "--public-key",
            key,
        ],
    )
}

#[test]
fn proofs_verify_with_the_public_key_alone_and_forgeries_do_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    triage(&data);
    let first_size = verify_json(&data).1["entries"].as_u64().expect("entries");
    triage(&data);
    let key = data.join("keys/audit.pub");
    let key = key.to_str().expect("path");

    let proof = dir.path().join("proof.json");
    let out = warden(
        &data,
        &[
            "audit",
            "prove",
            "5",
            "--output",
            proof.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The verifier has no data directory at all.
    let nowhere = dir.path().join("no-such-dir");
    let out = verify_proof(&nowhere, &proof, key);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("ok: entry 5 "), "{}", stdout(&out));
    assert!(
        !nowhere.exists(),
        "verify-proof must not create a data directory"
    );

    // The same proof for an altered entry fails.
    let mut forged: Value =
        serde_json::from_str(&std::fs::read_to_string(&proof).expect("read")).expect("json");
    let entry = forged["entry"]
        .as_str()
        .expect("entry")
        .replacen("system", "person", 1);
    forged["entry"] = Value::String(entry);
    std::fs::write(&proof, forged.to_string()).expect("write");
    let out = verify_proof(&nowhere, &proof, key);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).starts_with("FAILED"), "{}", stdout(&out));

    // Consistency between the first run's checkpoint and the second's.
    let consistency = dir.path().join("consistency.json");
    let out = warden(
        &data,
        &[
            "audit",
            "consistency",
            &first_size.to_string(),
            "--output",
            consistency.to_str().expect("path"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = verify_proof(&nowhere, &consistency, key);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("grew consistently"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn search_finds_entries_by_action_tool_case_and_kind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    triage(&data);
    let lines = |args: &[&str]| -> Vec<Value> {
        let mut all = vec!["audit", "search", "--json"];
        all.extend_from_slice(args);
        let out = warden(&data, &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    };
    let notes = lines(&["--action", "case.note"]);
    assert!(!notes.is_empty());
    assert!(
        notes
            .iter()
            .all(|v| v.to_string().contains("\"case.note\""))
    );
    let tools = lines(&["--tool", "asset_lookup", "--kind", "tool_called"]);
    assert!(!tools.is_empty());
    let case = tools[0]["entry"]["event"]["case_id"]
        .as_str()
        .expect("case")
        .to_owned();
    let of_case = lines(&["--case", &case]);
    assert!(
        of_case
            .iter()
            .all(|v| v["entry"]["event"]["case_id"] == case.as_str())
    );
    assert!(
        of_case
            .iter()
            .any(|v| v["entry"]["event"]["type"] == "triage_completed")
    );
    let limited = lines(&["--kind", "alert_ingested", "--limit", "3"]);
    assert_eq!(limited.len(), 3);
    let future = lines(&["--since", "2999-01-01T00:00:00Z"]);
    assert!(future.is_empty());
    let bad = warden(&data, &["audit", "search", "--since", "yesterday"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
}

/// The reproduction through the binary: whoever holds the data
/// directory rewrites an entry (and every later one), rebuilds the tree,
/// deletes the stored and shipped checkpoints and re-signs with
/// `keys/audit.key`. `audit verify` on the data directory alone passes; a
/// witness that kept the checkpoints signed before the rewrite makes it
/// fail.
#[test]
fn a_rewritten_and_re_signed_log_fails_verify_against_a_witness() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let elsewhere = dir.path().join("other-mount");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let url = format!("file://{}", elsewhere.join("warden-checkpoints").display());
    let config = dir.path().join("warden.toml");
    std::fs::write(&config, format!("[audit]\nwitnesses = [{url:?}]\n")).expect("config");
    let config = config.to_str().expect("utf-8");
    let out = warden(
        &data,
        &[
            "--config",
            config,
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let witnessed = std::fs::read_to_string(elsewhere.join("warden-checkpoints")).expect("witness");
    assert!(!witnessed.trim().is_empty());
    let verify = |with_witness: bool| {
        let mut args = vec!["--config", config, "audit", "verify", "--json"];
        if !with_witness {
            args = vec!["audit", "verify", "--json"];
        }
        let out = warden(&data, &args);
        let report: Value = serde_json::from_str(stdout(&out).trim()).expect("json report");
        (out.status.success(), report)
    };
    let (ok, report) = verify(true);
    assert!(ok, "{report}");
    let entries = report["entries"].as_u64().expect("entries");
    let from = entries / 2;

    // The rewrite, with the data directory's own key.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = std::sync::Arc::new(
            warden_store::SqliteStore::open(&data.join("warden.db"))
                .await
                .expect("store"),
        );
        let kept: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT actor, entry FROM audit_log WHERE seq >= {from} ORDER BY seq"
        )))
        .fetch_all(store.pool())
        .await
        .expect("read");
        for statement in [
            "DROP TRIGGER IF EXISTS audit_log_no_delete".to_owned(),
            "DROP TRIGGER IF EXISTS audit_tree_no_delete".to_owned(),
            "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete".to_owned(),
            format!("DELETE FROM audit_log WHERE seq >= {from}"),
            format!(
                "DELETE FROM audit_tree WHERE idx >= {}",
                warden_store::merkle::stored_hash_count(from - 1)
            ),
            "DELETE FROM audit_checkpoints".to_owned(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement.clone()))
                .execute(store.pool())
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        std::fs::remove_file(data.join("audit-checkpoint.txt")).expect("shipped copy");
        let key = warden_audit::LogKey::load(&data.join("keys").join("audit.key")).expect("key");
        let forged = warden_audit::StoreAuditLog::new(
            store.clone(),
            std::sync::Arc::new(warden_domain::SystemClock),
        )
        .with_checkpointer(warden_audit::Checkpointer::new(key, 1_000_000));
        for (n, (actor, entry)) in kept.iter().enumerate() {
            let mut entry: warden_audit::AuditEntry = serde_json::from_str(entry).expect("entry");
            if n == 0 {
                entry.actor = "system:relabelled".into();
            }
            use warden_audit::AuditLog as _;
            forged
                .append(if n == 0 { &entry.actor } else { actor }, entry.event)
                .await
                .expect("append");
        }
        forged
            .checkpoint()
            .await
            .expect("sign")
            .expect("checkpoint");
        store.pool().close().await;
    });

    let (alone, report) = verify(false);
    assert!(alone, "the data directory alone cannot tell: {report}");
    let (ok, report) = verify(true);
    assert!(!ok, "the witness must catch the rewrite: {report}");
    assert_eq!(report["problem"]["kind"], "checkpoint", "{report}");
    let named = warden(&data, &["audit", "verify", "--witness", &url]);
    assert!(!named.status.success(), "{}", stdout(&named));
}

/// `[audit] signing_key`: the log signs with a key kept outside the data
/// directory (never made there), and verify checks with its `audit.pub`.
#[test]
fn the_signing_key_can_live_outside_the_data_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let keys = dir.path().join("other-account");
    let key = warden_audit::LogKey::create_files(&keys, "warden.test/outside").expect("key");
    let private = keys.join(warden_audit::signing::PRIVATE_KEY_FILE);
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[audit]\nsigning_key = {:?}\n",
            private.display().to_string()
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8");
    let out = warden(
        &data,
        &[
            "--config",
            config,
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !data.join("keys").join("audit.key").exists(),
        "no key is made in the data directory"
    );
    let shipped = std::fs::read_to_string(data.join("audit-checkpoint.txt")).expect("shipped");
    key.public()
        .open_checkpoint(&shipped)
        .expect("signed with the outside key");
    let out = warden(&data, &["--config", config, "audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("json report");
    assert!(out.status.success(), "{report}");
    assert!(report["checkpoints"].as_u64() > Some(0), "{report}");
}

/// What the test HTTP witness keeps: the notes POSTed, and the
/// `Authorization` header of every GET.
#[derive(Clone, Default)]
struct Witnessed {
    notes: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    reads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// A witness over HTTP on loopback that keeps what it is POSTed and lists
/// it back on GET (the protocol of docs/audit.md), served from `runtime`.
fn http_witness(runtime: &tokio::runtime::Runtime) -> (String, Witnessed) {
    use axum::routing::get;
    let held = Witnessed::default();
    let (keep, list) = (held.clone(), held.clone());
    let app = axum::Router::new().route(
        "/warden/checkpoints",
        get(move |headers: axum::http::HeaderMap| {
            let auth = headers
                .get(axum::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            list.reads.lock().expect("lock").push(auth);
            let notes = list.notes.lock().expect("lock").clone();
            async move {
                notes
                    .iter()
                    .map(|n| format!("{}\n", serde_json::to_string(n).expect("json")))
                    .collect::<String>()
            }
        })
        .post(move |note: String| {
            keep.notes.lock().expect("lock").push(note);
            async { axum::http::StatusCode::NO_CONTENT }
        }),
    );
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/warden/checkpoints"), held)
}

/// `[audit] witnesses` with an HTTP and a syslog witness: `triage` pushes
/// its checkpoints to both, `verify` checks against the HTTP one and names
/// the syslog one as not checked; `--witness` takes the https form; plain
/// http to another host is a configuration error.
#[test]
fn verify_checks_http_witnesses_and_names_syslog_ones_as_not_checked() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (url, held) = http_witness(&runtime);
    let syslog = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let syslog_url = format!(
        "syslog+udp://127.0.0.1:{}",
        syslog.local_addr().expect("addr").port()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!("[audit]\nwitnesses = [{url:?}, {syslog_url:?}]\n"),
    )
    .expect("config");
    let config = config.to_str().expect("utf-8");
    let out = warden(
        &data,
        &[
            "--config",
            config,
            "triage",
            "examples/alerts",
            "--context",
            "examples/context",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let witnessed = held.notes.lock().expect("lock").len();
    assert!(witnessed > 0, "triage pushed its checkpoints");
    syslog
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut datagram = vec![0; 65_536];
    let len = syslog
        .recv(&mut datagram)
        .expect("a syslog message arrived");
    let message = String::from_utf8_lossy(&datagram[..len]).into_owned();
    assert!(
        message.contains(" warden ") && message.contains(" checkpoint "),
        "{message}"
    );

    let out = warden(&data, &["--config", config, "audit", "verify"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("witness {url}: {witnessed} checkpoints checked")),
        "{text}"
    );
    assert!(
        text.contains(&format!("witness {syslog_url}: not readable, not checked")),
        "{text}"
    );
    let out = warden(&data, &["--config", config, "audit", "verify", "--json"]);
    let report: Value = serde_json::from_str(stdout(&out).trim()).expect("json report");
    assert_eq!(report["witnesses"][0]["checkpoints"], witnessed, "{report}");
    assert_eq!(report["witnesses"][1]["checked"], false, "{report}");

    // Named on the command line with a token from the environment: it is
    // sent to the HTTP witness only (a file witness beside it takes none),
    // and printed nowhere.
    const TOKEN: &str = "cli-witness-token-5d1e0b7a";
    let file_witness = format!("file://{}", dir.path().join("none-yet").display());
    let out = common::warden_with_env(
        &data,
        &[
            "audit",
            "verify",
            "--witness",
            &url,
            "--witness",
            &file_witness,
            "--witness-token-env",
            "WITNESS_READ_TOKEN",
        ],
        &[("WITNESS_READ_TOKEN", TOKEN)],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    assert!(
        text.contains(&format!("witness {file_witness}: 0 checkpoints checked")),
        "{text}"
    );
    let reads = held.reads.lock().expect("lock").clone();
    assert_eq!(reads.last(), Some(&format!("Bearer {TOKEN}")), "{reads:?}");
    assert!(!text.contains(TOKEN) && !common::stderr(&out).contains(TOKEN));

    // Named on the command line: the https form is taken (here nothing
    // answers on that port, so reading it fails and says which).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let https = format!(
        "https://127.0.0.1:{}/w",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let out = warden(&data, &["audit", "verify", "--witness", &https]);
    assert!(!out.status.success());
    let error = common::stderr(&out);
    assert!(
        error.contains(&format!("cannot read witness {https}")),
        "{error}"
    );

    // Plain http elsewhere than loopback is refused, clearly.
    std::fs::write(
        config,
        "[audit]\nwitnesses = [\"http://witness.example.org/warden\"]\n",
    )
    .expect("config");
    let out = warden(&data, &["--config", config, "audit", "verify"]);
    assert!(!out.status.success());
    let error = common::stderr(&out);
    assert!(
        error.contains("http://witness.example.org/warden") && error.contains("https"),
        "{error}"
    );
}
