//! Lesson 1 — TCP echo. Run with `cargo test -p lesson01`.
//!
//! Tests named `ex1_k_...` check exercise 1.k; `given_...` check given code.
//! A test of a later exercise first checks the earlier ones it builds on, and
//! says so if one of them is not done yet.

mod support;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command as StdCommand, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use socket2::SockRef;
use support::{DEADLINE, Hint, Server, binary_bytes, first_difference, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson01");

const EX1_1: Hint = Hint("exercise 1.1, `echo` in lessons/lesson01/src/echo.rs — book §1.1");
const EX1_2: Hint = Hint("exercise 1.2, `serve` in lessons/lesson01/src/echo.rs — book §1.2");
const EX1_3: Hint =
    Hint("exercise 1.3, `round_trip` in lessons/lesson01/src/client.rs — book §1.3");

/// The server of `cargo run -p lesson01 -- server`, on a free port. Its tests
/// need `echo` too: they check it first.
fn server() -> Server {
    support::needs(EX1_1, echo_works);
    support::server(BIN, EX1_2, &[])
}

// ---------------------------------------------------------------- exercise 1.1
//
// These tests call your `echo` directly, so exercise 1.1 can be checked before
// `serve` (1.2) exists: some on a real connection the test accepts itself,
// some on a fake stream in memory that behaves the way real ones sometimes do.

/// Your `echo`, running on a thread for one connection, and the client side.
struct EchoUnderTest {
    client: TcpStream,
    result: mpsc::Receiver<io::Result<u64>>,
}

fn echo_under_test() -> EchoUnderTest {
    support::quiet_panics();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, result) = mpsc::channel();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        // If echo panics (a todo!()), tx is dropped and `result` says so.
        let _ = tx.send(lesson01::echo::echo(&mut stream));
    });
    let client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    client.set_write_timeout(Some(DEADLINE)).unwrap();
    EchoUnderTest { client, result }
}

impl EchoUnderTest {
    /// What `echo` returned, once it has returned.
    fn returned(&self) -> String {
        match self.result.recv_timeout(DEADLINE) {
            Ok(result) => format!("echo returned {result:?}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                format!("echo had not returned after {DEADLINE:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                "echo panicked (its message is above)".to_string()
            }
        }
    }

    /// Reads until `n` bytes, end of stream, or the deadline.
    fn read_up_to(&mut self, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let _ = (&mut self.client).take(n as u64).read_to_end(&mut got);
        got
    }
}

/// A byte stream in memory: reads hand out `input` one item at a time (a
/// chunk of bytes, or an error), and writes take at most `max_write` bytes
/// per call — the way a socket may, when its buffer is nearly full.
struct FakeStream {
    input: VecDeque<io::Result<Vec<u8>>>,
    output: Vec<u8>,
    max_write: usize,
}

impl FakeStream {
    fn new(input: Vec<io::Result<Vec<u8>>>, max_write: usize) -> FakeStream {
        FakeStream {
            input: input.into(),
            output: Vec::new(),
            max_write,
        }
    }
}

impl Read for FakeStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.input.pop_front() {
            None => Ok(0),
            Some(Err(e)) => Err(e),
            Some(Ok(mut chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.input.push_front(Ok(chunk.split_off(n)));
                }
                Ok(n)
            }
        }
    }
}

impl Write for FakeStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(self.max_write);
        self.output.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs your `echo` on a [`FakeStream`], within the deadline: (result, output).
fn echo_in_memory(mut stream: FakeStream) -> (io::Result<u64>, Vec<u8>) {
    within(
        &format!("echo on a stream in memory — revisit {EX1_1}"),
        move || {
            let result = lesson01::echo::echo(&mut stream);
            (result, stream.output)
        },
    )
}

/// Checks that `echo` works at all, for the tests of later exercises.
fn echo_works() -> Result<(), String> {
    let mut stream = FakeStream::new(vec![Ok(b"ping".to_vec())], 1024);
    match lesson01::echo::echo(&mut stream) {
        Ok(4) if stream.output == b"ping" => Ok(()),
        other => Err(format!(
            "echo on a stream that delivers \"ping\" and ends returned {other:?} and wrote {}",
            show(&stream.output)
        )),
    }
}

#[test]
fn ex1_1_echoes_a_line_before_the_client_closes() {
    // Like a person typing into `nc`: the reply must come while the connection
    // is still open, not only after the client has finished.
    let mut echo = echo_under_test();
    for line in [&b"hello, echo\n"[..], b"and a second line\n"] {
        echo.client.write_all(line).unwrap();
        let got = echo.read_up_to(line.len());
        assert!(
            got == line,
            "\nSent:     {} (and kept the connection open)\nExpected: the same back\n\
             Got:      {}\n({})\nRevisit: {EX1_1}\n",
            show(line),
            show(&got),
            if got.is_empty() {
                echo.returned()
            } else {
                "echo is still running".to_string()
            }
        );
    }
}

#[test]
fn ex1_1_echoes_binary_bytes_exactly() {
    let mut echo = echo_under_test();
    let bytes = binary_bytes(1024);
    echo.client.write_all(&bytes).unwrap();
    echo.client.shutdown(Shutdown::Write).unwrap();
    let got = echo.read_up_to(usize::MAX);
    assert!(
        got == bytes,
        "\nSent:     {}, then shutdown(Write)\nExpected: the same bytes back\nGot:      {}\n\
         ({})\nRevisit: {EX1_1}\n",
        show(&bytes),
        show(&got),
        echo.returned()
    );
}

#[test]
fn ex1_1_echoes_a_mebibyte_sent_in_one_write() {
    // 1 MiB does not fit in one read: echo sees it in pieces and must echo
    // every piece, in order.
    let mut echo = echo_under_test();
    let bytes = binary_bytes(1 << 20);
    let mut writer = echo.client.try_clone().unwrap();
    let to_send = bytes.clone();
    // Send on another thread while we read here: the echo comes back while we
    // are still sending, and someone has to read it.
    let sender = thread::spawn(move || {
        writer.write_all(&to_send)?;
        writer.shutdown(Shutdown::Write)
    });
    let got = echo.read_up_to(usize::MAX);
    let sent = sender.join().unwrap();
    assert!(
        sent.is_ok() && got == bytes,
        "\nSent 1 MiB of binary data in one write_all ({sent:?}), then shutdown(Write).\n\
         Expected the same 1 MiB back, then end of stream.\n\
         Got {} bytes ({}); {}.\nRevisit: {EX1_1}\n",
        got.len(),
        first_difference(&bytes, &got),
        echo.returned()
    );
}

#[test]
fn ex1_1_returns_the_count_when_the_client_half_closes() {
    let mut echo = echo_under_test();
    echo.client.write_all(b"last words\n").unwrap();
    echo.client.shutdown(Shutdown::Write).unwrap();
    let got = echo.read_up_to(usize::MAX);
    let returned = echo.returned();
    assert!(
        got == b"last words\n" && returned == "echo returned Ok(11)",
        "\nSent:     \"last words\\n\", then shutdown(Write)\n\
         Expected: the same back, then end of stream, and echo returning Ok(11)\n\
         Got:      {}; {returned}\nRevisit: {EX1_1}\n",
        show(&got)
    );
}

#[test]
fn ex1_1_writes_everything_when_each_write_takes_only_a_few_bytes() {
    // A socket whose send buffer is nearly full takes what fits: `write`
    // returns how many bytes that was, and the rest is the caller's to send.
    let chunks: Vec<io::Result<Vec<u8>>> = vec![
        Ok(binary_bytes(700)),
        Ok(b"and a line\n".to_vec()),
        Ok(binary_bytes(5000)),
    ];
    let expected: Vec<u8> = chunks
        .iter()
        .flat_map(|c| c.as_ref().unwrap().clone())
        .collect();
    let (result, output) = echo_in_memory(FakeStream::new(chunks, 3));
    let advice = if output.len() > expected.len() {
        "It wrote back more bytes than it read: write back only the bytes each read \
         returned, `&buf[..n]`, not the whole buffer."
    } else {
        "`write` may take only part of what you give it: its return value says how much. \
         What does `write_all` do?"
    };
    assert!(
        matches!(result, Ok(n) if n == expected.len() as u64) && output == expected,
        "\nA stream in memory delivered 700, 11 and 5000 bytes, and each of its writes takes \
         at most 3 bytes (it returns how many it took).\nExpected: all 5711 bytes written \
         back, and Ok(5711)\nGot:      {} bytes written ({}), and {result:?}\n{advice}\n\
         Revisit: {EX1_1}\n",
        output.len(),
        first_difference(&expected, &output),
    );
}

#[test]
fn ex1_1_retries_a_read_interrupted_by_a_signal() {
    let interrupted = || Err(io::Error::from(io::ErrorKind::Interrupted));
    let chunks = vec![
        Ok(b"before ".to_vec()),
        interrupted(),
        Ok(b"after".to_vec()),
    ];
    let (result, output) = echo_in_memory(FakeStream::new(chunks, 1024));
    assert!(
        matches!(result, Ok(12)) && output == b"before after",
        "\nA stream delivered \"before \", then a read failed with ErrorKind::Interrupted \
         (a signal arrived while it waited), then \"after\".\nExpected: \"before after\" \
         written back, and Ok(12)\nGot:      {} written, and {result:?}\n\
         An interrupted read is retried, not an error.\nRevisit: {EX1_1}\n",
        show(&output)
    );
}

#[test]
fn ex1_1_a_failed_read_ends_the_echo_with_that_error() {
    let reset = || Err(io::Error::from(io::ErrorKind::ConnectionReset));
    let chunks = vec![Ok(b"hello".to_vec()), reset(), Ok(b"ghost".to_vec())];
    let (result, output) = echo_in_memory(FakeStream::new(chunks, 1024));
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::ConnectionReset)
            && output == b"hello",
        "\nA stream delivered \"hello\", then a read failed with ConnectionReset (the client \
         reset the connection).\nExpected: \"hello\" written back, then echo returning that \
         error\nGot:      {} written, and {result:?}\nRevisit: {EX1_1}\n",
        show(&output)
    );
}

// ---------------------------------------------------------------- exercise 1.2

#[test]
fn ex1_2_serves_clients_one_after_another() {
    let server = server();
    for i in 1..=3 {
        let mut conn = server.connect();
        conn.expect_answer(&format!("client {i}"), &format!("client {i}"));
        conn.finish_sending();
        conn.expect_close("the client half-closed");
    }
}

#[test]
fn ex1_2_serves_a_waiting_client_when_the_first_one_leaves() {
    // One client at a time: the second one waits in the listen backlog until
    // the server is done with the first, then gets its echo.
    let server = server();
    let mut first = server.connect();
    first.expect_answer("first", "first");
    let mut second = server.connect();
    second.send(b"second\n");
    first.finish_sending();
    first.expect_close("the first client half-closed");
    second.expect(b"second\n", b"second\n");
}

#[test]
fn ex1_2_keeps_serving_after_a_client_resets_the_connection() {
    let server = server();
    let mut rude = server.connect();
    rude.expect_answer("hello", "hello");
    // SO_LINGER with a zero timeout makes close() send a reset (RST) instead
    // of the polite FIN: the server's next read fails with ConnectionReset.
    SockRef::from(&rude.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);

    let mut polite = server.connect();
    polite.expect_answer("still there?", "still there?");
    if !server.is_running() {
        server.fail("the server exited after a client reset its connection");
    }
}

#[test]
fn ex1_2_logs_each_client_with_its_address() {
    let server = server();
    let mut conn = server.connect();
    let client = conn.stream.local_addr().unwrap().to_string();
    conn.expect_answer("log me", "log me");
    conn.finish_sending();
    conn.expect_close("the client half-closed");
    // The server writes its log line after closing; wait for both lines.
    let logged = server.wait_for_stderr(&client)
        && support::wait_until(|| server.stderr().matches(&client).count() >= 2);
    if !logged {
        server.fail(&format!(
            "A client from {client} connected, was echoed and left.\nExpected: the server's \
             stderr names {client} when it connects and again when it leaves \
             (`accept` returns the address with the stream)."
        ));
    }
}

#[test]
fn ex1_2_twenty_clients_that_connect_at_once_are_served_in_turn() {
    let server = server();
    let mut clients: Vec<_> = (0..20).map(|_| server.connect()).collect();
    for (i, client) in clients.iter_mut().enumerate() {
        client.send(format!("client {i}\n").as_bytes());
        client.finish_sending();
    }
    // Each waits in the backlog until the ones before it are done.
    for (i, client) in clients.iter_mut().enumerate() {
        let line = format!("client {i}\n");
        client.expect(line.as_bytes(), line.as_bytes());
        client.expect_close("the client half-closed");
    }
}

#[test]
fn ex1_2_survives_a_thousand_clients_that_come_and_go() {
    let server = server();
    let connected = support::churn(server.addr(), 1000, || {
        server.connect().expect_answer("meanwhile", "meanwhile");
    });
    let mut conn = server.connect();
    conn.expect_answer(
        &format!("after {connected} clients that left at once, half of them with a reset"),
        &format!("after {connected} clients that left at once, half of them with a reset"),
    );
}

#[test]
fn ex1_2_serves_over_ipv6() {
    if !support::ipv6_loopback("ex1_2_serves_over_ipv6") {
        return;
    }
    support::needs(EX1_1, echo_works);
    let server = Server::start(BIN, &["server", "[::1]:0"], EX1_2);
    let mut conn = server.connect();
    conn.expect_answer("over IPv6", "over IPv6");
}

#[cfg(unix)]
#[test]
fn ex1_2_out_of_file_descriptors_it_neither_stops_nor_spins() {
    // With 4 file descriptors — stdin, stdout, stderr and the listener — the
    // server has none left for a client: every accept fails with "Too many
    // open files", and the client waits in the backlog.
    support::needs(EX1_1, echo_works);
    let server = Server::start_with_file_limit(BIN, &["server", "127.0.0.1:0"], 4, EX1_2);
    let mut waiting = server.connect();
    waiting.send(b"is anybody there?\n");
    support::assert_calm_when_out_of_files(&server, "your loop");
    // With more files allowed (where `prlimit` can do that), it serves the client.
    if server.raise_file_limit(64) {
        waiting.expect(
            b"is anybody there?\n (while the server was out of file descriptors; then the \
              limit was raised)",
            b"is anybody there?\n",
        );
    }
}

// ---------------------------------------------------------------- exercise 1.3

/// An echo server written in the test, so that the client exercise can be
/// checked on its own, before (or without) the server exercises.
fn reference_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut reader = stream.try_clone()?;
                let mut writer = stream;
                io::copy(&mut reader, &mut writer)
            });
        }
    });
    addr
}

/// Runs your `round_trip` against `addr` within the deadline.
fn round_trip(
    addr: SocketAddr,
    input: Vec<u8>,
    output: impl Write + Send + 'static,
    what: &str,
) -> io::Result<u64> {
    within(
        &format!("round_trip {what} — revisit {EX1_3}"),
        move || {
            let stream = TcpStream::connect(addr).unwrap();
            lesson01::client::round_trip(&stream, &input[..], output)
        },
    )
}

/// A shared buffer to hand `round_trip` as its output.
#[derive(Clone, Default)]
struct Collected(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Collected {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn ex1_3_round_trip_sends_everything_and_reads_everything() {
    let addr = reference_echo_server();
    let bytes = binary_bytes(4096);
    let output = Collected::default();
    let received = round_trip(
        addr,
        bytes.clone(),
        output.clone(),
        "of 4 KiB to an echo server (it returns once the server closes; the server closes \
         once it has read the end of your input: did round_trip half-close after sending?)",
    );
    let output = output.0.lock().unwrap().clone();
    assert!(
        matches!(received, Ok(4096)) && output == bytes,
        "round_trip(4 KiB) against an echo server: expected Ok(4096) and the same bytes, \
         got {received:?} and {}.\nRevisit: {EX1_3}",
        show(&output)
    );
}

#[test]
fn ex1_3_client_mode_prints_the_echo_of_stdin() {
    let addr = reference_echo_server();
    let output = Command::new(BIN)
        .args(["client", &addr.to_string()])
        .write_stdin("hello from stdin\n")
        .timeout(DEADLINE)
        .output()
        .unwrap();
    let expected = predicate::eq(&b"hello from stdin\n"[..]);
    assert!(
        output.status.success() && expected.eval(&output.stdout[..]),
        "\n`lesson01 client ADDR` with \"hello from stdin\\n\" on stdin, against an echo server.\n\
         Expected: exit status 0 and the same line on stdout\n\
         Got:      {}, stdout {}\nIts stderr:\n{}\nRevisit: {EX1_3}\n",
        output.status,
        show(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn ex1_3_client_mode_streams_a_large_input_without_deadlock() {
    // Sending everything before reading anything deadlocks once the echo no
    // longer fits in the sockets' buffers (a few MiB on loopback): see §1.3.
    let addr = reference_echo_server();
    let bytes = binary_bytes(32 << 20);
    let finished = support::run(BIN, &["client", &addr.to_string()], bytes.clone());
    let ended = match finished.status {
        Some(status) => format!("It exited with {status}"),
        None => format!(
            "It was still running after {DEADLINE:?} and was killed. Two mistakes make it \
             wait forever: sending everything before reading anything (a deadlock: send \
             and receive at the same time), or never half-closing after the input ends \
             (the server then waits for more, and never closes).\nIt had"
        ),
    };
    assert!(
        finished.status.is_some_and(|s| s.success()) && finished.stdout == bytes,
        "`lesson01 client` with 32 MiB on stdin should print the same 32 MiB.\n\
         {ended} printed {} bytes ({}).\nIts stderr: {}\nRevisit: {EX1_3}",
        finished.stdout.len(),
        first_difference(&bytes, &finished.stdout),
        finished.stderr
    );
}

/// An output that accepts `room` bytes, then fails with an error of `kind`
/// (`BrokenPipe`: like a pipe whose reader has quit).
struct ClosesAfter {
    room: usize,
    kind: io::ErrorKind,
}

impl Write for ClosesAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(self.kind.into());
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn ex1_3_stops_sending_when_its_output_fails() {
    // `lesson01 client ADDR | head -c 10`: after 10 bytes nobody reads the
    // output. The echo piles up unread, the server stops reading, and a
    // sender still pushing 32 MiB blocks — unless round_trip stops it.
    let addr = reference_echo_server();
    let result = round_trip(
        addr,
        binary_bytes(32 << 20),
        ClosesAfter {
            room: 64 << 10,
            kind: io::ErrorKind::BrokenPipe,
        },
        "of 32 MiB into an output that fails after 64 KiB (if it never returns, the \
         sending half waits for a server that waits for us)",
    );
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe),
        "round_trip of 32 MiB into an output that fails (BrokenPipe) after 64 KiB: expected \
         it to stop sending and return that error, got {result:?}.\nRevisit: {EX1_3}"
    );
}

#[test]
fn ex1_3_client_mode_ends_when_its_reader_quits() {
    // The same from the outside: `lesson01 client ADDR | head -c 10`.
    let addr = reference_echo_server();
    let mut client = support::Running(
        StdCommand::new(BIN)
            .args(["client", &addr.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdin = client.0.stdin.take().unwrap();
    thread::spawn(move || stdin.write_all(&binary_bytes(32 << 20)));
    let mut stdout = client.0.stdout.take().unwrap();
    let read = within(
        &format!(
            "reading the first 10 bytes `lesson01 client` prints, with 32 MiB on its stdin \
             (it prints nothing if it sends everything before reading) — revisit {EX1_3}"
        ),
        move || stdout.read_exact(&mut [0u8; 10]),
    );
    // The stdout pipe is now closed, as `head` closes it once it has its 10 bytes.
    let exited = client.exit_within_deadline();
    assert!(
        read.is_ok() && exited.is_some(),
        "`lesson01 client ADDR | head -c 10`, with 32 MiB on stdin: expected the client to \
         exit once its output is closed; reading 10 bytes gave {read:?}, and after that it \
         {}.\nRevisit: {EX1_3}",
        match exited {
            Some(status) => format!("exited with {status}"),
            None => format!("was still running {DEADLINE:?} later"),
        }
    );
}

#[test]
fn ex1_3_a_reset_by_the_server_is_an_error() {
    // A server that reads a little, then resets the connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.read(&mut [0u8; 100]);
            let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
    });
    let result = round_trip(
        addr,
        binary_bytes(8 << 20),
        Collected::default(),
        "of 8 MiB to a server that resets the connection",
    );
    assert!(
        result.is_err(),
        "round_trip of 8 MiB to a server that reads 100 bytes and then resets the \
         connection: expected an error (the exchange failed), got {result:?}.\nRevisit: {EX1_3}"
    );
}

#[test]
fn ex1_3_returns_the_outputs_own_error() {
    // The output fails with an error of its own kind; the socket, stopped
    // because of it, fails too. Which error does the caller see?
    let addr = reference_echo_server();
    let result = round_trip(
        addr,
        binary_bytes(32 << 20),
        ClosesAfter {
            room: 64 << 10,
            kind: io::ErrorKind::StorageFull,
        },
        "of 32 MiB into an output that fails (StorageFull) after 64 KiB",
    );
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::StorageFull),
        "round_trip of 32 MiB into an output that fails with StorageFull after 64 KiB: \
         expected that error — the receiving side's, which is why the exchange stopped — \
         not the error the stopped sender got afterwards; got {result:?}.\nRevisit: {EX1_3}"
    );
}

/// An output that keeps what it is given until `flush`, as a `BufWriter`
/// does; what was flushed is in the shared buffer.
struct FlushedOnly {
    pending: Vec<u8>,
    flushed: Collected,
}

impl Write for FlushedOnly {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.flushed.write_all(&pending)
    }
}

#[test]
fn ex1_3_flushes_its_output() {
    let addr = reference_echo_server();
    let flushed = Collected::default();
    let output = FlushedOnly {
        pending: Vec::new(),
        flushed: flushed.clone(),
    };
    // `output` is moved in and dropped inside: only a flush delivers anything.
    let received = round_trip(addr, b"flush me\n".to_vec(), output, "of one line");
    let delivered = flushed.0.lock().unwrap().clone();
    assert!(
        matches!(received, Ok(9)) && delivered == b"flush me\n",
        "round_trip of \"flush me\\n\" into a buffered output (like a BufWriter, which keeps \
         bytes until it is flushed): expected Ok(9) and the line flushed; got {received:?}, \
         and {} flushed.\nRevisit: {EX1_3}",
        show(&delivered)
    );
}

/// An input that gives `good` bytes, then fails like a disk or a pipe can.
struct FailsAfter {
    good: usize,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            return Err(io::Error::other("the input broke"));
        }
        let n = buf.len().min(self.good);
        buf[..n].fill(b'x');
        self.good -= n;
        Ok(n)
    }
}

#[test]
fn ex1_3_a_failing_input_ends_the_exchange_with_its_error() {
    // The server echoes what came, then waits for more: if the client only
    // stops sending, it waits for ever for a half-close that never comes.
    let addr = reference_echo_server();
    let result = within(
        &format!(
            "round_trip with an input that fails after 1 KiB (if it never returns, the \
             receiving side waits for a server that waits for the rest of the input) — \
             revisit {EX1_3}"
        ),
        move || {
            let stream = TcpStream::connect(addr).unwrap();
            lesson01::client::round_trip(&stream, FailsAfter { good: 1024 }, io::sink())
        },
    );
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::Other),
        "round_trip with an input that fails (an error of kind Other) after 1 KiB: expected \
         that error, got {result:?}.\nRevisit: {EX1_3}"
    );
}

#[test]
fn ex1_3_a_failed_send_is_an_error_even_when_the_reply_came() {
    // The server answers a little, half-closes, and then — once that answer
    // has reached round_trip's output — resets the connection, while the
    // client is still sending: the receiving side ends cleanly, only the
    // sending side fails. The upload did not get through.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (answered_tx, answered) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.read(&mut [0u8; 100]);
            let _ = stream.write_all(b"bye\n");
            let _ = stream.shutdown(Shutdown::Write);
            let _ = answered.recv_timeout(DEADLINE);
            // Closing with unread data sends a reset; SO_LINGER 0 makes sure.
            let _ = SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
    });
    /// Signals the server once the answer has arrived.
    struct Tells(Option<mpsc::Sender<()>>);
    impl Write for Tells {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let result = round_trip(
        addr,
        binary_bytes(64 << 20),
        Tells(Some(answered_tx)),
        "of 64 MiB to a server that answers, half-closes, then resets",
    );
    assert!(
        result.is_err(),
        "round_trip of 64 MiB to a server that reads 100 bytes, answers \"bye\\n\", \
         half-closes, then resets the connection: the reply came, but the input did not get \
         through, and sending failed. Expected an error, got {result:?}.\nRevisit: {EX1_3}"
    );
}

#[test]
fn ex1_3_the_narrated_demo_runs_to_the_end() {
    support::assert_demo_runs(BIN, &["Every echo came back intact"]);
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
fn given_client_explains_that_nothing_is_listening() {
    support::given::client_explains_that_nothing_is_listening(BIN, &[], "refused");
}
