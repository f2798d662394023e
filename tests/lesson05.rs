//! Lesson 5 — binary protocols and byte order. Run with `cargo test -p lesson05`.
//!
//! Tests named `ex5_k_...` check exercise 5.k; `given_...` check given code.
//! The server tests build their messages byte by byte with the test's own
//! helpers below, never with your encoder: a mistake that your encoder and
//! your decoder share (little-endian both ways, say) would otherwise cancel
//! out and go unnoticed.

mod support;

use std::io::{self, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Command as StdCommand;
use std::thread;
use std::time::Instant;

use assert_cmd::Command;
use lesson05::frame::{FrameError, read_message};
use lesson05::message::{
    BodyError, DELETE, ERROR, GET, MAX_KEY, NOT_FOUND, OK, Request, Response, SET, VALUE,
};
use lesson05::server::{MAX_ENTRIES, Store, handle_connection};
use lesson05::wire::{HEADER_LEN, HeaderError, MAGIC, MAX_BODY, RawHeader, VERSION};
use predicates::prelude::*;
use proptest::prelude::*;
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
const EX5_4: Hint = Hint(
    "exercise 5.4, `handle_connection` in lessons/lesson05/src/server.rs — book §5.4 \
     (the server runs your 5.1 to 5.3 too: its stderr names any todo!() it reached)",
);

fn server(hint: Hint) -> Server {
    Server::start(BIN, &["server", "127.0.0.1:0"], hint)
}

/// A modest number of cases keeps the suite fast; a short search for a
/// smaller failing input keeps a failure's report (every panic is printed)
/// readable; no regression files are written into the shared tests/ folder.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        max_shrink_iters: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------- the test's own wire format

/// One message, built by hand from the table in wire.rs.
fn msg(kind: u8, id: u32, body: &[u8]) -> Vec<u8> {
    let mut m = vec![b'N', b'L', 1, kind];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&(body.len() as u32).to_be_bytes());
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

/// Bytes of a binary protocol, in hex: `4e 4c 01 ...`.
fn hex(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(48).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 48 {
        format!(" ... ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("[{}{more}]", shown.join(" "))
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
#[derive(Debug, PartialEq)]
struct Reply {
    kind: u8,
    id: u32,
    body: Vec<u8>,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "id {} {} {}",
            self.id,
            kind_name(self.kind),
            show(&self.body)
        )
    }
}

fn reply(kind: u8, id: u32, body: &[u8]) -> Reply {
    Reply {
        kind,
        id,
        body: body.to_vec(),
    }
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
             (Is the server's BufWriter flushed when no more requests are waiting?)"
        };
        server.fail(&format!(
            "Sent:     {sent}\nExpected: a response (a 12-byte header, then its body)\n\
             Got:      {} {then}",
            hex(&head),
        ));
    }
    if head[..3] != [b'N', b'L', 1] {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: a response header starting 4e 4c 01 (\"NL\", version 1)\n\
             Got:      {}",
            hex(&head)
        ));
    }
    let kind = head[3];
    let id = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let len = u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize;
    if len > MAX_BODY as usize {
        server.fail(&format!(
            "Sent:     {sent}\nGot a response header announcing a body of {len} bytes: {}",
            hex(&head)
        ));
    }
    let body = conn.read_up_to(len);
    if body.len() < len {
        server.fail(&format!(
            "Sent:     {sent}\nGot the header {} announcing {len} body bytes, but only {}",
            hex(&head),
            show(&body)
        ));
    }
    Reply { kind, id, body }
}

/// Sends `request` (described as `what`) and checks the reply is `expected`.
fn exchange(server: &Server, conn: &mut Conn<'_>, what: &str, request: &[u8], expected: Reply) {
    conn.send(request);
    let sent = format!("{what} = {}", hex(request));
    let got = read_reply(server, conn, &sent);
    if got != expected {
        server.fail(&format!(
            "Sent:     {sent}\nExpected: {expected}\nGot:      {got}"
        ));
    }
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
        "\nThe id came out backwards: that is little-endian. Use to_be_bytes."
    } else {
        ""
    };
    assert!(
        got == expected,
        "RawHeader {{ magic: *b\"NL\", version: 1, kind: 0x02, id: 0x12345678, \
         body_len: 0x0a0b0c0d }}.encode()\n\
         Expected: {expected:02x?}\nGot:      {got:02x?}{why}\nRevisit: {EX5_1}"
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
        "RawHeader {{ magic: *b\"XY\", version: 9, kind: 0xff, id: 1, body_len: 0xffffffff }}\
         .encode() should write exactly these fields, even odd ones.\n\
         Expected: {expected:02x?}\nGot:      {got:02x?}\nRevisit: {EX5_1}"
    );
}

#[test]
fn ex5_1_decode_reads_each_field_back() {
    let bytes = [
        0x4E, 0x4C, 0x01, 0x03, 0x00, 0x00, 0x00, 0x2A, 0x00, 0x01, 0x00, 0x00,
    ];
    let expected = RawHeader {
        magic: *b"NL",
        version: 1,
        kind: 0x03,
        id: 42,
        body_len: 65536,
    };
    assert_eq!(
        RawHeader::decode(&bytes),
        expected,
        "RawHeader::decode({bytes:02x?})\nRevisit: {EX5_1}"
    );
    // Decoding does not judge either: a bad magic comes out as it went in.
    let odd = *b"hello world!";
    let got = RawHeader::decode(&odd);
    assert_eq!(
        (got.magic, got.version, got.kind),
        (*b"he", b'l', b'l'),
        "RawHeader::decode(b\"hello world!\") should not check anything.\nRevisit: {EX5_1}"
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

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ex5_1_encode_then_decode_round_trips(header in any_raw_header()) {
        let bytes = header.encode();
        prop_assert_eq!(
            RawHeader::decode(&bytes), header,
            "decode(encode(h)) must give h back; encode gave {:02x?}.\nRevisit: {}", bytes, EX5_1
        );
    }

    #[test]
    fn ex5_1_decode_then_encode_gives_the_same_bytes(bytes in any::<[u8; HEADER_LEN]>()) {
        let header = RawHeader::decode(&bytes);
        prop_assert_eq!(
            header.encode(), bytes,
            "encode(decode(b)) must give b back; decode gave {:?}.\nRevisit: {}", header, EX5_1
        );
    }
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
    assert_eq!(
        got, expected,
        "{raw:?}.validate(): expected {expected:?} (kind, id, body_len), got {got:?}.\n\
         Revisit: {EX5_2}"
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
}

#[test]
fn ex5_2_bad_magic_is_refused() {
    for magic in [*b"GE", *b"LN", [0, 0]] {
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
    for body_len in [MAX_BODY + 1, u32::MAX] {
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
                let mut m = msg(kind, id, &[]);
                m[8..12].copy_from_slice(&len.to_be_bytes());
                m.extend_from_slice(&tail);
                m
            }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ex5_2_validate_accepts_exactly_the_good_headers(raw in any_raw_header()) {
        let good = raw.magic == MAGIC && raw.version == VERSION && raw.body_len <= MAX_BODY;
        let got = raw.validate();
        prop_assert_eq!(
            got.is_ok(), good,
            "{:?}.validate() gave {:?}.\nRevisit: {}", raw, got, EX5_2
        );
    }

    #[test]
    fn ex5_2_reading_arbitrary_bytes_never_panics(bytes in stream_bytes()) {
        // read_message is given; it runs your 5.1 decode and 5.2 validate on
        // whatever arrives. It may refuse the bytes, but never panic.
        match read_message(&mut &bytes[..]) {
            Ok(Some((header, body))) => {
                prop_assert_eq!(&bytes[..3], &[b'N', b'L', 1][..]);
                prop_assert_eq!(body.len(), header.body_len());
                prop_assert_eq!(&body[..], &bytes[HEADER_LEN..HEADER_LEN + body.len()]);
            }
            Ok(None) => prop_assert!(bytes.is_empty()),
            Err(_) => {}
        }
    }
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
    let cases: [(Request, &[u8]); 4] = [
        (get(b"name"), b"name"),
        (delete(b"name"), b"name"),
        (set(b"ab", b"xyz"), &[0, 2, b'a', b'b', b'x', b'y', b'z']),
        (set(b"k", b""), &[0, 1, b'k']),
    ];
    for (request, expected) in cases {
        let got = request.encode_body();
        assert_eq!(
            got.as_deref(),
            Ok(expected),
            "{request:?}.encode_body(): expected Ok({}), got {got:?}.\nRevisit: {EX5_3}",
            hex(expected)
        );
    }
}

#[test]
fn ex5_3_refuses_to_encode_a_key_the_server_would_refuse() {
    let cases = [
        (get(b""), BodyError::EmptyKey),
        (set(b"", b"v"), BodyError::EmptyKey),
        (
            delete(&[b'k'; MAX_KEY + 1]),
            BodyError::KeyTooLong(MAX_KEY + 1),
        ),
    ];
    for (request, expected) in cases {
        let got = request.encode_body();
        assert_eq!(
            got,
            Err(expected),
            "{request:?}.encode_body()\nRevisit: {EX5_3}"
        );
    }
}

#[test]
fn ex5_3_decodes_bodies() {
    let binary_key = [0u8, 0xFF, b'\n'];
    let cases: [(u8, &[u8], Request); 5] = [
        (GET, b"name", get(b"name")),
        (DELETE, b"name", delete(b"name")),
        (
            SET,
            &[0, 2, b'a', b'b', b'x', b'y', b'z'],
            set(b"ab", b"xyz"),
        ),
        (SET, &[0, 1, b'k'], set(b"k", b"")),
        (GET, &binary_key, get(&binary_key)),
    ];
    for (kind, body, expected) in cases {
        let got = Request::decode(kind, body);
        assert_eq!(
            got.as_ref(),
            Ok(&expected),
            "Request::decode({}, {}): expected Ok({expected:?}), got {got:?}.\nRevisit: {EX5_3}",
            kind_name(kind),
            hex(body)
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
        (GET, Vec::new(), BodyError::EmptyKey),
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
        let got = Request::decode(kind, &body);
        assert_eq!(
            got.as_ref(),
            Err(&expected),
            "Request::decode({}, {}): expected Err({expected:?}), got {got:?}.\nRevisit: {EX5_3}",
            kind_name(kind),
            hex(&body)
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

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ex5_3_bodies_round_trip(request in any_request()) {
        let body = request.encode_body();
        prop_assert!(body.is_ok(), "{:?}.encode_body() gave {:?}\nRevisit: {}", request, body, EX5_3);
        let body = body.unwrap();
        let back = Request::decode(request.kind(), &body);
        prop_assert_eq!(
            back.as_ref(), Ok(&request),
            "decode(encode(r)) must give r back; the body was {}.\nRevisit: {}", hex(&body), EX5_3
        );
    }

    #[test]
    fn ex5_3_decoding_arbitrary_bodies_never_panics(
        kind in prop_oneof![Just(GET), Just(SET), Just(DELETE), any::<u8>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        // Ok or Err, both are fine; a panic (a slice out of range) is not.
        if let Ok(request) = Request::decode(kind, &body) {
            prop_assert_eq!(request.kind(), kind);
        }
    }
}

// ---------------------------------------------------------------- exercise 5.4

#[test]
fn ex5_4_set_get_delete_over_the_wire() {
    let server = server(EX5_4);
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
    let server = server(EX5_4);
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
    let server = server(EX5_4);
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
        let sent = format!("{what} = {}", hex(&request));
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

/// A peer that breaks the framing, and how the handler should explain it.
struct Hostile {
    what: &'static str,
    bytes: Vec<u8>,
    /// Whether the peer half-closes after sending (else it stays, silent).
    half_close: bool,
    reason: fn(&FrameError) -> bool,
}

fn hostile_peers() -> Vec<Hostile> {
    let mut truncated = msg(SET, 5, &set_body(b"key", b"value"));
    truncated.truncate(HEADER_LEN + 6);
    let mut too_large = msg(SET, 4, b"");
    too_large[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    let mut version_2 = msg(GET, 3, b"key");
    version_2[2] = 2;
    vec![
        Hostile {
            what: "a web browser's \"GET / HTTP/1.1\" (bad magic)",
            bytes: b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
            half_close: false,
            reason: |e| matches!(e, FrameError::Header(HeaderError::BadMagic(m)) if m == b"GE"),
        },
        Hostile {
            what: "a header with version 2",
            bytes: version_2,
            half_close: false,
            reason: |e| matches!(e, FrameError::Header(HeaderError::UnsupportedVersion(2))),
        },
        Hostile {
            what: "a header announcing a body of 4294967295 bytes (and no body)",
            bytes: too_large,
            half_close: false,
            reason: |e| matches!(e, FrameError::Header(HeaderError::BodyTooLarge(u32::MAX))),
        },
        Hostile {
            what: "6 of a body's 10 bytes, then end of stream",
            bytes: truncated,
            half_close: true,
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
            bytes: b"NL\x01\x01\x00".to_vec(),
            half_close: true,
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
    ]
}

#[test]
fn ex5_4_framing_errors_close_the_connection_and_the_next_client_is_served() {
    let server = server(EX5_4);
    for hostile in hostile_peers() {
        let mut conn = server.connect();
        conn.send(&hostile.bytes);
        if hostile.half_close {
            conn.finish_sending();
        }
        let got = conn.expect_close(&format!(
            "it sent {}: a framing error, so nothing after it can be trusted",
            hostile.what
        ));
        if !got.is_empty() {
            server.fail(&format!(
                "Sent:     {} = {}\nExpected: no reply, the connection closed\nGot:      {}",
                hostile.what,
                hex(&hostile.bytes),
                hex(&got)
            ));
        }
        // The server itself goes on: the next client gets an answer.
        let mut next = server.connect();
        exchange(
            &server,
            &mut next,
            &format!("GET nobody, from the client after {}", hostile.what),
            &msg(GET, 9, b"nobody"),
            reply(NOT_FOUND, 9, b""),
        );
    }
}

#[test]
fn ex5_4_requests_before_a_framing_error_are_still_answered() {
    let server = server(EX5_4);
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

/// Runs `handle_connection` in this process on one connection that sends
/// `hostile.bytes`; returns what it returned.
fn run_handler(hostile: &Hostile) -> Result<u64, FrameError> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let bytes = hostile.bytes.clone();
    let half_close = hostile.half_close;
    let what = hostile.what;
    within(
        &format!("handle_connection, with a peer that sends {what}"),
        move || {
            let handler = thread::spawn(move || {
                let (stream, _) = listener.accept().unwrap();
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                handle_connection(&stream, &mut Store::new())
            });
            let mut peer = TcpStream::connect(addr).unwrap();
            peer.write_all(&bytes).unwrap();
            if half_close {
                peer.shutdown(Shutdown::Write).unwrap();
            }
            // Wait for the handler to hang up (a reset counts too).
            let _ = io::copy(&mut peer, &mut io::sink());
            match handler.join() {
                Ok(result) => result,
                Err(_) => panic!(
                    "handle_connection panicked with a peer that sent {what} (see above).\n\
                 Revisit: {EX5_4}"
                ),
            }
        },
    )
}

#[test]
fn ex5_4_handle_connection_returns_the_reason_it_closed() {
    for hostile in hostile_peers() {
        let result = run_handler(&hostile);
        let ok = matches!(&result, Err(e) if (hostile.reason)(e));
        assert!(
            ok,
            "A peer sent {} = {}.\nhandle_connection should return Err(the FrameError from \
             read_message), which the server logs as the reason it closed; it returned {result:?}.\n\
             Revisit: {EX5_4}",
            hostile.what,
            hex(&hostile.bytes)
        );
    }
    // A clean close between messages is no error: Ok(number of requests).
    let mut two = msg(GET, 1, b"a");
    two.extend(msg(DELETE, 2, b"a"));
    let polite = Hostile {
        what: "two requests, then end of stream",
        bytes: two,
        half_close: true,
        reason: |_| false,
    };
    let result = run_handler(&polite);
    assert!(
        matches!(result, Ok(2)),
        "A peer sent two requests and half-closed. handle_connection should return Ok(2); \
         it returned {result:?}.\nRevisit: {EX5_4}"
    );
}

#[test]
fn ex5_4_a_python_client_built_with_struct_pack_works() {
    if StdCommand::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("NOTICE: python3 is not installed; skipping the Python interoperability test");
        return;
    }
    let server = server(EX5_4);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/kv_client.py");
    let addr = server.addr().to_string();
    let finished = support::run("python3", &[script, &addr], Vec::new());
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

#[test]
fn ex5_4_client_mode_sets_gets_and_deletes() {
    let server = server(EX5_4);
    let addr = server.addr().to_string();
    let client = |args: &[&str]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("client").arg(&addr).args(args).timeout(DEADLINE);
        cmd
    };
    client(&["set", "greeting", "hello world"])
        .assert()
        .success()
        .stdout("OK\n");
    client(&["get", "greeting"])
        .assert()
        .success()
        .stdout("hello world\n");
    client(&["delete", "greeting"])
        .assert()
        .success()
        .stdout("OK\n");
    client(&["get", "greeting"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("not found"));
    client(&["get", ""])
        .assert()
        .failure()
        .stderr(predicate::str::contains("key is empty"));
}

#[test]
fn ex5_4_the_demo_runs_to_completion() {
    Command::new(BIN)
        .timeout(DEADLINE)
        .assert()
        .success()
        .stdout(predicate::str::contains("reply to id 2: VALUE \"hello\""))
        .stdout(predicate::str::contains("GET greeting -> NOT_FOUND"))
        .stdout(predicate::str::contains(format!(
            "cargo run -p lesson05{FEATURES} -- server"
        )))
        .stderr(predicate::str::contains("bad magic"));
}

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    let server = server(Hint("the given `main.rs` of lesson 5"));
    support::assert_real_port(&server);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    support::assert_fails_saying(
        BIN,
        &["server", &addr],
        &[&format!("could not bind {addr}"), "in use"],
    );
}

#[test]
fn given_client_explains_that_nothing_is_listening() {
    let addr = support::closed_tcp_addr();
    support::assert_fails_saying(
        BIN,
        &["client", &addr, "get", "anything"],
        &[&format!("could not connect to {addr}"), "refused"],
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
        (
            FrameError::Io(io::ErrorKind::WouldBlock.into()).to_string(),
            "read timed out",
        ),
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
