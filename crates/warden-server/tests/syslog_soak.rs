#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests"
)]
//! Syslog soak (issue 23): N messages at a fixed rate over UDP and over
//! TCP (octet counting) at once, on loopback, through the whole server:
//! framing, parsing, dead letters, the triage queue and the triage worker.
//! About one message in a hundred is malformed. The triage worker's own
//! pace (the pipeline's, far below the receiver's in a debug build) is
//! reported, not waited for: `syslog_intake.rs` checks that stopping
//! triages every parsed alert, on fewer messages.
//!
//! Over TCP nothing may be lost: parsed + dead-lettered = sent. Over UDP
//! the loss is measured and printed (datagrams the kernel dropped, and
//! messages the receiver dropped because its queue was full); what was
//! received still adds up. The figures are printed (`--nocapture`).
//!
//! Size: `WARDEN_SOAK_MESSAGES` per transport (default 20000) at
//! `WARDEN_SOAK_RATE` messages a second each (default 2000), so the
//! default run takes about ten seconds of sending; the 100,000 is
//! `WARDEN_SOAK_MESSAGES=100000`. `WARDEN_SOAK_DRAIN=1` also waits for the
//! triage of every queued alert and times it.

mod common;
mod syslog_common;

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use warden_server::intake::syslog::{Snapshot, Transport};

use syslog_common::{Harness, config, testdata_line};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Message `n`: a real vendor line under an RFC 3164 or RFC 5424 header,
/// its source address varied; every hundredth is malformed.
fn message(n: u64, lines: &[String]) -> (String, bool) {
    if n % 100 == 99 {
        return (
            format!("<13>Jan 18 11:07:53 host soak {n}: not an alert"),
            false,
        );
    }
    let line = &lines[(n % lines.len() as u64) as usize];
    let src = format!("src=10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    let line = line.replacen("src=", &format!("{src} old_src="), 1);
    let message = if n.is_multiple_of(2) {
        format!("<134>{line}")
    } else {
        format!(
            "<134>1 2026-12-07T10:00:00Z soak-{} app - - - {line}",
            n % 7
        )
    };
    (message, true)
}

/// Send `count` messages at `rate` a second through `send`, in ticks of
/// 10 ms; returns how many were malformed.
async fn paced<F, Fut>(count: u64, rate: u64, lines: &[String], mut send: F) -> u64
where
    F: FnMut(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut n = 0;
    let mut malformed = 0;
    while n < count {
        tick.tick().await;
        let mut batch = Vec::new();
        while batch.len() < per_tick as usize && n < count {
            let (m, good) = message(n, lines);
            malformed += u64::from(!good);
            batch.push(m);
            n += 1;
        }
        send(batch).await;
    }
    malformed
}

fn print(name: &str, sent: u64, s: &Snapshot, seconds: f64) {
    let lost = sent.saturating_sub(s.received) + s.dropped;
    println!(
        "soak {name}: sent {sent} in {seconds:.1} s; received {}, parsed {}, dead-lettered {}, \
         dropped by the receiver {}, lost in the kernel {}; loss {} ({:.3}%)",
        s.received,
        s.parsed,
        s.dead_lettered,
        s.dropped,
        sent.saturating_sub(s.received),
        lost,
        100.0 * lost as f64 / sent.max(1) as f64,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_soak_at_a_fixed_rate_loses_nothing_over_tcp_and_reports_udp_loss() {
    let count = env_number("WARDEN_SOAK_MESSAGES", 20_000);
    let rate = env_number("WARDEN_SOAK_RATE", 2_000);
    let lines = vec![
        testdata_line("cef/syslog-examples.log", 1),
        testdata_line("cef/syslog-examples.log", 2),
        testdata_line("leef/syslog-examples.log", 1),
        testdata_line("leef/syslog-examples.log", 3),
    ];
    let mut harness = Harness::start(config(&["udp://127.0.0.1:0", "tcp://127.0.0.1:0"])).await;
    let udp_to = harness.addr(Transport::Udp);
    let tcp_to = harness.addr(Transport::Tcp);
    let started = Instant::now();

    let udp_lines = lines.clone();
    let udp = tokio::spawn(async move {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let socket = &socket;
        paced(count, rate, &udp_lines, |batch| async move {
            for m in batch {
                let _ = socket.send_to(m.as_bytes(), udp_to).await;
            }
        })
        .await
    });
    let tcp_lines = lines.clone();
    let tcp = tokio::spawn(async move {
        let stream = tokio::net::TcpStream::connect(tcp_to).await.unwrap();
        let stream = std::sync::Arc::new(tokio::sync::Mutex::new(stream));
        let malformed = paced(count, rate, &tcp_lines, |batch| {
            let stream = stream.clone();
            async move {
                let mut bytes = Vec::new();
                for m in batch {
                    bytes.extend_from_slice(format!("{} {m}", m.len()).as_bytes());
                }
                stream.lock().await.write_all(&bytes).await.unwrap();
            }
        })
        .await;
        stream.lock().await.shutdown().await.unwrap();
        malformed
    });
    let udp_malformed = udp.await.unwrap();
    let tcp_malformed = tcp.await.unwrap();
    let sending = started.elapsed().as_secs_f64();

    let tcp_stats = harness
        .settle(Transport::Tcp, count, Duration::from_secs(120))
        .await;
    // UDP: what arrived is accounted for once the queue is empty.
    let udp_stats = harness
        .settle(Transport::Udp, count, Duration::from_secs(5))
        .await;
    let settled = started.elapsed().as_secs_f64();
    print("tcp", count, &tcp_stats, sending);
    print("udp", count, &udp_stats, sending);
    println!("soak: every message parsed or dead-lettered {settled:.1} s after the start");

    assert_eq!(
        tcp_stats.received, count,
        "TCP loses nothing: {tcp_stats:?}"
    );
    assert_eq!(
        tcp_stats.parsed + tcp_stats.dead_lettered,
        count,
        "{tcp_stats:?}"
    );
    assert_eq!(tcp_stats.dead_lettered, tcp_malformed);
    assert_eq!(tcp_stats.dropped, 0);
    assert_eq!(udp_stats.in_flight(), 0, "{udp_stats:?}");
    assert!(udp_stats.received <= count);
    assert!(udp_stats.dead_lettered <= udp_malformed);

    // Every dead letter is in the store (written before it is counted).
    let letters = harness.state.store().dead_letters().await.unwrap().len() as u64;
    assert_eq!(letters, tcp_stats.dead_lettered + udp_stats.dead_lettered);
    // The parsed alerts are in the triage queue or triaged; the triage
    // worker's pace is the pipeline's, not the receiver's: report it.
    let triaged = harness.triaged().await;
    println!(
        "soak: {letters} dead letters stored; {triaged} of {} alerts triaged {:.1} s after the \
         start (the rest wait in the bounded triage queue)",
        tcp_stats.parsed + udp_stats.parsed,
        started.elapsed().as_secs_f64()
    );
    let stopping = Instant::now();
    harness.stop_receiver().await;
    println!(
        "soak: receiver stopped in {:.2} s",
        stopping.elapsed().as_secs_f64()
    );
    // `WARDEN_SOAK_DRAIN=1`: also stop the workers, which triage every
    // queued alert first, and time it (the pipeline's pace).
    if env_number("WARDEN_SOAK_DRAIN", 0) == 1 {
        let draining = Instant::now();
        let outcome = harness.stop().await;
        println!(
            "soak: triage of the queued alerts finished in {:.1} s: {} alerts in {} cases",
            draining.elapsed().as_secs_f64(),
            outcome.ingested.len(),
            outcome.cases
        );
        assert_eq!(
            outcome.ingested.len() as u64,
            tcp_stats.parsed + udp_stats.parsed
        );
    }
}
