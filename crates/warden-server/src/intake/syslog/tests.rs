#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use super::framing::{Decoder, Frame};
use super::listen::{ListenAddr, Transport};

fn frames(max: usize, chunks: &[&[u8]], finish: bool) -> Vec<Frame> {
    let mut decoder = Decoder::new(max);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.push(chunk, &mut out);
    }
    if finish {
        decoder.finish(&mut out);
    }
    out
}

fn msg(text: &str) -> Frame {
    Frame::Message(text.as_bytes().to_vec())
}

#[test]
fn newline_framing_in_any_chunking() {
    let stream = b"<13>a CEF:0|x\r\n<14>b LEEF:1.0|y\n\n<15>c";
    let want = vec![msg("<13>a CEF:0|x"), msg("<14>b LEEF:1.0|y"), msg("<15>c")];
    assert_eq!(frames(100, &[stream], true), want);
    // Byte by byte.
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frames(100, &bytes, true), want);
    // The last line waits for its end (or the end of the connection).
    assert_eq!(frames(100, &[stream], false).len(), 2);
}

#[test]
fn octet_counting_in_any_chunking() {
    let stream = b"13 <13>a CEF:0|x16 <14>b LEEF:1.0|y\n5 <15>c";
    let want = vec![msg("<13>a CEF:0|x"), msg("<14>b LEEF:1.0|y"), msg("<15>c")];
    assert_eq!(frames(100, &[stream], true), want);
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(frames(100, &bytes, true), want);
    // A message holding a line break stays one message.
    assert_eq!(frames(100, &[b"6 <1>a\nb"], true), vec![msg("<1>a\nb")]);
}

#[test]
fn oversized_messages_are_read_past_with_their_first_bytes_kept() {
    // Octet counting: the next frame is read as usual.
    let out = frames(8, &[b"12 <13>abcdefgh5 <14>x"], true);
    assert_eq!(
        out,
        vec![
            Frame::Oversized {
                prefix: b"<13>abcd".to_vec(),
                length: 12
            },
            msg("<14>x"),
        ]
    );
    // ... in small pieces too.
    let stream = b"12 <13>abcdefgh5 <14>x";
    let bytes: Vec<&[u8]> = stream.chunks(3).collect();
    assert_eq!(frames(8, &bytes, true), out);
    // Newline framing: a long line is skipped to its end.
    let long = format!("<13>{}\n<14>x\n", "a".repeat(100));
    let bytes: Vec<&[u8]> = long.as_bytes().chunks(7).collect();
    let out = frames(8, &bytes, true);
    assert_eq!(out.len(), 2);
    assert!(
        matches!(&out[0], Frame::Oversized { prefix, length } if prefix == b"<13>aaaa" && *length >= 100)
    );
    assert_eq!(out[1], msg("<14>x"));
}

#[test]
fn a_broken_octet_count_closes_the_stream() {
    let out = frames(100, &[b"5 <13>a", b"xyz <14>b"], true);
    assert_eq!(out[0], msg("<13>a"));
    assert!(matches!(&out[1], Frame::Broken { reason, .. } if reason.contains("octet count")));
    // A message cut short by the end of the connection.
    let out = frames(100, &[b"50 <13>a"], true);
    assert!(matches!(&out[0], Frame::Broken { reason, .. } if reason.contains("closed")));
}

#[test]
fn the_buffer_never_holds_more_than_a_message() {
    let mut decoder = Decoder::new(64);
    let mut out = Vec::new();
    for _ in 0..1000 {
        decoder.push(&[b'a'; 50], &mut out);
        assert!(decoder.room() <= 64 + 12);
    }
    decoder.finish(&mut out);
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0], Frame::Oversized { length, .. } if *length == 50_000));
}

#[test]
fn listen_addresses() {
    let a: ListenAddr = "udp://0.0.0.0:514".parse().unwrap();
    assert_eq!(a.transport, Transport::Udp);
    assert_eq!(a.host_port, "0.0.0.0:514");
    let a: ListenAddr = "TLS://[::1]:6514".parse().unwrap();
    assert_eq!(a.transport, Transport::Tls);
    assert_eq!(a.to_string(), "tls://[::1]:6514");
    for bad in [
        "0.0.0.0:514",
        "http://0.0.0.0:514",
        "tcp://0.0.0.0",
        "tcp://:514",
        "tcp://::1:514",
        "udp://host:99999",
    ] {
        assert!(bad.parse::<ListenAddr>().is_err(), "{bad}");
    }
}
