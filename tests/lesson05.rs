//! Lesson 5 — binary protocols. Run with `cargo test -p lesson05`.
//!
//! Tests named `ex5_k_...` check exercise 5.k; `given_...` check given code.
//! A test of a later exercise first checks the earlier ones it builds on, and
//! says so if one of them is not done yet.
//!
//! The tests build their messages byte by byte with their own helpers below,
//! never with your encoder: a mistake that your encoder and your decoder
//! share (little-endian both ways, say) would otherwise cancel out and go
//! unnoticed.

mod support;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lesson05::frame::{FrameError, read_message};
use lesson05::message::{
    BodyError, DELETE, ERROR, GET, MAX_KEY, NOT_FOUND, OK, Request, Response, SET, VALUE,
};
use lesson05::server::{MAX_ENTRIES, MAX_PENDING, Store, handle_connection};
use lesson05::wire::{HEADER_LEN, HeaderError, MAGIC, MAX_BODY, RawHeader, VERSION};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use socket2::SockRef;
use support::{Conn, DEADLINE, Hint, Server, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson05");

/// What the demo's "Try it yourself" commands add to `cargo run -p lesson05`:
/// the build the demo itself came from, so that copying them runs the same code.
const FEATURES: &str = if cfg!(feature = "solution") {
    " --features solution"
} else {
    ""
};

const EX5_1: Hint = Hint(
    "exercise 5.1, `RawHeader::encode` and `RawHeader::decode` in lessons/lesson05/src/wire.rs \
     — book §5.1",
);
const EX5_2: Hint =
    Hint("exercise 5.2, `RawHeader::validate` in lessons/lesson05/src/wire.rs — book §5.2");
const EX5_3: Hint = Hint(
    "exercise 5.3, `Request::encode_body` and `Request::decode` in \
     lessons/lesson05/src/message.rs — book §5.3",
);
const EX5_4: Hint =
    Hint("exercise 5.4, `handle_connection` in lessons/lesson05/src/server.rs — book §5.4");

/// A modest number of cases keeps the suite fast; a bounded search for a
/// smaller failing input keeps a failure quick; no regression files are
/// written into the shared tests/ folder.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        max_shrink_iters: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs a property with the lesson's settings: a panic in the exercise is
/// shown once (see support::property), a failing case with its input.
fn check_property<S: Strategy>(
    strategy: S,
    hint: Hint,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    support::property(hint, || {
        if let Err(e) = TestRunner::new(config()).run(&strategy, test) {
            panic!("\n\n{e}\n\nRevisit: {hint}\n");
        }
    });
}

// ------------------------------------------------- the test's own wire format

/// The 12 header bytes of a message, built by hand from the table in wire.rs.
fn header_bytes(kind: u8, id: u32, body_len: u32) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&[b'N', b'L', 1, kind]);
    h[4..8].copy_from_slice(&id.to_be_bytes());
    h[8..].copy_from_slice(&body_len.to_be_bytes());
    h
}

/// One whole message: its header, then `body`.
fn msg(kind: u8, id: u32, body: &[u8]) -> Vec<u8> {
    let mut m = header_bytes(kind, id, body.len() as u32).to_vec();
    m.extend_from_slice(body);
    m
}

/// A SET body: key length (u16, big-endian), key, value.
fn set_body(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut b = (key.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(key);
    b.extend_from_slice(value);
    b
}

fn kind_name(kind: u8) -> String {
    match kind {
        GET => "GET".into(),
        SET => "SET".into(),
        DELETE => "DELETE".into(),
        OK => "OK".into(),
        VALUE => "VALUE".into(),
        NOT_FOUND => "NOT_FOUND".into(),
        ERROR => "ERROR".into(),
        other => format!("kind 0x{other:02x}"),
    }
}

/// A response as it came off the wire.
#[derive(Clone, Debug, PartialEq)]
struct Reply {
    kind: u8,
    id: u32,
    body: Vec<u8>,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "id {} {}", self.id, kind_name(self.kind))?;
        match self.body.len() {
            0 => Ok(()),
            n if n > 64 => write!(f, " with a body of {n} bytes"),
            _ => write!(f, " {}", show(&self.body)),
        }
    }
}

fn reply(kind: u8, id: u32, body: &[u8]) -> Reply {
    Reply {
        kind,
        id,
        body: body.to_vec(),
    }
}

/// Replies, one a line, for a failure message.
fn list(replies: &[Reply]) -> String {
    if replies.is_empty() {
        return "(none)".to_string();
    }
    let lines: Vec<String> = replies.iter().map(|r| format!("\n          {r}")).collect();
    lines.concat()
}

/// The answers a handler wrote to a [`MemoryWriter`], and how to show them
/// in a failure message (with anything after them that is not a whole one).
fn answers(written: &Written) -> (Vec<Reply>, String) {
    let (replies, rest) = parse_replies(&written.bytes);
    let mut shown = list(&replies);
    if !rest.is_empty() {
        shown.push_str(&format!(
            "\n          then {} that are not a whole answer.\n\
             (This test's writer, like a socket whose buffer is nearly full, takes at most \
             {PARTIAL_WRITE} bytes of a `write`, and returns how many it took; `write_all` \
             writes them all.)",
            support::hex(rest)
        ));
    }
    (replies, shown)
}

/// What `handle_connection` returned, for a failure message.
fn returned(result: &Result<u64, FrameError>) -> String {
    match result {
        Ok(n) => format!("Ok({n})"),
        Err(FrameError::Io(e)) => format!("Err(FrameError::Io({:?}: \"{e}\"))", e.kind()),
        Err(e) => format!("Err(FrameError::{e:?})"),
    }
}

/// The whole replies in `bytes`, read with the test's own parser; and what is
/// left over (an incomplete reply, or bytes that are not one).
fn parse_replies(bytes: &[u8]) -> (Vec<Reply>, &[u8]) {
    let mut replies = Vec::new();
    let mut rest = bytes;
    while rest.len() >= HEADER_LEN && rest[..3] == [b'N', b'L', 1] {
        let len = u32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]) as usize;
        if rest.len() < HEADER_LEN + len {
            break;
        }
        replies.push(Reply {
            kind: rest[3],
            id: u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]),
            body: rest[HEADER_LEN..HEADER_LEN + len].to_vec(),
        });
        rest = &rest[HEADER_LEN + len..];
    }
    (replies, rest)
}

/// Reads one response, checking its framing; `sent` describes the request.
fn read_reply(server: &Server, conn: &mut Conn<'_>, sent: &str) -> Reply {
    let start = Instant::now();
    let head = conn.read_up_to(HEADER_LEN);
    if head.len() < HEADER_LEN {
        // read_up_to stops at end of stream or at the deadline: tell which.
        let then = if !server.is_running() {
            "and then nothing: the server has exited."
        } else if start.elapsed() < DEADLINE / 2 {
            "and then the server closed the connection."
        } else {
            "and then nothing for 5 s, though the connection is open.\n\
             (Does your handler write its answers before it waits for the next request?)"
        };
        server.fail(&format!(
            "Sent:     {sent}\nExpected: a response (a 12-byte header, then its body)\n\
             Got:      {} {then}",
            support::hex(&head),
        ));
    }
    if head[..3] != [b'N', b'L', 1] {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: a response header starting 4e 4c 01 (\"NL\", version 1)\n\
             Got:      {}",
            support::hex(&head)
        ));
    }
    let kind = head[3];
    let id = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let len = u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize;
    if len > MAX_BODY as usize {
        server.fail(&format!(
            "Sent:     {sent}\nGot a response header announcing a body of {len} bytes: {}",
            support::hex(&head)
        ));
    }
    let body = conn.read_up_to(len);
    if body.len() < len {
        server.fail(&format!(
            "Sent:     {sent}\nGot the header {} announcing {len} body bytes, but only {}",
            support::hex(&head),
            show(&body)
        ));
    }
    Reply { kind, id, body }
}

/// Sends `request` (described as `what`) and checks the reply is `expected`.
fn exchange(server: &Server, conn: &mut Conn<'_>, what: &str, request: &[u8], expected: Reply) {
    conn.send(request);
    let sent = format!("{what} = {}", support::hex(request));
    let got = read_reply(server, conn, &sent);
    if got != expected {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: {expected}\nGot:      {got}"
        ));
    }
}

// ------------------------------------------- what later exercises build on

/// Checks 5.1 on one header, for the tests of later exercises.
fn header_code_works() -> Result<(), String> {
    let header = RawHeader {
        magic: MAGIC,
        version: VERSION,
        kind: SET,
        id: 0x0102_0304,
        body_len: 0x0506,
    };
    let expected = header_bytes(SET, 0x0102_0304, 0x0506);
    let bytes = header.encode();
    if bytes != expected {
        return Err(format!(
            "{header:?}.encode() gave {}, not {}",
            support::hex(&bytes),
            support::hex(&expected)
        ));
    }
    match RawHeader::decode(&expected) {
        back if back == header => Ok(()),
        back => Err(format!(
            "RawHeader::decode({}) gave {back:?}",
            support::hex(&expected)
        )),
    }
}

/// Checks 5.2 on a good header and two bad ones.
fn validate_works() -> Result<(), String> {
    let good = RawHeader {
        magic: MAGIC,
        version: VERSION,
        kind: GET,
        id: 9,
        body_len: 3,
    };
    let got = good.validate().map(|h| (h.kind(), h.id(), h.body_len()));
    if got != Ok((GET, 9, 3)) {
        return Err(format!("{good:?}.validate() gave {got:?}"));
    }
    for bad in [
        RawHeader {
            magic: *b"GE",
            ..good
        },
        RawHeader {
            body_len: u32::MAX,
            ..good
        },
    ] {
        if let Ok(header) = bad.validate() {
            return Err(format!("{bad:?}.validate() let it through: {header:?}"));
        }
    }
    Ok(())
}

/// Checks 5.3 on a SET and a GET, both ways.
fn bodies_work() -> Result<(), String> {
    let request = set(b"k", b"v");
    match request.encode_body() {
        Ok(body) if body == [0, 1, b'k', b'v'] => {}
        other => return Err(format!("{request:?}.encode_body() gave {other:?}")),
    }
    for (kind, body, expected) in [
        (SET, &[0, 1, b'k', b'v'][..], set(b"k", b"v")),
        (GET, b"k", get(b"k")),
    ] {
        match Request::decode(kind, body) {
            Ok(got) if got == expected => {}
            other => {
                return Err(format!(
                    "Request::decode({}, {}) gave {other:?}",
                    kind_name(kind),
                    support::hex(body)
                ));
            }
        }
    }
    Ok(())
}

/// The handler runs all of 5.1 to 5.3: checks them first, so that a failure
/// names the exercise to fix.
fn earlier_exercises_work() {
    support::needs(EX5_1, header_code_works);
    support::needs(EX5_2, validate_works);
    support::needs(EX5_3, bodies_work);
}

/// `lesson05 server 127.0.0.1:0 extra...`, once 5.1 to 5.3 work.
fn server(extra: &[&str]) -> Server {
    earlier_exercises_work();
    support::server(BIN, EX5_4, extra)
}

// ---------------------------------------------------------------- exercise 5.1

#[test]
fn ex5_1_encode_writes_each_field_in_network_byte_order() {
    let header = RawHeader {
        magic: *b"NL",
        version: 1,
        kind: 0x02,
        id: 0x1234_5678,
        body_len: 0x0A0B_0C0D,
    };
    let expected = [
        0x4E, 0x4C, 0x01, 0x02, 0x12, 0x34, 0x56, 0x78, 0x0A, 0x0B, 0x0C, 0x0D,
    ];
    let got = header.encode();
    let why = if got[4..8] == [0x78, 0x56, 0x34, 0x12] {
        "\nThe id came out backwards: that is little-endian. Network byte order is big-endian."
    } else if got[4..8] == expected[8..12] {
        "\nThe id's bytes are where the body length goes: check the offsets in the table."
    } else {
        ""
    };
    assert!(
        got == expected,
        "\nRawHeader {{ magic: *b\"NL\", version: 1, kind: 0x02, id: 0x12345678, \
         body_len: 0x0a0b0c0d }}.encode()\n\
         Expected: {}\nGot:      {}{why}\nRevisit: {EX5_1}\n",
        support::hex(&expected),
        support::hex(&got)
    );

    // Encoding writes the fields as they are; checking them is 5.2's job.
    let odd = RawHeader {
        magic: *b"XY",
        version: 9,
        kind: 0xFF,
        id: 1,
        body_len: u32::MAX,
    };
    let expected = [b'X', b'Y', 9, 0xFF, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF];
    let got = odd.encode();
    assert!(
        got == expected,
        "\nRawHeader {{ magic: *b\"XY\", version: 9, kind: 0xff, id: 1, body_len: 0xffffffff }}\
         .encode() should write exactly these fields, even odd ones.\n\
         Expected: {}\nGot:      {}\nRevisit: {EX5_1}\n",
        support::hex(&expected),
        support::hex(&got)
    );
}

#[test]
fn ex5_1_decode_reads_each_field_back() {
    let bytes = [
        0x4E, 0x4C, 0x01, 0x03, 0x11, 0x22, 0x33, 0x44, 0x00, 0x01, 0x02, 0x03,
    ];
    let expected = RawHeader {
        magic: *b"NL",
        version: 1,
        kind: 0x03,
        id: 0x1122_3344,
        body_len: 0x0001_0203,
    };
    let got = RawHeader::decode(&bytes);
    assert!(
        got == expected,
        "\nRawHeader::decode({})\nExpected: {expected:x?}\nGot:      {got:x?}\nRevisit: {EX5_1}\n",
        support::hex(&bytes)
    );
    // Decoding does not judge either: a bad magic comes out as it went in.
    let odd = *b"hello world!";
    let expected = RawHeader {
        magic: *b"he",
        version: b'l',
        kind: b'l',
        id: u32::from_be_bytes(*b"o wo"),
        body_len: u32::from_be_bytes(*b"rld!"),
    };
    let got = RawHeader::decode(&odd);
    assert!(
        got == expected,
        "\nRawHeader::decode(b\"hello world!\") should take any 12 bytes apart, checking \
         nothing.\nExpected: {expected:x?}\nGot:      {got:x?}\nRevisit: {EX5_1}\n"
    );
}

fn any_raw_header() -> impl Strategy<Value = RawHeader> {
    (
        any::<[u8; 2]>(),
        any::<u8>(),
        any::<u8>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(magic, version, kind, id, body_len)| RawHeader {
            magic,
            version,
            kind,
            id,
            body_len,
        })
}

#[test]
fn ex5_1_encode_then_decode_round_trips() {
    check_property(any_raw_header(), EX5_1, |header| {
        let bytes = header.encode();
        prop_assert_eq!(
            RawHeader::decode(&bytes),
            header,
            "decode(encode(h)) must give h back; encode gave {}",
            support::hex(&bytes)
        );
        Ok(())
    });
}

#[test]
fn ex5_1_decode_then_encode_gives_the_same_bytes() {
    check_property(any::<[u8; HEADER_LEN]>(), EX5_1, |bytes| {
        let header = RawHeader::decode(&bytes);
        prop_assert_eq!(
            header.encode(),
            bytes,
            "encode(decode(b)) must give b back; decode gave {:?}",
            header
        );
        Ok(())
    });
}

// ---------------------------------------------------------------- exercise 5.2

fn good_raw() -> RawHeader {
    RawHeader {
        magic: MAGIC,
        version: VERSION,
        kind: GET,
        id: 7,
        body_len: 5,
    }
}

fn check_validate(raw: RawHeader, expected: Result<(u8, u32, usize), HeaderError>) {
    let got = raw.validate().map(|h| (h.kind(), h.id(), h.body_len()));
    assert!(
        got == expected,
        "\n{raw:?}.validate()\nExpected: {expected:?}\nGot:      {got:?}\n\
         (Ok holds the Header's kind, id and body_len.)\nRevisit: {EX5_2}\n"
    );
}

#[test]
fn ex5_2_a_good_header_passes_with_its_fields() {
    check_validate(good_raw(), Ok((GET, 7, 5)));
    // The limit itself is allowed; so is any kind (that is 5.4's business).
    check_validate(
        RawHeader {
            kind: 0x42,
            id: u32::MAX,
            body_len: MAX_BODY,
            ..good_raw()
        },
        Ok((0x42, u32::MAX, MAX_BODY as usize)),
    );
    check_validate(
        RawHeader {
            kind: 0,
            id: 0,
            body_len: 0,
            ..good_raw()
        },
        Ok((0, 0, 0)),
    );
}

#[test]
fn ex5_2_bad_magic_is_refused() {
    for magic in [*b"GE", *b"LN", *b"NX", *b"nl", [b'N', 0], [0, 0]] {
        check_validate(
            RawHeader {
                magic,
                ..good_raw()
            },
            Err(HeaderError::BadMagic(magic)),
        );
    }
}

#[test]
fn ex5_2_an_unsupported_version_is_refused() {
    for version in [0, 2, 255] {
        check_validate(
            RawHeader {
                version,
                ..good_raw()
            },
            Err(HeaderError::UnsupportedVersion(version)),
        );
    }
}

#[test]
fn ex5_2_a_body_over_the_limit_is_refused() {
    // 0x04000000 is a length of 4 sent little-endian.
    for body_len in [MAX_BODY + 1, 0x0400_0000, u32::MAX] {
        check_validate(
            RawHeader {
                body_len,
                ..good_raw()
            },
            Err(HeaderError::BodyTooLarge(body_len)),
        );
    }
}

#[test]
fn ex5_2_checks_in_wire_order_magic_first() {
    let everything_wrong = RawHeader {
        magic: *b"GE",
        version: 9,
        kind: 0,
        id: 0,
        body_len: u32::MAX,
    };
    check_validate(everything_wrong, Err(HeaderError::BadMagic(*b"GE")));
    check_validate(
        RawHeader {
            magic: MAGIC,
            ..everything_wrong
        },
        Err(HeaderError::UnsupportedVersion(9)),
    );
}

#[test]
fn ex5_2_validate_accepts_exactly_the_good_headers() {
    check_property(any_raw_header(), EX5_2, |raw| {
        let good = raw.magic == MAGIC && raw.version == VERSION && raw.body_len <= MAX_BODY;
        let got = raw.validate();
        prop_assert_eq!(got.is_ok(), good, "{:?}.validate() gave {:?}", raw, got);
        Ok(())
    });
}

/// Bytes that are sometimes garbage and sometimes a good header with a body
/// that may be cut short, so that every path of the reader gets exercised.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        (
            any::<u8>(),
            any::<u32>(),
            0..32u32,
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(kind, id, len, tail)| {
                let mut m = header_bytes(kind, id, len).to_vec();
                m.extend_from_slice(&tail);
                m
            }),
    ]
}

#[test]
fn ex5_2_reading_arbitrary_bytes_never_panics() {
    // read_message is given; it runs your 5.1 decode and 5.2 validate on
    // whatever arrives. It may refuse the bytes, but never panic.
    support::needs(EX5_1, header_code_works);
    check_property(stream_bytes(), EX5_2, |bytes| {
        match read_message(&mut &bytes[..]) {
            Ok(Some((header, body))) => {
                prop_assert_eq!(&bytes[..3], &[b'N', b'L', 1][..]);
                prop_assert_eq!(body.len(), header.body_len());
                prop_assert_eq!(&body[..], &bytes[HEADER_LEN..HEADER_LEN + body.len()]);
            }
            Ok(None) => prop_assert!(bytes.is_empty()),
            Err(_) => {}
        }
        Ok(())
    });
}

// ---------------------------------------------------------------- exercise 5.3

fn get(key: &[u8]) -> Request {
    Request::Get { key: key.to_vec() }
}

fn set(key: &[u8], value: &[u8]) -> Request {
    Request::Set {
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

fn delete(key: &[u8]) -> Request {
    Request::Delete { key: key.to_vec() }
}

#[test]
fn ex5_3_encodes_bodies_byte_for_byte() {
    let key_256 = vec![b'k'; MAX_KEY];
    let cases: [(Request, Vec<u8>); 5] = [
        (get(b"name"), b"name".to_vec()),
        (delete(b"name"), b"name".to_vec()),
        (set(b"ab", b"xyz"), vec![0, 2, b'a', b'b', b'x', b'y', b'z']),
        (set(b"k", b""), vec![0, 1, b'k']),
        // A key of 256 bytes: its length needs both bytes of the u16.
        (set(&key_256, b"v"), set_body(&key_256, b"v")),
    ];
    for (request, expected) in cases {
        let got = request.encode_body();
        assert!(
            got.as_deref() == Ok(&expected[..]),
            "\n{request:?}.encode_body()\nExpected: Ok({})\nGot:      {}\nRevisit: {EX5_3}\n",
            support::hex(&expected),
            match &got {
                Ok(body) => format!("Ok({})", support::hex(body)),
                Err(e) => format!("Err({e:?})"),
            }
        );
    }
}

#[test]
fn ex5_3_refuses_to_encode_a_key_the_server_would_refuse() {
    let cases = [
        (get(b""), BodyError::EmptyKey),
        (set(b"", b"v"), BodyError::EmptyKey),
        (delete(b""), BodyError::EmptyKey),
        (
            delete(&[b'k'; MAX_KEY + 1]),
            BodyError::KeyTooLong(MAX_KEY + 1),
        ),
        (
            set(&vec![b'k'; 70_000], b"v"),
            BodyError::KeyTooLong(70_000),
        ),
    ];
    for (request, expected) in cases {
        let got = request.encode_body();
        assert!(
            got == Err(expected),
            "\n{}.encode_body()\nExpected: Err({expected:?})\nGot:      {}\nRevisit: {EX5_3}\n",
            describe(&request),
            match &got {
                Ok(body) => format!("Ok({})", support::hex(body)),
                Err(e) => format!("Err({e:?})"),
            }
        );
    }
}

/// A request, short enough for a failure message.
fn describe(request: &Request) -> String {
    let key = |k: &[u8]| {
        if k.len() > 16 {
            format!("<a key of {} bytes>", k.len())
        } else {
            show(k)
        }
    };
    match request {
        Request::Get { key: k } => format!("GET {}", key(k)),
        Request::Set { key: k, value } => format!("SET {} {}", key(k), show(value)),
        Request::Delete { key: k } => format!("DELETE {}", key(k)),
    }
}

/// The message of a panic, from its payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("(a panic without a message)")
}

/// Your `Request::decode(kind, body)`; a panic fails the test with a message
/// that says which body made it panic.
fn decode(kind: u8, body: &[u8]) -> Result<Request, BodyError> {
    support::quiet_panics();
    match std::panic::catch_unwind(|| Request::decode(kind, body)) {
        Ok(result) => result,
        // A todo!(): its own message (above) says it all.
        Err(todo) if panic_message(&*todo).contains("not yet implemented") => {
            std::panic::resume_unwind(todo)
        }
        Err(_) => panic!(
            "\n\nRequest::decode({}, {}) panicked (its message is above). These bytes come \
             from a peer: a length they contain may be a lie, and the answer to a lie is an \
             error, not a panic.\nRevisit: {EX5_3}\n",
            kind_name(kind),
            support::hex(body)
        ),
    }
}

#[test]
fn ex5_3_decodes_bodies() {
    let binary_key = [0u8, 0xFF, b'\n'];
    let long_key = vec![b'q'; MAX_KEY];
    let cases: [(u8, Vec<u8>, Request); 6] = [
        (GET, b"name".to_vec(), get(b"name")),
        (DELETE, b"name".to_vec(), delete(b"name")),
        (
            SET,
            vec![0, 2, b'a', b'b', b'x', b'y', b'z'],
            set(b"ab", b"xyz"),
        ),
        (SET, vec![0, 1, b'k'], set(b"k", b"")),
        (GET, binary_key.to_vec(), get(&binary_key)),
        (SET, set_body(&long_key, b"value"), set(&long_key, b"value")),
    ];
    for (kind, body, expected) in cases {
        let got = decode(kind, &body);
        assert!(
            got.as_ref() == Ok(&expected),
            "\nRequest::decode({}, {})\nExpected: Ok({})\nGot:      {}\nRevisit: {EX5_3}\n",
            kind_name(kind),
            support::hex(&body),
            describe(&expected),
            match &got {
                Ok(request) => format!("Ok({})", describe(request)),
                Err(e) => format!("Err({e:?})"),
            }
        );
    }
}

#[test]
fn ex5_3_refuses_bad_bodies_with_the_right_error() {
    let long_key = vec![b'k'; MAX_KEY + 1];
    let cases: Vec<(u8, Vec<u8>, BodyError)> = vec![
        (0x07, b"key".to_vec(), BodyError::UnknownKind(0x07)),
        // A response kind is not a request.
        (OK, Vec::new(), BodyError::UnknownKind(OK)),
        (VALUE, b"key".to_vec(), BodyError::UnknownKind(VALUE)),
        (GET, Vec::new(), BodyError::EmptyKey),
        (GET, long_key.clone(), BodyError::KeyTooLong(MAX_KEY + 1)),
        (DELETE, long_key.clone(), BodyError::KeyTooLong(MAX_KEY + 1)),
        (SET, Vec::new(), BodyError::BadSetBody { body_len: 0 }),
        (SET, vec![0], BodyError::BadSetBody { body_len: 1 }),
        // The length field says 9 bytes of key, but only 1 follows.
        (SET, vec![0, 9, b'a'], BodyError::BadSetBody { body_len: 3 }),
        (SET, vec![0xFF, 0xFF], BodyError::BadSetBody { body_len: 2 }),
        (SET, vec![0, 0, b'v'], BodyError::EmptyKey),
        (
            SET,
            set_body(&long_key, b"v"),
            BodyError::KeyTooLong(MAX_KEY + 1),
        ),
    ];
    for (kind, body, expected) in cases {
        let got = decode(kind, &body);
        assert!(
            got.as_ref() == Err(&expected),
            "\nRequest::decode({}, {})\nExpected: Err({expected:?})\nGot:      {}\nRevisit: {EX5_3}\n",
            kind_name(kind),
            support::hex(&body),
            match &got {
                Ok(request) => format!("Ok({})", describe(request)),
                Err(e) => format!("Err({e:?})"),
            }
        );
    }
}

fn any_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..=MAX_KEY)
}

fn any_request() -> impl Strategy<Value = Request> {
    prop_oneof![
        any_key().prop_map(|key| Request::Get { key }),
        (any_key(), proptest::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(key, value)| Request::Set { key, value }),
        any_key().prop_map(|key| Request::Delete { key }),
    ]
}

#[test]
fn ex5_3_bodies_round_trip() {
    check_property(any_request(), EX5_3, |request| {
        let body = request.encode_body();
        prop_assert!(
            body.is_ok(),
            "{}.encode_body() gave {:?}",
            describe(&request),
            body
        );
        let body = body.unwrap();
        let back = Request::decode(request.kind(), &body);
        prop_assert_eq!(
            back.as_ref(),
            Ok(&request),
            "decode(encode(r)) must give r back; the body was {}",
            support::hex(&body)
        );
        Ok(())
    });
}

#[test]
fn ex5_3_decoding_arbitrary_bodies_never_panics() {
    let kinds = prop_oneof![Just(GET), Just(SET), Just(DELETE), any::<u8>()];
    let bodies = proptest::collection::vec(any::<u8>(), 0..300);
    check_property((kinds, bodies), EX5_3, |(kind, body)| {
        // Ok or Err, both are fine; a panic (a slice out of range) is not.
        if let Ok(request) = Request::decode(kind, &body) {
            prop_assert_eq!(request.kind(), kind);
        }
        Ok(())
    });
}

// ------------------------------------------- exercise 5.4, in memory

/// What the client side of a connection in memory sends: bytes, or a failed
/// read.
enum Chunk {
    /// Bytes the client sends once it has the answers to the first `after`
    /// requests: a client that waits for its answers before it goes on.
    Send { after: usize, bytes: Vec<u8> },
    /// A read that fails this way.
    Fail(io::ErrorKind),
}

/// Everything the handler wrote, as the client sees it.
#[derive(Default)]
struct Written {
    bytes: Vec<u8>,
    /// How many bytes each (non-empty) write or write_all call offered.
    calls: Vec<usize>,
    /// If set, every write fails this way.
    fail: Option<io::ErrorKind>,
    /// How many writes were tried (and failed) with `fail` set.
    failed: usize,
}

/// The client side of a connection in memory: `reader` and `writer` go to
/// `handle_connection`, `written` keeps what it wrote.
struct MemoryClient {
    reader: MemoryReader,
    writer: MemoryWriter,
    written: Arc<Mutex<Written>>,
}

struct MemoryReader {
    chunks: VecDeque<Chunk>,
    written: Arc<Mutex<Written>>,
}

/// What a read that came too early returns: the client would wait for ever.
const STILL_WAITING: &str = "the test's client is still waiting for its answers";

impl Read for MemoryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.chunks.pop_front() {
            None => Ok(0),
            Some(Chunk::Fail(kind)) => Err(kind.into()),
            Some(Chunk::Send { after, mut bytes }) => {
                let answered = parse_replies(&self.written.lock().unwrap().bytes).0.len();
                if answered < after {
                    // A real client would not send anything more, and the
                    // handler's read would wait for ever.
                    self.chunks.push_front(Chunk::Send { after, bytes });
                    return Err(io::Error::other(STILL_WAITING));
                }
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    self.chunks.push_front(Chunk::Send {
                        after,
                        bytes: bytes.split_off(n),
                    });
                }
                Ok(n)
            }
        }
    }
}

/// The handler's writer in memory. Like a socket whose buffer is nearly full,
/// it may take only part of what one `write` offers (it says how much);
/// `write_all` takes everything.
struct MemoryWriter(Arc<Mutex<Written>>);

/// The most a single `write` takes.
const PARTIAL_WRITE: usize = 5;

impl MemoryWriter {
    fn take(&mut self, bytes: &[u8], all: bool) -> io::Result<usize> {
        let mut written = self.0.lock().unwrap();
        if bytes.is_empty() {
            return Ok(0);
        }
        if let Some(kind) = written.fail {
            written.failed += 1;
            return Err(io::Error::new(
                kind,
                "the peer did not take the reply in time (the test's writer fails)",
            ));
        }
        let n = if all {
            bytes.len()
        } else {
            bytes.len().min(PARTIAL_WRITE)
        };
        written.bytes.extend_from_slice(&bytes[..n]);
        written.calls.push(bytes.len());
        Ok(n)
    }
}

impl Write for MemoryWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.take(bytes, false)
    }
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.take(bytes, true).map(|_| ())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MemoryClient {
    fn new(chunks: Vec<Chunk>) -> MemoryClient {
        let written = Arc::new(Mutex::new(Written::default()));
        MemoryClient {
            reader: MemoryReader {
                chunks: chunks.into(),
                written: Arc::clone(&written),
            },
            writer: MemoryWriter(Arc::clone(&written)),
            written,
        }
    }

    /// Makes every write fail with `kind`, as a client that does not read
    /// makes a write fail at its deadline.
    fn writes_fail(self, kind: io::ErrorKind) -> MemoryClient {
        self.written.lock().unwrap().fail = Some(kind);
        self
    }

    /// Runs your handler on this client, with `store`, within the deadline:
    /// what it returned, and what it wrote.
    fn run(self, store: Store, what: &str) -> (Result<u64, FrameError>, Arc<Mutex<Written>>) {
        earlier_exercises_work();
        let MemoryClient {
            reader,
            writer,
            written,
        } = self;
        let result = within(
            &format!("handle_connection with a client in memory that {what} — revisit {EX5_4}"),
            move || {
                let mut store = store;
                handle_connection(reader, writer, &mut store)
            },
        );
        (result, written)
    }
}

/// A request, to be sent right away.
fn now(bytes: Vec<u8>) -> Chunk {
    Chunk::Send { after: 0, bytes }
}

#[test]
fn ex5_4_answers_each_request_before_reading_the_next() {
    // A client that sends a request and waits for its answer before it sends
    // the next one: the handler must write each answer before it reads again.
    let client = MemoryClient::new(vec![
        now(msg(SET, 1, &set_body(b"k", b"v"))),
        Chunk::Send {
            after: 1,
            bytes: msg(GET, 2, b"k"),
        },
        Chunk::Send {
            after: 2,
            bytes: msg(DELETE, 3, b"k"),
        },
    ]);
    let (result, written) = client.run(Store::new(), "waits for each answer");
    let (replies, got) = answers(&written.lock().unwrap());
    let expected = [reply(OK, 1, b""), reply(VALUE, 2, b"v"), reply(OK, 3, b"")];
    let waited = matches!(&result, Err(FrameError::Io(e)) if e.to_string() == STILL_WAITING);
    assert!(
        matches!(result, Ok(3)) && replies == expected,
        "\nA client sent SET k v (id 1), waited for its answer, then GET k (id 2), waited, \
         then DELETE k (id 3), waited, and closed.\n\
         Expected: the three answers, and Ok(3){}\nGot:      {}\nReturned: {}\n{}Revisit: {EX5_4}\n",
        list(&expected),
        got,
        returned(&result),
        if waited {
            "Your handler read again while the client was still waiting for an answer: a \
             real client would wait for ever, and so would the server. Write the answers \
             before a read that may block.\n"
        } else {
            ""
        }
    );
}

#[test]
fn ex5_4_answers_requests_that_arrive_together() {
    // Three requests in one read, then a fourth once they are answered.
    let mut three = msg(SET, 10, &set_body(b"a", b"1"));
    three.extend(msg(GET, 20, b"a"));
    three.extend(msg(GET, 30, b"b"));
    let client = MemoryClient::new(vec![
        now(three),
        Chunk::Send {
            after: 3,
            bytes: msg(DELETE, 40, b"a"),
        },
    ]);
    let (result, written) = client.run(Store::new(), "pipelines three requests");
    let (replies, got) = answers(&written.lock().unwrap());
    let expected = [
        reply(OK, 10, b""),
        reply(VALUE, 20, b"1"),
        reply(NOT_FOUND, 30, b""),
        reply(OK, 40, b""),
    ];
    assert!(
        matches!(result, Ok(4)) && replies == expected && got == list(&replies),
        "\nA client sent SET a 1 (id 10), GET a (id 20) and GET b (id 30) together, then, \
         once it had their answers, DELETE a (id 40), and closed.\n\
         Expected: four answers in order, each with its request's id, and Ok(4){}\n\
         Got:      {got}\nReturned: {}\nRevisit: {EX5_4}\n",
        list(&expected),
        returned(&result),
    );
    // Answers to requests that arrived together leave together: one write for
    // the first three, one for the fourth — not a write (and on a socket, a
    // packet, perhaps held back by Nagle's algorithm) for each.
    let writes: Vec<usize> = written
        .lock()
        .unwrap()
        .calls
        .iter()
        .copied()
        .filter(|&n| n > 0)
        .collect();
    assert!(
        writes.len() == 2,
        "\nThe answers were right, but they were written in {} write(s) of {writes:?} bytes.\n\
         Expected: 2 writes — the three answers to the requests that arrived together in \
         one, the fourth in another. Collect answers, and write them when no more requests \
         are buffered (reader.buffer() is empty): §5.4, \"Pipelining\".\nRevisit: {EX5_4}\n",
        writes.len()
    );
}

#[test]
fn ex5_4_holds_back_at_most_max_pending_bytes_of_answers() {
    // Ten GETs of a value of 60,000 bytes, sent together: 600 KB of answers.
    let mut store = Store::new();
    store.apply(set(b"big", &vec![b'x'; 60_000]));
    let gets: Vec<u8> = (1..=10).flat_map(|id| msg(GET, id, b"big")).collect();
    let client = MemoryClient::new(vec![now(gets)]);
    let (result, written) = client.run(store, "pipelines ten GETs of a large value");
    let written = written.lock().unwrap();
    let (replies, _) = parse_replies(&written.bytes);
    let largest = written.calls.iter().copied().max().unwrap_or(0);
    let bound = MAX_PENDING + HEADER_LEN + MAX_BODY as usize;
    assert!(
        matches!(result, Ok(10)) && replies.len() == 10,
        "\nA client sent ten GETs of a 60,000-byte value together.\nExpected: ten answers and \
         Ok(10)\nGot:      {} answers\nReturned: {}\nRevisit: {EX5_4}\n",
        replies.len(),
        returned(&result)
    );
    assert!(
        largest <= bound,
        "\nA client sent ten GETs of a 60,000-byte value together: 600 KB of answers.\n\
         Your handler wrote them in {} writes, the largest {largest} bytes. Expected: once \
         the unsent answers reach MAX_PENDING ({MAX_PENDING}) bytes, write them — a client \
         that pipelines requests without reading must not make the server hold its answers \
         without end. (No write should exceed {bound} bytes.)\nRevisit: {EX5_4}\n",
        written.calls.len()
    );
}

#[test]
fn ex5_4_answers_a_bad_request_and_counts_it() {
    let mut requests = msg(GET, 1, b"nobody");
    requests.extend(msg(0x07, 2, b"xyz"));
    requests.extend(msg(SET, 3, &[0, 9, b'a']));
    requests.extend(msg(SET, 4, &set_body(b"k", b"v")));
    requests.extend(msg(GET, 5, b""));
    requests.extend(msg(GET, 6, b"k"));
    let client = MemoryClient::new(vec![now(requests)]);
    let (result, written) = client.run(Store::new(), "sends good and bad requests");
    let (replies, got) = answers(&written.lock().unwrap());
    let words = [
        (NOT_FOUND, ""),
        (ERROR, "unknown"),
        (ERROR, "SET"),
        (OK, ""),
        (ERROR, "empty"),
        (VALUE, "v"),
    ];
    let fine = replies.len() == words.len()
        && replies
            .iter()
            .zip(1..)
            .zip(words)
            .all(|((r, id), (kind, text))| {
                r.id == id && r.kind == kind && String::from_utf8_lossy(&r.body).contains(text)
            });
    assert!(
        fine && matches!(result, Ok(6)),
        "\nA client sent, together: GET nobody (id 1), a message of unknown kind 0x07 (id 2), \
         a SET whose key length runs past its body (id 3), SET k v (id 4), GET with an empty \
         key (id 5), GET k (id 6), and closed.\n\
         Expected: NOT_FOUND, ERROR \"unknown message kind 0x07\", ERROR (about the SET \
         body), OK, ERROR (the key is empty), VALUE \"v\", with ids 1 to 6; and Ok(6), for \
         six requests answered\nGot:      {got}\nReturned: {}\n\
         A refused body is an application error: answer it with Response::Error, and go on.\n\
         Revisit: {EX5_4}\n",
        returned(&result)
    );
}

/// A peer that breaks the framing, and how the handler should explain it.
struct Hostile {
    what: &'static str,
    chunks: fn() -> Vec<Chunk>,
    reason: fn(&FrameError) -> bool,
}

fn hostile_peers() -> Vec<Hostile> {
    vec![
        Hostile {
            what: "a web browser's \"GET / HTTP/1.1\" (bad magic)",
            chunks: || vec![now(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec())],
            reason: |e| matches!(e, FrameError::Header(HeaderError::BadMagic(m)) if m == b"GE"),
        },
        Hostile {
            what: "a header with version 2",
            chunks: || {
                let mut version_2 = msg(GET, 3, b"key");
                version_2[2] = 2;
                vec![now(version_2)]
            },
            reason: |e| matches!(e, FrameError::Header(HeaderError::UnsupportedVersion(2))),
        },
        Hostile {
            what: "a header announcing a body of 4294967295 bytes (and no body)",
            chunks: || vec![now(header_bytes(SET, 4, u32::MAX).to_vec())],
            reason: |e| matches!(e, FrameError::Header(HeaderError::BodyTooLarge(u32::MAX))),
        },
        Hostile {
            what: "6 of a body's 10 bytes, then end of stream",
            chunks: || {
                let mut truncated = msg(SET, 5, &set_body(b"key", b"value"));
                truncated.truncate(HEADER_LEN + 6);
                vec![now(truncated)]
            },
            reason: |e| {
                matches!(
                    e,
                    FrameError::Truncated {
                        part: "body",
                        expected: 10,
                        received: 6
                    }
                )
            },
        },
        Hostile {
            what: "5 bytes of a header, then end of stream",
            chunks: || vec![now(b"NL\x01\x01\x00".to_vec())],
            reason: |e| {
                matches!(
                    e,
                    FrameError::Truncated {
                        part: "header",
                        expected: 12,
                        received: 5
                    }
                )
            },
        },
        Hostile {
            what: "half a header, then a reset",
            chunks: || {
                vec![
                    now(b"NL\x01\x01\x00\x00".to_vec()),
                    Chunk::Fail(io::ErrorKind::ConnectionReset),
                ]
            },
            reason: |e| matches!(e, FrameError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
        },
        Hostile {
            what: "nothing, until the read timed out",
            chunks: || vec![Chunk::Fail(io::ErrorKind::WouldBlock)],
            reason: |e| matches!(e, FrameError::Idle),
        },
    ]
}

#[test]
fn ex5_4_returns_the_reason_it_closed() {
    for hostile in hostile_peers() {
        let client = MemoryClient::new((hostile.chunks)());
        let (result, written) = client.run(Store::new(), &format!("sends {}", hostile.what));
        let written = written.lock().unwrap().bytes.clone();
        let ok = matches!(&result, Err(e) if (hostile.reason)(e));
        assert!(
            ok && written.is_empty(),
            "\nA client sent {}.\nExpected: no answer, and handle_connection returning \
             Err(the FrameError from read_message), which the server logs as the reason it \
             closed\nGot:      {} written\nReturned: {}\nRevisit: {EX5_4}\n",
            hostile.what,
            support::hex(&written),
            returned(&result)
        );
    }
    // A clean close between messages is no error: Ok(number of requests).
    let mut two = msg(GET, 1, b"a");
    two.extend(msg(DELETE, 2, b"a"));
    let client = MemoryClient::new(vec![now(two)]);
    let (result, _) = client.run(Store::new(), "sends two requests and closes");
    assert!(
        matches!(result, Ok(2)),
        "\nA client sent two requests and closed the connection.\nExpected: Ok(2)\n\
         Got:      {}\nRevisit: {EX5_4}\n",
        returned(&result)
    );
}

#[test]
fn ex5_4_answers_the_requests_before_a_framing_error() {
    let mut bytes = msg(SET, 1, &set_body(b"k", b"v"));
    bytes.extend(msg(GET, 2, b"k"));
    bytes.extend_from_slice(b"garbage after two good requests");
    let client = MemoryClient::new(vec![now(bytes)]);
    let (result, written) = client.run(Store::new(), "sends two requests, then garbage");
    let (replies, got) = answers(&written.lock().unwrap());
    let expected = [reply(OK, 1, b""), reply(VALUE, 2, b"v")];
    assert!(
        replies == expected && matches!(result, Err(FrameError::Header(_))),
        "\nA client sent SET k v (id 1), GET k (id 2) and then garbage, together.\n\
         Expected: the answers to the two requests, and then Err(the bad magic of the \
         garbage){}\nGot:      {got}\nReturned: {}\nRevisit: {EX5_4}\n",
        list(&expected),
        returned(&result),
    );
}

#[test]
fn ex5_4_a_failed_write_ends_the_connection_at_once() {
    // A client that does not read: the server's write fails at its deadline.
    let client = MemoryClient::new(vec![
        now(msg(SET, 1, &set_body(b"k", b"v"))),
        Chunk::Send {
            after: 1,
            bytes: msg(GET, 2, b"k"),
        },
    ])
    .writes_fail(io::ErrorKind::TimedOut);
    let (result, written) = client.run(Store::new(), "never takes its answers");
    let tries = written.lock().unwrap().failed;
    let timed_out =
        matches!(&result, Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::TimedOut);
    assert!(
        timed_out && tries == 1,
        "\nA client sent a request, and writing its answer failed with TimedOut (the client \
         did not take it within the deadline).\nExpected: handle_connection returning that \
         error at once, after that one write\nGot:      {}, after {tries} writes\n\
         A failed write ends the connection; each further write to a client that does not \
         read could wait for the whole timeout again.\nRevisit: {EX5_4}\n",
        returned(&result)
    );
}

// ------------------------------------------- exercise 5.4, the whole server

#[test]
fn ex5_4_set_get_delete_over_the_wire() {
    let server = server(&[]);
    let mut conn = server.connect();
    let body = set_body(b"lang", b"Rust");
    exchange(
        &server,
        &mut conn,
        "SET lang Rust, id 1",
        &msg(SET, 1, &body),
        reply(OK, 1, b""),
    );
    exchange(
        &server,
        &mut conn,
        "GET lang, id 2",
        &msg(GET, 2, b"lang"),
        reply(VALUE, 2, b"Rust"),
    );
    exchange(
        &server,
        &mut conn,
        "DELETE lang, id 3",
        &msg(DELETE, 3, b"lang"),
        reply(OK, 3, b""),
    );
    exchange(
        &server,
        &mut conn,
        "GET lang, id 0xdeadbeef",
        &msg(GET, 0xDEAD_BEEF, b"lang"),
        reply(NOT_FOUND, 0xDEAD_BEEF, b""),
    );
}

#[test]
fn ex5_4_answers_100_pipelined_requests_in_order_with_their_ids() {
    let server = server(&[]);
    let mut conn = server.connect();
    // Ids need not be in order or consecutive: the client chooses them.
    let id = |i: u32| i.wrapping_mul(2_654_435_761);
    let mut batch = Vec::new();
    let mut expected = Vec::new();
    for i in 0..100u32 {
        let key = format!("key{}", i / 2);
        if i % 2 == 0 {
            let value = format!("value{i}");
            batch.extend(msg(SET, id(i), &set_body(key.as_bytes(), value.as_bytes())));
            expected.push((format!("SET {key} {value}"), reply(OK, id(i), b"")));
        } else {
            let value = format!("value{}", i - 1);
            batch.extend(msg(GET, id(i), key.as_bytes()));
            expected.push((format!("GET {key}"), reply(VALUE, id(i), value.as_bytes())));
        }
    }
    // All 100 requests in one write, before reading a single reply.
    conn.send(&batch);
    for (n, (what, expected)) in expected.into_iter().enumerate() {
        let sent = format!("100 pipelined requests in one write; reply #{n} answers {what}");
        let got = read_reply(&server, &mut conn, &sent);
        if got != expected {
            server.fail(&format!(
                "Sent:     {sent}\nExpected: {expected}\nGot:      {got}\n\
                 Replies must come in the order of the requests, each with its request's id."
            ));
        }
    }
}

#[test]
fn ex5_4_application_errors_are_answered_and_the_connection_goes_on() {
    let server = server(&[]);
    let mut conn = server.connect();
    let cases: [(&str, Vec<u8>, u8, u32, &str); 5] = [
        (
            "an unknown kind 0x07",
            msg(0x07, 11, b"xyz"),
            ERROR,
            11,
            "unknown",
        ),
        (
            "GET with an empty key",
            msg(GET, 12, b""),
            ERROR,
            12,
            "empty",
        ),
        (
            "SET whose key length runs past its body",
            msg(SET, 13, &[0, 9, b'a']),
            ERROR,
            13,
            "SET",
        ),
        (
            "GET of a missing key",
            msg(GET, 14, b"nobody"),
            NOT_FOUND,
            14,
            "",
        ),
        (
            "DELETE of a missing key",
            msg(DELETE, 15, b"nobody"),
            NOT_FOUND,
            15,
            "",
        ),
    ];
    for (what, request, kind, id, words) in cases {
        conn.send(&request);
        let sent = format!("{what} = {}", support::hex(&request));
        let got = read_reply(&server, &mut conn, &sent);
        let text = String::from_utf8_lossy(&got.body);
        if got.kind != kind || got.id != id || !text.contains(words) {
            server.fail(&format!(
                "Sent:     {sent}\nExpected: id {id} {} (a message that mentions {words:?})\n\
                 Got:      {got}",
                kind_name(kind)
            ));
        }
    }
    // And the same connection still works.
    let body = set_body(b"still", b"here");
    exchange(
        &server,
        &mut conn,
        "SET still here",
        &msg(SET, 16, &body),
        reply(OK, 16, b""),
    );
    exchange(
        &server,
        &mut conn,
        "GET still",
        &msg(GET, 17, b"still"),
        reply(VALUE, 17, b"here"),
    );
}

#[test]
fn ex5_4_a_value_as_large_as_the_limit_allows_round_trips() {
    let server = server(&[]);
    let mut conn = server.connect();
    // The largest SET: 2 bytes of key length, the key, and the rest of MAX_BODY.
    let value = support::binary_bytes(MAX_BODY as usize - 2 - 3);
    exchange(
        &server,
        &mut conn,
        "SET big <65,531 bytes>, a body of exactly MAX_BODY",
        &msg(SET, 1, &set_body(b"big", &value)),
        reply(OK, 1, b""),
    );
    exchange(
        &server,
        &mut conn,
        "GET big",
        &msg(GET, 2, b"big"),
        reply(VALUE, 2, &value),
    );
}

/// Waits for the server's log to say `text`; fails with `what` if it does not.
fn expect_log(server: &Server, text: &str, what: &str) {
    if !server.wait_for_stderr(text) {
        server.fail(&format!(
            "{what}\nExpected the server's log to say {text:?} within {DEADLINE:?}."
        ));
    }
}

#[test]
fn ex5_4_framing_errors_close_the_connection_and_the_next_client_is_served() {
    let server = server(&[]);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        (
            "a web browser's \"GET / HTTP/1.1\"",
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            "bad magic 47 45",
        ),
        (
            "a header announcing a body of 4294967295 bytes",
            header_bytes(SET, 4, u32::MAX).to_vec(),
            "body of 4294967295 bytes is too large",
        ),
        (
            "64 bytes that are not text",
            support::binary_bytes(64),
            "bad magic 00 01",
        ),
        (
            "\"hello\\n\" and a half-close (as `echo hello | nc -N` does)",
            b"hello\n".to_vec(),
            "truncated header",
        ),
    ];
    for (what, bytes, reason) in cases {
        let mut conn = server.connect();
        conn.send(&bytes);
        if bytes == b"hello\n" {
            conn.finish_sending();
        }
        let got = conn.expect_close(&format!(
            "it sent {what}: a framing error, so nothing after it can be trusted"
        ));
        if !got.is_empty() {
            server.fail(&format!(
                "Sent:     {what} = {}\nExpected: no reply, the connection closed\nGot:      {}",
                support::hex(&bytes),
                support::hex(&got)
            ));
        }
        expect_log(
            &server,
            reason,
            &format!("A client sent {what}, and the server closed the connection."),
        );
        // The server itself goes on: the next client gets an answer.
        let mut next = server.connect();
        exchange(
            &server,
            &mut next,
            &format!("GET nobody, from the client after {what}"),
            &msg(GET, 9, b"nobody"),
            reply(NOT_FOUND, 9, b""),
        );
    }
}

#[test]
fn ex5_4_requests_before_a_framing_error_are_still_answered() {
    let server = server(&[]);
    let mut conn = server.connect();
    let mut bytes = msg(SET, 1, &set_body(b"k", b"v"));
    bytes.extend(msg(GET, 2, b"k"));
    bytes.extend_from_slice(b"garbage after two good requests");
    conn.send(&bytes);
    let sent = "SET k v (id 1), GET k (id 2), then garbage, in one write";
    for expected in [reply(OK, 1, b""), reply(VALUE, 2, b"v")] {
        let got = read_reply(&server, &mut conn, sent);
        if got != expected {
            server.fail(&format!(
                "Sent:     {sent}\nExpected: {expected}\nGot:      {got}"
            ));
        }
    }
    conn.expect_close("the garbage after the two requests is a framing error");
}

#[test]
fn ex5_4_a_slow_client_is_served() {
    let server = server(&[]);
    let mut conn = server.connect();
    let request = msg(SET, 77, &set_body(b"slow", b"ly"));
    for byte in &request {
        conn.send(&[*byte]);
        // Pacing a slow client, not synchronisation: each byte comes alone.
        thread::sleep(Duration::from_millis(2));
    }
    let got = read_reply(
        &server,
        &mut conn,
        "SET slow ly (id 77), one byte at a time",
    );
    if got != reply(OK, 77, b"") {
        server.fail(&format!(
            "Sent:     SET slow ly (id 77), one byte at a time\nExpected: id 77 OK\nGot:      {got}"
        ));
    }
}

#[test]
fn ex5_4_a_reset_mid_message_costs_only_that_connection() {
    let server = server(&[]);
    let mut rude = server.connect();
    let client = rude.stream.local_addr().unwrap().to_string();
    rude.send(&msg(SET, 1, &set_body(b"key", b"value"))[..HEADER_LEN + 4]);
    // SO_LINGER 0: close() sends a reset (RST) instead of the polite FIN.
    SockRef::from(&rude.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);
    let mut polite = server.connect();
    exchange(
        &server,
        &mut polite,
        "GET key, after a client reset its connection in the middle of a SET",
        &msg(GET, 2, b"key"),
        reply(NOT_FOUND, 2, b""),
    );
    expect_log(
        &server,
        &format!("{client}: closing the connection"),
        "A client reset its connection in the middle of a message.",
    );
}

#[test]
fn ex5_4_an_idle_client_is_closed_and_the_next_is_served() {
    let server = server(&["--idle-ms", "500"]);
    let mut idle = server.connect();
    // The next client sends its request at once, and waits in the backlog
    // (one client at a time) until the server is done with the silent one.
    let mut next = server.connect();
    let request = msg(GET, 2, b"nobody");
    next.send(&request);
    idle.expect_close("it sent nothing for 500 ms, and the server runs with --idle-ms 500");
    expect_log(
        &server,
        "sent nothing for too long",
        "A client sent nothing for 500 ms (the server runs with --idle-ms 500).",
    );
    let sent = format!(
        "GET nobody (id 2) = {}, from the client after the silent one",
        support::hex(&request)
    );
    let got = read_reply(&server, &mut next, &sent);
    if got != reply(NOT_FOUND, 2, b"") {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: id 2 NOT_FOUND\nGot:      {got}"
        ));
    }
}

/// A connection whose receive buffer is small, so that a client that does
/// not read stops the server's writes sooner.
fn connect_with_small_receive_buffer(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect_timeout(&addr.into(), DEADLINE).unwrap();
    let stream = TcpStream::from(socket);
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

#[test]
fn ex5_4_a_client_that_never_reads_is_closed_and_the_next_is_served() {
    let server = server(&["--idle-ms", "500"]);
    // While the server serves this first client, the next ones wait in the
    // backlog with their requests already sent: no timing to get right.
    let mut first = server.connect();
    // The client that never reads: a SET of a 60,000-byte value, then 1,000
    // GETs of it — 60 MB of answers, far more than the sockets' buffers hold.
    let mut deaf = connect_with_small_receive_buffer(server.addr());
    let mut requests = msg(SET, 1, &set_body(b"big", &vec![b'x'; 60_000]));
    requests.extend((2..=1001).flat_map(|id| msg(GET, id, b"big")));
    deaf.write_all(&requests).unwrap();
    let mut next = server.connect();
    let request = msg(GET, 2, b"nobody");
    next.send(&request);
    first.finish_sending();
    expect_log(
        &server,
        "did not take the reply",
        "A client sent a SET of a 60,000-byte value and 1,000 GETs of it, and read none of \
         the answers; the server runs with --idle-ms 500, so a batch of answers that is not \
         taken within 500 ms ends the connection (and the handler returns the write's error).",
    );
    let sent = format!(
        "GET nobody (id 2) = {}, from the client after the one that never read",
        support::hex(&request)
    );
    let got = read_reply(&server, &mut next, &sent);
    if got != reply(NOT_FOUND, 2, b"") {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: id 2 NOT_FOUND\nGot:      {got}"
        ));
    }
    // All along, the server held back at most MAX_PENDING bytes of answers,
    // not the 60 MB the client asked for (Linux only: /proc says).
    if let Some(peak) = server.peak_memory()
        && peak > 24 << 20
    {
        server.fail(&format!(
            "A client sent 1,000 GETs of a 60,000-byte value and read none of the \
                 answers. Meanwhile the server's memory peaked at {} MiB: it should hold back \
                 at most MAX_PENDING ({MAX_PENDING}) bytes of answers before it writes them.",
            peak >> 20
        ));
    }
    drop(deaf);
}

#[test]
fn ex5_4_twenty_clients_that_connect_at_once_are_served_in_turn() {
    let server = server(&[]);
    let mut clients: Vec<_> = (0..20).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        let key = format!("client{i}");
        let mut requests = msg(SET, i as u32, &set_body(key.as_bytes(), b"was here"));
        requests.extend(msg(GET, 100 + i as u32, key.as_bytes()));
        client.send(&requests);
        client.finish_sending();
    }
    // One client at a time: each waits in the backlog until the ones before
    // it have closed.
    for (i, client) in clients.iter_mut().enumerate() {
        let sent = format!("SET client{i} was here, GET client{i}, from client {i} of 20");
        for expected in [
            reply(OK, i as u32, b""),
            reply(VALUE, 100 + i as u32, b"was here"),
        ] {
            let got = read_reply(&server, client, &sent);
            if got != expected {
                server.fail(&format!(
                    "Sent:     {sent}\nExpected: {expected}\nGot:      {got}"
                ));
            }
        }
        client.expect_close("the client half-closed after its requests");
    }
}

#[test]
fn ex5_4_survives_a_thousand_clients_that_come_and_go() {
    let server = server(&[]);
    let connected = support::churn(server.addr(), 1000, || {
        let mut conn = server.connect();
        exchange(
            &server,
            &mut conn,
            "GET nobody, between clients that leave at once",
            &msg(GET, 1, b"nobody"),
            reply(NOT_FOUND, 1, b""),
        );
    });
    let mut conn = server.connect();
    exchange(
        &server,
        &mut conn,
        &format!("GET nobody, after {connected} clients that left at once, half with a reset"),
        &msg(GET, 2, b"nobody"),
        reply(NOT_FOUND, 2, b""),
    );
}

#[test]
fn ex5_4_serves_over_ipv6() {
    if !support::ipv6_loopback("ex5_4_serves_over_ipv6") {
        return;
    }
    earlier_exercises_work();
    let server = Server::start(BIN, &["server", "[::1]:0"], EX5_4);
    let mut conn = server.connect();
    exchange(
        &server,
        &mut conn,
        "SET v6 yes, over IPv6",
        &msg(SET, 6, &set_body(b"v6", b"yes")),
        reply(OK, 6, b""),
    );
    // The client mode too: `lesson05 client [::1]:PORT get v6` (once this
    // connection has left: the server serves one client at a time).
    drop(conn);
    client_says(&server, &["get", "v6"], Ok("yes\n"));
}

#[test]
fn ex5_4_a_python_client_built_with_struct_pack_works() {
    let Some(python) = support::python3("ex5_4_a_python_client_built_with_struct_pack_works")
    else {
        return;
    };
    let server = server(&[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/kv_client.py");
    let addr = server.addr().to_string();
    let finished = support::run(python, &[script, &addr], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let expected = "1 OK b''\n2 VALUE b'Rust'\n3 OK b''\n4 NOT_FOUND b''\n";
    if !finished.status.is_some_and(|s| s.success()) || stdout != expected {
        server.fail(&format!(
            "`python3 lessons/lesson05/kv_client.py {addr}` (the script in the book) should print\n\
             {expected}\nIt printed\n{stdout}\nwith status {:?} and stderr\n{}",
            finished.status, finished.stderr
        ));
    }
}

/// Runs `lesson05 client ADDR args...` against `server` and checks that it
/// succeeds and prints `Ok(stdout)`, or fails saying `Err(words)`.
fn client_says(server: &Server, args: &[&str], expected: Result<&str, &str>) {
    let addr = server.addr().to_string();
    let mut all = vec!["client", addr.as_str()];
    all.extend_from_slice(args);
    let finished = support::run(BIN, &all, Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let ok = match expected {
        Ok(printed) => finished.status.is_some_and(|s| s.success()) && stdout == printed,
        Err(words) => {
            finished.status.is_some_and(|s| !s.success()) && finished.stderr.contains(words)
        }
    };
    if !ok {
        let wanted = match expected {
            Ok(printed) => format!("succeed and print {printed:?}"),
            Err(words) => format!("fail and say {words:?} on stderr"),
        };
        server.fail(&format!(
            "`lesson05 {}` should {wanted}.\n{}; it printed {:?}, and on stderr:\n{}",
            all.join(" "),
            finished.how_it_ended(),
            stdout,
            finished.stderr
        ));
    }
}

#[test]
fn ex5_4_client_mode_sets_gets_and_deletes() {
    let server = server(&[]);
    client_says(&server, &["set", "greeting", "hello world"], Ok("OK\n"));
    client_says(&server, &["get", "greeting"], Ok("hello world\n"));
    client_says(&server, &["delete", "greeting"], Ok("OK\n"));
    client_says(&server, &["get", "greeting"], Err("not found"));
    client_says(&server, &["get", ""], Err("key is empty"));
}

#[test]
fn ex5_4_the_narrated_demo_runs_to_the_end() {
    let finished = support::assert_demo_runs(
        BIN,
        &[
            "reply to id 2: VALUE \"hello\"",
            "GET greeting -> NOT_FOUND",
            &format!("cargo run -p lesson05{FEATURES} -- server"),
        ],
    );
    assert!(
        finished.stderr.contains("bad magic"),
        "`cargo run -p lesson05` (the demo) sends a message with a bad magic; the server's \
         log should say \"bad magic\".\nIts stderr:\n{}\nRevisit: {EX5_4}",
        finished.stderr
    );
}

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    support::given::server_prints_the_address_it_really_bound(BIN);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    support::given::server_explains_a_port_that_is_in_use(
        BIN,
        taken.local_addr().unwrap(),
        "in use",
    );
}

#[test]
fn given_server_refuses_an_idle_timeout_of_zero() {
    // A timeout of zero would mean "wait for ever" to the operating system.
    support::assert_fails_saying(
        BIN,
        &["server", "127.0.0.1:0", "--idle-ms", "0"],
        &["--idle-ms"],
    );
}

#[test]
fn given_client_explains_that_nothing_is_listening() {
    support::given::client_explains_that_nothing_is_listening(BIN, &["get", "anything"], "refused");
}

#[cfg(unix)]
#[test]
fn given_out_of_file_descriptors_the_server_neither_stops_nor_spins() {
    // With 4 file descriptors — stdin, stdout, stderr and the listener — the
    // server has none left for a client: every accept fails with "Too many
    // open files", and the client waits in the backlog.
    let hint = Hint("the given `serve` in lessons/lesson05/src/server.rs");
    let server = Server::start_with_file_limit(BIN, &["server", "127.0.0.1:0"], 4, hint);
    let waiting = server.connect();
    let client = waiting.stream.local_addr().unwrap().to_string();
    support::assert_calm_when_out_of_files(&server, "serve");
    // With more files allowed (where `prlimit` can do that), it accepts the client.
    if server.raise_file_limit(64) {
        expect_log(
            &server,
            &format!("{client}: connected"),
            "The server was out of file descriptors with a client waiting; then its limit \
             was raised.",
        );
    }
}

#[test]
fn given_read_message_tells_a_read_timeout_from_other_errors() {
    // An expired read timeout is WouldBlock on Unix and TimedOut on Windows.
    for kind in [io::ErrorKind::WouldBlock, io::ErrorKind::TimedOut] {
        let mut reader = MemoryReader {
            chunks: vec![Chunk::Fail(kind)].into(),
            written: Arc::default(),
        };
        let got = read_message(&mut reader);
        assert!(matches!(got, Err(FrameError::Idle)), "{kind:?}: {got:?}");
    }
    let mut reader = MemoryReader {
        chunks: vec![Chunk::Fail(io::ErrorKind::ConnectionReset)].into(),
        written: Arc::default(),
    };
    let got = read_message(&mut reader);
    assert!(
        matches!(&got, Err(FrameError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset),
        "{got:?}"
    );
}

#[test]
fn given_responses_round_trip_and_refuse_bad_bodies() {
    for response in [
        Response::Ok,
        Response::Value(b"\x00binary\xff".to_vec()),
        Response::Value(Vec::new()),
        Response::NotFound,
        Response::Error("the store is full".into()),
    ] {
        let body = response.encode_body();
        assert_eq!(Response::decode(response.kind(), &body), Ok(response));
    }
    assert_eq!(
        Response::decode(OK, b"x"),
        Err(BodyError::UnexpectedBody { kind: OK })
    );
    assert_eq!(Response::decode(GET, b""), Err(BodyError::UnknownKind(GET)));
}

#[test]
fn given_the_store_has_a_limit() {
    let mut store = Store::new();
    for i in 0..MAX_ENTRIES {
        assert_eq!(
            store.apply(set(format!("{i}").as_bytes(), b"v")),
            Response::Ok
        );
    }
    let full = store.apply(set(b"one too many", b"v"));
    assert!(
        matches!(&full, Response::Error(m) if m.contains("full")),
        "{full:?}"
    );
    // Replacing a value adds no key, so it is still allowed.
    assert_eq!(store.apply(set(b"0", b"new")), Response::Ok);
    assert_eq!(store.apply(get(b"0")), Response::Value(b"new".to_vec()));
    assert_eq!(store.apply(delete(b"0")), Response::Ok);
    assert_eq!(store.apply(delete(b"0")), Response::NotFound);
}

#[test]
fn given_errors_explain_themselves() {
    let cases = [
        (
            FrameError::Header(HeaderError::BadMagic(*b"GE")).to_string(),
            "bad magic 47 45 (\"GE\"): expected 4e 4c",
        ),
        (
            // Bytes that are not printable are shown in hex only.
            FrameError::Header(HeaderError::BadMagic([0xdd, 0x02])).to_string(),
            "bad magic dd 02: expected 4e 4c",
        ),
        (
            FrameError::Header(HeaderError::UnsupportedVersion(2)).to_string(),
            "unsupported version 2",
        ),
        (
            FrameError::Header(HeaderError::BodyTooLarge(70000)).to_string(),
            "body of 70000 bytes is too large",
        ),
        (
            FrameError::Truncated {
                part: "body",
                expected: 10,
                received: 6,
            }
            .to_string(),
            "after 6 of its 10 bytes",
        ),
        (FrameError::Idle.to_string(), "sent nothing for too long"),
        (
            BodyError::UnknownKind(7).to_string(),
            "unknown message kind 0x07",
        ),
    ];
    for (message, words) in cases {
        assert!(
            message.contains(words),
            "{message:?} should contain {words:?}"
        );
    }
}
