//! Lesson 12 — HTTP/1.1 from scratch. Run with `cargo test -p lesson12`.
//!
//! Tests named `ex12_k_...` check exercise 12.k; `given_...` check given
//! code. The parsers (12.1, 12.2, 12.5) are checked as functions over
//! bytes; the rest through the real server (`lesson12 serve DIR
//! 127.0.0.1:0`), with raw requests written byte by byte over a TcpStream
//! and answers read by the test's own small reader below — never by the
//! lesson's code. A test of a later exercise first checks the earlier ones
//! it builds on, and says so if one of them is not done yet.

#[path = "lesson12/clients.rs"]
mod clients;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lesson12::HttpError;
use lesson12::body::{Framing, MAX_TRAILERS, Progress, decode_chunked, framing};
use lesson12::connection::{Connection, keep_alive, read_request};
use lesson12::files::{Ranged, parse_range, resolve};
use lesson12::request::{Limits, Request, Version, parse_head};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use support::{DEADLINE, Hint, Server, show};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_lesson12");

const EX12_1: Hint =
    Hint("exercise 12.1, `parse_head` in lessons/lesson12/src/request.rs — book §12.1");
const EX12_2: Hint = Hint(
    "exercise 12.2, `framing` and `decode_chunked` in lessons/lesson12/src/body.rs — book §12.2",
);
const EX12_3: Hint = Hint(
    "exercise 12.3, `read_request` and `keep_alive` in lessons/lesson12/src/connection.rs \
     — book §12.3",
);
const EX12_4: Hint = Hint("exercise 12.4, `resolve` in lessons/lesson12/src/files.rs — book §12.4");
const EX12_5: Hint =
    Hint("exercise 12.5, `parse_range` in lessons/lesson12/src/files.rs — book §12.5");

/// What the tests' files hold.
const HELLO: &str = "Hello, HTTP!\n";
const SECRET: &str = "TOP SECRET: outside the served directory";

// ------------------------------------------------------------ the test's kit

/// A scratch directory for one test: `www/` (served) holds a few files, and
/// `secret.txt` lies next to it, outside. Removed on drop.
pub(crate) struct Site {
    pub base: PathBuf,
    pub www: PathBuf,
}

impl Site {
    pub fn new() -> Site {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "netlings-lesson12-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let www = base.join("www");
        std::fs::create_dir_all(www.join("sub")).expect("creating a scratch directory");
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        std::fs::write(www.join("hello.txt"), HELLO).unwrap();
        std::fs::write(www.join("sub").join("index.html"), "<h1>sub</h1>\n").unwrap();
        Site { base, www }
    }

    /// Writes `content` to `www/name`.
    pub fn file(&self, name: &str, content: &[u8]) -> &Site {
        std::fs::write(self.www.join(name), content).unwrap();
        self
    }

    /// `lesson12 serve www 127.0.0.1:0 --quiet extra...`
    pub fn serve(&self, hint: Hint, extra: &[&str]) -> Server {
        let www = self.www.to_str().expect("a UTF-8 temp dir");
        let mut args = vec!["serve", www, "127.0.0.1:0", "--quiet"];
        args.extend_from_slice(extra);
        Server::start(BIN, &args, hint)
    }

    /// The served root as the server sees it (canonical).
    pub fn root(&self) -> PathBuf {
        self.www.canonicalize().unwrap()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

/// An answer as it came off the wire.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub status: u16,
    /// Names in lower case, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Everything received, head and body, for failure messages.
    pub raw: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP client over one connection: writes bytes, reads answers by
/// their framing, keeps what follows an answer for the next one.
pub(crate) struct Client<'a> {
    pub stream: TcpStream,
    buf: Vec<u8>,
    server: &'a Server,
}

impl<'a> Client<'a> {
    pub fn new(server: &'a Server) -> Client<'a> {
        let stream = TcpStream::connect_timeout(&server.addr(), DEADLINE)
            .unwrap_or_else(|e| server.fail(&format!("could not connect: {e}")));
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_write_timeout(Some(DEADLINE)).unwrap();
        Client {
            stream,
            buf: Vec::new(),
            server,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            self.server
                .fail(&format!("sending {} failed: {e}", show(bytes)));
        }
    }

    /// Reads more into the buffer: false at end of stream, error or deadline.
    fn fill(&mut self, deadline: Instant) -> bool {
        if Instant::now() >= deadline {
            return false;
        }
        let mut piece = [0u8; 64 * 1024];
        match self.stream.read(&mut piece) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&piece[..n]);
                true
            }
        }
    }

    /// Reads the next answer: `Err` says what came instead. `head` tells
    /// that it answers a HEAD request (a head, never a body).
    pub fn try_reply(&mut self, head: bool) -> Result<Reply, String> {
        let deadline = Instant::now() + DEADLINE;
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill(deadline) {
                return Err(format!(
                    "{} and then no more (closed, or silent for {DEADLINE:?})",
                    show(&self.buf)
                ));
            }
        };
        let head_bytes: Vec<u8> = self.buf.drain(..end).collect();
        let text = String::from_utf8_lossy(&head_bytes).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("a status line like `HTTP/1.1 200 OK`, not {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                (n.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
            raw: head_bytes,
        };
        let no_body = head || status == 304 || status == 204 || status / 100 == 1;
        if no_body {
            return Ok(reply);
        }
        if let Some(len) = reply.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| format!("Content-Length {len:?} is not a number"))?;
            while self.buf.len() < len {
                if !self.fill(deadline) {
                    return Err(format!(
                        "a body of {len} bytes (Content-Length), but only {} came",
                        self.buf.len()
                    ));
                }
            }
            reply.body = self.buf.drain(..len).collect();
        } else if reply
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            reply.body = self.chunked_body(deadline)?;
        } else {
            // Delimited by the end of the connection.
            while self.fill(deadline) {}
            reply.body = std::mem::take(&mut self.buf);
        }
        reply.raw.extend_from_slice(&reply.body);
        Ok(reply)
    }

    fn chunked_body(&mut self, deadline: Instant) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                if !self.fill(deadline) {
                    return Err("a chunked body that stops in a size line".into());
                }
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("a chunk size {size_text:?} that is not hex"))?;
            self.buf.drain(..line_end + 2);
            while self.buf.len() < size + 2 {
                if !self.fill(deadline) {
                    return Err("a chunked body that stops in a chunk".into());
                }
            }
            if size == 0 {
                // No trailers from this server: the empty line.
                self.buf.drain(..2);
                return Ok(body);
            }
            body.extend_from_slice(&self.buf[..size]);
            self.buf.drain(..size + 2);
        }
    }

    /// Reads the next answer or fails the test, saying what was sent.
    pub fn reply(&mut self, sent: &[u8]) -> Reply {
        self.reply_to(sent, false)
    }

    pub fn reply_to(&mut self, sent: &[u8], head: bool) -> Reply {
        match self.try_reply(head) {
            Ok(reply) => reply,
            Err(why) => self.server.fail(&format!(
                "Sent:     {}\nExpected an HTTP answer; got {why}",
                show(sent)
            )),
        }
    }

    /// Sends `request` and reads its answer.
    pub fn ask(&mut self, request: &str) -> Reply {
        self.send(request.as_bytes());
        self.reply_to(request.as_bytes(), request.starts_with("HEAD "))
    }

    /// Whether the server closes the connection (or resets it) before the
    /// deadline, with nothing more sent: what it sent, if it did.
    pub fn closed(&mut self) -> Result<Vec<u8>, Vec<u8>> {
        let deadline = Instant::now() + DEADLINE;
        let mut piece = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut piece) {
                Ok(0) => return Ok(std::mem::take(&mut self.buf)),
                Ok(n) => self.buf.extend_from_slice(&piece[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    return Ok(std::mem::take(&mut self.buf));
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        Err(std::mem::take(&mut self.buf))
    }

    /// Fails unless the server closes the connection now.
    pub fn expect_close(&mut self, why: &str) {
        if let Err(got) = self.closed() {
            self.server.fail(&format!(
                "The server should have closed the connection ({why}), but it stayed open \
                 for {DEADLINE:?}{}",
                if got.is_empty() {
                    String::new()
                } else {
                    format!("; it sent {}", show(&got))
                }
            ));
        }
    }
}

/// `GET target` in HTTP/1.1, with a Host.
fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// Checks `reply.status`, or fails with what was sent and what came.
fn expect_status(server: &Server, sent: &str, reply: &Reply, expected: &[u16]) {
    if !expected.contains(&reply.status) {
        server.fail(&format!(
            "Sent:     {}\nExpected: status {}\nGot:      {}",
            show(sent.as_bytes()),
            expected
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or "),
            show(&reply.raw)
        ));
    }
}

/// Checks that `reply` has `name: value`.
fn expect_header(server: &Server, sent: &str, reply: &Reply, name: &str, value: &str) {
    if reply.header(name) != Some(value) {
        server.fail(&format!(
            "Sent:     {}\nExpected the answer to have `{name}: {value}`\nGot:      {}",
            show(sent.as_bytes()),
            show(&reply.raw)
        ));
    }
}

fn limits() -> Limits {
    Limits {
        max_line: 100,
        max_head: 400,
        max_headers: 8,
    }
}

fn request(method: &str, target: &str, version: Version, headers: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        target: target.into(),
        version,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect(),
    }
}

/// A modest number of cases keeps the suite fast; no regression files.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        max_shrink_iters: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

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

/// Runs `f`, catching a panic (a `todo!()`) as an `Err`.
fn attempt<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    support::quiet_panics();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into())
    })
}

/// Fails unless exercises 12.1 and 12.2 work on a simple request.
fn needs_12_1_and_12_2() {
    support::needs(EX12_1, || {
        let got = attempt(|| parse_head(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", &Limits::default()))?;
        match got {
            Ok(Some((r, 27))) if r.method == "GET" => Ok(()),
            other => Err(format!("parse_head of a simple GET returned {other:?}")),
        }
    });
    support::needs(EX12_2, || {
        let r = request("POST", "/", Version::Http11, &[("content-length", "5")]);
        let got = attempt(|| framing(&r, 100))?;
        if got != Ok(Framing::Length(5)) {
            return Err(format!("framing of Content-Length: 5 returned {got:?}"));
        }
        let mut body = Vec::new();
        let got = attempt(|| decode_chunked(b"1\r\na\r\n0\r\n\r\n", &mut body, 100))?;
        match got {
            Ok(Progress { done: true, .. }) => Ok(()),
            other => Err(format!(
                "decode_chunked of \"1\\r\\na\\r\\n0\\r\\n\\r\\n\" returned {other:?}"
            )),
        }
    });
}

/// Fails unless 12.1 to 12.3 work: a request read through `read_request`
/// from a real connection, and `keep_alive`.
fn needs_12_3() {
    needs_12_1_and_12_2();
    support::needs(EX12_3, || {
        let r = request("GET", "/", Version::Http11, &[]);
        if !attempt(|| keep_alive(&r))? {
            return Err("keep_alive of a plain HTTP/1.1 request said false".into());
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let got = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
            let mut client = TcpStream::connect(listener.local_addr().ok()?).ok()?;
            client.write_all(b"GET /x HTTP/1.1\r\n\r\n").ok()?;
            let (stream, peer) = listener.accept().await.ok()?;
            let mut conn = Connection::new(stream, peer);
            let config = lesson12::Config::default();
            let got = tokio::spawn(async move {
                read_request(&mut conn, &config)
                    .await
                    .map(|r| r.map(|i| i.request.target))
            });
            got.await.ok()
        });
        match got {
            Some(Ok(Some(target))) if target == "/x" => Ok(()),
            other => Err(format!("read_request of a simple GET returned {other:?}")),
        }
    });
}

/// Fails unless 12.4 works on a simple path.
fn needs_12_4(site: &Site) {
    needs_12_3();
    let root = site.root();
    support::needs(EX12_4, move || {
        let got = attempt(|| resolve(&root, "/hello.txt"))?;
        match got {
            Ok(path) if path == root.join("hello.txt") => Ok(()),
            other => Err(format!("resolve(root, \"/hello.txt\") returned {other:?}")),
        }
    });
}

// ------------------------------------------------------- 12.1: the head

fn parse(bytes: &[u8]) -> Result<Option<(Request, usize)>, HttpError> {
    parse_head(bytes, &limits())
}

#[test]
fn ex12_1_parses_a_get_with_its_headers() {
    support::quiet_panics();
    let raw =
        b"GET /a%20b.txt?x=1 HTTP/1.1\r\nHost: example\r\nAccept:  */* \t\r\nX-Empty:\r\n\r\nNEXT";
    let got = parse(raw);
    let expected = request(
        "GET",
        "/a%20b.txt?x=1",
        Version::Http11,
        &[("host", "example"), ("accept", "*/*"), ("x-empty", "")],
    );
    assert_eq!(
        got,
        Ok(Some((expected, raw.len() - 4))),
        "\n\nparse_head({}): names lower-cased, values trimmed of spaces and tabs, and the \
         length of the head without what follows it (\"NEXT\").\n\nRevisit: {EX12_1}\n",
        show(raw)
    );
    let raw10 = b"HEAD / HTTP/1.0\r\n\r\n";
    let got = parse(raw10);
    assert_eq!(
        got,
        Ok(Some((
            request("HEAD", "/", Version::Http10, &[]),
            raw10.len()
        ))),
        "\n\nparse_head({}): a head with no fields at all.\n\nRevisit: {EX12_1}\n",
        show(raw10)
    );
}

#[test]
fn ex12_1_waits_for_the_empty_line() {
    support::quiet_panics();
    let raw = b"GET / HTTP/1.1\r\nHost: example\r\n\r\n";
    for n in 0..raw.len() {
        let got = parse(&raw[..n]);
        assert!(
            got == Ok(None),
            "\n\nparse_head({}) — the first {n} bytes of a good head — should be Ok(None) \
             (wait for more), got {got:?}.\n\nRevisit: {EX12_1}\n",
            show(&raw[..n])
        );
    }
}

#[test]
fn ex12_1_skips_empty_lines_before_the_request_line() {
    support::quiet_panics();
    let raw = b"\r\n\r\nGET / HTTP/1.1\r\n\r\n";
    let got = parse(raw);
    assert_eq!(
        got,
        Ok(Some((request("GET", "/", Version::Http11, &[]), raw.len()))),
        "\n\nparse_head({}): empty lines before the request line are skipped, and count \
         in the head's length.\n\nRevisit: {EX12_1}\n",
        show(raw)
    );
}

#[test]
fn ex12_1_a_long_request_line_is_414_even_before_its_end() {
    support::quiet_panics();
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(120));
    for raw in [long.as_bytes(), &long.as_bytes()[..110]] {
        let got = parse(raw);
        assert!(
            matches!(got, Err(HttpError { status: 414, .. })),
            "\n\nparse_head({}) with max_line = 100 should be 414 (URI Too Long), got \
             {got:?}. A line that is too long is refused before its CRLF arrives: else a \
             peer that never sends it grows the buffer without end.\n\nRevisit: {EX12_1}\n",
            show(raw)
        );
    }
}

#[test]
fn ex12_1_a_large_head_is_431_even_before_its_end() {
    support::quiet_panics();
    let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..6 {
        raw.extend_from_slice(format!("X-Field-{i}: {}\r\n", "v".repeat(70)).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let complete = parse(&raw);
    let partial = parse(&raw[..raw.len() - 2]);
    let mut endless = b"GET / HTTP/1.1\r\nX-Endless: ".to_vec();
    endless.extend_from_slice(&[b'a'; 500]);
    let endless = parse(&endless);
    for (what, got) in [
        ("a whole head", complete),
        ("a head without its end", partial),
        ("a head whose last field never ends", endless),
    ] {
        assert!(
            matches!(got, Err(HttpError { status: 431, .. })),
            "\n\nparse_head of {what}, more than 400 bytes, with max_head = 400 should be \
             431 (Request Header Fields Too Large), got {got:?}. The limit holds before the \
             head is complete, too.\n\nRevisit: {EX12_1}\n"
        );
    }
}

#[test]
fn ex12_1_too_many_fields_is_431() {
    support::quiet_panics();
    let head = |n: usize| {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..n {
            raw.extend_from_slice(format!("F{i}: x\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        raw
    };
    let eight = parse(&head(8));
    assert!(
        matches!(eight, Ok(Some(ref r)) if r.0.headers.len() == 8),
        "\n\nparse_head of a head with 8 fields, max_headers = 8: should parse, got \
         {eight:?}.\n\nRevisit: {EX12_1}\n"
    );
    let nine = parse(&head(9));
    assert!(
        matches!(nine, Err(HttpError { status: 431, .. })),
        "\n\nparse_head of a head with 9 fields, max_headers = 8: should be 431, got \
         {nine:?}.\n\nRevisit: {EX12_1}\n"
    );
}

#[test]
fn ex12_1_a_flood_of_empty_lines_is_refused() {
    support::quiet_panics();
    // Empty lines before the request line are skipped, but they are part of
    // the head: a peer sending nothing else must not be buffered for ever.
    let flood = b"\r\n".repeat(201);
    for raw in [&flood[..], &flood[..401]] {
        let got = parse(raw);
        assert!(
            got.as_ref().is_err_and(|e| [400, 431].contains(&e.status)),
            "\n\nparse_head of {} bytes of empty lines (CRLFs), max_head = 400, should be \
             431 (or 400), got {got:?}. The skipped empty lines count in the head's \
             length: else a peer sending CRLFs for ever grows the buffer without end.\n\n\
             Revisit: {EX12_1}\n",
            raw.len()
        );
    }
}

#[test]
fn ex12_1_the_head_limit_counts_every_byte() {
    support::quiet_panics();
    // 16 + (5 + pad + 2) + 2 bytes: the request line, one field, the empty line.
    let head = |len: usize| {
        let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
        raw.resize(len - 4, b'v');
        raw.extend_from_slice(b"\r\n\r\n");
        raw
    };
    let exact = head(400);
    let got = parse(&exact);
    assert!(
        matches!(got, Ok(Some((_, 400)))),
        "\n\nparse_head of a head of exactly 400 bytes (final empty line included), \
         max_head = 400, should parse, got {got:?}.\n\nRevisit: {EX12_1}\n"
    );
    for len in [401, 402] {
        let raw = head(len);
        let got = parse(&raw);
        assert!(
            matches!(got, Err(HttpError { status: 431, .. })),
            "\n\nparse_head of a head of {len} bytes (final empty line included), \
             max_head = 400, should be 431, got {got:?}. Count every byte of the head, \
             CRLFs included.\n\nRevisit: {EX12_1}\n"
        );
    }
}

#[test]
fn ex12_1_malformed_heads_are_400() {
    support::quiet_panics();
    let cases: [(&[u8], &str); 12] = [
        (b"GET / HTTP/1.1\nHost: x\n\n", "lines ending in LF alone"),
        (b"GET  / HTTP/1.1\r\n\r\n", "two spaces in the request line"),
        (b"GET /\r\n\r\n", "no version"),
        (b"GET / HTTP/1.1 extra\r\n\r\n", "four parts"),
        (b"G(T / HTTP/1.1\r\n\r\n", "a method that is not a token"),
        (b"GET / http/1.1\r\n\r\n", "a version in lower case"),
        (
            b"GET /\x01 HTTP/1.1\r\n\r\n",
            "a control character in the target",
        ),
        (
            b"GET / HTTP/1.1\r\nHost example\r\n\r\n",
            "a field without a colon",
        ),
        (
            b"GET / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n",
            "a space before the colon",
        ),
        (
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            "a folded line",
        ),
        (
            b"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            "an empty field name",
        ),
        (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", "a CR inside a value"),
    ];
    for (raw, what) in cases {
        let got = parse(raw);
        assert!(
            matches!(got, Err(HttpError { status: 400, .. })),
            "\n\nparse_head({}) — {what} — should be 400 (Bad Request), got {got:?}.\n\n\
             Revisit: {EX12_1}\n",
            show(raw)
        );
    }
}

#[test]
fn ex12_1_other_versions_are_505() {
    support::quiet_panics();
    for raw in [&b"GET / HTTP/2.0\r\n\r\n"[..], b"GET / HTTP/1.2\r\n\r\n"] {
        let got = parse(raw);
        assert!(
            matches!(got, Err(HttpError { status: 505, .. })),
            "\n\nparse_head({}) should be 505 (HTTP Version Not Supported), got {got:?}.\n\n\
             Revisit: {EX12_1}\n",
            show(raw)
        );
    }
}

/// A good head: a method, a path, some fields.
fn any_head() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec!["GET", "HEAD", "POST", "DELETE"]),
        "/[a-z0-9%._-]{0,20}",
        prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,10}", "[ -~]{0,20}"), 0..6),
    )
        .prop_map(|(method, path, fields)| {
            let mut raw = format!("{method} {path} HTTP/1.1\r\n");
            for (name, value) in fields {
                raw.push_str(&format!("{name}: {value}\r\n"));
            }
            raw.push_str("\r\n");
            raw.into_bytes()
        })
}

#[test]
fn ex12_1_a_head_split_anywhere_parses_the_same() {
    let strategy = (
        any_head(),
        prop::collection::vec(any::<u8>(), 0..20),
        0..1000usize,
    );
    check_property(strategy, EX12_1, |(head, after, cut)| {
        let mut stream = head.clone();
        stream.extend_from_slice(&after);
        let whole = parse_head(&stream, &Limits::default());
        prop_assert!(
            matches!(whole, Ok(Some((_, n))) if n == head.len()),
            "the head {} with {} after it: expected Some with length {}, got {whole:?}",
            show(&head),
            show(&after),
            head.len()
        );
        // What arrived first; then everything.
        let cut = cut % (stream.len() + 1);
        let first = parse_head(&stream[..cut], &Limits::default());
        if cut < head.len() {
            prop_assert_eq!(
                first,
                Ok(None),
                "the first {} bytes of {}",
                cut,
                show(&head)
            );
        } else {
            prop_assert_eq!(first, whole, "the first {} bytes of {}", cut, show(&stream));
        }
        Ok(())
    });
}

#[test]
fn ex12_1_arbitrary_bytes_never_panic() {
    let strategy = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            Just(b'\r'),
            Just(b'\n'),
            Just(b' '),
            Just(b':')
        ],
        0..600,
    );
    check_property(strategy, EX12_1, |bytes| {
        let mut prefixed = b"GET / HTTP/1.1\r\n".to_vec();
        prefixed.extend_from_slice(&bytes);
        for raw in [&bytes, &prefixed] {
            if let Ok(Some((_, n))) = parse(raw) {
                prop_assert!(n <= raw.len(), "a head longer than the input: {n}");
            }
        }
        Ok(())
    });
}

// ---------------------------------------------------- 12.2: the body

fn with(headers: &[(&str, &str)]) -> Request {
    request("POST", "/api/echo", Version::Http11, headers)
}

#[test]
fn ex12_2_framing_of_ordinary_requests() {
    support::quiet_panics();
    let cases: [(Request, Framing); 6] = [
        (with(&[]), Framing::None),
        (with(&[("content-length", "5")]), Framing::Length(5)),
        (with(&[("content-length", "0")]), Framing::Length(0)),
        (
            with(&[("content-length", "5"), ("content-length", "5")]),
            Framing::Length(5),
        ),
        (with(&[("transfer-encoding", "chunked")]), Framing::Chunked),
        (with(&[("transfer-encoding", "Chunked")]), Framing::Chunked),
    ];
    for (req, expected) in cases {
        let got = framing(&req, 1000);
        assert_eq!(
            got,
            Ok(expected),
            "\n\nframing of a request with {:?}, max_body 1000.\n\nRevisit: {EX12_2}\n",
            req.headers
        );
    }
}

#[test]
fn ex12_2_ambiguous_framing_is_refused() {
    support::quiet_panics();
    let cases: [(Request, u16, &str); 10] = [
        (
            with(&[("content-length", "5"), ("transfer-encoding", "chunked")]),
            400,
            "both lengths: the smuggling case",
        ),
        (
            with(&[("transfer-encoding", "chunked"), ("content-length", "5")]),
            400,
            "both lengths, the other order",
        ),
        (
            with(&[("content-length", "5"), ("content-length", "6")]),
            400,
            "two different lengths",
        ),
        (
            with(&[("content-length", "5, 6")]),
            400,
            "two different lengths in one field",
        ),
        (with(&[("content-length", "+5")]), 400, "a sign"),
        (with(&[("content-length", "0x10")]), 400, "hex"),
        (
            with(&[("transfer-encoding", "chunked, identity")]),
            400,
            "chunked not last",
        ),
        (
            with(&[("transfer-encoding", "xchunked")]),
            400,
            "an obfuscated coding",
        ),
        (
            with(&[("transfer-encoding", "gzip, chunked")]),
            501,
            "a coding we do not implement",
        ),
        (
            request(
                "POST",
                "/",
                Version::Http10,
                &[("transfer-encoding", "chunked")],
            ),
            400,
            "Transfer-Encoding in HTTP/1.0",
        ),
    ];
    for (req, status, what) in cases {
        let got = framing(&req, 1000);
        assert!(
            matches!(got, Err(e) if e.status == status),
            "\n\nframing of a request with {:?} ({}) — {what} — should be {status}, got \
             {got:?}.\n\nRevisit: {EX12_2}\n",
            req.headers,
            req.version.as_str()
        );
    }
}

#[test]
fn ex12_2_a_length_over_the_limit_is_413() {
    support::quiet_panics();
    for length in ["1001", "99999999999999999999999"] {
        let got = framing(&with(&[("content-length", length)]), 1000);
        assert!(
            matches!(got, Err(HttpError { status: 413, .. })),
            "\n\nframing of Content-Length: {length} with max_body 1000 should be 413 (Content \
             Too Large), got {got:?}.\n\nRevisit: {EX12_2}\n"
        );
    }
    let got = framing(&with(&[("content-length", "1000")]), 1000);
    assert_eq!(
        got,
        Ok(Framing::Length(1000)),
        "\n\nframing of Content-Length: 1000 with max_body 1000 (just fits).\n\nRevisit: {EX12_2}\n"
    );
}

/// Decodes `input` fed in pieces at `cuts`, as a connection would: keeps the
/// unconsumed rest and appends the next piece. A bounded loop.
fn decode_in_pieces(
    input: &[u8],
    cuts: &[usize],
    max: usize,
) -> Result<(Vec<u8>, usize), HttpError> {
    let mut body = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut used = 0;
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    ends.push(input.len());
    ends.sort_unstable();
    let mut from = 0;
    for end in ends {
        pending.extend_from_slice(&input[from..end]);
        from = end;
        let progress = decode_chunked(&pending, &mut body, max)?;
        assert!(
            progress.consumed <= pending.len(),
            "\n\ndecode_chunked consumed {} bytes of {}.\n\nRevisit: {EX12_2}\n",
            progress.consumed,
            pending.len()
        );
        pending.drain(..progress.consumed);
        used += progress.consumed;
        if progress.done {
            return Ok((body, used));
        }
    }
    Err(HttpError::bad("(the test) never done"))
}

#[test]
fn ex12_2_decodes_chunks_with_extensions_and_trailers() {
    support::quiet_panics();
    let cases: [(&[u8], &[u8]); 4] = [
        (b"5\r\nhello\r\n0\r\n\r\nNEXT", b"hello"),
        (
            b"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\nNEXT",
            b"hello0123456789",
        ),
        (b"0\r\n\r\nNEXT", b""),
        (
            b"3\r\nabc\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\nNEXT",
            b"abc",
        ),
    ];
    for (input, expected) in cases {
        let mut body = Vec::new();
        let got = decode_chunked(input, &mut body, 1000);
        let consumed = input.len() - 4;
        assert!(
            got == Ok(Progress {
                consumed,
                done: true
            }) && body == expected,
            "\n\ndecode_chunked({}) should give the body {} and Progress {{ consumed: {consumed}, \
             done: true }} (all but \"NEXT\"), got {got:?} with the body {}.\n\nRevisit: {EX12_2}\n",
            show(input),
            show(expected),
            show(&body)
        );
    }
    // Half of a chunk: nothing of it is consumed yet.
    let mut body = Vec::new();
    let got = decode_chunked(b"3\r\nabc\r\n5\r\nhel", &mut body, 1000);
    assert!(
        got == Ok(Progress {
            consumed: 8,
            done: false
        }) && body == b"abc",
        "\n\ndecode_chunked(\"3\\r\\nabc\\r\\n5\\r\\nhel\") should consume the first chunk only \
         (8 bytes) and say not done; got {got:?} with the body {}.\n\nRevisit: {EX12_2}\n",
        show(&body)
    );
}

#[test]
fn ex12_2_bad_chunks_are_400() {
    support::quiet_panics();
    let long_size = format!("{}\r\n", "0".repeat(2000));
    let cases: [(&[u8], &str); 7] = [
        (b"zz\r\nhello\r\n0\r\n\r\n", "a size that is not hex"),
        (b"-1\r\nhello\r\n0\r\n\r\n", "a negative size"),
        (b" 5\r\nhello\r\n0\r\n\r\n", "a space before the size"),
        (b"\r\nhello\r\n0\r\n\r\n", "an empty size"),
        (b"5\r\nhelloXY0\r\n\r\n", "data not followed by CRLF"),
        (b"10000000000000000\r\n", "17 hex digits"),
        (long_size.as_bytes(), "a size line of 2000 bytes"),
    ];
    for (input, what) in cases {
        let got = decode_chunked(input, &mut Vec::new(), usize::MAX);
        assert!(
            matches!(got, Err(HttpError { status: 400, .. })),
            "\n\ndecode_chunked({}) — {what} — should be 400, got {got:?}.\n\nRevisit: {EX12_2}\n",
            show(input)
        );
    }
}

#[test]
fn ex12_2_a_chunked_body_over_the_limit_is_413() {
    support::quiet_panics();
    let input = b"6\r\nhello!\r\n5\r\nworld\r\n0\r\n\r\n";
    let got = decode_in_pieces(input, &[], 10);
    assert!(
        matches!(got, Err(HttpError { status: 413, .. })),
        "\n\n11 bytes of chunks with max_body 10 should be 413, got {got:?}.\n\nRevisit: {EX12_2}\n"
    );
    // Refused when the size arrives, not after buffering the data.
    let got = decode_chunked(b"fffffff\r\n", &mut Vec::new(), 10);
    assert!(
        matches!(got, Err(HttpError { status: 413, .. })),
        "\n\ndecode_chunked(\"fffffff\\r\\n\") with max_body 10 should be 413 at once, got \
         {got:?}: waiting for 268 MB of data first is what the limit is there to prevent.\n\n\
         Revisit: {EX12_2}\n"
    );
    let got = decode_in_pieces(b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", &[], 10);
    assert!(
        matches!(got, Ok((ref body, _)) if body == b"helloworld"),
        "\n\n10 bytes of chunks with max_body 10 (just fits) should decode, got {got:?}.\n\n\
         Revisit: {EX12_2}\n"
    );
}

#[test]
fn ex12_2_an_empty_transfer_encoding_with_a_length_is_400() {
    support::quiet_panics();
    for te in [",", "", " , "] {
        let r = with(&[("transfer-encoding", te), ("content-length", "5")]);
        let got = framing(&r, 100);
        assert!(
            matches!(got, Err(HttpError { status: 400, .. })),
            "\n\nframing of `Transfer-Encoding: {te}` with `Content-Length: 5` should be \
             400, got {got:?}: the field is there, even empty, and a proxy may read it \
             differently.\n\nRevisit: {EX12_2}\n"
        );
    }
}

#[test]
fn ex12_2_trailers_have_a_limit_as_a_whole() {
    support::quiet_panics();
    let mut input = b"0\r\n".to_vec();
    for i in 0..10 {
        input.extend_from_slice(format!("X-T{i}: {}\r\n", "t".repeat(900)).as_bytes());
    }
    input.extend_from_slice(b"\r\n");
    let got = decode_chunked(&input, &mut Vec::new(), 100);
    assert!(
        matches!(got, Err(HttpError { status: 431, .. })),
        "\n\ndecode_chunked of a last chunk followed by 10 trailer lines of 900 bytes \
         (9 KiB, each line under MAX_CHUNK_LINE) should be 431: the trailer section as a \
         whole may not pass MAX_TRAILERS ({MAX_TRAILERS}). Got {got:?}.\n\nRevisit: {EX12_2}\n"
    );
}

#[test]
fn ex12_2_a_huge_chunk_size_after_some_data_is_413_not_a_panic() {
    let input = b"5\r\nhello\r\nffffffffffffffff\r\n";
    let got = attempt(|| decode_chunked(input, &mut Vec::new(), 100));
    assert!(
        matches!(got, Ok(Err(HttpError { status: 413, .. }))),
        "\n\ndecode_chunked({}) with max_body 100 should be 413, got {got:?}. \
         `body.len() + size` overflows a u64: compare the size with what is left, \
         `max_body - body.len()`.\n\nRevisit: {EX12_2}\n",
        show(input)
    );
}

#[test]
fn ex12_2_chunks_split_anywhere_decode_the_same() {
    let strategy = (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..6),
        prop::collection::vec(0..1000usize, 0..6),
    );
    check_property(strategy, EX12_2, |(chunks, cuts)| {
        let mut input = Vec::new();
        let mut expected = Vec::new();
        for chunk in &chunks {
            input.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
            input.extend_from_slice(chunk);
            input.extend_from_slice(b"\r\n");
            expected.extend_from_slice(chunk);
        }
        input.extend_from_slice(b"0\r\n\r\n");
        let total = input.len();
        input.extend_from_slice(b"GET / HTTP/1.1\r\n");
        let got = decode_in_pieces(&input, &cuts, 10_000);
        prop_assert_eq!(
            got,
            Ok((expected, total)),
            "chunks {:?} cut at {:?}",
            chunks,
            cuts
        );
        Ok(())
    });
}

#[test]
fn ex12_2_arbitrary_bytes_never_panic() {
    let strategy = prop::collection::vec(
        prop_oneof![
            any::<u8>(),
            Just(b'\r'),
            Just(b'\n'),
            Just(b'0'),
            Just(b'a')
        ],
        0..300,
    );
    check_property(strategy, EX12_2, |bytes| {
        if let Ok(progress) = decode_chunked(&bytes, &mut Vec::new(), 100) {
            prop_assert!(progress.consumed <= bytes.len());
        }
        Ok(())
    });
}

// ------------------------------------------- 12.3: requests on a connection

#[test]
fn ex12_3_keep_alive_decisions() {
    support::quiet_panics();
    let cases = [
        (Version::Http11, vec![], true),
        (Version::Http11, vec![("connection", "close")], false),
        (Version::Http11, vec![("connection", "Close")], false),
        (
            Version::Http11,
            vec![("connection", "Upgrade, close")],
            false,
        ),
        (Version::Http11, vec![("connection", "keep-alive")], true),
        (Version::Http10, vec![], false),
        (Version::Http10, vec![("connection", "Keep-Alive")], true),
        (
            Version::Http10,
            vec![("connection", "x"), ("connection", "keep-alive")],
            true,
        ),
    ];
    for (version, headers, expected) in cases {
        let r = request("GET", "/", version, &headers);
        let got = keep_alive(&r);
        assert_eq!(
            got,
            expected,
            "\n\nkeep_alive of an {} request with {headers:?}.\n\nRevisit: {EX12_3}\n",
            version.as_str()
        );
    }
}

#[test]
fn ex12_3_two_requests_on_one_connection() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    for _ in 0..2 {
        let sent = get("/api/hello");
        let reply = client.ask(&sent);
        expect_status(&server, &sent, &reply, &[200]);
        if reply.body != b"{\"hello\":\"world\"}\n" {
            server.fail(&format!(
                "GET /api/hello: expected {{\"hello\":\"world\"}}, got {}",
                show(&reply.raw)
            ));
        }
        if reply.header("date").is_none() {
            server.fail(&format!(
                "every answer has a Date field; got {}",
                show(&reply.raw)
            ));
        }
    }
}

#[test]
fn ex12_3_connection_close_is_honoured() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let sent = "GET /api/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[200]);
    expect_header(&server, sent, &reply, "connection", "close");
    client.expect_close("the request said `Connection: close`");
}

#[test]
fn ex12_3_http_1_0_closes_unless_asked_to_keep_alive() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let sent = "GET /api/hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[200]);
    expect_header(&server, sent, &reply, "connection", "keep-alive");
    let sent = "GET /api/hello HTTP/1.0\r\n\r\n";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[200]);
    client.expect_close("an HTTP/1.0 request without `Connection: keep-alive`");
}

#[test]
fn ex12_3_pipelined_requests_are_answered_in_order() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let sent = "POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst\
                GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n\
                POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                5\r\nthird\r\n0\r\n\r\n";
    // All three in one write: the server finds them in one read.
    client.send(sent.as_bytes());
    let expected: [&[u8]; 3] = [
        b"\"body\":\"first\"",
        b"{\"hello\":\"world\"}",
        b"\"body\":\"third\"",
    ];
    for (i, part) in expected.iter().enumerate() {
        let reply = client.reply(sent.as_bytes());
        if reply.status != 200 || !reply.body.windows(part.len()).any(|w| w == *part) {
            server.fail(&format!(
                "Sent three requests in one write: {}\nExpected answer {} to contain {}\nGot: {}\n\
                 Each request's body belongs to it; what follows is the next request.",
                show(sent.as_bytes()),
                i + 1,
                show(part),
                show(&reply.raw)
            ));
        }
    }
}

#[test]
fn ex12_3_a_body_sent_slowly_is_waited_for() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let parts: [&[u8]; 4] = [
        b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-",
        b"Encoding: chunked\r\n\r\n4\r\nab",
        b"cd\r\n3\r\nefg\r\n0\r",
        b"\n\r\n",
    ];
    for part in parts {
        client.send(part);
        // Pacing, not synchronisation: each part arrives in a read of its own.
        thread::sleep(Duration::from_millis(20));
    }
    let reply = client.reply(&parts.concat());
    if reply.status != 200 || !String::from_utf8_lossy(&reply.body).contains("\"body\":\"abcdefg\"")
    {
        server.fail(&format!(
            "Sent a chunked POST in four pieces, cut inside the head, a chunk and a CRLF.\n\
             Expected the echo of \"abcdefg\"; got {}",
            show(&reply.raw)
        ));
    }
}

#[test]
fn ex12_3_a_slowloris_is_cut_off_at_the_header_deadline() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--header-timeout-ms", "300"]);
    let mut client = Client::new(&server);
    client.send(b"GET / HTTP/1.1\r\nX-Slow: ");
    let mut writer = client.stream.try_clone().unwrap();
    // Pacing, not synchronisation: a byte every 50 ms, far within any
    // per-read timeout, 80 of them (4 s) unless the server cuts it off.
    let trickle = thread::spawn(move || {
        for sent in 0..80 {
            if writer.write_all(b"a").is_err() {
                return sent;
            }
            thread::sleep(Duration::from_millis(50));
        }
        80
    });
    let closed = client.closed();
    let sent = trickle.join().unwrap_or(0);
    if closed.is_err() || sent == 80 {
        server.fail(&format!(
            "A peer sent a head one byte every 50 ms ({sent} bytes). The whole head must \
             arrive within --header-timeout-ms 300 of its first byte, so the server should \
             have closed the connection while the peer was still sending; {}. A timeout for \
             each read is renewed by every byte: use one deadline for the whole head.",
            if closed.is_err() {
                "it never closed it"
            } else {
                "it waited until the peer fell silent"
            }
        ));
    }
}

/// Sends `head`, then a body one byte every 50 ms, against
/// `--header-timeout-ms 300`: the server must cut it off.
fn slow_body(head: &[u8], what: &str) {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--header-timeout-ms", "300"]);
    let mut client = Client::new(&server);
    client.send(head);
    let mut writer = client.stream.try_clone().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    // Pacing, not synchronisation: a byte every 50 ms, 80 of them (4 s),
    // never the whole body, unless the server cuts it off.
    let trickle = thread::spawn(move || {
        for sent in 0..80 {
            if stopped.load(Ordering::Relaxed) || writer.write_all(b"a").is_err() {
                return sent;
            }
            thread::sleep(Duration::from_millis(50));
        }
        80
    });
    let closed = client.closed();
    stop.store(true, Ordering::Relaxed);
    let sent = trickle.join().unwrap_or(0);
    if closed.is_err() || sent == 80 {
        server.fail(&format!(
            "A peer sent a head, then {what} one byte every 50 ms ({sent} bytes). The body \
             must arrive within --header-timeout-ms 300 of the head's end, so the server \
             should have answered 408 and closed the connection while the peer was still \
             sending; it did not. One deadline for the whole body, not a timeout per read."
        ));
    }
}

#[test]
fn ex12_3_a_slow_body_is_cut_off_at_its_deadline() {
    slow_body(
        b"POST /api/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n",
        "a body of 100 bytes (Content-Length)",
    );
}

#[test]
fn ex12_3_a_slow_chunked_body_is_cut_off_at_its_deadline() {
    slow_body(
        b"POST /api/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n",
        "a chunk of 100 bytes",
    );
}

#[test]
fn ex12_3_the_body_gets_a_deadline_of_its_own() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--header-timeout-ms", "600"]);
    let mut client = Client::new(&server);
    let parts: [&[u8]; 3] = [
        b"POST /api/echo HTTP/1.1\r\nHost: t\r\n",
        b"Content-Length: 4\r\n\r\nab",
        b"cd",
    ];
    // A slow peer on purpose: 400 ms for the head, 400 ms for the body,
    // each within --header-timeout-ms 600, both together not.
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            thread::sleep(Duration::from_millis(400));
        }
        client.send(part);
    }
    let reply = client.reply(&parts.concat());
    if reply.status != 200 || !String::from_utf8_lossy(&reply.body).contains("\"body\":\"abcd\"") {
        server.fail(&format!(
            "Sent a head in two pieces 400 ms apart, then the rest of its 4-byte body 400 ms \
             later, with --header-timeout-ms 600. The body gets a new deadline, \
             header_timeout after the head's end, so the echo of \"abcd\" was expected; got {}",
            show(&reply.raw)
        ));
    }
}

#[test]
fn ex12_3_the_head_deadline_starts_with_its_first_byte() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--header-timeout-ms", "400"]);
    let mut client = Client::new(&server);
    let sent = get("/api/hello");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
    // A slow peer on purpose: idle for longer than the header timeout (but
    // not the idle timeout, 30 s), then a head in two pieces.
    thread::sleep(Duration::from_millis(600));
    let parts: [&[u8]; 2] = [b"GET /api/hello HTTP/1.1\r\n", b"Host: t\r\n\r\n"];
    client.send(parts[0]);
    thread::sleep(Duration::from_millis(50));
    client.send(parts[1]);
    let reply = client.reply(&parts.concat());
    if reply.status != 200 {
        server.fail(&format!(
            "After a first request, the connection stayed idle 600 ms (the idle timeout is \
             30 s), then a head came in two pieces 50 ms apart, with --header-timeout-ms 400. \
             Expected 200; got {}. The head's deadline starts when its first byte arrives, \
             after the idle wait, not before it.",
            show(&reply.raw)
        ));
    }
}

#[test]
fn given_host_is_required_once_in_http_1_1() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    for (sent, status) in [
        ("GET /api/hello HTTP/1.1\r\n\r\n", 400),
        ("GET /api/hello HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET /api/hello HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET /api/hello HTTP/1.0\r\n\r\n", 200),
    ] {
        let mut client = Client::new(&server);
        let reply = client.ask(sent);
        expect_status(&server, sent, &reply, &[status]);
    }
}

#[test]
fn ex12_3_a_reset_connection_is_not_answered() {
    needs_12_1_and_12_2();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        // Half a head, then a reset (SO_LINGER 0): the server's next read fails.
        socket2::SockRef::from(&client)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(client);
        let (stream, peer) = listener.accept().await.unwrap();
        let mut conn = Connection::new(stream, peer);
        let config = lesson12::Config::default();
        let read = read_request(&mut conn, &config);
        tokio::time::timeout(DEADLINE, read)
            .await
            .map(|r| r.map(|i| i.map(|i| i.request.target)))
    });
    assert!(
        matches!(got, Ok(Ok(None))),
        "\n\nread_request on a connection reset by its peer in the middle of a head should \
         be Ok(None) (nobody is left to answer), got {got:?}.\n\nRevisit: {EX12_3}\n"
    );
}

#[test]
fn ex12_3_an_idle_connection_is_closed() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--idle-timeout-ms", "200"]);
    let mut client = Client::new(&server);
    client.expect_close("it sent nothing for --idle-timeout-ms 200");
    let mut client = Client::new(&server);
    let sent = get("/api/hello");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
    client.expect_close("it sent nothing more after a first request, for --idle-timeout-ms 200");
}

#[test]
fn ex12_3_limits_and_broken_requests_are_answered_then_closed() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &["--max-body", "100"]);
    let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(5000));
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
    let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "y".repeat(17_000));
    let cases: Vec<(String, u16, &str)> =
        vec![
        (long_target, 414, "a request line of 5 kB"),
        (many, 431, "100 header fields"),
        (big, 431, "a header field of 17 kB"),
        (
            "POST /api/echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n".into(),
            413,
            "a body larger than --max-body 100",
        ),
        (
            "POST /api/echo HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n\
             0\r\n\r\n"
                .into(),
            400,
            "Content-Length and Transfer-Encoding",
        ),
        (
            "POST /api/echo HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde".into(),
            400,
            "two different Content-Lengths",
        ),
        (
            "POST /api/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n".into(),
            400,
            "a chunk size that is not hex",
        ),
        (
            "POST /api/echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n".into(),
            501,
            "a transfer coding the server does not implement",
        ),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n".into(), 400, "a space before a colon"),
        ("GET / HTTP/3.0\r\n\r\n".into(), 505, "HTTP/3.0"),
    ];
    for (sent, status, what) in cases {
        let mut client = Client::new(&server);
        client.send(sent.as_bytes());
        let reply = client.reply(sent.as_bytes());
        if reply.status != status {
            server.fail(&format!(
                "Sent {what}: {}\nExpected: status {status}\nGot:      {}",
                show(sent.as_bytes()),
                show(&reply.raw)
            ));
        }
        client.expect_close(&format!(
            "after an error answer to {what}, where the next request would start is unknown"
        ));
    }
}

#[test]
fn ex12_3_head_has_the_headers_but_no_body() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let sent = "HEAD /api/hello HTTP/1.1\r\nHost: t\r\n\r\n";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[200]);
    expect_header(&server, sent, &reply, "content-length", "18");
    // Were a body sent after all, it would stand where this answer's head should.
    let sent = get("/api/hello");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
}

#[test]
fn ex12_3_methods_not_allowed_and_not_known() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = site.serve(EX12_3, &[]);
    let mut client = Client::new(&server);
    let cases = [
        (
            "DELETE /api/hello HTTP/1.1\r\nHost: t\r\n\r\n",
            405,
            Some("GET, HEAD"),
        ),
        (
            "GET /api/echo HTTP/1.1\r\nHost: t\r\n\r\n",
            405,
            Some("POST"),
        ),
        ("BREW /api/hello HTTP/1.1\r\nHost: t\r\n\r\n", 501, None),
    ];
    for (sent, status, allow) in cases {
        let reply = client.ask(sent);
        expect_status(&server, sent, &reply, &[status]);
        if let Some(allow) = allow {
            expect_header(&server, sent, &reply, "allow", allow);
        }
    }
}

/// A server whose access log (stdout after the first line) the test reads.
pub(crate) struct Logged {
    _child: support::Running,
    pub addr: SocketAddr,
    pub lines: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Logged {
    /// `lesson12 serve www 127.0.0.1:0 extra...`, without `--quiet`.
    pub fn start(site: &Site, extra: &[&str]) -> Logged {
        support::quiet_panics();
        let mut child = Command::new(BIN)
            .args(["serve", site.www.to_str().unwrap(), "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting lesson12");
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            sink.lock().unwrap().push_str(&text);
        });
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let child = support::Running(child);
        let first = lines.recv_timeout(DEADLINE).unwrap_or_default();
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                panic!("the first line should be `listening on ADDR`, got {first:?}")
            });
        Logged {
            _child: child,
            addr,
            lines,
            stderr,
        }
    }

    /// The next access-log line, or a failure.
    pub fn next_line(&self, hint: Hint) -> String {
        self.lines.recv_timeout(DEADLINE).unwrap_or_else(|_| {
            panic!(
                "{}",
                support::report(
                    &format!(
                        "Expected an access-log line on stdout within {DEADLINE:?}; none came."
                    ),
                    &self.stderr.lock().unwrap(),
                    hint
                )
            )
        })
    }
}

#[test]
fn ex12_3_each_answer_gets_an_access_log_line() {
    needs_12_1_and_12_2();
    let site = Site::new();
    let server = Logged::start(&site, &[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let me = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /api/hello?x=1 HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/9\r\n\r\n")
        .unwrap();
    let expected = [
        format!("{me} \"GET /api/hello?x=1 HTTP/1.1\" 200 18"),
        format!("{me} \"-\" 400 "),
    ];
    for want in expected {
        let line = server.next_line(EX12_3);
        assert!(
            line.starts_with(&want),
            "\n\nExpected an access-log line starting {want:?}\nGot: {line:?}\n\n\
             Revisit: {EX12_3} (the log is written by the given server.rs)\n"
        );
    }
}

// -------------------------------------------------- 12.4: files, safely

#[test]
fn ex12_4_resolve_stays_inside_the_root() {
    support::quiet_panics();
    let site = Site::new();
    let root = site.root();
    let ok = [
        ("/hello.txt", root.join("hello.txt")),
        ("/./hello.txt?x=/../y", root.join("hello.txt")),
        ("//hello.txt", root.join("hello.txt")),
        ("/sub/", root.join("sub")),
        ("/", root.clone()),
    ];
    for (target, expected) in ok {
        let got = resolve(&root, target);
        assert_eq!(
            got.as_ref(),
            Ok(&expected),
            "\n\nresolve(root, {target:?}).\n\nRevisit: {EX12_4}\n"
        );
    }
    site.file("a b.txt", b"x");
    let got = resolve(&root, "/a%20b.txt");
    assert_eq!(
        got,
        Ok(root.join("a b.txt")),
        "\n\nresolve(root, \"/a%20b.txt\"): percent-decode.\n\nRevisit: {EX12_4}\n"
    );
    let refused = [
        ("/../secret.txt", 400),
        ("/sub/../hello.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/sub%2f..%2f..%2fsecret.txt", 400),
        ("/hello.txt%00.png", 400),
        ("hello.txt", 400),
        ("/missing.txt", 404),
        ("/%zz", 400),
        ("/a%5cb", 400),
        ("/a%5C..%5Csecret.txt", 400),
    ];
    for (target, status) in refused {
        let got = resolve(&root, target);
        assert!(
            matches!(got, Err(HttpError { status: s, .. }) if s == status),
            "\n\nresolve(root, {target:?}) should be {status}, got {got:?}.\n\nRevisit: {EX12_4}\n"
        );
    }
}

#[test]
fn ex12_4_a_symlink_to_a_sibling_with_the_roots_name_as_prefix_is_403() {
    support::quiet_panics();
    let site = Site::new();
    let root = site.root();
    // `www-secret/` starts with the root's name, `www`, as text: but it is
    // not inside it.
    let sibling = site.base.join("www-secret");
    std::fs::create_dir_all(&sibling).unwrap();
    std::fs::write(sibling.join("secret.txt"), SECRET).unwrap();
    std::os::unix::fs::symlink(&sibling, site.www.join("peek")).unwrap();
    let got = resolve(&root, "/peek/secret.txt");
    assert!(
        matches!(got, Err(HttpError { status: 403, .. })),
        "\n\nresolve(root, \"/peek/secret.txt\"), where `peek` is a symlink to {}, should \
         be 403, got {got:?}. Compare paths component by component (`Path::starts_with`), \
         not as text: {} starts with {} as text.\n\nRevisit: {EX12_4}\n",
        sibling.display(),
        sibling.display(),
        root.display()
    );
}

#[test]
fn ex12_4_a_file_with_a_trailing_slash_is_404() {
    let site = Site::new();
    needs_12_4(&site);
    let server = site.serve(EX12_4, &[]);
    let mut client = Client::new(&server);
    let sent = get("/hello.txt/");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[404]);
}

/// Asks for `target` and checks that the secret did not come back.
fn assert_refused(site: &Site, server: &Server, target: &str) {
    let mut client = Client::new(server);
    let sent = get(target);
    let reply = client.ask(&sent);
    let leaked = reply
        .body
        .windows(SECRET.len())
        .any(|w| w == SECRET.as_bytes());
    if leaked || ![400, 403, 404].contains(&reply.status) {
        server.fail(&format!(
            "Sent:     {}\nExpected: 400, 403 or 404, and never the file outside the served \
             directory ({})\nGot:      {}",
            show(sent.as_bytes()),
            site.base.join("secret.txt").display(),
            show(&reply.raw)
        ));
    }
}

fn traversal(target: &str) {
    let site = Site::new();
    needs_12_4(&site);
    let server = site.serve(EX12_4, &[]);
    assert_refused(&site, &server, target);
}

#[test]
fn ex12_4_traversal_with_dot_dot() {
    traversal("/../secret.txt");
}

#[test]
fn ex12_4_traversal_with_encoded_dots() {
    traversal("/%2e%2e/secret.txt");
}

#[test]
fn ex12_4_traversal_with_mixed_case_encoded_dots() {
    traversal("/%2E%2e/secret.txt");
}

#[test]
fn ex12_4_traversal_with_an_encoded_slash_after_dots() {
    traversal("/..%2fsecret.txt");
}

#[test]
fn ex12_4_traversal_with_encoded_slashes_in_a_segment() {
    traversal("/sub%2f..%2f..%2fsecret.txt");
}

#[test]
fn ex12_4_traversal_with_a_backslash() {
    traversal("/..%5csecret.txt");
}

#[test]
fn ex12_4_traversal_with_an_absolute_path_after_double_slash() {
    let site = Site::new();
    needs_12_4(&site);
    let server = site.serve(EX12_4, &[]);
    let secret = site.base.canonicalize().unwrap().join("secret.txt");
    assert_refused(&site, &server, &format!("/{}", secret.display()));
}

#[test]
fn ex12_4_traversal_in_absolute_form() {
    traversal("http://test/../secret.txt");
}

#[test]
fn ex12_4_traversal_with_a_nul_byte() {
    traversal("/../secret.txt%00.html");
    traversal("/hello.txt%00");
}

#[cfg(unix)]
#[test]
fn ex12_4_traversal_through_a_symlink_out_of_the_root() {
    let site = Site::new();
    needs_12_4(&site);
    std::os::unix::fs::symlink(site.base.join("secret.txt"), site.www.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(&site.base, site.www.join("up")).unwrap();
    let server = site.serve(EX12_4, &[]);
    assert_refused(&site, &server, "/link.txt");
    assert_refused(&site, &server, "/up/secret.txt");
}

#[cfg(unix)]
#[test]
fn ex12_4_traversal_through_a_symlinked_index_html() {
    let site = Site::new();
    needs_12_4(&site);
    // A directory's index.html is looked up by the server, not asked for:
    // it must be held to the root all the same.
    std::fs::create_dir(site.www.join("inner")).unwrap();
    std::os::unix::fs::symlink(
        site.base.join("secret.txt"),
        site.www.join("inner/index.html"),
    )
    .unwrap();
    let server = site.serve(EX12_4, &[]);
    assert_refused(&site, &server, "/inner/");
}

#[test]
fn ex12_4_files_have_their_content_type() {
    let site = Site::new();
    needs_12_4(&site);
    let cases = [
        ("page.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("pic.png", "image/png"),
        ("data.bin", "application/octet-stream"),
    ];
    for (name, _) in cases {
        site.file(name, name.as_bytes());
    }
    let server = site.serve(EX12_4, &[]);
    let mut client = Client::new(&server);
    for (name, content_type) in cases {
        let sent = get(&format!("/{name}"));
        let reply = client.ask(&sent);
        expect_status(&server, &sent, &reply, &[200]);
        expect_header(&server, &sent, &reply, "content-type", content_type);
        expect_header(&server, &sent, &reply, "accept-ranges", "bytes");
        if reply.body != name.as_bytes() {
            server.fail(&format!(
                "GET /{name}: expected the file's bytes, got {}",
                show(&reply.raw)
            ));
        }
    }
    let sent = "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    let reply = client.ask(sent);
    expect_header(
        &server,
        sent,
        &reply,
        "content-length",
        &HELLO.len().to_string(),
    );
    let sent = get("/missing.txt");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[404]);
    let sent = "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[405]);
    expect_header(&server, sent, &reply, "allow", "GET, HEAD");
}

#[test]
fn ex12_4_etag_and_if_none_match_give_304() {
    let site = Site::new();
    needs_12_4(&site);
    let server = site.serve(EX12_4, &[]);
    let mut client = Client::new(&server);
    let sent = get("/hello.txt");
    let reply = client.ask(&sent);
    let Some(etag) = reply.header("etag").map(str::to_string) else {
        server.fail(&format!(
            "GET /hello.txt: expected an ETag field, got {}",
            show(&reply.raw)
        ));
    };
    let sent =
        format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\", {etag}\r\n\r\n");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[304]);
    let sent = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: \"other\"\r\n\r\n";
    let reply = client.ask(sent);
    expect_status(&server, sent, &reply, &[200]);
}

#[test]
fn ex12_4_a_listing_escapes_names_and_an_index_is_served() {
    let site = Site::new();
    needs_12_4(&site);
    site.file("<script>alert(1).txt", b"x");
    let server = site.serve(EX12_4, &[]);
    let mut client = Client::new(&server);
    let sent = get("/");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
    let page = String::from_utf8_lossy(&reply.body);
    if page.contains("<script>") || !page.contains("&lt;script&gt;") || !page.contains("hello.txt")
    {
        server.fail(&format!(
            "GET / lists the directory; a file named `<script>alert(1).txt` must be \
             shown escaped (&lt;script&gt;), never as markup. Got: {}",
            show(&reply.body)
        ));
    }
    let sent = get("/sub/");
    let reply = client.ask(&sent);
    if reply.body != b"<h1>sub</h1>\n" {
        server.fail(&format!(
            "GET /sub/ should serve sub/index.html; got {}",
            show(&reply.raw)
        ));
    }
}

#[test]
fn ex12_4_a_10_mb_file_is_streamed_with_bounded_memory() {
    let site = Site::new();
    needs_12_4(&site);
    let content = support::binary_bytes(10 * 1024 * 1024);
    site.file("big.bin", &content);
    let server = site.serve(EX12_4, &[]);
    let mut client = Client::new(&server);
    let sent = get("/big.bin");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
    if reply.body != content {
        server.fail(&format!(
            "GET /big.bin (10 MiB): the body differs from the file: {}",
            support::first_difference(&content, &reply.body)
        ));
    }
    if let Some(peak) = server.peak_memory() {
        // The server alone holds a few MB; the file in memory would add 10 more.
        if peak > 9 * 1024 * 1024 {
            server.fail(&format!(
                "Serving a 10 MiB file, the server's memory peaked at {} kB: it should send \
                 the file in pieces, not read it whole.",
                peak / 1024
            ));
        }
    }
}

#[test]
fn ex12_4_a_peer_that_never_reads_does_not_hold_up_others() {
    let site = Site::new();
    needs_12_4(&site);
    const BIG: usize = 32 * 1024 * 1024;
    site.file("big.bin", &support::binary_bytes(BIG));
    let server = site.serve(EX12_4, &["--idle-timeout-ms", "200"]);
    // Asks for 32 MiB and reads none of it: more than the kernel's socket
    // buffers hold, so the server's writes wait.
    let mut stuck = Client::new(&server);
    stuck.send(get("/big.bin").as_bytes());
    let mut other = Client::new(&server);
    let sent = get("/hello.txt");
    let reply = other.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
    // An observation window, not synchronisation: the server must give up
    // on an answer nobody takes within --idle-timeout-ms 200.
    thread::sleep(Duration::from_millis(700));
    let mut received = 0;
    let mut piece = vec![0u8; 1 << 20];
    while let Ok(n @ 1..) = stuck.stream.read(&mut piece) {
        received += n;
    }
    if received >= BIG {
        server.fail(&format!(
            "A client asked for 32 MiB and read nothing for 700 ms, with --idle-timeout-ms \
             200; the server should have given up on the answer and closed the connection, \
             but it was still there to read: {received} bytes."
        ));
    }
}

#[test]
fn ex12_4_serves_after_a_thousand_clients_come_and_go() {
    let site = Site::new();
    needs_12_4(&site);
    let server = site.serve(EX12_4, &[]);
    let mut served = || {
        let mut client = Client::new(&server);
        let sent = get("/hello.txt");
        let reply = client.ask(&sent);
        expect_status(&server, &sent, &reply, &[200]);
    };
    support::churn(server.addr(), 1000, &mut served);
    served();
}

// ------------------------------------------------------- 12.5: ranges

#[test]
fn ex12_5_parse_range_cases() {
    support::quiet_panics();
    use Ranged::*;
    let part = |start, end| Part { start, end };
    let cases: [(&str, u64, Ranged); 21] = [
        ("bytes=0-4", 10, part(0, 4)),
        ("bytes=2-2", 10, part(2, 2)),
        ("bytes=5-", 10, part(5, 9)),
        ("bytes=5-100", 10, part(5, 9)),
        ("bytes=-3", 10, part(7, 9)),
        ("bytes=-30", 10, part(0, 9)),
        ("bytes=9-9", 10, part(9, 9)),
        ("bytes=10-", 10, Unsatisfiable),
        ("bytes=10-20", 10, Unsatisfiable),
        ("bytes=-0", 10, Unsatisfiable),
        ("bytes=0-", 0, Unsatisfiable),
        ("bytes=5-2", 10, Whole),
        ("bytes=0-1,4-5", 10, Whole),
        ("items=0-4", 10, Whole),
        ("bytes=a-b", 10, Whole),
        ("bytes=+1-2", 10, Whole),
        ("bytes=-5", 0, Unsatisfiable),
        ("bytes=15-12", 10, Whole),
        ("BYTES=1-2", 10, part(1, 2)),
        ("Bytes=-3", 10, part(7, 9)),
        ("bytes =1-2", 10, Whole),
    ];
    for (range, len, expected) in cases {
        let got = parse_range(range, len);
        assert_eq!(
            got, expected,
            "\n\nparse_range({range:?}, {len}).\n\nRevisit: {EX12_5}\n"
        );
    }
}

#[test]
fn ex12_5_ranges_through_the_server() {
    let site = Site::new();
    needs_12_4(&site);
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    site.file("data.bin", &content);
    let server = site.serve(EX12_5, &[]);
    let mut client = Client::new(&server);
    let len = content.len();
    let cases: [(&str, usize, usize); 4] = [
        ("bytes=2-5", 2, 5),
        ("bytes=-5", len - 5, len - 1),
        ("bytes=199990-", 199_990, len - 1),
        ("bytes=100-150000", 100, 150_000),
    ];
    for (range, start, end) in cases {
        let sent = format!("GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: {range}\r\n\r\n");
        let reply = client.ask(&sent);
        expect_status(&server, &sent, &reply, &[206]);
        expect_header(
            &server,
            &sent,
            &reply,
            "content-range",
            &format!("bytes {start}-{end}/{len}"),
        );
        if reply.body != content[start..=end] {
            server.fail(&format!(
                "Sent {}\nThe body should be bytes {start} to {end} of the file: {}",
                show(sent.as_bytes()),
                support::first_difference(&content[start..=end], &reply.body)
            ));
        }
    }
    let sent = format!("GET /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes={len}-\r\n\r\n");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[416]);
    expect_header(
        &server,
        &sent,
        &reply,
        "content-range",
        &format!("bytes */{len}"),
    );
    for range in ["bytes=5-2", "bytes=0-1,5-6"] {
        let sent = format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: {range}\r\n\r\n");
        let reply = client.ask(&sent);
        expect_status(&server, &sent, &reply, &[200]);
        if reply.body != HELLO.as_bytes() {
            server.fail(&format!(
                "Sent {}: expected the whole file; got {}",
                show(sent.as_bytes()),
                show(&reply.raw)
            ));
        }
    }
}

// ------------------------------------------------------------- given code

#[test]
fn given_a_download_cut_off_is_logged_with_the_bytes_sent() {
    let site = Site::new();
    needs_12_4(&site);
    let len = 32 * 1024 * 1024;
    site.file("big.bin", &vec![b'x'; len]);
    let server = Logged::start(&site, &[]);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let me = stream.local_addr().unwrap();
    stream
        .write_all(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Take a little of the answer, then leave with a reset, as a curl
    // killed mid-download does.
    let mut piece = [0u8; 64 * 1024];
    let _ = stream.read(&mut piece);
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
    let line = server.next_line(EX12_4);
    let want = format!("{me} \"GET /big.bin HTTP/1.1\" 200 ");
    let sent: Option<usize> = line.strip_prefix(&want).and_then(|n| n.parse().ok());
    assert!(
        sent.is_some_and(|n| n < len),
        "\n\nA client asked for a 32 MiB file and reset the connection after one read. \
         Expected an access-log line `{want}N`, N the bytes sent before the reset (less \
         than {len}).\nGot: {line:?}\n\n(The log is written by the given server.rs.)\n"
    );
}

#[test]
fn given_serve_prints_the_address_it_really_bound() {
    let site = Site::new();
    let server = site.serve(Hint("the given `main.rs`"), &[]);
    support::assert_real_port(&server);
}

#[test]
fn given_a_port_in_use_and_a_missing_directory_are_explained() {
    let site = Site::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let www = site.www.to_str().unwrap();
    support::assert_fails_saying(
        BIN,
        &["serve", www, &addr],
        &[&format!("could not bind {addr}"), "in use"],
    );
    let missing = site.base.join("missing");
    let missing = missing.to_str().unwrap();
    support::assert_fails_saying(
        BIN,
        &["serve", missing],
        &[&format!("cannot serve {missing}")],
    );
}

#[test]
fn given_serves_ipv6() {
    if !support::ipv6_loopback("given_serves_ipv6") {
        return;
    }
    let site = Site::new();
    needs_12_3();
    let www = site.www.to_str().unwrap();
    let server = Server::start(BIN, &["serve", www, "[::1]:0", "--quiet"], EX12_3);
    let mut client = Client::new(&server);
    let sent = get("/api/hello");
    let reply = client.ask(&sent);
    expect_status(&server, &sent, &reply, &[200]);
}

/// stdin, stdout, stderr, the listener, and tokio's three: its epoll
/// instance, a copy of it, and the eventfd that wakes it. Nothing is left
/// for a client.
#[cfg(target_os = "linux")]
const FILES_FOR_THE_SERVER_ALONE: u32 = 7;

#[cfg(target_os = "linux")]
#[test]
fn given_calm_when_out_of_files() {
    let site = Site::new();
    let server = Server::start_with_hard_file_limit(
        BIN,
        &[
            "serve",
            site.www.to_str().unwrap(),
            "127.0.0.1:0",
            "--quiet",
        ],
        FILES_FOR_THE_SERVER_ALONE,
        Hint("the given accept loop in server.rs"),
    );
    let _waiting = TcpStream::connect(server.addr()).unwrap();
    support::assert_calm_when_out_of_files(&server, "the given accept loop (server.rs)");
}

#[test]
fn given_the_demo_runs() {
    support::assert_demo_runs(
        BIN,
        &[
            "\"{\\\"bytes\\\":12,\\\"chunked\\\":true,\\\"body\\\":\\\"Hello, chunk\\\"}\\n\"",
            "HTTP/1.1 304 Not Modified",
            "Content-Range: bytes 7-10/13",
            "HTTP/1.1 400 Bad Request",
        ],
    );
}
