//! Lesson 2 — streams, lines and errors. Run with `cargo test -p lesson02`.
//!
//! Tests named `ex2_k_...` check exercise 2.k; `given_...` check given code.
//! The server's tests run the whole server, so they also need the exercises
//! before theirs: do them in order.

mod support;

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use lesson02::client::connect_any;
use lesson02::errors::explain;
use lesson02::lines::read_line;
use lesson02::protocol::{MAX_LINE, Reply, respond};
use lesson02::server::last_words;
use predicates::prelude::*;
use proptest::prelude::*;
use socket2::SockRef;
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
const EX2_2: Hint = Hint(
    "exercise 2.2, `session` in lessons/lesson02/src/server.rs — book §2.2 \
     (the server also needs your `read_line` of 2.1)",
);
const EX2_3: Hint = Hint(
    "exercise 2.3, `last_words` in lessons/lesson02/src/server.rs — book §2.3 \
     (the server also needs the timeouts that `session` sets in 2.2, and the limit \
     of your `read_line` in 2.1)",
);
const EX2_4: Hint =
    Hint("exercise 2.4, `connect_any` in lessons/lesson02/src/client.rs — book §2.4");

fn server(hint: Hint) -> Server {
    Server::start(BIN, &["server", "127.0.0.1:0"], hint)
}

/// A server that sends a client away after 200 ms of silence (`--idle-ms`).
fn impatient_server(hint: Hint) -> Server {
    Server::start(BIN, &["server", "127.0.0.1:0", "--idle-ms", "200"], hint)
}

// ---------------------------------------------------------------- exercise 2.1

/// A reader that hands out its chunks one `read` at a time, the way TCP may
/// deliver a stream: in pieces that ignore where the lines begin and end.
struct Chunks(VecDeque<Vec<u8>>);

impl Chunks {
    fn new<T: AsRef<[u8]>>(chunks: &[T]) -> Chunks {
        // An empty chunk would read as Ok(0): end of stream.
        let chunks = chunks
            .iter()
            .map(|c| c.as_ref().to_vec())
            .filter(|c| !c.is_empty());
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
        let Some(chunk) = self.0.front_mut() else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.0.pop_front();
        }
        Ok(n)
    }
}

/// What `read_line` made of a whole stream: the lines, then how it ended
/// (`None` for a clean end of stream, or the error's kind and message).
#[derive(Debug, PartialEq)]
struct Outcome {
    lines: Vec<String>,
    error: Option<(io::ErrorKind, String)>,
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
    within("read_line on a stream in memory", move || {
        read_all(reader, max, budget)
    })
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
fn ex2_1_strips_the_newline_and_a_carriage_return_before_it() {
    let chunks: &[&[u8]] = &[b"telnet\r\nnc\n\r\n\nin\rside\n"];
    let got = lines_of(chunks, MAX_LINE);
    assert_eq!(
        got,
        clean(&["telnet", "nc", "", "", "in\rside"]),
        "\nSent {}: expected the lines without their \\n or \\r\\n, empty lines as \"\", \
         and a \\r inside a line kept.\nRevisit: {EX2_1}",
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
    let got = lines_of(&[b"PING\nPIN"], MAX_LINE);
    assert_eq!(
        (got.lines, got.error.map(|(kind, _)| kind)),
        (lines(&["PING"]), Some(io::ErrorKind::UnexpectedEof)),
        "\nSent \"PING\\nPIN\" and ended the stream: expected the line \"PING\", then an \
         error of kind UnexpectedEof for the unfinished \"PIN\".\nRevisit: {EX2_1}"
    );
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
    for sent in [&b"123456789\n"[..], b"123456789\r\n"] {
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
    let (result, unread) = within("read_line on 1 MiB without a newline", move || {
        let mut rest = &input[..];
        let result = read_line(&mut rest, 100).map_err(|e| (e.kind(), e.to_string()));
        (result, rest.len())
    });
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
fn ex2_1_refuses_a_line_that_is_not_utf8() {
    let got = lines_of(&[b"caf\xe9\n"], MAX_LINE);
    let expected = Some((io::ErrorKind::InvalidData, "line is not valid UTF-8"));
    assert!(
        got.lines.is_empty() && error_of(&got) == expected,
        "\nSent \"caf\\xe9\\n\" (Latin-1, not UTF-8): expected an error of kind InvalidData \
         with the message \"line is not valid UTF-8\", got {got:?}.\nRevisit: {EX2_1}"
    );
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
}

#[test]
fn ex2_1_arbitrary_bytes_give_short_lines_or_an_error_never_a_panic() {
    read_line_is_written();
    proptest!(properties(), |(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        max in 0usize..64,
    )| {
        let got = read_all(BufReader::new(Chunks::cut(&bytes, &cuts)), max, bytes.len());
        for line in &got.lines {
            prop_assert!(
                line.len() <= max && !line.contains('\n'),
                "\nread_line(max = {}) returned {:?} from {}\nRevisit: {}",
                max, line, show(&bytes), EX2_1
            );
        }
    });
}

// ---------------------------------------------------------------- exercise 2.2

#[test]
fn ex2_2_answers_each_request_line() {
    let server = server(EX2_2);
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
}

#[test]
fn ex2_2_understands_crlf_line_ends() {
    // What `nc -C`, telnet and many Windows programs send.
    let server = server(EX2_2);
    let mut conn = server.connect();
    conn.send(b"PING\r\nECHO telnet\r\n");
    conn.expect(b"PING\r\nECHO telnet\r\n", b"PONG\ntelnet\n");
}

#[test]
fn ex2_2_answers_requests_sent_together_in_order() {
    // Four requests in one write. They may well arrive in one read: a
    // BufReader holds the rest for the next read_line, unless it is dropped.
    let server = server(EX2_2);
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
fn ex2_2_puts_together_a_request_sent_byte_by_byte() {
    let server = server(EX2_2);
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
fn ex2_2_accepts_a_line_of_exactly_max_line_bytes() {
    // 8192 bytes before the line ending, with "\n" and then with "\r\n".
    let server = server(EX2_2);
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
fn ex2_2_says_bye_and_closes_on_quit() {
    let server = server(EX2_2);
    let mut conn = server.connect();
    conn.expect_answer("quit", "BYE");
    conn.expect_close("the client said QUIT and got BYE");
}

#[test]
fn ex2_2_closes_when_the_client_finishes_and_serves_the_next() {
    let server = server(EX2_2);
    for _ in 0..2 {
        let mut conn = server.connect();
        conn.send(b"PING\n");
        conn.finish_sending();
        conn.expect(b"PING\n, then shutdown(Write)", b"PONG\n");
        conn.expect_close("the client half-closed: read_line returned None");
    }
}

#[test]
fn ex2_2_a_client_that_never_reads_cannot_hold_the_server() {
    // Too slow: this client sends request after request and reads no reply.
    // Once the buffers between us are full, the server's write_all blocks —
    // until its write timeout ends the session.
    let server = impatient_server(EX2_2);
    let flooder = server.connect();
    let mut requests = flooder.stream.try_clone().unwrap();
    let request = format!("ECHO {}\n", "x".repeat(1000));
    thread::spawn(move || {
        // Ends when the server closes (the write fails) or after 64 MiB.
        for _ in 0..(64 << 10) {
            if requests.write_all(request.as_bytes()).is_err() {
                break;
            }
        }
    });
    let mut next = server.connect();
    next.send(b"PING\n");
    let got = next.read_up_to(b"PONG\n".len());
    if got != b"PONG\n" {
        server.fail(&format!(
            "A first client sent requests without reading any reply; a second sent \"PING\".\n\
             Expected: the server gives up on the first when its write timeout expires, \
             and answers the second with \"PONG\"\nGot:      {} within {DEADLINE:?}\n\
             Did session set a write timeout?",
            show(&got)
        ));
    }
}

// ---------------------------------------------------------------- exercise 2.3

#[test]
fn ex2_3_last_words_for_each_kind_of_error() {
    use io::ErrorKind::*;
    let says = |kind: io::ErrorKind, message: &str| last_words(&io::Error::new(kind, message));
    for kind in [WouldBlock, TimedOut] {
        let words = says(kind, "the read timed out");
        assert_eq!(
            words.as_deref(),
            Some("idle timeout"),
            "\nlast_words(an error of kind {kind:?}): a read timeout; expected \
             Some(\"idle timeout\").\nRevisit: {EX2_3}"
        );
    }
    for reason in ["line too long", "line is not valid UTF-8"] {
        let words = says(InvalidData, reason);
        assert_eq!(
            words.as_deref(),
            Some(reason),
            "\nlast_words(InvalidData, {reason:?}): the client broke the protocol, and the \
             message says how.\nRevisit: {EX2_3}"
        );
    }
    for kind in [
        UnexpectedEof,
        ConnectionReset,
        ConnectionAborted,
        BrokenPipe,
        Other,
    ] {
        let words = says(kind, "gone");
        assert_eq!(
            words, None,
            "\nlast_words(an error of kind {kind:?}): nobody is left to tell, or it is not \
             the client's doing; expected None.\nRevisit: {EX2_3}"
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
fn ex2_3_last_words_for_a_real_read_timeout() {
    let (_client, mut server_end) = connected_pair();
    server_end
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let error = server_end
        .read(&mut [0u8; 16])
        .expect_err("the client sends nothing");
    let words = last_words(&error);
    assert_eq!(
        words.as_deref(),
        Some("idle timeout"),
        "\nA real read timeout on this system is {error:?}, of kind {:?}.\n\
         Expected last_words to say \"idle timeout\".\nRevisit: {EX2_3}",
        error.kind()
    );
}

#[test]
fn ex2_3_last_words_for_a_real_reset() {
    let (client, mut server_end) = connected_pair();
    // SO_LINGER of zero: close() sends a reset (RST) instead of a polite FIN.
    SockRef::from(&client)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(client);
    let error = server_end
        .read(&mut [0u8; 16])
        .expect_err("the client reset the connection");
    let words = last_words(&error);
    assert_eq!(
        words,
        None,
        "\nA real reset on this system is {error:?}, of kind {:?}: the client is gone.\n\
         Expected last_words to return None.\nRevisit: {EX2_3}",
        error.kind()
    );
}

#[test]
fn ex2_3_an_idle_client_is_told_and_the_next_one_is_served() {
    let server = impatient_server(EX2_3);
    let mut silent = server.connect();
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
}

#[test]
fn ex2_3_a_client_that_stops_mid_line_is_timed_out_too() {
    // Too slow: half a request, then silence. The timeout is per read, so
    // it fires in the middle of a line as well.
    let server = impatient_server(EX2_3);
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
fn ex2_3_a_line_one_byte_over_the_limit_is_refused() {
    // 8193 bytes, then "\n": every byte sent is read, so the close is a clean
    // FIN and the ERR line cannot be lost to a reset.
    let server = server(EX2_3);
    let mut conn = server.connect();
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
    server.connect().expect_answer("PING", "PONG");
}

#[test]
fn ex2_3_a_flood_without_a_newline_is_cut_off() {
    // Too much: 1 MiB and never a newline. The server must refuse it after
    // MAX_LINE + 2 bytes, not buffer it all (nor wait for the rest).
    let server = server(EX2_3);
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
    let server = server(EX2_3);
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
fn ex2_3_clients_vanishing_mid_line_do_not_stop_the_server() {
    let server = server(EX2_3);
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

// ---------------------------------------------------------------- exercise 2.4

/// An address where (almost certainly) nothing listens: bound, then freed.
fn dead_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Runs `connect_any(addrs, 1 s)` within the deadline; returns where it got.
fn connect_to(addrs: Vec<SocketAddr>) -> io::Result<SocketAddr> {
    within("connect_any", move || {
        connect_any(&addrs[..], Duration::from_secs(1))?.peer_addr()
    })
}

#[test]
fn ex2_4_connects_to_the_first_address_that_accepts() {
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let addrs = vec![dead_addr(), live.local_addr().unwrap()];
    let got = connect_to(addrs.clone());
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
    let got = connect_to(addrs.clone());
    assert!(
        matches!(got, Ok(peer) if peer == addrs[0]),
        "\nconnect_any({addrs:?}): both accept, so the first one wins.\n\
         Expected a stream connected to {}, got {got:?}\nRevisit: {EX2_4}",
        addrs[0]
    );
}

#[test]
fn ex2_4_reports_every_failed_attempt_in_plain_words() {
    let addrs = vec![dead_addr(), dead_addr()];
    let got = connect_to(addrs.clone());
    let explained = match &got {
        Err(e) => {
            let message = e.to_string();
            e.kind() == io::ErrorKind::ConnectionRefused
                && addrs
                    .iter()
                    .all(|a| message.contains(&format!("{a}: nothing is listening there")))
        }
        Ok(_) => false,
    };
    assert!(
        explained,
        "\nconnect_any({addrs:?}): nothing listens on either.\nExpected an error of kind \
         ConnectionRefused whose message reports both attempts, as \"{}: nothing is listening \
         there; {}: nothing is listening there\" (explain(&error) gives the words).\n\
         Got {got:?}\nRevisit: {EX2_4}",
        addrs[0], addrs[1]
    );
}

#[test]
fn ex2_4_no_address_at_all_is_invalid_input() {
    let got = connect_to(vec![]);
    assert!(
        matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidInput),
        "\nconnect_any(no addresses): expected an error of kind InvalidInput, got {got:?}\n\
         Revisit: {EX2_4}"
    );
}

#[test]
fn ex2_4_resolves_a_name() {
    // "localhost" may stand for ::1 as well as 127.0.0.1; only the latter listens.
    let live = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = live.local_addr().unwrap().port();
    let got = within("connect_any(\"localhost\")", move || {
        connect_any(("localhost", port), Duration::from_secs(1))?.peer_addr()
    });
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
    let addr = reference_line_server();
    // By name: the client resolves it with connect_any.
    let name = format!("localhost:{}", addr.port());
    let finished = support::run(BIN, &["client", &name], b"PING\nECHO hi\n".to_vec());
    let expected = "got PING\ngot ECHO hi\n";
    assert!(
        finished.status.is_some_and(|s| s.success()) && finished.stdout == expected.as_bytes(),
        "\n`lesson02 client {name}` with \"PING\\nECHO hi\\n\" on stdin, against a server that \
         answers each line with \"got <line>\":\nExpected it to print {expected:?} and succeed.\n\
         It exited with {:?} and printed {}.\nIts stderr: {}\nRevisit: {EX2_4} \
         (the client also reads with your `read_line` of 2.1)",
        finished.status,
        show(&finished.stdout),
        finished.stderr
    );
}

#[test]
fn ex2_4_client_mode_explains_that_nothing_is_listening() {
    let addr = dead_addr().to_string();
    Command::new(BIN)
        .args(["client", &addr])
        .write_stdin("anyone?\n")
        .timeout(DEADLINE)
        .assert()
        .failure()
        .stderr(predicate::str::contains(format!(
            "could not connect to {addr}"
        )))
        .stderr(predicate::str::contains(format!(
            "{addr}: nothing is listening there"
        )));
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
        "\n`lesson02 client {name}`, with nothing listening: {name} resolves to {addrs:?} here, \
         and every attempt should be reported in plain words.\nMissing from its stderr: \
         {missing:?}\nIt exited with {:?}; its stderr: {}\nRevisit: {EX2_4}",
        finished.status,
        finished.stderr
    );
}

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    let server = server(Hint("the given `main.rs` of lesson 2"));
    support::assert_real_port(&server);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    support::assert_fails_saying(
        BIN,
        &["server", &addr],
        &[
            &format!("could not bind {addr}"),
            "another program has that port",
        ],
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
    let finished = support::run(BIN, &[], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let code = finished.status.and_then(|s| s.code());
    let finished_demo = code == Some(0)
        && stdout.contains("got \"BYE\"")
        && stdout.contains(&format!("cargo run -p lesson02{FEATURES} -- server"));
    let stopped_at_exercise = code == Some(101)
        && finished.stderr.contains("This lesson is not finished yet")
        && finished.stderr.contains("exercise 2.");
    assert!(
        finished_demo || stopped_at_exercise,
        "`lesson02` (the demo) should finish, or stop at an exercise and name it.\n\
         Exit code: {code:?}\nstdout:\n{stdout}\nstderr:\n{}",
        finished.stderr
    );
}
