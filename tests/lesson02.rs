//! Lesson 2 — streams, lines and errors. Run with `cargo test -p lesson02`.
//!
//! Tests named `ex2_k_...` check exercise 2.k; `given_...` check given code.
//! A test of a later exercise first checks the earlier ones it builds on, and
//! says so if one of them is not done yet.

mod support;

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lesson02::client::connect_any;
use lesson02::errors::explain;
use lesson02::lines::read_line;
use lesson02::protocol::{MAX_LINE, Reply, respond};
use lesson02::server::{last_words, session};
use proptest::prelude::*;
use socket2::{Domain, SockRef, Socket, Type};
use support::{DEADLINE, Hint, Server, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson02");

/// What the demo's "Try it yourself" commands add to `cargo run -p lesson02`:
/// the build the demo itself came from, so that copying them runs the same code.
const FEATURES: &str = if cfg!(feature = "solution") {
    " --features solution"
} else {
    ""
};

const EX2_1: Hint = Hint("exercise 2.1, `read_line` in lessons/lesson02/src/lines.rs — book §2.1");
const EX2_2: Hint =
    Hint("exercise 2.2, `last_words` in lessons/lesson02/src/server.rs — book §2.2");
const EX2_3: Hint = Hint("exercise 2.3, `session` in lessons/lesson02/src/server.rs — book §2.3");
const EX2_4: Hint =
    Hint("exercise 2.4, `connect_any` in lessons/lesson02/src/client.rs — book §2.4");

/// The idle timeout of the servers that test it (`--idle-ms 200`).
const IDLE: Duration = Duration::from_millis(200);

/// The server of `cargo run -p lesson02 -- server`, on a free port, with
/// `extra` arguments. It runs your `session` (2.3), which needs `read_line`
/// (2.1) and `last_words` (2.2): they are checked first.
fn server(extra: &[&str]) -> Server {
    support::needs(EX2_1, read_line_works);
    support::needs(EX2_2, last_words_works);
    support::server(BIN, EX2_3, extra)
}

/// A server that sends a client away after 200 ms of silence.
fn impatient_server() -> Server {
    server(&["--idle-ms", "200"])
}

// ---------------------------------------------------------------- exercise 2.1
//
// These tests call your `read_line` directly, on streams in memory that hand
// out their bytes in pieces of any size, the way TCP may.

/// A reader that hands out its items one `read` at a time: a chunk of bytes
/// (maybe only part of it, if the caller's buffer is smaller), or an error.
struct Chunks(VecDeque<io::Result<Vec<u8>>>);

impl Chunks {
    fn new<T: AsRef<[u8]>>(chunks: &[T]) -> Chunks {
        // An empty chunk would read as Ok(0): end of stream.
        let chunks = chunks
            .iter()
            .map(|c| c.as_ref().to_vec())
            .filter(|c| !c.is_empty())
            .map(Ok);
        Chunks(chunks.collect())
    }

    /// `bytes` cut at the given offsets.
    fn cut(bytes: &[u8], cuts: &[usize]) -> Chunks {
        let mut offsets: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        offsets.extend([0, bytes.len()]);
        offsets.sort_unstable();
        let pieces: Vec<&[u8]> = offsets.windows(2).map(|w| &bytes[w[0]..w[1]]).collect();
        Chunks::new(&pieces)
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.pop_front() {
            None => Ok(0),
            Some(Err(e)) => Err(e),
            Some(Ok(mut chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(Ok(chunk.split_off(n)));
                }
                Ok(n)
            }
        }
    }
}

/// What `read_line` made of a whole stream: the lines, then how it ended
/// (`None` for a clean end of stream, or the error's kind and message).
#[derive(Debug, PartialEq)]
struct Outcome {
    lines: Vec<String>,
    error: Option<(io::ErrorKind, String)>,
}

impl Outcome {
    /// The same, with the message of an error dropped unless the contract
    /// fixes it (InvalidData's); other messages are the learner's own words.
    fn as_contracted(&self) -> (Vec<String>, Option<(io::ErrorKind, String)>) {
        let error = self.error.as_ref().map(|(kind, message)| match kind {
            io::ErrorKind::InvalidData => (*kind, message.clone()),
            _ => (*kind, String::new()),
        });
        (self.lines.clone(), error)
    }
}

/// Calls `read_line(reader, max)` until it returns `None` or an error.
fn read_all(mut reader: impl BufRead, max: usize, budget: usize) -> Outcome {
    let mut lines = Vec::new();
    // Every line takes at least one byte; more calls than that is a loop.
    for _ in 0..=budget {
        match read_line(&mut reader, max) {
            Ok(Some(line)) => lines.push(line),
            Ok(None) => return Outcome { lines, error: None },
            Err(e) => {
                let error = Some((e.kind(), e.to_string()));
                return Outcome { lines, error };
            }
        }
    }
    panic!(
        "read_line returned a line {} times from a stream of {budget} bytes; \
         it must consume what it returns\nRevisit: {EX2_1}",
        budget + 1
    )
}

/// Reads `chunks` (each one `read`) with `read_line(_, max)`, within the deadline.
fn lines_of(chunks: &[&[u8]], max: usize) -> Outcome {
    let budget = chunks.iter().map(|c| c.len()).sum();
    let reader = BufReader::new(Chunks::new(chunks));
    within(
        &format!("read_line on a stream in memory — revisit {EX2_1}"),
        move || read_all(reader, max, budget),
    )
}

fn lines(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|l| l.to_string()).collect()
}

/// These lines, then a clean end of stream.
fn clean(sent: &[&str]) -> Outcome {
    Outcome {
        lines: lines(sent),
        error: None,
    }
}

/// Checks that `read_line` works at all, for the tests of later exercises.
fn read_line_works() -> Result<(), String> {
    let chunks: &[&[u8]] = &[b"PI", b"NG\r\nx", b"\n"];
    let got = read_all(BufReader::new(Chunks::new(chunks)), 10, 9);
    if got != clean(&["PING", "x"]) {
        return Err(format!(
            "read_line(max = 10) on \"PING\\r\\nx\\n\", in three pieces, gave {got:?}"
        ));
    }
    let too_long = read_all(&b"0123456789ab\n"[..], 10, 13);
    if too_long.as_contracted() != (vec![], TOO_LONG.map(|(k, m)| (k, m.to_string()))) {
        return Err(format!(
            "read_line(max = 10) on a line of 12 bytes gave {too_long:?}"
        ));
    }
    // The limit exactly: 10 bytes fit, with their "\r\n" too.
    let exact = read_all(&b"0123456789\r\n"[..], 10, 12);
    if exact != clean(&["0123456789"]) {
        return Err(format!(
            "read_line(max = 10) on a line of exactly 10 bytes, then \"\\r\\n\", gave {exact:?}"
        ));
    }
    // A flood without a newline is refused after max + 2 bytes, not read to the end.
    let flood = vec![b'x'; 1 << 20];
    let mut rest = &flood[..];
    let result = read_line(&mut rest, 10);
    let taken = flood.len() - rest.len();
    if result.is_ok() || taken > 12 {
        return Err(format!(
            "read_line(max = 10) on 1 MiB without a newline took {taken} bytes and gave \
             {:?}; it must refuse the line after at most 12",
            result.map(|line| line.map(|l| l.len()))
        ));
    }
    Ok(())
}

#[test]
fn ex2_1_reads_lines_that_arrive_in_pieces() {
    let chunks: &[&[u8]] = &[b"PI", b"NG\nEC", b"HO hi\nUPPER", b" a\n"];
    let got = lines_of(chunks, MAX_LINE);
    assert_eq!(
        got,
        clean(&["PING", "ECHO hi", "UPPER a"]),
        "\nThe stream arrived in four reads: {chunks:?}.\n\
         Expected three lines, then a clean end of stream (Ok(None)).\nRevisit: {EX2_1}"
    );
}

#[test]
fn ex2_1_strips_the_newline_and_one_carriage_return_before_it() {
    let chunks: &[&[u8]] = &[b"telnet\r\nnc\n\r\n\nin\rside\ntwo\r\r\n"];
    let got = lines_of(chunks, MAX_LINE);
    assert_eq!(
        got,
        clean(&["telnet", "nc", "", "", "in\rside", "two\r"]),
        "\nSent {}: expected the lines without their \\n or \\r\\n, empty lines as \"\", \
         a \\r inside a line kept, and of \"\\r\\r\\n\" only the last \\r removed.\n\
         Revisit: {EX2_1}",
        show(chunks[0])
    );
}

#[test]
fn ex2_1_returns_none_at_a_clean_end_of_stream() {
    let got = lines_of(&[], MAX_LINE);
    assert_eq!(
        got,
        clean(&[]),
        "\nAn empty stream has no line: read_line must return Ok(None).\nRevisit: {EX2_1}"
    );
}

#[test]
fn ex2_1_an_end_of_stream_in_the_middle_of_a_line_is_unexpected_eof() {
    for (sent, before) in [(&b"PING\nPIN"[..], &["PING"][..]), (b"\r", &[])] {
        let got = lines_of(&[sent], MAX_LINE);
        assert_eq!(
            (lines(before), Some(io::ErrorKind::UnexpectedEof)),
            (got.lines.clone(), got.error.as_ref().map(|(kind, _)| *kind)),
            "\nSent {} and ended the stream: expected {before:?}, then an error of kind \
             UnexpectedEof for the unfinished line. Got {got:?}.\nRevisit: {EX2_1}",
            show(sent)
        );
    }
}

/// The error `read_line` returned, as (kind, message), if any.
fn error_of(outcome: &Outcome) -> Option<(io::ErrorKind, &str)> {
    outcome.error.as_ref().map(|(kind, m)| (*kind, m.as_str()))
}

const TOO_LONG: Option<(io::ErrorKind, &str)> = Some((io::ErrorKind::InvalidData, "line too long"));

#[test]
fn ex2_1_accepts_max_bytes_and_refuses_one_more() {
    // The limit counts the line, not its ending: "\r\n" fits as well as "\n".
    for sent in [&b"12345678\n"[..], b"12345678\r\n"] {
        let fits = lines_of(&[sent], 8);
        assert_eq!(
            fits,
            clean(&["12345678"]),
            "\nWith max = 8, the 8-byte line in {} fits: the line ending does not count.\n\
             Revisit: {EX2_1}",
            show(sent)
        );
    }
    for sent in [&b"123456789\n"[..], b"123456789\r\n", b"123456789"] {
        let too_long = lines_of(&[sent], 8);
        assert!(
            too_long.lines.is_empty() && error_of(&too_long) == TOO_LONG,
            "\nWith max = 8, the 9-byte line in {} is too long: expected an error of kind \
             InvalidData with the message \"line too long\", got {too_long:?}.\nRevisit: {EX2_1}",
            show(sent)
        );
    }
}

#[test]
fn ex2_1_max_line_is_8_kib_and_the_limit_holds_there() {
    assert_eq!(MAX_LINE, 8192, "MAX_LINE in protocol.rs is given: 8 KiB");
    let fits = format!("{}\r\n", "x".repeat(MAX_LINE));
    let got = lines_of(&[fits.as_bytes()], MAX_LINE);
    assert!(
        got.error.is_none() && got.lines.len() == 1 && got.lines[0].len() == MAX_LINE,
        "\nA line of exactly 8192 bytes, then \"\\r\\n\": expected it back (8192 bytes), \
         then a clean end of stream; got {} line(s) and {:?}.\nRevisit: {EX2_1}",
        got.lines.len(),
        got.error
    );
    let over = format!("{}\n", "x".repeat(MAX_LINE + 1));
    let got = lines_of(&[over.as_bytes()], MAX_LINE);
    assert!(
        got.lines.is_empty() && error_of(&got) == TOO_LONG,
        "\nA line of 8193 bytes: expected InvalidData, \"line too long\"; got {} line(s) and \
         {:?}.\nRevisit: {EX2_1}",
        got.lines.len(),
        got.error
    );
}

#[test]
fn ex2_1_gives_up_at_the_limit_without_waiting_for_a_newline() {
    // A mebibyte without a newline: a limit that is only checked once the
    // line is complete would buffer all of it first (and, from a peer that
    // never sends `\n`, forever).
    let mut input = vec![b'x'; 1 << 20];
    input.push(b'\n');
    let (result, unread) = within(
        &format!("read_line on 1 MiB without a newline — revisit {EX2_1}"),
        move || {
            let mut rest = &input[..];
            let result = read_line(&mut rest, 100).map_err(|e| (e.kind(), e.to_string()));
            (result, rest.len())
        },
    );
    let consumed = (1 << 20) + 1 - unread;
    let refused = matches!(&result, Err((io::ErrorKind::InvalidData, m)) if m == "line too long");
    assert!(
        refused && consumed <= 102,
        "\nread_line(max = 100) on 1 MiB of 'x' then a newline: expected an InvalidData \
         error \"line too long\" after taking at most 102 bytes (100, and room for \"\\r\\n\").\n\
         Got {:?} after taking {consumed} bytes.\nRevisit: {EX2_1}",
        result.map(|line| line.map(|l| show(l.as_bytes())))
    );
}

#[test]
fn ex2_1_takes_nothing_past_the_newline() {
    // Whatever follows the `\n` belongs to the next line: it stays in the
    // reader. (A plain slice is a BufRead that hands out everything at once.)
    let (first, rest) = within(&format!("read_line on a slice — revisit {EX2_1}"), || {
        let mut reader = &b"PING\nECHO next\n"[..];
        let first = read_line(&mut reader, MAX_LINE).map_err(|e| e.to_string());
        (first, reader.to_vec())
    });
    assert!(
        first == Ok(Some("PING".to_string())) && rest == b"ECHO next\n",
        "\nread_line on \"PING\\nECHO next\\n\": expected Ok(Some(\"PING\")), with \
         \"ECHO next\\n\" left in the reader.\nGot {first:?}, and {} left.\nRevisit: {EX2_1}",
        show(&rest)
    );
}

#[test]
fn ex2_1_a_line_too_long_is_too_long_whatever_its_bytes() {
    let sent = b"caf\xe9 au lait\n";
    let got = lines_of(&[sent], 8);
    assert!(
        got.lines.is_empty() && error_of(&got) == TOO_LONG,
        "\nWith max = 8, sent {}: 13 bytes, and not UTF-8 either. Expected an error of kind \
         InvalidData with the message \"line too long\" (the length is checked first), got \
         {got:?}.\nRevisit: {EX2_1}",
        show(sent)
    );
}

#[test]
fn ex2_1_refuses_a_line_that_is_not_utf8() {
    let got = lines_of(&[b"caf\xe9\n"], MAX_LINE);
    let expected = Some((io::ErrorKind::InvalidData, "line is not valid UTF-8"));
    assert!(
        got.lines.is_empty() && error_of(&got) == expected,
        "\nSent \"caf\\xe9\\n\" (Latin-1, not UTF-8): expected an error of kind InvalidData \
         with the message \"line is not valid UTF-8\", got {got:?}.\nRevisit: {EX2_1}"
    );
}

#[test]
fn ex2_1_retries_an_interrupted_read_and_returns_other_errors() {
    let fail = |kind: io::ErrorKind| Err(io::Error::from(kind));
    let chunks = vec![
        Ok(b"PI".to_vec()),
        fail(io::ErrorKind::Interrupted),
        Ok(b"NG\nEC".to_vec()),
        fail(io::ErrorKind::ConnectionReset),
    ];
    let got = within(
        &format!("read_line on a stream in memory — revisit {EX2_1}"),
        move || read_all(BufReader::new(Chunks(chunks.into())), MAX_LINE, 9),
    );
    assert_eq!(
        (got.lines.clone(), got.error.as_ref().map(|(kind, _)| *kind)),
        (lines(&["PING"]), Some(io::ErrorKind::ConnectionReset)),
        "\nA stream delivered \"PI\", then a read failed with Interrupted (a signal arrived), \
         then \"NG\\nEC\", then a read failed with ConnectionReset.\nExpected the line \"PING\" \
         (an interrupted read is tried again), then the ConnectionReset error as it is.\n\
         Got {got:?}.\nRevisit: {EX2_1}"
    );
}

/// What `read_line(_, max)`, called until it stops, must make of `bytes`,
/// worked out the slow and obvious way.
fn expected_outcome(bytes: &[u8], max: usize) -> (Vec<String>, Option<(io::ErrorKind, String)>) {
    let invalid = |m: &str| Some((io::ErrorKind::InvalidData, m.to_string()));
    let mut lines = Vec::new();
    let mut rest = bytes;
    loop {
        if rest.is_empty() {
            return (lines, None);
        }
        // No more than max + 2 bytes are looked at for one line.
        let window = &rest[..rest.len().min(max + 2)];
        let Some(end) = window.iter().position(|&b| b == b'\n') else {
            if window.len() > max {
                return (lines, invalid("line too long"));
            }
            return (lines, Some((io::ErrorKind::UnexpectedEof, String::new())));
        };
        let line = window[..end].strip_suffix(b"\r").unwrap_or(&window[..end]);
        if line.len() > max {
            return (lines, invalid("line too long"));
        }
        match String::from_utf8(line.to_vec()) {
            Ok(line) => lines.push(line),
            Err(_) => return (lines, invalid("line is not valid UTF-8")),
        }
        rest = &rest[end + 1..];
    }
}

/// One plain call first, so that an unwritten `read_line` fails the property
/// tests once, not once for every case proptest tries.
fn read_line_is_written() {
    let got = lines_of(&[b"x\n"], 10);
    assert_eq!(got.lines, lines(&["x"]), "\nRevisit: {EX2_1}");
}

fn properties() -> ProptestConfig {
    ProptestConfig {
        cases: 128,
        // Keep a failing case's report short, and write no files.
        max_shrink_iters: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn ex2_1_any_split_of_valid_lines_reads_the_same() {
    read_line_is_written();
    // Lines of any characters (multi-byte ones too) but line ends, cut
    // anywhere — also in the middle of a character or of a "\r\n".
    support::property(EX2_1, || {
        proptest!(properties(), |(
            sent in prop::collection::vec("[^\r\n]{0,30}", 0..8),
            crlf in any::<bool>(),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
        )| {
            let end = if crlf { "\r\n" } else { "\n" };
            let bytes: Vec<u8> = sent.iter().flat_map(|l| format!("{l}{end}").into_bytes()).collect();
            let got = read_all(BufReader::new(Chunks::cut(&bytes, &cuts)), 200, bytes.len());
            prop_assert_eq!(
                got, Outcome { lines: sent.clone(), error: None },
                "\nthe lines {:?}, sent as {}, cut at {:?}\nRevisit: {}", sent, show(&bytes), cuts, EX2_1
            );
        });
    });
}

#[test]
fn ex2_1_arbitrary_bytes_give_what_the_contract_says_never_a_panic() {
    read_line_is_written();
    // Bytes that make lines interesting: line ends, carriage returns, and
    // pieces of UTF-8, whole or broken.
    let byte = prop_oneof![
        Just(b'\n'),
        Just(b'\r'),
        Just(b'x'),
        Just(0xc3),
        Just(0xa9),
        Just(0xff),
        any::<u8>()
    ];
    support::property(EX2_1, || {
        proptest!(properties(), |(
            bytes in prop::collection::vec(byte, 0..80),
            cuts in prop::collection::vec(any::<usize>(), 0..12),
            max in 0usize..12,
        )| {
            let got = read_all(BufReader::new(Chunks::cut(&bytes, &cuts)), max, bytes.len());
            let expected = expected_outcome(&bytes, max);
            prop_assert_eq!(
                got.as_contracted(), expected,
                "\nread_line(max = {}), called until it stops, on {} cut at {:?}: the left side \
                 is what it returned (the message of an error is shown for InvalidData only), \
                 the right what the contract says.\nRevisit: {}",
                max, show(&bytes), cuts, EX2_1
            );
        });
    });
}

// ---------------------------------------------------------------- exercise 2.2
//
// `last_words` is a pure function: these tests call it with errors of each
// kind, made up or real.

/// `last_words` of an error of `kind` with `message`, within the deadline.
fn words_for(kind: io::ErrorKind, message: &'static str) -> Option<String> {
    within(
        &format!("last_words(an error of kind {kind:?}) — revisit {EX2_2}"),
        move || last_words(&io::Error::new(kind, message)),
    )
}

/// Checks that `last_words` works, for the tests of the server (2.3).
fn last_words_works() -> Result<(), String> {
    use io::ErrorKind::*;
    let cases = [
        (WouldBlock, "os error 11", Some("idle timeout")),
        (TimedOut, "os error 10060", Some("idle timeout")),
        (InvalidData, "line too long", Some("line too long")),
        (
            InvalidData,
            "line is not valid UTF-8",
            Some("line is not valid UTF-8"),
        ),
        (UnexpectedEof, "the stream ended", None),
        (ConnectionReset, "os error 104", None),
    ];
    for (kind, message, expected) in cases {
        let got = last_words(&io::Error::new(kind, message));
        if got.as_deref() != expected {
            return Err(format!(
                "last_words(an error of kind {kind:?}, {message:?}) returned {got:?}, \
                 not {expected:?}"
            ));
        }
    }
    Ok(())
}

#[test]
fn ex2_2_a_read_timeout_is_an_idle_timeout_on_every_system() {
    // The messages are what Linux and Windows say; the kind is what counts.
    for (kind, message) in [
        (
            io::ErrorKind::WouldBlock,
            "Resource temporarily unavailable (os error 11)",
        ),
        (
            io::ErrorKind::TimedOut,
            "A connection attempt failed (os error 10060)",
        ),
    ] {
        let words = words_for(kind, message);
        assert_eq!(
            words.as_deref(),
            Some("idle timeout"),
            "\nlast_words(an error of kind {kind:?}, message {message:?}): a read timeout \
             (Unix reports it as WouldBlock, Windows as TimedOut). Expected \
             Some(\"idle timeout\").\nRevisit: {EX2_2}"
        );
    }
}

#[test]
fn ex2_2_a_broken_protocol_is_told_in_the_errors_own_words() {
    for reason in [
        "line too long",
        "line is not valid UTF-8",
        "any reason read_line gives",
    ] {
        let words = words_for(io::ErrorKind::InvalidData, reason);
        assert_eq!(
            words.as_deref(),
            Some(reason),
            "\nlast_words(an error of kind InvalidData, message {reason:?}): the client broke \
             the protocol, and the message says how. Expected Some({reason:?}), the message \
             itself (without `ERR `: session adds that).\nRevisit: {EX2_2}"
        );
    }
}

#[test]
fn ex2_2_nothing_for_a_client_that_is_gone_or_an_error_of_ours() {
    use io::ErrorKind::*;
    for kind in [
        UnexpectedEof,
        ConnectionReset,
        ConnectionAborted,
        BrokenPipe,
        NotConnected,
        PermissionDenied,
        OutOfMemory,
        Other,
    ] {
        let words = words_for(kind, "something went wrong");
        assert_eq!(
            words, None,
            "\nlast_words(an error of kind {kind:?}): nobody is left to tell, or it is not \
             the client's doing. Expected None.\nRevisit: {EX2_2}"
        );
    }
}

#[test]
fn ex2_2_decides_by_the_kind_never_by_the_message() {
    use io::ErrorKind::*;
    let cases = [
        (WouldBlock, "line too long", Some("idle timeout")),
        (InvalidData, "timed out", Some("timed out")),
        (ConnectionReset, "idle timeout", None),
        (Other, "line too long", None),
    ];
    for (kind, message, expected) in cases {
        let words = words_for(kind, message);
        assert_eq!(
            words.as_deref(),
            expected,
            "\nlast_words(an error of kind {kind:?} whose message is {message:?}): the kind \
             decides, whatever the message says. Expected {expected:?}.\nRevisit: {EX2_2}"
        );
    }
}

/// A connected pair of streams: (the client's end, the server's end).
fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_end, _) = listener.accept().unwrap();
    server_end.set_read_timeout(Some(DEADLINE)).unwrap();
    (client, server_end)
}

#[test]
fn ex2_2_last_words_for_a_real_read_timeout() {
    let (_client, mut server_end) = connected_pair();
    server_end
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let error = server_end
        .read(&mut [0u8; 16])
        .expect_err("the client sends nothing");
    let kind = error.kind();
    let words = within(
        &format!("last_words(a real read timeout) — revisit {EX2_2}"),
        move || last_words(&error),
    );
    assert_eq!(
        words.as_deref(),
        Some("idle timeout"),
        "\nA real read timeout on this system is an error of kind {kind:?}.\n\
         Expected last_words to say \"idle timeout\".\nRevisit: {EX2_2}"
    );
}

#[test]
fn ex2_2_last_words_for_a_real_reset() {
    let (client, mut server_end) = connected_pair();
    // SO_LINGER of zero: close() sends a reset (RST) instead of a polite FIN.
    SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    let error = server_end
        .read(&mut [0u8; 16])
        .expect_err("the client reset the connection");
    let kind = error.kind();
    let words = within(
        &format!("last_words(a real reset) — revisit {EX2_2}"),
        move || last_words(&error),
    );
    assert_eq!(
        words, None,
        "\nA real reset on this system is an error of kind {kind:?}: the client is gone.\n\
         Expected last_words to return None.\nRevisit: {EX2_2}"
    );
}

// ---------------------------------------------------------------- exercise 2.3
//
// Most of these tests talk to the real server, which runs your `session` for
// each client. A few call `session` directly, on a connection the test has
// set up in a way a server cannot be asked to from outside.

#[test]
fn ex2_3_answers_each_request_line() {
    let server = server(&[]);
    let mut conn = server.connect();
    conn.expect_answer("PING", "PONG");
    conn.expect_answer("echo Hello, world", "Hello, world");
    conn.expect_answer("UPPER café au lait", "CAFÉ AU LAIT");
    conn.expect_answer(
        "FROB",
        "ERR unknown command \"FROB\"; try PING, ECHO <text>, UPPER <text> or QUIT",
    );
    // An ERR reply ends the request, not the connection.
    conn.expect_answer("PING", "PONG");
    // Every line gets its reply, as it is: an empty one too, and spaces count.
    conn.expect_answer(
        "",
        "ERR empty request; try PING, ECHO <text>, UPPER <text> or QUIT",
    );
    conn.expect_answer("ECHO  two  spaces ", " two  spaces ");
    // A reply that reads "BYE" is not the reply to QUIT.
    conn.expect_answer("ECHO BYE", "BYE");
    conn.expect_answer("PING", "PONG");
}

#[test]
fn ex2_3_understands_crlf_line_ends() {
    // What `nc -C`, telnet and many Windows programs send.
    let server = server(&[]);
    let mut conn = server.connect();
    conn.send(b"PING\r\nECHO telnet\r\n");
    conn.expect(b"PING\r\nECHO telnet\r\n", b"PONG\ntelnet\n");
}

#[test]
fn ex2_3_answers_requests_sent_together_in_order() {
    // Four requests in one write. They may well arrive in one read: a
    // BufReader holds the rest for the next read_line, unless it is dropped.
    let server = server(&[]);
    let mut conn = server.connect();
    let sent = b"PING\nECHO one\nUPPER two\nECHO three\n";
    conn.send(sent);
    let expected = b"PONG\none\nTWO\nthree\n";
    let got = conn.read_up_to(expected.len());
    if got != expected {
        server.fail(&format!(
            "Sent:     {} in one write\nExpected: {}\nGot:      {} within {DEADLINE:?}\n\
             If only the first reply came: is a new BufReader made for every line? \
             It takes the other lines with it when it is dropped.",
            show(sent),
            show(expected),
            show(&got)
        ));
    }
}

#[test]
fn ex2_3_puts_together_a_request_sent_byte_by_byte() {
    let server = server(&[]);
    let mut conn = server.connect();
    // No Nagle: every one-byte write leaves as its own packet.
    conn.stream.set_nodelay(true).unwrap();
    for byte in "UPPER slowly, é\n".as_bytes() {
        conn.send(&[*byte]);
    }
    conn.expect(
        "UPPER slowly, é\n (one byte per write)".as_bytes(),
        "SLOWLY, É\n".as_bytes(),
    );
}

#[test]
fn ex2_3_accepts_a_line_of_exactly_max_line_bytes() {
    // 8192 bytes before the line ending, with "\n" and then with "\r\n".
    let server = server(&[]);
    let mut conn = server.connect();
    let text = "x".repeat(MAX_LINE - "ECHO ".len());
    let expected = format!("{text}\n");
    for end in ["\n", "\r\n"] {
        conn.send(format!("ECHO {text}{end}").as_bytes());
        let got = conn.read_up_to(expected.len());
        if got != expected.as_bytes() {
            server.fail(&format!(
                "Sent:     \"ECHO xxx...x\": 8192 bytes, MAX_LINE exactly, then {:?}\n\
                 Expected: the {} x's back, then \"\\n\"\nGot:      {}",
                end,
                text.len(),
                show(&got)
            ));
        }
    }
}

#[test]
fn ex2_3_says_bye_and_closes_on_quit() {
    // QUIT and another request in one write: after BYE, nothing more.
    let server = server(&[]);
    let mut conn = server.connect();
    let sent = b"Quit now\nPING\n";
    conn.send(sent);
    let got = conn.expect_close("the client said QUIT, and the server answers BYE and closes");
    if got != b"BYE\n" {
        server.fail(&format!(
            "Sent:     {} in one write\nExpected: \"BYE\\n\", then a close\n\
             Got:      {}, then a close\nAfter BYE, session returns: the PING is never read.",
            show(sent),
            show(&got)
        ));
    }
}

/// Waits for the server's log line about the client at `peer`, in which
/// `text` must appear; the whole line, if it does.
fn logged(server: &Server, peer: SocketAddr, text: &str) -> Option<String> {
    let prefix = format!("{peer}: ");
    let line = || {
        server
            .stderr()
            .lines()
            .find(|l| l.starts_with(&prefix) && l.contains(text))
            .map(str::to_string)
    };
    support::wait_until(|| line().is_some())
        .then(line)
        .flatten()
}

/// The server's log lines about the client at `peer`, for a failure message.
fn log_of(server: &Server, peer: SocketAddr) -> String {
    let prefix = format!("{peer}: ");
    let lines: Vec<String> = server
        .stderr()
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(|l| format!("    {l}"))
        .collect();
    if lines.is_empty() {
        "    (nothing)".to_string()
    } else {
        lines.join("\n")
    }
}

#[test]
fn ex2_3_returns_ok_when_the_client_finishes_and_serves_the_next() {
    let server = server(&[]);
    for _ in 0..2 {
        let mut conn = server.connect();
        let peer = conn.stream.local_addr().unwrap();
        conn.send(b"PING\n");
        conn.finish_sending();
        conn.expect(b"PING\n, then shutdown(Write)", b"PONG\n");
        conn.expect_close("the client half-closed: read_line returned None");
        if logged(&server, peer, "done, closed").is_none() {
            server.fail(&format!(
                "A client sent \"PING\\n\" and half-closed: a clean end between two lines.\n\
                 Expected the server's log to say `{peer}: done, closed` (session returned \
                 Ok(())).\nIts log about that client:\n{}",
                log_of(&server, peer)
            ));
        }
    }
}

#[test]
fn ex2_3_replies_at_once_not_40_ms_later() {
    // A reply sent in two writes (the text, then "\n") waits for the
    // client's acknowledgement of the first before the second may leave
    // (Nagle's algorithm), and the client delays that acknowledgement by up
    // to 40 ms hoping to send it with data. One write per reply avoids it.
    let server = server(&[]);
    let mut conn = server.connect();
    let requests = ["PING", "UPPER quick", "ECHO fast", "FROB"];
    let mut times = Vec::new();
    for i in 0..21 {
        let start = Instant::now();
        conn.send(format!("{}\n", requests[i % requests.len()]).as_bytes());
        conn.read_line();
        times.push(start.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    // On loopback a round trip takes a fraction of a millisecond; 20 ms is
    // far more than a busy machine needs, and half of Nagle's delay.
    if median > Duration::from_millis(20) {
        server.fail(&format!(
            "21 requests, each sent when the reply to the one before had come back: the \
             median round trip took {median:?} (the fastest {:?}, the slowest {:?}).\n\
             Expected well under 20 ms: on loopback a round trip takes less than one.\n\
             Is each reply sent in two writes (`writeln!`, or the reply and then \"\\n\")? \
             The second waits for the client's ACK of the first: send the reply and its \
             newline in one write_all.",
            times[0],
            times[times.len() - 1]
        ));
    }
}

#[test]
fn ex2_3_an_idle_client_is_told_and_the_next_one_is_served() {
    let server = impatient_server();
    let mut silent = server.connect();
    let peer = silent.stream.local_addr().unwrap();
    let mut next = server.connect();
    next.send(b"PING\n");
    // The server (200 ms of patience) gives up on the silent one...
    let got = silent.expect_close("the client said nothing for longer than --idle-ms 200");
    if got != b"ERR idle timeout\n" {
        server.fail(&format!(
            "Sent:     nothing, for 200 ms (--idle-ms 200)\nExpected: \"ERR idle timeout\\n\", \
             then a close\nGot:      {}, then a close",
            show(&got)
        ));
    }
    // ...and so gets to the one waiting behind it.
    next.expect(b"PING\n", b"PONG\n");
    // The log shows the read error, with its kind: session returned it.
    let kinds = ["[WouldBlock]", "[TimedOut]"];
    if !kinds
        .iter()
        .any(|kind| logged(&server, peer, kind).is_some())
    {
        server.fail(&format!(
            "A client said nothing for 200 ms and was told \"ERR idle timeout\".\n\
             Expected the server's log to show the read timeout, as \
             `{peer}: … [WouldBlock], closed` ([TimedOut] on Windows): after the ERR line, \
             session returns the read error, not Ok(()).\nIts log about that client:\n{}",
            log_of(&server, peer)
        ));
    }
}

#[test]
fn ex2_3_a_client_that_stops_mid_line_is_timed_out_too() {
    // Half a request, then silence. The timeout is per read, so it fires in
    // the middle of a line as well.
    let server = impatient_server();
    let mut conn = server.connect();
    conn.expect_answer("PING", "PONG");
    conn.send(b"ECHO half a li");
    let got = conn.expect_close("the client stopped in the middle of a line, for 200 ms");
    if got != b"ERR idle timeout\n" {
        server.fail(&format!(
            "Sent:     \"ECHO half a li\" and then nothing (--idle-ms 200)\n\
             Expected: \"ERR idle timeout\\n\", then a close\nGot:      {}, then a close",
            show(&got)
        ));
    }
}

#[test]
fn ex2_3_a_slow_client_is_served_as_long_as_each_byte_comes_in_time() {
    // One byte every 50 ms with --idle-ms 250: the whole line takes longer
    // than the idle timeout, but no read waits more than 50 ms. The idle
    // timeout bounds silence, not how long a request may take (§2.3).
    let server = server(&["--idle-ms", "250"]);
    let mut conn = server.connect();
    conn.stream.set_nodelay(true).unwrap();
    let sent = b"UPPER x\n";
    let start = Instant::now();
    for byte in sent {
        conn.send(&[*byte]);
        // The pace of a slow client, not a way to synchronise.
        thread::sleep(Duration::from_millis(50));
    }
    let took = start.elapsed();
    let got = conn.read_up_to(b"X\n".len());
    if got != b"X\n" {
        server.fail(&format!(
            "Sent:     {}, one byte every 50 ms ({took:?} in all), to a server with \
             --idle-ms 250\nExpected: \"X\\n\": every byte came well within the idle \
             timeout\nGot:      {}",
            show(sent),
            show(&got)
        ));
    }
}

#[test]
fn ex2_3_a_line_one_byte_over_the_limit_is_refused() {
    // 8193 bytes, then "\n": every byte sent is read, so the close is a clean
    // FIN and the ERR line cannot be lost to a reset.
    let server = server(&[]);
    let mut conn = server.connect();
    let peer = conn.stream.local_addr().unwrap();
    let sent = format!("ECHO {}\n", "x".repeat(MAX_LINE + 1 - "ECHO ".len()));
    conn.send(sent.as_bytes());
    let got = conn.expect_close("the line is longer than MAX_LINE");
    if got != b"ERR line too long\n" {
        server.fail(&format!(
            "Sent:     \"ECHO xxx...x\\n\", 8193 bytes before the \\n\n\
             Expected: \"ERR line too long\\n\", then a close\n\
             Got:      {}, then a close",
            show(&got)
        ));
    }
    if logged(&server, peer, "line too long [InvalidData]").is_none() {
        server.fail(&format!(
            "A client sent a line of 8193 bytes and was told \"ERR line too long\".\n\
             Expected the server's log to say `{peer}: line too long [InvalidData], closed`: \
             after the ERR line, session returns the read error, not Ok(()).\n\
             Its log about that client:\n{}",
            log_of(&server, peer)
        ));
    }
    server.connect().expect_answer("PING", "PONG");
}

#[test]
fn ex2_3_a_flood_without_a_newline_is_cut_off() {
    // Too much: 1 MiB and never a newline. The server must refuse it after
    // MAX_LINE + 2 bytes, not buffer it all (nor wait for the rest).
    let server = server(&[]);
    let mut conn = server.connect();
    let mut sender = conn.stream.try_clone().unwrap();
    thread::spawn(move || sender.write_all(&vec![b'x'; 1 << 20]));
    // The reply may be lost: closing with unread data sends a reset.
    let got = conn.expect_close("1 MiB without a newline is far past MAX_LINE");
    if !(got.is_empty() || got == b"ERR line too long\n") {
        server.fail(&format!(
            "Sent:     1 MiB of 'x', no newline\nExpected: \"ERR line too long\\n\" \
             and a close\nGot:      {}",
            show(&got)
        ));
    }
    server.connect().expect_answer("PING", "PONG");
}

#[test]
fn ex2_3_garbage_that_is_not_utf8_is_refused() {
    let server = server(&[]);
    let mut conn = server.connect();
    let sent = b"\xff\xfe\x00garbage\n";
    conn.send(sent);
    let got = conn.expect_close("the line is not UTF-8");
    if got != b"ERR line is not valid UTF-8\n" {
        server.fail(&format!(
            "Sent:     {}\nExpected: \"ERR line is not valid UTF-8\\n\", then a close\n\
             Got:      {}, then a close",
            show(sent),
            show(&got)
        ));
    }
    server.connect().expect_answer("PING", "PONG");
}

#[test]
fn ex2_3_a_client_that_leaves_mid_line_is_not_told_but_logged() {
    // "PIN", then shutdown(Write): the client can still read, but it has
    // gone as far as the protocol is concerned. last_words says None.
    let server = server(&[]);
    let mut conn = server.connect();
    let peer = conn.stream.local_addr().unwrap();
    conn.send(b"PIN");
    conn.finish_sending();
    let got = conn.expect_close("the client ended its stream in the middle of a line");
    if !got.is_empty() {
        server.fail(&format!(
            "Sent:     \"PIN\", then shutdown(Write)\nExpected: a close, and nothing before \
             it (last_words has nothing to say about UnexpectedEof)\nGot:      {}",
            show(&got)
        ));
    }
    if logged(&server, peer, "[UnexpectedEof]").is_none() {
        server.fail(&format!(
            "A client sent \"PIN\" and ended its stream.\nExpected the server's log to show \
             the error, as `{peer}: … [UnexpectedEof], closed`: session returns the read \
             error.\nIts log about that client:\n{}",
            log_of(&server, peer)
        ));
    }
}

#[test]
fn ex2_3_clients_vanishing_mid_line_do_not_stop_the_server() {
    let server = server(&[]);
    // One hangs up politely in the middle of a line, one resets.
    let mut polite = server.connect();
    polite.send(b"PIN");
    drop(polite);
    let mut rude = server.connect();
    rude.send(b"ECH");
    SockRef::from(&rude.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);

    server.connect().expect_answer("PING", "PONG");
    if !server.is_running() {
        server.fail("the server exited after clients vanished in the middle of a line");
    }
}

#[test]
fn ex2_3_a_client_that_never_reads_cannot_hold_the_server() {
    // This client sends request after request and reads no reply. Once the
    // buffers between us are full, the server's reply cannot leave: within
    // 200 ms (--idle-ms) the server must give up on it and serve the next.
    let server = impatient_server();
    let flooder = server.connect();
    let peer = flooder.stream.local_addr().unwrap();
    let mut requests = flooder.stream.try_clone().unwrap();
    let request = format!("ECHO {}\n", "x".repeat(1000));
    let (ended_tx, ended) = mpsc::channel();
    thread::spawn(move || {
        // Ends when the server closes (a write fails) or after 256 MiB.
        for _ in 0..(256 << 10) {
            if let Err(e) = requests.write_all(request.as_bytes()) {
                let _ = ended_tx.send(e);
                return;
            }
        }
    });
    let mut next = server.connect();
    next.send(b"PING\n");
    let got = next.read_up_to(b"PONG\n".len());
    if got != b"PONG\n" {
        server.fail(&format!(
            "A first client sent requests without reading any reply; a second sent \"PING\".\n\
             Expected: the server gives up on the first once a reply cannot be sent within \
             200 ms (--idle-ms 200), and answers the second with \"PONG\"\n\
             Got:      {} within {DEADLINE:?}\nAre replies sent through a WriteWithin with \
             the idle timeout?",
            show(&got)
        ));
    }
    // The flooder's connection is closed: its writes fail.
    let closed = ended.recv_timeout(DEADLINE).is_ok_and(|e| {
        // A write of ours that timed out is not the server closing.
        !matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    });
    if !closed {
        server.fail(&format!(
            "A client sent requests without reading any reply. The server answered the next \
             client, but the first connection stayed open: its writes still succeeded \
             {DEADLINE:?} later. When a reply cannot be sent in time, session returns the \
             error, and the connection closes.\nThe log about that client:\n{}",
            log_of(&server, peer)
        ));
    }
    if logged(&server, peer, "[TimedOut]").is_none() {
        server.fail(&format!(
            "A client sent requests without reading any reply.\nExpected the server's log \
             to show why it gave up, as `{peer}: … [TimedOut], closed`: the error of the \
             reply that could not be sent in time.\nIts log about that client:\n{}",
            log_of(&server, peer)
        ));
    }
}

/// Your `session`, running on a thread for one connection that the test
/// accepted and set up itself, and the client's end of it.
struct SessionUnderTest {
    client: TcpStream,
    result: mpsc::Receiver<io::Result<()>>,
}

/// How the test sets up the server's end before `session` gets it.
#[derive(Clone, Copy)]
enum Setup {
    /// Small socket buffers on both ends (this many bytes, as asked of the
    /// kernel), so that a reply fills them and leaves only as fast as the
    /// client reads.
    SmallBuffers(usize),
    /// The server's end shut down for writing: every write fails.
    NoWrites,
}

fn session_under_test(idle: Duration, setup: Setup) -> SessionUnderTest {
    support::needs(EX2_1, read_line_works);
    support::needs(EX2_2, last_words_works);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    if let Setup::SmallBuffers(size) = setup {
        // Before connecting, so that the window the client offers is small.
        client.set_recv_buffer_size(size).unwrap();
    }
    client.connect(&addr.into()).unwrap();
    let client = TcpStream::from(client);
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    client.set_write_timeout(Some(DEADLINE)).unwrap();
    let (server_end, _) = listener.accept().unwrap();
    match setup {
        // A fixed send buffer: the kernel no longer grows it to megabytes.
        Setup::SmallBuffers(size) => SockRef::from(&server_end)
            .set_send_buffer_size(size)
            .unwrap(),
        Setup::NoWrites => server_end.shutdown(Shutdown::Write).unwrap(),
    }
    let (tx, result) = mpsc::channel();
    thread::spawn(move || {
        // If session panics (a todo!()), tx is dropped and `result` says so.
        let _ = tx.send(session(&server_end, idle));
    });
    SessionUnderTest { client, result }
}

impl SessionUnderTest {
    /// What `session` returned, once it has returned, in words.
    fn returned(&self) -> Result<io::Result<()>, String> {
        match self.result.recv_timeout(DEADLINE) {
            Ok(result) => Ok(result),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("session had not returned after {DEADLINE:?}"))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err("session panicked (its message is above)".to_string())
            }
        }
    }
}

/// Sends `request` twelve times to a `session(idle = 200 ms)` set up with
/// small buffers, and reads the replies `chunk` bytes every `every` — the
/// pace of a slow peer, not a way to synchronise. Checks that `session`
/// gives up on the first reply that cannot leave within 200 ms.
fn trickle(request: String, reply_size: &str, buffers: usize, chunk: usize, every: Duration) {
    let test = session_under_test(IDLE, Setup::SmallBuffers(buffers));
    let mut sender = test.client.try_clone().unwrap();
    thread::spawn(move || {
        for _ in 0..12 {
            if sender.write_all(request.as_bytes()).is_err() {
                break;
            }
        }
    });
    test.client
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; chunk];
    let mut received = 0;
    let returned = loop {
        // Waiting for session is what paces this slow reader.
        match test.result.recv_timeout(every) {
            Ok(result) => break Ok(result),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                break Err("session panicked (its message is above)".to_string());
            }
            Err(mpsc::RecvTimeoutError::Timeout) if start.elapsed() > DEADLINE => {
                break Err("session had not returned".to_string());
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Ok(n) = (&test.client).read(&mut buf) {
            received += n;
        }
    };
    let took = start.elapsed();
    let timed_out = matches!(&returned, Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut);
    let (got, advice) = match &returned {
        Ok(result) => (
            format!("session returned {result:?}"),
            "\nA write timeout bounds each system call, and write_all starts a new one after \
             every bit of progress (so does a BufWriter's flush, which calls write). Send each \
             reply with one write_all through netlings_kit::WriteWithin: it has one deadline \
             for the whole reply.",
        ),
        Err(why) => (why.clone(), ""),
    };
    assert!(
        timed_out && took < Duration::from_secs(3),
        "\nsession(idle = 200 ms) got 12 requests whose replies are {reply_size} each, from a \
         client that reads {chunk} bytes every {every:?} (socket buffers as small as the \
         kernel allows — {buffers} asked for, on both sides).\nExpected: session gives up on the first reply it cannot send within 200 ms, \
         and returns an error of kind TimedOut.\nGot:      {got} after {took:?}; the client \
         had read {received} bytes.{advice}\nRevisit: {EX2_3}\n"
    );
}

#[test]
fn ex2_3_a_reply_has_idle_to_leave_however_slowly_the_client_reads() {
    // Replies of 24 KiB (the upper case of 'ΐ', 2 bytes, is 6), read 2 KiB
    // every 50 ms: each write makes some progress well within the timeout,
    // but a whole reply needs far longer than 200 ms. A write timeout per
    // send (set_write_timeout) would let this client hold the server for
    // seconds; a deadline per reply does not.
    let request = format!("UPPER {}\n", "ΐ".repeat((MAX_LINE - "UPPER ".len()) / 2));
    trickle(request, "24 KiB", 4096, 2048, Duration::from_millis(50));
}

#[test]
fn ex2_3_a_reply_of_a_few_kib_has_idle_to_leave_too() {
    // Replies of 8000 bytes, with the smallest buffers the kernel allows,
    // read 512 bytes every 25 ms: some 400 ms a reply, with some progress
    // every 25 ms. (A BufWriter's flush calls `write` until all is written:
    // every call with a deadline of its own.)
    let request = format!("ECHO {}\n", "x".repeat(8000));
    trickle(request, "8000 bytes", 1, 512, Duration::from_millis(25));
}

#[test]
fn ex2_3_an_err_line_that_cannot_be_sent_does_not_hide_the_read_error() {
    // The server's end is shut down for writing, so that the ERR line
    // cannot be sent: session still returns the error that ended the session.
    let test = session_under_test(IDLE, Setup::NoWrites);
    let sent = format!("{}\n", "x".repeat(MAX_LINE + 1));
    (&test.client).write_all(sent.as_bytes()).unwrap();
    let returned = test.returned();
    let refused = matches!(&returned, Ok(Err(e)) if e.kind() == io::ErrorKind::InvalidData);
    assert!(
        refused,
        "\nA client sent a line of 8193 bytes; the server's end of the connection could not \
         be written to (shut down), so \"ERR line too long\" could not be sent.\n\
         Expected: session returns the read error, of kind InvalidData (line too long): the \
         ERR line is best effort, and its failure is not the story.\nGot:      {}\n\
         Revisit: {EX2_3}\n",
        match &returned {
            Ok(result) => format!("session returned {result:?}"),
            Err(why) => why.clone(),
        }
    );
}

#[test]
fn ex2_3_a_reply_that_cannot_be_sent_is_an_error() {
    // The server's end is shut down for writing: the reply to PING fails.
    let test = session_under_test(IDLE, Setup::NoWrites);
    (&test.client).write_all(b"PING\n").unwrap();
    test.client.shutdown(Shutdown::Write).unwrap();
    let returned = test.returned();
    assert!(
        matches!(&returned, Ok(Err(_))),
        "\nA client sent \"PING\\n\" and half-closed; the server's end of the connection \
         could not be written to (shut down), so the reply \"PONG\" could not be sent.\n\
         Expected: session returns that write error.\nGot:      {}\nRevisit: {EX2_3}\n",
        match &returned {
            Ok(result) => format!("session returned {result:?}"),
            Err(why) => why.clone(),
        }
    );
}

#[test]
fn ex2_3_twenty_clients_that_connect_at_once_are_served_in_turn() {
    let server = server(&[]);
    let mut clients: Vec<_> = (0..20).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(format!("ECHO client {i}\nQUIT\n").as_bytes());
    }
    // Each waits in the backlog until the ones before it are done.
    for (i, client) in clients.iter_mut().enumerate() {
        let sent = format!("ECHO client {i}\nQUIT\n");
        client.expect(sent.as_bytes(), format!("client {i}\nBYE\n").as_bytes());
        client.expect_close("the client said QUIT");
    }
}

#[test]
fn ex2_3_survives_a_thousand_clients_that_come_and_go() {
    let server = server(&[]);
    let connected = support::churn(server.addr(), 1000, || {
        server.connect().expect_answer("PING", "PONG");
    });
    let request = format!("ECHO after {connected} clients that left at once");
    server
        .connect()
        .expect_answer(&request, &request["ECHO ".len()..]);
}

#[test]
fn ex2_3_serves_over_ipv6() {
    if !support::ipv6_loopback("ex2_3_serves_over_ipv6") {
        return;
    }
    support::needs(EX2_1, read_line_works);
    support::needs(EX2_2, last_words_works);
    let server = Server::start(BIN, &["server", "[::1]:0"], EX2_3);
    let mut conn = server.connect();
    conn.expect_answer("UPPER over ipv6", "OVER IPV6");
}

#[cfg(unix)]
#[test]
fn ex2_3_out_of_file_descriptors_the_server_waits_and_recovers() {
    // With 4 file descriptors — stdin, stdout, stderr and the listener — the
    // server has none left for a client: every accept fails with "Too many
    // open files", and the client waits in the backlog. The accept loop is
    // given (netlings_kit::accept); your session serves the client after.
    support::needs(EX2_1, read_line_works);
    support::needs(EX2_2, last_words_works);
    let server = Server::start_with_file_limit(BIN, &["server", "127.0.0.1:0"], 4, EX2_3);
    let mut waiting = server.connect();
    waiting.send(b"PING\n");
    support::assert_calm_when_out_of_files(&server, "the given accept loop");
    // With more files allowed (where `prlimit` can do that), it serves the client.
    if server.raise_file_limit(64) {
        waiting.expect(
            b"PING\n (while the server was out of file descriptors; then the limit was raised)",
            b"PONG\n",
        );
    }
}

// ---------------------------------------------------------------- exercise 2.4

/// An address where (almost certainly) nothing listens: bound, then freed.
fn dead_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Runs `connect_any(addrs, timeout)` within the deadline; returns where it got.
fn connect_to(addrs: Vec<SocketAddr>, timeout: Duration) -> io::Result<SocketAddr> {
    within(
        &format!("connect_any({addrs:?}) — revisit {EX2_4}"),
        move || connect_any(&addrs[..], timeout)?.peer_addr(),
    )
}

/// A loopback address that never answers: a listener that never accepts,
/// whose accept queue is full. On Linux the kernel then drops every new
/// connection attempt without a word, as a firewall does, and a `connect`
/// waits for its retries — about two minutes — before it gives up.
struct BlackHole {
    addr: SocketAddr,
    _listener: Socket,
    _queued: Vec<TcpStream>,
}

/// A [`BlackHole`], where the system makes one (Windows refuses a connection
/// when the queue is full instead: then `None`, and a notice).
fn black_hole(test: &str) -> Option<BlackHole> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    // A backlog of 0: room for one connection, or hardly more.
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut queued = Vec::new();
    // Fill the queue until an attempt gets no answer.
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queued.push(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                return Some(BlackHole {
                    addr,
                    _listener: listener,
                    _queued: queued,
                });
            }
            Err(_) => break,
        }
    }
    let _ = writeln!(
        io::stderr(),
        "NOTICE: {test} skipped: this system refuses connections to a full queue rather \
         than ignoring them"
    );
    None
}

#[test]
fn ex2_4_connects_to_the_first_address_that_accepts() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = vec![dead_addr(), live.local_addr().unwrap()];
    let got = connect_to(addrs.clone(), Duration::from_secs(1));
    assert!(
        matches!(got, Ok(peer) if peer == addrs[1]),
        "\nconnect_any({addrs:?}): nothing listens on the first, the second accepts.\n\
         Expected a stream connected to {}, got {got:?}\nRevisit: {EX2_4}",
        addrs[1]
    );
}

#[test]
fn ex2_4_tries_the_addresses_in_order() {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = vec![first.local_addr().unwrap(), second.local_addr().unwrap()];
    let got = connect_to(addrs.clone(), Duration::from_secs(1));
    assert!(
        matches!(got, Ok(peer) if peer == addrs[0]),
        "\nconnect_any({addrs:?}): both accept, so the first one wins.\n\
         Expected a stream connected to {}, got {got:?}\nRevisit: {EX2_4}",
        addrs[0]
    );
}

#[test]
fn ex2_4_reports_every_failed_attempt_in_plain_words() {
    let addrs = vec![dead_addr(), dead_addr(), dead_addr()];
    let got = connect_to(addrs.clone(), Duration::from_secs(1));
    let expected = addrs
        .iter()
        .map(|a| format!("{a}: nothing is listening there"))
        .collect::<Vec<_>>()
        .join("; ");
    let explained = matches!(&got, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused
        && e.to_string() == expected);
    assert!(
        explained,
        "\nconnect_any({addrs:?}): nothing listens on any of them.\nExpected an error of \
         kind ConnectionRefused (the last failure's) whose message reports each attempt, in \
         order, separated by \"; \":\n    {expected}\n(explain(&error) gives the words.)\n\
         Got {got:?}\nRevisit: {EX2_4}"
    );
}

#[test]
fn ex2_4_an_address_that_never_answers_costs_no_more_than_the_timeout() {
    let Some(hole) =
        black_hole("ex2_4_an_address_that_never_answers_costs_no_more_than_the_timeout")
    else {
        return;
    };
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = vec![hole.addr, live.local_addr().unwrap()];
    let start = Instant::now();
    let got = within(
        &format!(
            "connect_any({addrs:?}, 200 ms), where the first address never answers (if it \
             waits for it without a timeout, it waits minutes) — revisit {EX2_4}"
        ),
        {
            let addrs = addrs.clone();
            move || connect_any(&addrs[..], Duration::from_millis(200))?.peer_addr()
        },
    );
    let took = start.elapsed();
    assert!(
        matches!(got, Ok(peer) if peer == addrs[1]) && took < Duration::from_secs(3),
        "\nconnect_any({addrs:?}, 200 ms): the first address never answers (its listener's \
         queue is full), the second accepts.\nExpected a stream connected to {} after about \
         200 ms, got {got:?} after {took:?}.\nRevisit: {EX2_4}",
        addrs[1]
    );
}

#[test]
fn ex2_4_the_error_has_the_kind_of_the_last_failure() {
    let Some(hole) = black_hole("ex2_4_the_error_has_the_kind_of_the_last_failure") else {
        return;
    };
    let addrs = vec![dead_addr(), hole.addr];
    let got = connect_to(addrs.clone(), Duration::from_millis(200));
    let expected = format!(
        "{}: nothing is listening there; {}: no answer in time",
        addrs[0], addrs[1]
    );
    assert!(
        matches!(&got, Err(e) if e.kind() == io::ErrorKind::TimedOut
            && e.to_string() == expected),
        "\nconnect_any({addrs:?}, 200 ms): nothing listens on the first (refused), and the \
         second never answers (timed out).\nExpected an error of kind TimedOut, the last \
         failure's, saying\n    {expected}\nGot {got:?}\nRevisit: {EX2_4}"
    );
}

#[test]
fn ex2_4_no_address_at_all_is_invalid_input() {
    let got = connect_to(vec![], Duration::from_secs(1));
    assert!(
        matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidInput),
        "\nconnect_any(no addresses): expected an error of kind InvalidInput, got {got:?}\n\
         Revisit: {EX2_4}"
    );
}

#[test]
fn ex2_4_an_address_that_cannot_be_resolved_is_the_resolvers_error() {
    // No port: the resolver refuses it at once, without asking anyone.
    let expected = "no port here"
        .to_socket_addrs()
        .map(|_| ())
        .expect_err("a name without a port does not resolve");
    let got = within(
        &format!("connect_any(\"no port here\") — revisit {EX2_4}"),
        || connect_any("no port here", Duration::from_secs(1)).map(|_| ()),
    );
    assert!(
        matches!(&got, Err(e) if e.kind() == expected.kind()
            && e.to_string() == expected.to_string()),
        "\nconnect_any(\"no port here\"): the resolver fails with {expected:?}; expected \
         connect_any to return that error as it is, got {got:?}.\nRevisit: {EX2_4}"
    );
}

#[test]
fn ex2_4_resolves_a_name() {
    // "localhost" may stand for ::1 as well as 127.0.0.1; only the latter listens.
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = live.local_addr().unwrap().port();
    let got = within(
        &format!("connect_any((\"localhost\", {port})) — revisit {EX2_4}"),
        move || connect_any(("localhost", port), Duration::from_secs(1))?.peer_addr(),
    );
    assert!(
        matches!(got, Ok(peer) if peer == live.local_addr().unwrap()),
        "\nconnect_any((\"localhost\", {port})), with a server on 127.0.0.1:{port}: \
         expected to connect to it, got {got:?}\nRevisit: {EX2_4}"
    );
}

/// A line server written in the test, so that the client can be checked on
/// its own: it answers every line with `got <the line>`.
fn reference_line_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || -> io::Result<()> {
                let mut writer = &stream;
                for line in BufReader::new(&stream).lines() {
                    writer.write_all(format!("got {}\n", line?).as_bytes())?;
                }
                Ok(())
            });
        }
    });
    addr
}

#[test]
fn ex2_4_client_mode_sends_lines_and_prints_the_replies() {
    // The client reads the replies with your read_line.
    support::needs(EX2_1, read_line_works);
    let addr = reference_line_server();
    // By name: the client resolves it with connect_any.
    let name = format!("localhost:{}", addr.port());
    let finished = support::run(BIN, &["client", &name], b"PING\nECHO hi\n".to_vec());
    let expected = "got PING\ngot ECHO hi\n";
    assert!(
        finished.status.is_some_and(|s| s.success()) && finished.stdout == expected.as_bytes(),
        "\n`lesson02 client {name}` with \"PING\\nECHO hi\\n\" on stdin, against a server that \
         answers each line with \"got <line>\".\nExpected: it prints {expected:?} and exits \
         successfully.\nGot:      {}, printing {}.\nIts stderr:\n{}\nRevisit: {EX2_4}\n",
        finished.how_it_ended(),
        show(&finished.stdout),
        finished.stderr
    );
}

#[test]
fn ex2_4_client_mode_explains_that_nothing_is_listening() {
    let addr = dead_addr().to_string();
    let finished = support::run(BIN, &["client", &addr], b"anyone?\n".to_vec());
    let expected = [
        format!("could not connect to {addr}"),
        format!("{addr}: nothing is listening there"),
    ];
    let missing: Vec<&String> = expected
        .iter()
        .filter(|e| !finished.stderr.contains(e.as_str()))
        .collect();
    assert!(
        finished.status.is_some_and(|s| !s.success()) && missing.is_empty(),
        "\n`lesson02 client {addr}`, with nothing listening there.\nExpected: it fails, and \
         its stderr says {expected:?}.\nGot:      {}; missing from its stderr: {missing:?}\n\
         Its stderr:\n{}\nRevisit: {EX2_4}\n",
        finished.how_it_ended(),
        finished.stderr
    );
}

#[test]
fn ex2_4_client_mode_reports_each_address_of_a_name() {
    // Every address "localhost" stands for on this machine (one or two),
    // each refused, each reported.
    let port = dead_addr().port();
    let name = format!("localhost:{port}");
    let addrs: Vec<SocketAddr> = name.to_socket_addrs().unwrap().collect();
    let finished = support::run(BIN, &["client", &name], b"anyone?\n".to_vec());
    let missing: Vec<String> = addrs
        .iter()
        .map(|a| format!("{a}: nothing is listening there"))
        .filter(|line| !finished.stderr.contains(line.as_str()))
        .collect();
    assert!(
        finished.status.is_some_and(|s| !s.success()) && missing.is_empty(),
        "\n`lesson02 client {name}`, with nothing listening: {name} resolves to {addrs:?} \
         here, and every attempt should be reported in plain words.\nGot:      {}; missing \
         from its stderr: {missing:?}\nIts stderr:\n{}\nRevisit: {EX2_4}\n",
        finished.how_it_ended(),
        finished.stderr
    );
}

#[test]
fn ex2_4_the_narrated_demo_runs_to_the_end() {
    support::assert_demo_runs(
        BIN,
        &[
            "got \"BYE\"",
            &format!("cargo run -p lesson02{FEATURES} -- server"),
        ],
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
        "another program has that port",
    );
}

#[test]
fn given_server_refuses_an_idle_timeout_of_zero() {
    // set_read_timeout(Some(Duration::ZERO)) is an error: the flag says so first.
    support::assert_fails_saying(
        BIN,
        &["server", "127.0.0.1:0", "--idle-ms", "0"],
        &["--idle-ms"],
    );
}

#[test]
fn given_explain_says_what_each_kind_means() {
    use io::ErrorKind::*;
    let cases = [
        (ConnectionRefused, "nothing is listening there"),
        (TimedOut, "no answer in time"),
        (WouldBlock, "no answer in time"),
        (AddrInUse, "another program has that port"),
    ];
    for (kind, sentence) in cases {
        let error = io::Error::new(kind, "the system's words");
        assert_eq!(
            explain(&error),
            sentence,
            "explain(an error of kind {kind:?})"
        );
    }
    // Any other kind: the system's own message.
    let error = io::Error::new(PermissionDenied, "Permission denied (os error 13)");
    assert_eq!(explain(&error), "Permission denied (os error 13)");
    // The kind decides, whatever the message: here, a real refused connect.
    let refused = TcpStream::connect(dead_addr()).expect_err("nothing listens there");
    assert_eq!(
        explain(&refused),
        "nothing is listening there",
        "{refused:?}"
    );
}

#[test]
fn given_respond_answers_each_command() {
    let cases = [
        ("PING", Reply::Text("PONG".into())),
        ("ping", Reply::Text("PONG".into())),
        ("ECHO  two  spaces ", Reply::Text(" two  spaces ".into())),
        ("ECHO", Reply::Text("".into())),
        ("UPPER café", Reply::Text("CAFÉ".into())),
        ("upper Straße", Reply::Text("STRASSE".into())),
        ("QUIT", Reply::Bye),
        (
            "",
            Reply::Err("empty request; try PING, ECHO <text>, UPPER <text> or QUIT".into()),
        ),
        (
            "FROB\x1b[2J",
            Reply::Err(
                "unknown command \"FROB\\u{1b}[2J\"; try PING, ECHO <text>, UPPER <text> or QUIT"
                    .into(),
            ),
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(respond(line), expected, "respond({line:?})");
    }
    assert_eq!(Reply::Text("PONG".into()).to_string(), "PONG");
    assert_eq!(Reply::Bye.to_string(), "BYE");
    assert_eq!(Reply::Err("why".into()).to_string(), "ERR why");
}

#[test]
fn given_respond_gives_one_line_for_any_request() {
    let command = prop_oneof![
        Just("PING"),
        Just("ECHO"),
        Just("echo"),
        Just("UPPER"),
        Just("QUIT"),
        Just("FROB"),
        Just("")
    ];
    proptest!(properties(), |(command in command, rest in "[^\n]{0,60}")| {
        let line = format!("{command} {rest}");
        let reply = respond(&line).to_string();
        let expected = match command.to_ascii_uppercase().as_str() {
            "PING" => "PONG".to_string(),
            "ECHO" => rest.clone(),
            "UPPER" => rest.to_uppercase(),
            "QUIT" => "BYE".to_string(),
            _ => reply.clone(),
        };
        prop_assert!(
            reply == expected && !reply.contains('\n'),
            "respond({:?}) = {:?}", line, reply
        );
        if matches!(command, "FROB" | "") {
            prop_assert!(reply.starts_with("ERR "), "respond({:?}) = {:?}", line, reply);
        }
    });
}

#[test]
fn given_the_demo_runs_or_names_the_exercise_to_write() {
    if cfg!(feature = "solution") {
        // With the solutions, ex2_4_the_narrated_demo_runs_to_the_end runs it.
        return;
    }
    let finished = support::run(BIN, &[], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let code = finished.status.and_then(|s| s.code());
    let finished_demo = code == Some(0) && stdout.contains("got \"BYE\"");
    let stopped_at_exercise = code == Some(101)
        && finished.stderr.contains("This lesson is not finished yet")
        && finished.stderr.contains("exercise 2.")
        && finished.stderr.contains("cargo xtask hint 2.");
    assert!(
        finished_demo || stopped_at_exercise,
        "`lesson02` (the demo) should finish, or stop at an exercise and name it.\n\
         Exit code: {code:?}\nstdout:\n{stdout}\nstderr:\n{}",
        finished.stderr
    );
}
