//! Lesson 9 — the chat server as an event loop. Run with `cargo test -p lesson09`.
//!
//! Tests named `ex9_k_...` check exercise 9.k; `given_...` check given code.
//! Each exercise is first checked on its own: 9.1 with a `Poll` and a
//! listener of the test's own, 9.2 and 9.3 with a reader and a writer in
//! memory that do on purpose what a socket does now and then (a part of a
//! line, a part of a write, `WouldBlock`, `Interrupted`), and on real
//! sockets; 9.4 with a connection registered in the test's `Poll`. The
//! server needs all four, so the tests that talk to it — the chat's
//! behaviour, the same checks lessons 8 and 10 run (`tests/support/chat.rs`),
//! and a few of this lesson's own — are 9.4's, and say first when an
//! earlier exercise is what fails.

mod support;

use std::collections::{HashSet, VecDeque};
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lesson09::accept::{Accepting, accept_ready};
use lesson09::conn::{Conn, Conns};
use lesson09::input::{LineBuffer, Next, READ_CHUNK, read_line};
use lesson09::output::Outbox;
use mio::{Events, Interest, Poll, Token};
use netlings_chat::Line;
use netlings_chat::protocol::MAX_LINE;
use proptest::collection::vec;
use proptest::prelude::*;
use support::chat;
use support::{DEADLINE, Hint, show};

const BIN: &str = env!("CARGO_BIN_EXE_lesson09");

const EX9_1: Hint =
    Hint("exercise 9.1, `accept_ready` in lessons/lesson09/src/accept.rs — book §9.1");
const EX9_2: Hint = Hint("exercise 9.2, `read_line` in lessons/lesson09/src/input.rs — book §9.2");
const EX9_3: Hint =
    Hint("exercise 9.3, `Outbox::flush` in lessons/lesson09/src/output.rs — book §9.3");
const EX9_4: Hint =
    Hint("exercise 9.4, `Conn::update_interest` in lessons/lesson09/src/conn.rs — book §9.4");

/// The listener's token in the tests' own polls (the server uses the same).
const LISTENER: Token = Token(usize::MAX);

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Fails a test of the library, naming the exercise to revisit.
fn fail(what: &str, hint: Hint) -> ! {
    support::quiet_panics();
    let id = hint
        .0
        .trim_start_matches("exercise ")
        .split(',')
        .next()
        .unwrap_or("");
    panic!("\n\n{what}\n\nRevisit: {hint}\n(Stuck? `cargo xtask hint {id}` gives a hint.)\n")
}

/// Runs `f` (which calls an exercise) on a thread, and fails with a message
/// naming `hint` if it does not return within [`DEADLINE`] — an exercise
/// that loops for ever must not hang the test — or panics.
fn bounded<T: Send + 'static>(hint: Hint, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    support::quiet_panics();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => fail(
            &format!(
                "{what} did not return within {DEADLINE:?}. A loop in the exercise goes on for \
                 ever: does it stop at WouldBlock, at the end of the stream, at a write that \
                 takes nothing?"
            ),
            hint,
        ),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            fail(&format!("{what} panicked (its message is above)."), hint)
        }
    }
}

// ---- a reader and a writer in memory ---------------------------------------------

/// What the next `read` of a [`Script`] does.
#[derive(Clone, Debug)]
enum R {
    /// Returns these bytes (as many as the buffer takes; the rest next time).
    Data(Vec<u8>),
    WouldBlock,
    Interrupted,
    /// `Ok(0)`, now and for ever after.
    End,
    /// This error, now and for ever after.
    Fail(ErrorKind),
}

fn data(bytes: impl AsRef<[u8]>) -> R {
    R::Data(bytes.as_ref().to_vec())
}

/// A non-blocking socket's reading side, in memory: it does what its
/// steps say, then `WouldBlock` for ever (nothing more for now).
#[derive(Debug)]
struct Script {
    steps: VecDeque<R>,
    reads: usize,
    /// Whether the last read said WouldBlock.
    blocked: bool,
}

impl Script {
    fn new(steps: &[R]) -> Script {
        Script {
            steps: steps.iter().cloned().collect(),
            reads: 0,
            blocked: false,
        }
    }
}

impl Read for Script {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        self.blocked = matches!(self.steps.front(), None | Some(R::WouldBlock));
        match self.steps.pop_front() {
            None | Some(R::WouldBlock) => Err(ErrorKind::WouldBlock.into()),
            Some(R::Interrupted) => Err(ErrorKind::Interrupted.into()),
            Some(R::End) => {
                self.steps.push_front(R::End);
                Ok(0)
            }
            Some(R::Fail(kind)) => {
                self.steps.push_front(R::Fail(kind));
                Err(kind.into())
            }
            Some(R::Data(bytes)) => {
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                if n < bytes.len() {
                    self.steps.push_front(R::Data(bytes[n..].to_vec()));
                }
                Ok(n)
            }
        }
    }
}

/// What the next write of a [`Sink`] does.
#[derive(Clone, Copy, Debug)]
enum W {
    /// Takes at most this many bytes, from as many slices as they span.
    Take(usize),
    WouldBlock,
    Interrupted,
    /// `Ok(0)`.
    Zero,
    Fail(ErrorKind),
}

/// A non-blocking socket's writing side, in memory: it does what its
/// steps say, then takes everything it is given.
#[derive(Debug, Default)]
struct Sink {
    steps: VecDeque<W>,
    got: Vec<u8>,
    writes: usize,
}

impl Sink {
    fn new(steps: &[W]) -> Sink {
        Sink {
            steps: steps.iter().copied().collect(),
            ..Sink::default()
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.writes += 1;
        let mut room = match self.steps.pop_front().unwrap_or(W::Take(usize::MAX)) {
            W::Take(n) => n,
            W::WouldBlock => return Err(ErrorKind::WouldBlock.into()),
            W::Interrupted => return Err(ErrorKind::Interrupted.into()),
            W::Zero => return Ok(0),
            W::Fail(kind) => return Err(kind.into()),
        };
        let mut taken = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            self.got.extend_from_slice(&buf[..n]);
            taken += n;
            room -= n;
            if room == 0 {
                break;
            }
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ---- real sockets -------------------------------------------------------------------

/// A connected pair on loopback: the server's end, non-blocking, as mio
/// wants it; and the client's end, blocking, with reads bounded by DEADLINE.
fn socket_pair() -> (mio::net::TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server_end, _) = listener.accept().unwrap();
    server_end.set_nonblocking(true).unwrap();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    (mio::net::TcpStream::from_std(server_end), client)
}

/// A listener registered in a poll of the test's own, as the server does.
fn listening() -> (Poll, mio::net::TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut listener = mio::net::TcpListener::from_std(listener);
    let poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    (poll, listener, addr)
}

/// What `accept_ready` did in [`accept_as_the_server_does`].
struct Accepted {
    conns: Conns,
    calls: usize,
    outcomes: Vec<Accepting>,
    poll: Poll,
}

/// Calls `accept_ready` as the server does — once per event of the
/// listener — until `conns` holds `want` connections, or the poll has
/// reported nothing for `quiet`; within a deadline.
fn accept_as_the_server_does(
    poll: Poll,
    listener: mio::net::TcpListener,
    max_clients: usize,
    want: usize,
    quiet: Duration,
) -> Accepted {
    bounded(EX9_1, "accept_ready", move || {
        accept_loop(poll, listener, max_clients, want, quiet)
    })
}

fn accept_loop(
    mut poll: Poll,
    listener: mio::net::TcpListener,
    max_clients: usize,
    want: usize,
    quiet: Duration,
) -> Accepted {
    let mut conns = Conns::new();
    let mut events = Events::with_capacity(64);
    let (mut calls, mut outcomes) = (0, Vec::new());
    while conns.len() < want {
        poll.poll(&mut events, Some(quiet)).unwrap();
        if events.is_empty() {
            break;
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                let registry = poll.registry();
                outcomes.push(accept_ready(&listener, registry, &mut conns, max_clients));
                calls += 1;
            }
        }
    }
    Accepted {
        conns,
        calls,
        outcomes,
        poll,
    }
}

/// `accept_ready` (9.1) as a check for later exercises' tests.
fn accept_works() -> Result<(), String> {
    let (poll, listener, addr) = listening();
    let _clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // `needs` gives this a deadline.
    let accepted = accept_loop(poll, listener, 10, 3, Duration::from_secs(2));
    match accepted.conns.len() {
        3 => Ok(()),
        n => Err(format!(
            "3 clients connected; accept_ready took {n} of them in {} calls",
            accepted.calls
        )),
    }
}

// ---- 9.1: accept until WouldBlock ------------------------------------------------------

#[test]
fn ex9_1_takes_every_waiting_connection_at_once() {
    let (poll, listener, addr) = listening();
    // All of them wait in the backlog before the poll reports the listener.
    let _clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let accepted = accept_as_the_server_does(poll, listener, 100, 20, DEADLINE / 2);
    let n = accepted.conns.len();
    if n != 20 {
        fail(
            &format!(
                "20 clients connected, then the poll reported the listener. accept_ready was \
                 called once per event of the listener, as the server calls it: {} calls, \
                 which accepted {n} of the 20; then the poll reported nothing more for {:?}.\n\
                 The poll is edge-triggered: it reports the listener when connections arrive, \
                 not once for every connection still waiting. Accept until WouldBlock.",
                accepted.calls,
                DEADLINE / 2
            ),
            EX9_1,
        );
    }
    if accepted.outcomes.iter().any(|o| *o != Accepting::Drained) {
        fail(
            &format!(
                "accept_ready returned {:?}; with nothing wrong, each call returns \
                 Accepting::Drained once accept says WouldBlock",
                accepted.outcomes
            ),
            EX9_1,
        );
    }
}

#[test]
fn ex9_1_each_connection_is_watched_for_reading_under_its_own_token() {
    let (poll, listener, addr) = listening();
    let mut clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let accepted = accept_as_the_server_does(poll, listener, 100, 3, DEADLINE / 2);
    let Accepted {
        conns, mut poll, ..
    } = accepted;
    if conns.len() != 3 {
        fail(
            &format!("3 clients connected; accept_ready accepted {}", conns.len()),
            EX9_1,
        );
    }
    let tokens: HashSet<Token> = (0..3)
        .map(Token)
        .filter(|&t| conns.get(t).is_some())
        .collect();
    for client in &mut clients {
        client.write_all(b"hello\n").unwrap();
    }
    // Every client wrote: the poll must report each connection, readable,
    // under the token of its slot in `conns`.
    let mut readable = HashSet::new();
    let mut other = Vec::new();
    let mut events = Events::with_capacity(64);
    let deadline = Instant::now() + DEADLINE / 2;
    while readable.len() < 3 && Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for event in events.iter() {
            if event.is_readable() && tokens.contains(&event.token()) {
                readable.insert(event.token());
            } else if !event.is_writable() {
                other.push(event.token());
            }
        }
    }
    if readable.len() != 3 {
        fail(
            &format!(
                "3 connections were accepted, into conns under the tokens {:?}; then each \
                 client sent a line. The poll reported readable input for {:?} only{}.\n\
                 Register each connection for Interest::READABLE, with the token \
                 conns.next_token() gives, before inserting it.",
                sorted(&tokens),
                sorted(&readable),
                if other.is_empty() {
                    String::new()
                } else {
                    format!(" (and events for the tokens {other:?})")
                }
            ),
            EX9_1,
        );
    }
}

fn sorted(tokens: &HashSet<Token>) -> Vec<usize> {
    let mut v: Vec<usize> = tokens.iter().map(|t| t.0).collect();
    v.sort_unstable();
    v
}

#[test]
fn ex9_1_a_client_past_max_clients_hears_that_the_server_is_full() {
    let (poll, listener, addr) = listening();
    let mut clients: Vec<TcpStream> = Vec::new();
    for _ in 0..3 {
        let client = TcpStream::connect(addr).unwrap();
        client.set_read_timeout(Some(DEADLINE)).unwrap();
        clients.push(client);
    }
    // The third connection is refused, so at most two are ever in `conns`.
    let accepted = accept_as_the_server_does(poll, listener, 2, 3, Duration::from_millis(200));
    if accepted.conns.len() != 2 {
        fail(
            &format!(
                "With max_clients = 2, 3 clients connected; accept_ready put {} of them in \
                 conns. A client past the limit is told so and closed, never kept.",
                accepted.conns.len()
            ),
            EX9_1,
        );
    }
    // The backlog is first come, first served: the third client is refused.
    let mut got = Vec::new();
    let ended = clients[2].read_to_end(&mut got);
    if got != b"! server full\n" || ended.is_err() {
        fail(
            &format!(
                "With max_clients = 2, the third client should read \"! server full\\n\" and \
                 then the end of the stream; it read {}{}",
                show(&got),
                match ended {
                    Ok(_) => " and then the end of the stream".to_string(),
                    Err(e) => format!(" and then: {e}"),
                }
            ),
            EX9_1,
        );
    }
}

/// stdin, stdout, stderr, the listener, the poll (epoll) and its waker
/// (an eventfd): a server with this many files has room for no client.
#[cfg(unix)]
const FILES_FOR_NO_CLIENT: u32 = 6;

#[cfg(unix)]
#[test]
fn ex9_1_calm_when_out_of_files() {
    // The server raises its soft limit to the hard one at start: this sets
    // both, so there is no room to raise it. No client is ever accepted,
    // so only exercise 9.1 runs.
    let server = support::Server::start_with_hard_file_limit(
        BIN,
        &["server", "127.0.0.1:0"],
        FILES_FOR_NO_CLIENT,
        EX9_1,
    );
    let _waiting = TcpStream::connect(server.addr()).unwrap();
    support::assert_calm_when_out_of_files_advising(
        &server,
        "Hand each accept error to netlings_kit::accept_failure_logged (it logs once per \
         burst) and, when it returns true, return Accepting::Pause: the server stops accepting \
         for 100 ms, without blocking its loop.",
    );
}

// ---- 9.2: read until WouldBlock ---------------------------------------------------------

/// How one readable event of the server goes: `read_line` until it returns
/// something else than a line. Returns the lines and how it ended; `None`
/// for an exercise that hands out lines without end.
fn one_event(script: &mut Script, input: &mut LineBuffer) -> (Vec<String>, Option<Next>) {
    let mut lines = Vec::new();
    let mut line = Vec::new();
    for _ in 0..10_000 {
        match read_line(script, input, &mut line) {
            Next::Line => lines.push(String::from_utf8_lossy(&line).into_owned()),
            other => return (lines, Some(other)),
        }
    }
    (lines, None)
}

/// Feeds `steps` to `read_line` as the server would after one readable
/// event, within a deadline.
fn read_event(steps: Vec<R>) -> (Vec<String>, Option<Next>, Script, LineBuffer) {
    bounded(EX9_2, "read_line", move || {
        let mut script = Script::new(&steps);
        let mut input = LineBuffer::new();
        let (lines, end) = one_event(&mut script, &mut input);
        (lines, end, script, input)
    })
}

fn describe(steps: &[R]) -> String {
    let shown: Vec<String> = steps
        .iter()
        .map(|step| match step {
            R::Data(bytes) if bytes.len() > 40 => format!("{} bytes", bytes.len()),
            R::Data(bytes) => show(bytes),
            R::WouldBlock => "WouldBlock".to_string(),
            R::Interrupted => "Interrupted".to_string(),
            R::End => "Ok(0)".to_string(),
            R::Fail(kind) => format!("Err({kind:?})"),
        })
        .collect();
    shown.join(", ")
}

/// Checks one event's worth of reading.
fn expect_event(steps: &[R], lines: &[&str], end: Next) {
    let (got, got_end, script, _) = read_event(steps.to_vec());
    drained_only_at_would_block(steps, got_end, &script);
    if got != lines || got_end != Some(end) {
        fail(
            &format!(
                "The socket's reads return, in turn: {}.\nCalling read_line until it returns \
                 something else than Next::Line (as the server does), expected the lines \
                 {lines:?} and then {end:?}.\nGot the lines {got:?} and then {}.",
                describe(steps),
                match got_end {
                    Some(end) => format!("{end:?}"),
                    None => "still more lines after 10,000 (it hands out the same line again \
                             and again?)"
                        .to_string(),
                }
            ),
            EX9_2,
        );
    }
}

/// Fails if `read_line` said Drained while the socket had more to give.
fn drained_only_at_would_block(steps: &[R], end: Option<Next>, script: &Script) {
    if end == Some(Next::Drained) && !script.blocked {
        fail(
            &format!(
                "The socket's reads return, in turn: {}.\nread_line returned Next::Drained after \
                 {} reads, though the last of them did not say WouldBlock: the socket had more. \
                 The poll is edge-triggered: it will not report this input again. Read until \
                 WouldBlock.",
                describe(steps),
                script.reads
            ),
            EX9_2,
        );
    }
}

/// `read_line` (9.2) as a check for later exercises' tests.
fn read_works() -> Result<(), String> {
    let mut script = Script::new(&[data("a\nb"), data("c\n"), R::WouldBlock]);
    let (lines, end) = one_event(&mut script, &mut LineBuffer::new());
    if lines == ["a", "bc"] && end == Some(Next::Drained) {
        Ok(())
    } else {
        Err(format!(
            "reads of \"a\\nb\" and \"c\\n\" gave the lines {lines:?}, then {end:?}"
        ))
    }
}

#[test]
fn ex9_2_hands_out_every_line_then_says_drained() {
    expect_event(&[data("hello\n"), R::WouldBlock], &["hello"], Next::Drained);
    expect_event(
        &[data("one\ntwo\nthree\n"), R::WouldBlock],
        &["one", "two", "three"],
        Next::Drained,
    );
    expect_event(
        &[data("one\ntw"), data("o\nthr"), data("ee\n"), R::WouldBlock],
        &["one", "two", "three"],
        Next::Drained,
    );
    expect_event(&[data("\n\r\n"), R::WouldBlock], &["", "\r"], Next::Drained);
    expect_event(&[R::WouldBlock], &[], Next::Drained);
}

#[test]
fn ex9_2_keeps_an_unfinished_line_for_the_next_event() {
    let (first, second, blocked) = bounded(EX9_2, "read_line", || {
        let mut script = Script::new(&[
            data("one\nhal"),
            R::WouldBlock,
            data("f a line\n"),
            R::WouldBlock,
        ]);
        let mut input = LineBuffer::new();
        let first = one_event(&mut script, &mut input);
        let first_blocked = script.blocked;
        let second = one_event(&mut script, &mut input);
        (first, second, first_blocked && script.blocked)
    });
    if !blocked {
        fail(
            "read_line returned Drained before the socket said WouldBlock: the rest of the \
             input would wait for an event that never comes. Read until WouldBlock.",
            EX9_2,
        );
    }
    if first != (vec!["one".to_string()], Some(Next::Drained)) {
        fail(
            &format!(
                "The socket's reads return \"one\\nhal\", then WouldBlock. Expected the line \
                 \"one\" and then Drained; got {first:?}"
            ),
            EX9_2,
        );
    }
    if second != (vec!["half a line".to_string()], Some(Next::Drained)) {
        fail(
            &format!(
                "After \"one\\nhal\" and WouldBlock, a second event brings \"f a line\\n\". \
                 Expected the line \"half a line\" (its start was kept in the LineBuffer), \
                 then Drained; got {second:?}"
            ),
            EX9_2,
        );
    }
}

#[test]
fn ex9_2_never_reads_while_a_line_waits() {
    // Two lines in one read: the second is handed out from the buffer,
    // without another read — which would say WouldBlock and leave it there.
    let steps = [data("first\nsecond\n"), R::WouldBlock, data("third\n")];
    let (lines, end, script, _) = read_event(steps.to_vec());
    if lines != ["first", "second"] || end != Some(Next::Drained) {
        fail(
            &format!(
                "The socket's reads return {}. After one event, expected the lines \
                 [\"first\", \"second\"] and then Drained; got {lines:?} and then {end:?}. \
                 A line already in the LineBuffer comes out before any read.",
                describe(&steps)
            ),
            EX9_2,
        );
    }
    if script.reads > 2 {
        fail(
            &format!(
                "read_line read the socket {} times to hand out \"first\" and \"second\" (one \
                 read brought both) and to see WouldBlock: it read on after WouldBlock. Stop \
                 at WouldBlock; the poll says when there is more.",
                script.reads
            ),
            EX9_2,
        );
    }
}

#[test]
fn ex9_2_the_end_of_the_stream_and_errors_close() {
    expect_event(
        &[data("last words\n"), R::End],
        &["last words"],
        Next::Closed,
    );
    expect_event(&[data("half a li"), R::End], &[], Next::Closed);
    expect_event(&[R::End], &[], Next::Closed);
    expect_event(
        &[data("hi\nhal"), R::Fail(ErrorKind::ConnectionReset)],
        &["hi"],
        Next::Closed,
    );
    expect_event(&[R::Fail(ErrorKind::BrokenPipe)], &[], Next::Closed);
    expect_event(
        &[R::Interrupted, data("hi\n"), R::Interrupted, R::WouldBlock],
        &["hi"],
        Next::Drained,
    );
}

#[test]
fn ex9_2_lines_longer_than_1024_bytes_are_refused() {
    let x = |n: usize| "x".repeat(n);
    let longest = x(MAX_LINE);
    expect_event(
        &[data(format!("{longest}\n")), R::WouldBlock],
        &[&longest],
        Next::Drained,
    );
    let with_cr = format!("{longest}\r");
    expect_event(
        &[data(format!("{longest}\r\n")), R::WouldBlock],
        &[&with_cr],
        Next::Drained,
    );
    // 1024 bytes and '\r' may yet end well; the '\n' comes in the next read.
    expect_event(
        &[data(&with_cr), data("\n"), R::WouldBlock],
        &[&with_cr],
        Next::Drained,
    );
    expect_event(
        &[data(format!("ok\n{}\n", x(MAX_LINE + 1))), R::WouldBlock],
        &["ok"],
        Next::TooLong,
    );
    expect_event(
        &[data(format!("{}\r\n", x(MAX_LINE + 1))), R::WouldBlock],
        &[],
        Next::TooLong,
    );
    // Never ended: refused as soon as it cannot be a line any more.
    expect_event(&[data(x(MAX_LINE + 2)), R::WouldBlock], &[], Next::TooLong);
}

#[test]
fn ex9_2_a_line_that_never_ends_is_refused_without_reading_it_all() {
    // 1 MiB without '\n', in pieces of 1 KiB: the client never stops.
    let steps: Vec<R> = (0..1024).map(|_| data([b'z'; 1024])).collect();
    let (lines, end, script, input) = read_event(steps);
    if end != Some(Next::TooLong) || !lines.is_empty() {
        fail(
            &format!(
                "A client sends 1 MiB without a '\\n'. Expected Next::TooLong; got the lines \
                 {lines:?} and then {end:?}. A line that is already longer than MAX_LINE + 1 \
                 bytes can never be allowed: refuse it before reading more."
            ),
            EX9_2,
        );
    }
    let read = 1024 * 1024
        - script
            .steps
            .iter()
            .map(|s| match s {
                R::Data(d) => d.len(),
                _ => 0,
            })
            .sum::<usize>();
    if read > MAX_LINE + 2 + READ_CHUNK || input.unfinished() > MAX_LINE + 1 + READ_CHUNK {
        fail(
            &format!(
                "A client sends 1 MiB without a '\\n'. read_line said TooLong, but only after \
                 reading {read} bytes of it: check the unfinished line's length before each \
                 read, so that a client cannot make the server buffer more than a line and \
                 one read."
            ),
            EX9_2,
        );
    }
}

/// Lines of the chat's alphabet, any length up to the limit, some ending in "\r\n".
fn valid_lines() -> impl Strategy<Value = Vec<(Vec<u8>, bool)>> {
    let line = prop_oneof![
        vec(
            prop::sample::select(b"ab /\xc3\xa9\xff\x00".to_vec()),
            0..40
        ),
        (0..=MAX_LINE).prop_map(|n| vec![b'y'; n]),
    ];
    vec((line, any::<bool>()), 0..12)
}

/// Any stream of valid lines, read in pieces of any sizes with WouldBlock
/// between some of them, gives back the same lines.
#[test]
fn ex9_2_any_split_reads_the_same_lines() {
    support::property(EX9_2, || {
        proptest!(proptest_config(), |(
            lines in valid_lines(),
            cuts in vec(any::<prop::sample::Index>(), 0..12),
            pauses in vec(any::<bool>(), 13),
        )| {
            let mut stream = Vec::new();
            let mut expected = Vec::new();
            for (line, crlf) in &lines {
                stream.extend_from_slice(line);
                let mut with = line.clone();
                if *crlf {
                    stream.push(b'\r');
                    with.push(b'\r');
                }
                stream.push(b'\n');
                expected.push(with);
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut steps = Vec::new();
            let mut from = 0;
            for (k, &to) in points.iter().chain([stream.len()].iter()).enumerate() {
                // A read of no bytes would be the end of the stream.
                if to > from {
                    steps.push(R::Data(stream[from..to].to_vec()));
                }
                if pauses[k] {
                    steps.push(R::WouldBlock);
                }
                from = to;
            }
            steps.push(R::End);
            let mut script = Script::new(&steps);
            let mut input = LineBuffer::new();
            let mut got = Vec::new();
            let mut line = Vec::new();
            let mut end = None;
            for _ in 0..10_000 {
                match read_line(&mut script, &mut input, &mut line) {
                    Next::Line => got.push(line.clone()),
                    Next::Drained => prop_assert!(
                        script.blocked,
                        "\nThe socket's reads return, in turn: {}.\nread_line returned \
                         Drained after {} reads, though the last one did not say \
                         WouldBlock.\nRevisit: {EX9_2}\n",
                        describe(&steps),
                        script.reads
                    ),
                    other => {
                        end = Some(other);
                        break;
                    }
                }
            }
            prop_assert!(
                got == expected && end == Some(Next::Closed),
                "\nThe socket's reads return, in turn: {}.\nExpected {} lines and then \
                 Closed; got {} lines (the first difference at line {:?}) and then {end:?}.\n\
                 Revisit: {EX9_2}\n",
                describe(&steps),
                expected.len(),
                got.len(),
                got.iter().zip(&expected).position(|(a, b)| a != b),
            );
        });
    });
}

#[test]
fn ex9_2_reads_a_real_socket_until_it_would_block() {
    let (mut stream, mut client) = socket_pair();
    let expected: Vec<String> = (0..2000).map(|i| format!("line {i} of 2000")).collect();
    let writer = thread::spawn(move || {
        // In pieces, with pauses: each reaches the server as its own event.
        for chunk in expected.chunks(250) {
            let text: String = chunk.iter().map(|l| format!("{l}\n")).collect();
            client.write_all(text.as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(5)); // pacing, not synchronisation
        }
        client
    });
    let (lines, end) = bounded(EX9_2, "read_line on a real socket", move || {
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut stream, Token(0), Interest::READABLE)
            .unwrap();
        let mut events = Events::with_capacity(8);
        let mut input = LineBuffer::new();
        let mut line = Vec::new();
        let mut lines = Vec::new();
        let deadline = Instant::now() + DEADLINE / 2;
        while lines.len() < 2000 && Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            if events.is_empty() {
                continue;
            }
            loop {
                match read_line(&mut stream, &mut input, &mut line) {
                    Next::Line => lines.push(String::from_utf8_lossy(&line).into_owned()),
                    Next::Drained => break,
                    other => return (lines, Some(other)),
                }
            }
        }
        (lines, None)
    });
    let _client = writer.join();
    let wanted: Vec<String> = (0..2000).map(|i| format!("line {i} of 2000")).collect();
    if lines != wanted {
        let first = lines.iter().zip(&wanted).position(|(a, b)| a != b);
        fail(
            &format!(
                "A client sent 2,000 lines over a real socket, in 8 writes. On each readable \
                 event the test called read_line until Drained. Got {} lines{}{}.",
                lines.len(),
                match first {
                    Some(i) => format!(", the first wrong one at {i}: {:?}", lines[i]),
                    None => String::new(),
                },
                match end {
                    Some(end) => format!(", then {end:?} while the client was still there"),
                    None => String::new(),
                }
            ),
            EX9_2,
        );
    }
}

// ---- 9.3: write until WouldBlock ------------------------------------------------------

fn line(text: &str) -> Line {
    format!("{text}\n").into()
}

/// An outbox holding `lines`, and what they are as bytes.
fn outbox_of(lines: &[Line]) -> (Outbox, Vec<u8>) {
    let mut outbox = Outbox::new();
    let mut bytes = Vec::new();
    for l in lines {
        outbox.push(l.clone());
        bytes.extend_from_slice(l.as_bytes());
    }
    (outbox, bytes)
}

fn numbered(n: usize) -> Vec<Line> {
    (0..n).map(|i| line(&format!("line {i}"))).collect()
}

/// `Outbox::flush` (9.3) as a check for 9.4's tests.
fn flush_works() -> Result<(), String> {
    let (mut outbox, expected) = outbox_of(&numbered(3));
    let mut sink = Sink::new(&[W::Take(5)]);
    let result = outbox.flush(&mut sink);
    if result.is_ok() && sink.got == expected && outbox.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "3 lines to a socket that takes 5 bytes, then everything: {result:?}, and it got {}",
            show(&sink.got)
        ))
    }
}

/// Runs `flush` on `outbox` into `sink` within the deadline.
fn flush_bounded(outbox: Outbox, sink: Sink) -> (io::Result<()>, Outbox, Sink) {
    bounded(EX9_3, "Outbox::flush", move || {
        let (mut outbox, mut sink) = (outbox, sink);
        let result = outbox.flush(&mut sink);
        (result, outbox, sink)
    })
}

#[test]
fn ex9_3_writes_everything_a_willing_socket_takes() {
    let lines = numbered(500);
    let (outbox, expected) = outbox_of(&lines);
    let (result, outbox, sink) = flush_bounded(outbox, Sink::default());
    if let Err(e) = result {
        fail(&format!("flush returned an error: {e}"), EX9_3);
    }
    if sink.got != expected {
        fail(
            &format!(
                "500 lines were queued; the socket takes everything it is given. Expected \
                 all {} bytes on it, in order; {}.",
                expected.len(),
                support::first_difference(&expected, &sink.got)
            ),
            EX9_3,
        );
    }
    if !outbox.is_empty() || outbox.bytes() != 0 {
        fail(
            &format!(
                "Everything was written, but the outbox still says it holds {} bytes (is_empty: \
                 {}). Keep `self.bytes` true: subtract what each write took.",
                outbox.bytes(),
                outbox.is_empty()
            ),
            EX9_3,
        );
    }
}

#[test]
fn ex9_3_many_lines_go_out_in_one_write() {
    let (outbox, _) = outbox_of(&numbered(100));
    let (_, _, sink) = flush_bounded(outbox, Sink::default());
    if sink.writes > 4 {
        fail(
            &format!(
                "100 short lines were queued for a socket that takes everything it is given, \
                 and flush made {} writes: a system call per line. Hand many lines to each \
                 write with write_vectored (up to MAX_SLICES of them): 100 lines should take \
                 2 writes.",
                sink.writes
            ),
            EX9_3,
        );
    }
}

#[test]
fn ex9_3_a_partial_write_keeps_the_rest_down_to_the_byte() {
    let lines = numbered(40);
    let (mut outbox, expected) = outbox_of(&lines);
    // Each flush: the socket takes 7 bytes, then its buffer is full.
    let mut sink = Sink::default();
    for round in 0..2000 {
        if outbox.is_empty() {
            break;
        }
        sink.steps = [W::Take(7), W::WouldBlock].into();
        let (result, o, s) = flush_bounded(outbox, sink);
        (outbox, sink) = (o, s);
        if let Err(e) = result {
            fail(
                &format!(
                    "A socket took 7 bytes, then said WouldBlock: flush should return Ok(()) \
                     and keep the rest; it returned {e}"
                ),
                EX9_3,
            );
        }
        let left = expected.len() - sink.got.len().min(expected.len());
        if sink.got != expected[..sink.got.len().min(expected.len())] || outbox.bytes() != left {
            fail(
                &format!(
                    "40 lines were queued ({} bytes); at each flush the socket took 7 bytes, \
                     then said WouldBlock. After {} flushes it had {} bytes: {}, and the \
                     outbox said {} bytes were left (expected {left}). A part of a line that \
                     was not taken is written next time, from where the write stopped.",
                    expected.len(),
                    round + 1,
                    sink.got.len(),
                    support::first_difference(
                        &expected[..sink.got.len().min(expected.len())],
                        &sink.got
                    ),
                    outbox.bytes()
                ),
                EX9_3,
            );
        }
    }
    if sink.got != expected || !outbox.is_empty() {
        fail(
            &format!(
                "40 lines were queued ({} bytes), written 7 bytes per flush; after 2,000 \
                 flushes the socket had {} bytes and the outbox held {}.",
                expected.len(),
                sink.got.len(),
                outbox.bytes()
            ),
            EX9_3,
        );
    }
}

#[test]
fn ex9_3_would_block_keeps_everything_and_interrupted_writes_again() {
    let (outbox, expected) = outbox_of(&numbered(3));
    let (result, outbox, sink) = flush_bounded(outbox, Sink::new(&[W::WouldBlock]));
    if result.is_err() || outbox.bytes() != expected.len() || sink.writes != 1 {
        fail(
            &format!(
                "The socket said WouldBlock at once. Expected flush to return Ok(()) after that \
                 one write, keeping all {} bytes; it returned {result:?} after {} writes, and \
                 the outbox holds {} bytes. WouldBlock means: stop, the rest waits for the \
                 poll's next writable event.",
                expected.len(),
                sink.writes,
                outbox.bytes()
            ),
            EX9_3,
        );
    }
    let (result, outbox, sink) = flush_bounded(
        outbox,
        Sink::new(&[W::Interrupted, W::Take(3), W::Interrupted]),
    );
    if result.is_err() || sink.got != expected || !outbox.is_empty() {
        fail(
            &format!(
                "The socket's writes said Interrupted, took 3 bytes, said Interrupted, then took \
                 everything. Expected all {} bytes written and Ok(()); got {result:?} and {}.",
                expected.len(),
                show(&sink.got)
            ),
            EX9_3,
        );
    }
}

#[test]
fn ex9_3_errors_are_returned_and_a_write_of_nothing_is_one() {
    let (outbox, _) = outbox_of(&numbered(3));
    let (result, _, _) = flush_bounded(outbox, Sink::new(&[W::Fail(ErrorKind::ConnectionReset)]));
    if !result
        .as_ref()
        .is_err_and(|e| e.kind() == ErrorKind::ConnectionReset)
    {
        fail(
            &format!(
                "The socket's write failed with ConnectionReset (the client is gone). Expected \
                 flush to return that error; it returned {result:?}."
            ),
            EX9_3,
        );
    }
    let (outbox, _) = outbox_of(&numbered(3));
    let (result, _, _) = flush_bounded(outbox, Sink::new(&[W::Take(4), W::Zero]));
    if !result
        .as_ref()
        .is_err_and(|e| e.kind() == ErrorKind::WriteZero)
    {
        fail(
            &format!(
                "The socket's write took 4 bytes, then returned Ok(0): it takes nothing. \
                 Expected an error of kind WriteZero; got {result:?}."
            ),
            EX9_3,
        );
    }
}

/// Lines of any sizes, written by a socket that takes any number of bytes
/// at a time, with WouldBlock between flushes, arrive exactly as queued.
#[test]
fn ex9_3_any_partial_writes_give_the_same_bytes() {
    support::property(EX9_3, || {
        proptest!(proptest_config(), |(
            sizes in vec(0usize..300, 1..80),
            takes in vec(1usize..400, 1..40),
        )| {
            let lines: Vec<Line> = sizes
                .iter()
                .enumerate()
                .map(|(i, &n)| line(&format!("{i}:{}", "w".repeat(n))))
                .collect();
            let (mut outbox, expected) = outbox_of(&lines);
            let mut sink = Sink::default();
            let mut flushes = 0;
            while !outbox.is_empty() && flushes < 10_000 {
                sink.steps = [W::Take(takes[flushes % takes.len()]), W::WouldBlock].into();
                let before = outbox.bytes();
                let result = outbox.flush(&mut sink);
                prop_assert!(
                    result.is_ok() && outbox.bytes() < before,
                    "\nA flush to a socket that took some bytes, then said WouldBlock, \
                     returned {result:?}, leaving {} of {before} bytes.\nRevisit: {EX9_3}\n",
                    outbox.bytes()
                );
                flushes += 1;
            }
            prop_assert!(
                sink.got == expected && outbox.bytes() == 0,
                "\n{} lines of {sizes:?}+ bytes, written in pieces of {takes:?} bytes: {}.\n\
                 Revisit: {EX9_3}\n",
                lines.len(),
                support::first_difference(&expected, &sink.got),
            );
        });
    });
}

#[test]
fn ex9_3_a_real_socket_takes_what_fits_and_the_rest_later() {
    let (mut stream, client) = socket_pair();
    // 8 MB: more than the two sockets' buffers hold while the client waits
    // (on Linux, at most 4 MB for sending and, until it reads, 128 KiB).
    let lines: Vec<Line> = (0..80_000)
        .map(|i| line(&format!("{i:05} {}", "r".repeat(93))))
        .collect();
    let (mut outbox, expected) = outbox_of(&lines);
    let first = bounded(EX9_3, "Outbox::flush on a real socket", move || {
        let result = outbox.flush(&mut stream);
        (result, outbox, stream)
    });
    let (result, outbox, mut stream) = first;
    if let Err(e) = result {
        fail(
            &format!("flush to a real socket whose buffer filled up returned {e}"),
            EX9_3,
        );
    }
    if outbox.is_empty() {
        fail(
            "8 MB were queued for a client that does not read yet; flush said everything \
             was written, which cannot fit in the sockets' buffers.",
            EX9_3,
        );
    }
    // The client reads now; each writable event, the rest is flushed.
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let _ = (&client).take(expected.len() as u64).read_to_end(&mut got);
        (got, expected)
    });
    let outbox = bounded(EX9_3, "Outbox::flush on writable events", move || {
        let mut outbox = outbox;
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut stream, Token(0), Interest::WRITABLE)
            .unwrap();
        let mut events = Events::with_capacity(8);
        let deadline = Instant::now() + DEADLINE / 2;
        while !outbox.is_empty() && Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            if !events.is_empty() && outbox.flush(&mut stream).is_err() {
                break;
            }
        }
        outbox
    });
    let (got, expected) = reader.join().unwrap();
    if got != expected || !outbox.is_empty() {
        fail(
            &format!(
                "8 MB were queued; the client read while the test flushed on each writable \
                 event. The client got {} of {} bytes: {}; the outbox holds {} bytes.",
                got.len(),
                expected.len(),
                support::first_difference(&expected, &got),
                outbox.bytes()
            ),
            EX9_3,
        );
    }
}

// ---- 9.4: ask only for what you need --------------------------------------------------

const CONN: Token = Token(7);

/// A connection as the server holds it, registered for reading in a poll
/// of the test's own; and the client's end.
fn registered_conn() -> (Poll, Conn, TcpStream) {
    let (mut stream, client) = socket_pair();
    let poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut stream, CONN, Interest::READABLE)
        .unwrap();
    (poll, Conn::new(stream), client)
}

/// The events for [`CONN`] that the poll has right now (it does not wait):
/// (readable, writable).
fn events_now(poll: &mut Poll) -> (bool, bool) {
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    let ours = events.iter().filter(|e| e.token() == CONN);
    ours.fold((false, false), |(r, w), e| {
        (r || e.is_readable(), w || e.is_writable())
    })
}

/// Waits (up to the deadline) for an event for [`CONN`]: (readable, writable).
fn next_event(poll: &mut Poll) -> Option<(bool, bool)> {
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + DEADLINE / 2;
    while Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if let Some(e) = events.iter().find(|e| e.token() == CONN) {
            return Some((e.is_readable(), e.is_writable()));
        }
    }
    None
}

fn update(poll: &Poll, conn: &mut Conn, when: &str) -> bool {
    match conn.update_interest(poll.registry(), CONN) {
        Ok(open) => open,
        Err(e) => fail(
            &format!(
                "update_interest {when} returned an error: {e}.{}",
                if e.kind() == ErrorKind::AlreadyExists {
                    " The connection is registered already: change what the poll watches \
                     with `reregister`, not `register`."
                } else {
                    ""
                }
            ),
            EX9_4,
        ),
    }
}

#[test]
fn ex9_4_asks_for_writable_only_while_output_waits() {
    support::quiet_panics();
    let (mut poll, mut conn, mut client) = registered_conn();
    if !update(&poll, &mut conn, "with nothing to write") || conn.interest != Interest::READABLE {
        fail(
            &format!(
                "A connection the server reads, with nothing to write: expected update_interest \
                 to return Ok(true) and leave the interest at READABLE; the interest is {:?}.",
                conn.interest
            ),
            EX9_4,
        );
    }
    conn.output.push(line("* hello"));
    update(&poll, &mut conn, "with a line to write");
    if conn.interest != (Interest::READABLE | Interest::WRITABLE) {
        fail(
            &format!(
                "A line waits in the connection's output: expected the interest READABLE | \
                 WRITABLE (and the stream reregistered with it); conn.interest is {:?}.",
                conn.interest
            ),
            EX9_4,
        );
    }
    // The socket has room: asked about WRITABLE, the poll says so at once.
    match next_event(&mut poll) {
        Some((_, true)) => {}
        other => fail(
            &format!(
                "A line waits, the socket has room, and update_interest was called: the poll \
                 should report the connection (token {CONN:?}) writable. It reported {}. \
                 `reregister` the stream, under the token you are given, with the new interest.",
                match other {
                    None => "nothing".to_string(),
                    Some((r, w)) => format!("readable: {r}, writable: {w}"),
                }
            ),
            EX9_4,
        ),
    }
    // Nothing changed: no reregister, so no fresh event.
    update(&poll, &mut conn, "again, with nothing changed");
    if events_now(&mut poll).1 {
        fail(
            "update_interest was called twice with the same line waiting; after the second \
             call, the poll reported the connection writable again. A `reregister` makes the \
             poll report a writable socket afresh: a server that reregisters after every event \
             spins. Reregister only when the interest changes (compare with self.interest).",
            EX9_4,
        );
    }
    conn.output.clear();
    update(&poll, &mut conn, "once the output was written");
    if conn.interest != Interest::READABLE {
        fail(
            &format!(
                "The output is empty again: expected the interest back to READABLE; it is {:?}. \
                 A poll that watches an idle socket for WRITABLE reports it again and again.",
                conn.interest
            ),
            EX9_4,
        );
    }
    client.write_all(b"hi\n").unwrap();
    if !next_event(&mut poll).is_some_and(|(r, _)| r) {
        fail(
            "After update_interest, the client sent a line, but the poll did not report the \
             connection readable: is it still registered, under its token, for READABLE?",
            EX9_4,
        );
    }
}

#[test]
fn ex9_4_a_leaving_client_gets_its_last_lines_then_is_let_go() {
    support::quiet_panics();
    let (mut poll, mut conn, _client) = registered_conn();
    conn.reading = false;
    conn.output.push(line("* bye"));
    if !update(
        &poll,
        &mut conn,
        "for a client leaving with a line to write",
    ) {
        fail(
            "A client is leaving (reading is false), but a line still waits for it: \
             update_interest returned Ok(false), and the server would close the connection \
             before the line is written. A connection is finished only when it is not read \
             and has nothing left to write.",
            EX9_4,
        );
    }
    if conn.interest != Interest::WRITABLE {
        fail(
            &format!(
                "A client is leaving with a line to write: expected the interest WRITABLE \
                 alone; it is {:?}.",
                conn.interest
            ),
            EX9_4,
        );
    }
    let _ = next_event(&mut poll);
    conn.output.clear();
    if update(
        &poll,
        &mut conn,
        "for a client that left, with nothing to write",
    ) {
        fail(
            "A client left (reading is false) and nothing waits for it: update_interest \
             should deregister it and return Ok(false), so that the server closes it. It \
             returned Ok(true): the connection would stay open for ever.",
            EX9_4,
        );
    }
    // On Linux, registering a socket that is registered already fails.
    #[cfg(target_os = "linux")]
    if let Err(e) = poll
        .registry()
        .register(&mut conn.stream, CONN, Interest::READABLE)
    {
        fail(
            &format!(
                "After update_interest returned Ok(false), the test registered the stream \
                 again, which failed ({e}): it was not deregistered."
            ),
            EX9_4,
        );
    }
}

// ---- 9.4: the whole server -----------------------------------------------------------

/// The server needs every exercise: say which earlier one fails, if one does.
fn needs_9_1_to_9_3() {
    support::needs(EX9_1, accept_works);
    support::needs(EX9_2, read_works);
    support::needs(EX9_3, flush_works);
}

#[test]
fn ex9_4_welcome_and_the_lobby_hears() {
    needs_9_1_to_9_3();
    chat::welcome_and_the_lobby_hears(BIN, EX9_4);
}

#[test]
fn ex9_4_messages_reach_the_room_in_order() {
    needs_9_1_to_9_3();
    chat::messages_reach_the_room_in_order(BIN, EX9_4);
}

#[test]
fn ex9_4_names_are_checked_and_unique() {
    needs_9_1_to_9_3();
    chat::names_are_checked_and_unique(BIN, EX9_4);
}

#[test]
fn ex9_4_rooms_keep_their_messages() {
    needs_9_1_to_9_3();
    chat::rooms_keep_their_messages(BIN, EX9_4);
}

#[test]
fn ex9_4_commands_and_bad_lines() {
    needs_9_1_to_9_3();
    chat::commands_and_bad_lines(BIN, EX9_4);
}

#[test]
fn ex9_4_leaving_is_announced() {
    needs_9_1_to_9_3();
    chat::leaving_is_announced(BIN, EX9_4);
}

#[test]
fn ex9_4_long_lines_are_refused() {
    needs_9_1_to_9_3();
    chat::long_lines_are_refused(BIN, EX9_2);
}

#[test]
fn ex9_4_a_full_server_says_so() {
    needs_9_1_to_9_3();
    chat::a_full_server_says_so(BIN, EX9_1);
}

#[test]
fn ex9_4_idle_clients_are_sent_away() {
    needs_9_1_to_9_3();
    chat::idle_clients_are_sent_away(BIN, EX9_4);
}

#[test]
fn ex9_4_a_client_that_never_reads_is_dropped() {
    needs_9_1_to_9_3();
    chat::a_client_that_never_reads_is_dropped(BIN, EX9_3);
}

#[test]
fn ex9_4_churn_and_slowloris_leave_others_served() {
    needs_9_1_to_9_3();
    chat::churn_and_slowloris_leave_others_served(BIN, EX9_4);
}

#[test]
fn ex9_4_many_clients_at_once() {
    needs_9_1_to_9_3();
    chat::many_clients_at_once(BIN, EX9_1);
}

#[cfg(unix)]
#[test]
fn ex9_4_sigterm_says_goodbye_and_exits() {
    needs_9_1_to_9_3();
    chat::shutdown_says_goodbye(BIN, EX9_4);
}

#[cfg(target_os = "linux")]
/// A chat client of this file's own, for a client whose socket the test
/// must reach (the shared `chat::Client` keeps its socket private).
struct Raw<'a> {
    server: &'a support::Server,
    reader: std::io::BufReader<TcpStream>,
    writer: TcpStream,
    name: String,
}

#[cfg(target_os = "linux")]
impl<'a> Raw<'a> {
    /// Connects and reads the welcome. Without Nagle's algorithm: a test
    /// that sends many lines and then a question waits for no delayed ACK.
    fn connect(server: &'a support::Server) -> Raw<'a> {
        let stream = server.connect().stream;
        stream.set_nodelay(true).unwrap();
        let mut raw = Raw {
            server,
            writer: stream.try_clone().unwrap(),
            reader: std::io::BufReader::new(stream),
            name: String::new(),
        };
        let welcome = raw.line();
        raw.name = welcome
            .strip_prefix("* welcome, ")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_else(|| server.fail(&format!("Expected the welcome; got {welcome:?}")))
            .to_string();
        raw
    }

    fn send(&mut self, line: &str) {
        if let Err(e) = self.writer.write_all(format!("{line}\n").as_bytes()) {
            self.server
                .fail(&format!("{} could not send {line:?}: {e}", self.name));
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        match std::io::BufRead::read_line(&mut self.reader, &mut line) {
            Ok(_) if line.ends_with('\n') => {
                line.pop();
                line
            }
            Ok(_) => self.server.fail(&format!(
                "{} expected a line; got {line:?} and the end of the stream",
                self.name
            )),
            Err(e) => self.server.fail(&format!(
                "{} expected a line; got {line:?} and then: {e}",
                self.name
            )),
        }
    }

    fn expect(&mut self, expected: &str, context: &str) {
        let got = self.line();
        if got != expected {
            let shorten = |s: &str| s.chars().take(60).collect::<String>();
            self.server.fail(&format!(
                "{context}\n{} expected {:?}…\ngot      {:?}…",
                self.name,
                shorten(expected),
                shorten(&got)
            ));
        }
    }
}

#[cfg(target_os = "linux")]
/// On Linux, how many bytes the server's socket to the client at
/// `client` holds that the client has not taken: its send queue, the
/// `tx_queue` of /proc/net/tcp.
fn server_send_queue(server: SocketAddr, client: SocketAddr) -> Option<u64> {
    // Addresses as the kernel prints them: 127.0.0.1:7009 is 0100007F:1B61.
    let hex = |addr: SocketAddr| {
        let octets = match addr.ip() {
            std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
            std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        let words: String = (octets.chunks(4))
            .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
            .collect();
        format!("{words}:{:04X}", addr.port())
    };
    let (local, remote) = (hex(server), hex(client));
    let table = if server.is_ipv6() {
        "/proc/net/tcp6"
    } else {
        "/proc/net/tcp"
    };
    let table = std::fs::read_to_string(table).ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&local.as_str()) || fields.get(2) != Some(&remote.as_str()) {
            return None;
        }
        u64::from_str_radix(fields.get(4)?.split(':').next()?, 16).ok()
    })
}

/// ada, and a sleeper that reads nothing for a while. ada sends lines of
/// 1 KB until the server's socket to the sleeper is full (on loopback its
/// buffer grows to megabytes), then 40 more: the last 60 or more wait in
/// the sleeper's outbox, well within its bound (256 KiB). Returns the lines
/// the sleeper is owed.
#[cfg(target_os = "linux")]
fn flood_a_sleeper(server: &support::Server) -> (Raw<'_>, Raw<'_>, Vec<String>) {
    let mut ada = Raw::connect(server);
    ada.send("/nick ada");
    ada.expect("* you are now ada", "after /nick ada");
    ada.name = "ada".to_string();
    let mut sleeper = Raw::connect(server);
    ada.expect(
        &format!("* {} joined lobby", sleeper.name),
        "as the sleeper came",
    );
    sleeper.send("/nick sleeper");
    sleeper.expect("* you are now sleeper", "after /nick sleeper");
    ada.expect(
        &format!("* {} is now sleeper", sleeper.name),
        "as the sleeper took its name",
    );
    sleeper.name = "sleeper".to_string();
    let sleeper_addr = sleeper.writer.local_addr().unwrap();
    let queue = || {
        server_send_queue(server.addr(), sleeper_addr).unwrap_or_else(|| {
            server
                .fail("The test could not find the server's socket to the sleeper in /proc/net/tcp")
        })
    };
    let mut owed: Vec<String> = Vec::new();
    // Sends n lines; returns their size as the sleeper gets them.
    let mut send = |ada: &mut Raw<'_>, n: usize| -> u64 {
        let mut bytes = 0;
        for _ in 0..n {
            let text = format!("{:04} {}", owed.len(), "z".repeat(1000));
            ada.send(&text);
            owed.push(format!("ada: {text}"));
            bytes += owed.last().map_or(0, |l| l.len() as u64 + 1);
        }
        // Once ada's /who is answered, the server has handled her lines.
        ada.send("/who");
        ada.expect("* in lobby: ada, sleeper", "after /who");
        bytes
    };
    // While the socket takes all it is given, 150 lines at a time; once it
    // takes less, 20 at a time, until it takes nothing.
    let mut batch = 150;
    let mut before = queue();
    loop {
        let sent = send(&mut ada, batch);
        let after = queue();
        // (Not while the queue is empty: the client's own receive buffer
        // takes the first lines, and the server's socket holds none yet.)
        if batch == 20 && after == before && after > 0 {
            break;
        }
        batch = if after == before + sent { 150 } else { 20 };
        before = after;
        if after > 64 * 1024 * 1024 {
            server.fail(&format!(
                "The server's socket to a client that does not read holds {after} bytes, and \
                 takes more"
            ));
        }
    }
    send(&mut ada, 40);
    (ada, sleeper, owed)
}

/// The sleeper reads at last: every line it is owed must come, in order.
#[cfg(target_os = "linux")]
fn collect_what_is_owed(sleeper: &mut Raw<'_>, owed: &[String]) {
    for (i, line) in owed.iter().enumerate() {
        sleeper.expect(
            line,
            &format!(
                "{} lines of 1 KB were sent to a client that did not read, the last 60 or \
                 more once its socket was full. Then it sent /quit, and read. Line {i} of \
                 them is wrong or missing. (Output that does not fit waits in the outbox, and \
                 the poll must be asked for WRITABLE while it waits, so that the rest is \
                 written when the client makes room — even after the client asked to leave.)",
                owed.len()
            ),
        );
    }
}

/// A client stops reading while lines keep coming: the server writes what
/// fits, keeps the rest, and waits for room without spinning; the client
/// sends /quit, then reads, and gets every line, then `* bye`, then the end.
#[cfg(target_os = "linux")]
#[test]
fn ex9_4_a_client_that_stops_reading_costs_nothing_and_gets_every_line() {
    needs_9_1_to_9_3();
    // Over IPv6 where there is: the test reads the kernel's table of
    // sockets many times, and /proc/net/tcp6 is usually far shorter.
    let addr = match TcpListener::bind("[::1]:0") {
        Ok(_) => "[::1]:0",
        Err(_) => "127.0.0.1:0",
    };
    let server = support::Server::start(BIN, &["server", addr, "--stall-secs", "60"], EX9_4);
    let (mut ada, mut sleeper, owed) = flood_a_sleeper(&server);
    let before = server.cpu_time();
    // An observation window, not synchronisation: what does the server do
    // with half a second in which nothing happens but a full socket?
    thread::sleep(Duration::from_millis(500));
    let cpu = server.cpu_time().zip(before).map(|(a, b)| a - b);
    if let Some(cpu) = cpu.filter(|cpu| *cpu > Duration::from_millis(100)) {
        server.fail(&format!(
            "A client stopped reading while its socket was full and more waited for it; then \
             nothing happened for 500 ms, and the server used {} ms of CPU in them: it spins. \
             The poll reports a socket whenever it is (re)registered for WRITABLE and has \
             room: ask for WRITABLE only while output waits, and reregister only when the \
             interest changes.",
            cpu.as_millis()
        ));
    }
    sleeper.send("/quit");
    ada.expect("* sleeper left lobby", "after the sleeper's /quit");
    collect_what_is_owed(&mut sleeper, &owed);
    sleeper.expect("* bye", "after /quit, and every line it was sent before");
    let mut rest = Vec::new();
    match sleeper.reader.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => server.fail(&format!(
            "After \"* bye\", the server should close the connection; the client read {} \
             and then {other:?}",
            show(&rest)
        )),
    }
}

#[cfg(unix)]
#[test]
fn ex9_4_accepting_resumes_when_a_file_is_free() {
    needs_9_1_to_9_3();
    // Room for exactly one client.
    let server = support::Server::start_with_hard_file_limit(
        BIN,
        &["server", "127.0.0.1:0"],
        FILES_FOR_NO_CLIENT + 1,
        EX9_1,
    );
    let mut first = chat::Client::connect(&server);
    // The second waits in the backlog: every accept fails for now.
    let mut second = chat::Client::connect_quietly(&server);
    if !server.wait_for_stderr("accept failed") {
        server.fail("Out of file descriptors, the server logged no \"accept failed\"");
    }
    first.ask("/quit", "* bye");
    first.expect_close("after /quit");
    // A file is free: after its pause, the server accepts again by itself,
    // though no new connection arrives to wake it.
    let welcome = second.try_line();
    if !welcome
        .as_deref()
        .is_ok_and(|l| l.starts_with("* welcome, guest"))
    {
        server.fail(&format!(
            "The server was out of file descriptors while a second client waited; then the \
             first client left. Expected the second to be welcomed within {DEADLINE:?}; it got \
             {welcome:?}. After Accepting::Pause, the server calls accept_ready again when the \
             pause is over; return Pause (not Drained) when accept_failure_logged says so."
        ));
    }
}

#[test]
fn ex9_4_ipv6_loopback_works() {
    if !support::ipv6_loopback("ex9_4_ipv6_loopback_works") {
        return;
    }
    needs_9_1_to_9_3();
    let server = support::Server::start(BIN, &["server", "[::1]:0"], EX9_4);
    let mut c = chat::lobby(&server, &["ada", "bob"]);
    c[0].send("over IPv6");
    c[1].expect("ada: over IPv6");
}

// ---- given code -----------------------------------------------------------------

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
fn given_the_line_buffer_hands_out_lines_and_keeps_no_memory_when_empty() {
    let mut input = LineBuffer::new();
    let mut script = Script::new(&[data("one\r\ntwo\nha"), data("lf\n")]);
    assert_eq!(input.fill_from(&mut script).unwrap(), 11);
    assert_eq!(input.next_line(), Some(&b"one\r"[..]));
    assert_eq!(input.next_line(), Some(&b"two"[..]));
    assert_eq!(input.next_line(), None);
    assert_eq!(input.unfinished(), 2);
    input.release_if_empty();
    assert_eq!(input.unfinished(), 2, "an unfinished line is kept");
    assert_eq!(input.fill_from(&mut script).unwrap(), 3);
    assert_eq!(input.next_line(), Some(&b"half"[..]));
    assert_eq!(input.next_line(), None);
    input.release_if_empty();
    assert_eq!(input.unfinished(), 0);
    assert!(
        input
            .fill_from(&mut script)
            .is_err_and(|e| e.kind() == ErrorKind::WouldBlock)
    );
}

#[test]
fn given_busy_compares_a_busy_loop_with_poll() {
    let finished = support::run(BIN, &["busy", "--secs", "0.1"], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    assert!(
        finished.status.is_some_and(|s| s.success())
            && stdout.contains("busy loop, accept()")
            && stdout.contains("Poll::poll()"),
        "`lesson09 busy --secs 0.1` should compare the two waits. {}.\nIts stdout:\n{stdout}\n\
         Its stderr:\n{}",
        finished.how_it_ended(),
        finished.stderr
    );
}

#[test]
fn given_the_demo_chats() {
    support::assert_demo_runs(
        BIN,
        &["ada ← * you are now ada", "bob ← ada: hello, everyone"],
    );
}
