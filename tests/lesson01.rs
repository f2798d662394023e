//! Lesson 1 — TCP echo. Run with `cargo test -p lesson01`.
//!
//! Tests named `ex1_k_...` check exercise 1.k; `given_...` check given code.

mod support;

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
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

#[test]
fn ex1_1_echoes_a_line_before_the_client_closes() {
    // Like a person typing into `nc`: the reply must come while the connection
    // is still open, not only after the client has finished.
    let server = server(EX1_1);
    let mut conn = server.connect();
    conn.expect_answer("hello, echo", "hello, echo");
    conn.expect_answer("and a second line", "and a second line");
}

#[test]
fn ex1_1_echoes_binary_bytes_exactly() {
    let server = server(EX1_1);
    let mut conn = server.connect();
    let bytes = binary_bytes(1024);
    conn.send(&bytes);
    conn.finish_sending();
    let got = conn.expect_close("the client half-closed, so the echo is complete");
    if got != bytes {
        server.fail(&format!(
            "Sent:     {}\nExpected the same bytes back\nGot:      {}",
            show(&bytes),
            show(&got)
        ));
    }
}

#[test]
fn ex1_1_echoes_a_mebibyte_sent_in_one_write() {
    // 1 MiB does not fit in one read or one write: the server sees it in
    // pieces and must echo every piece, in order, with write_all.
    let server = server(EX1_1);
    let conn = server.connect();
    let bytes = binary_bytes(1 << 20);
    let mut writer = conn.stream.try_clone().unwrap();
    let to_send = bytes.clone();
    // Send on another thread while we read here: the echo comes back while we
    // are still sending, and someone has to read it.
    let sender = thread::spawn(move || {
        writer.write_all(&to_send)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut got = Vec::new();
    let mut reader = &conn.stream;
    let read = reader.read_to_end(&mut got);
    let sent = sender.join().unwrap();
    if read.is_err() || sent.is_err() || got != bytes {
        server.fail(&format!(
            "Sent 1 MiB of binary data in one write_all, then half-closed.\n\
             Expected the same 1 MiB back, then end of stream.\n\
             Got {} bytes ({}); reading: {read:?}; sending: {sent:?}",
            got.len(),
            first_difference(&bytes, &got)
        ));
    }
}

#[test]
fn ex1_1_closes_when_the_client_half_closes() {
    let server = server(EX1_1);
    let mut conn = server.connect();
    conn.send(b"last words\n");
    conn.finish_sending();
    let got = conn.expect_close("the client sent end of stream: read returned Ok(0)");
    if got != b"last words\n" {
        server.fail(&format!(
            "Sent:     \"last words\\n\", then shutdown(Write)\nExpected: the same back, then end of stream\nGot:      {}",
            show(&got)
        ));
    }
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
    Command::new(BIN)
        .args(["client", &addr.to_string()])
        .write_stdin("hello from stdin\n")
        .timeout(DEADLINE)
        .assert()
        .success()
        .stdout(predicate::eq(&b"hello from stdin\n"[..]));
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
