//! Lesson 1 — TCP echo. Run with `cargo test -p lesson01`.
//!
//! Tests named `ex1_k_...` check exercise 1.k; `given_...` check given code.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;

use assert_cmd::Command;
use predicates::prelude::*;
use socket2::SockRef;
use support::{DEADLINE, Hint, Server, binary_bytes, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson01");

const EX1_1: Hint = Hint("exercise 1.1, `echo` in lessons/lesson01/src/echo.rs — book §1.1");
const EX1_2: Hint = Hint("exercise 1.2, `serve` in lessons/lesson01/src/echo.rs — book §1.2");
const EX1_3: Hint =
    Hint("exercise 1.3, `round_trip` in lessons/lesson01/src/client.rs — book §1.3");

fn server(hint: Hint) -> Server {
    Server::start(BIN, &["server", "127.0.0.1:0"], hint)
}

// ---------------------------------------------------------------- exercise 1.1
//
// These tests call your `echo` directly, on a connection the test accepts
// itself, so exercise 1.1 can be checked before `serve` (1.2) exists.

/// Your `echo`, running on a thread for one connection, and the client side.
struct EchoUnderTest {
    client: TcpStream,
    result: mpsc::Receiver<io::Result<u64>>,
}

fn echo_under_test() -> EchoUnderTest {
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

// ---------------------------------------------------------------- exercise 1.2

#[test]
fn ex1_2_serves_clients_one_after_another() {
    let server = server(EX1_2);
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
    let server = server(EX1_2);
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
    let server = server(EX1_2);
    let mut rude = server.connect();
    rude.expect_answer("hello", "hello");
    // SO_LINGER with a zero timeout makes close() send a reset (RST) instead
    // of the polite FIN: the server's next read fails with ConnectionReset.
    SockRef::from(&rude.stream)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(rude);

    let mut polite = server.connect();
    polite.expect_answer("still there?", "still there?");
    if !server.is_running() {
        server.fail("the server exited after a client reset its connection");
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

#[test]
fn ex1_3_round_trip_sends_everything_and_reads_everything() {
    let addr = reference_echo_server();
    let bytes = binary_bytes(4096);
    let input = bytes.clone();
    let (received, output) = within("round_trip of 4 KiB", move || {
        let stream = TcpStream::connect(addr).unwrap();
        let mut output = Vec::new();
        let received = lesson01::client::round_trip(&stream, &input[..], &mut output);
        (received, output)
    });
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
            "It was still running after {DEADLINE:?} and was killed. If it sends \
             everything before reading, it deadlocks: send and receive at the same time.\n\
             It had"
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

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    let server = server(Hint("the given `main.rs` of lesson 1"));
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
        &["client", &addr],
        &[&format!("could not connect to {addr}"), "refused"],
    );
}

fn first_difference(expected: &[u8], got: &[u8]) -> String {
    match expected.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) => format!("first difference at byte {i}"),
        None if got.len() < expected.len() => {
            format!("{} bytes missing at the end", expected.len() - got.len())
        }
        None if got.len() > expected.len() => {
            format!("{} extra bytes at the end", got.len() - expected.len())
        }
        None => "identical".to_string(),
    }
}
