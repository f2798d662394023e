//! Lesson 3 — UDP. Run with `cargo test -p lesson03`.
//!
//! Tests named `ex3_k_...` check exercise 3.k; `given_...` check given code.
//! The tests of the `ping` command need exercises 3.2 to 3.4 together and are
//! named after the last one they need.

mod support;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use lesson03::echo::Dropper;
use lesson03::ping::{self, Outcome, Stats};
use lesson03::wire::{Clock, MAX_PAYLOAD, PROBE_LEN, Probe};
use predicates::prelude::*;
use proptest::prelude::*;
use support::{DEADLINE, Hint, Server, binary_bytes, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson03");

/// What the demo's "Try it yourself" commands add to `cargo run -p lesson03`:
/// the build the demo itself came from, so that copying them runs the same code.
const FEATURES: &str = if cfg!(feature = "solution") {
    " --features solution"
} else {
    ""
};

const EX3_1: Hint = Hint("exercise 3.1, `serve` in lessons/lesson03/src/echo.rs — book §3.1");
const EX3_2: Hint = Hint("exercise 3.2, `connect` in lessons/lesson03/src/ping.rs — book §3.2");
const EX3_3: Hint = Hint("exercise 3.3, `probe` in lessons/lesson03/src/ping.rs — book §3.3");
const EX3_4: Hint = Hint("exercise 3.4, `Stats::add` in lessons/lesson03/src/ping.rs — book §3.4");
const PING: Hint = Hint(
    "the `ping` command runs exercises 3.2, 3.3 and 3.4 (`connect`, `probe` and \
     `Stats::add` in lessons/lesson03/src/ping.rs) — book §3.2 to §3.4",
);

/// Starts `lesson03 server 127.0.0.1:0` with `extra` arguments.
fn server(hint: Hint, extra: &[&str]) -> Server {
    let mut args = vec!["server", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(BIN, &args, hint)
}

/// A UDP socket of the test, connected to a server under test: it hears only
/// that server, and every receive waits at most [`DEADLINE`].
struct Peer<'a> {
    socket: UdpSocket,
    server: &'a Server,
}

impl<'a> Peer<'a> {
    fn new(server: &'a Server) -> Peer<'a> {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(server.addr()).unwrap();
        Peer { socket, server }
    }

    fn send(&self, datagram: &[u8]) {
        if let Err(e) = self.socket.send(datagram) {
            self.server.fail(&format!(
                "sending the datagram {} failed: {e}",
                show(datagram)
            ));
        }
    }

    /// Receives one datagram; `sent` describes what the test sent, for the
    /// failure message. Gives up after [`DEADLINE`], or soon after the server
    /// exits (say, at a todo!()).
    fn recv(&self, sent: &str) -> Vec<u8> {
        let mut buf = vec![0u8; 64 * 1024 + 1];
        let deadline = Instant::now() + DEADLINE;
        // Wait in short slices, checking between them that the server lives.
        self.socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut last_try = false;
        let problem = loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => return buf[..n].to_vec(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if lesson03::wire::timed_out(&e) => {
                    if last_try {
                        break "nothing".to_string();
                    } else if Instant::now() >= deadline {
                        break format!("nothing within {DEADLINE:?}");
                    }
                    // One more slice after the server exited, for a reply
                    // it sent just before.
                    last_try = !self.server.is_running();
                }
                Err(e) => break format!("an error from recv: {e}"),
            }
        };
        let state = if self.server.is_running() {
            "is still running"
        } else {
            "has exited"
        };
        self.server.fail(&format!(
            "Sent:     {sent}\nExpected: a datagram back\nGot:      {problem} (the server {state})"
        ))
    }

    /// Receives one datagram and checks that it equals `expected`.
    fn expect(&self, sent: &str, expected: &[u8]) {
        let got = self.recv(sent);
        if got != expected {
            self.server.fail(&format!(
                "Sent:     {sent}\nExpected: the datagram {}\nGot:      {}",
                show(expected),
                show(&got)
            ));
        }
    }
}

// ---------------------------------------------------------------- exercise 3.1

#[test]
fn ex3_1_three_datagrams_come_back_as_three_exactly() {
    let server = server(EX3_1, &[]);
    let peer = Peer::new(&server);
    let datagrams: [&[u8]; 3] = [b"first", b"the second, longer one", b"3"];
    for datagram in datagrams {
        peer.send(datagram);
    }
    let sent = "three datagrams: \"first\", \"the second, longer one\", \"3\"";
    for datagram in datagrams {
        peer.expect(sent, datagram);
    }
    // Exactly three: the next datagram to come back is the next one we send,
    // not a fourth copy of anything.
    peer.send(b"marker");
    peer.expect("the same three, then \"marker\"", b"marker");
}

#[test]
fn ex3_1_echoes_an_empty_datagram() {
    // Zero bytes is a datagram like any other, not an end of stream.
    let server = server(EX3_1, &[]);
    let peer = Peer::new(&server);
    peer.send(b"");
    peer.expect("an empty datagram (0 bytes)", b"");
    peer.send(b"still there?");
    peer.expect("an empty datagram, then \"still there?\"", b"still there?");
}

#[test]
fn ex3_1_echoes_the_largest_ipv4_datagram() {
    let server = server(EX3_1, &[]);
    let peer = Peer::new(&server);
    let big = binary_bytes(MAX_PAYLOAD);
    peer.send(&big);
    let got = peer.recv("one datagram of 65,507 bytes, the IPv4 maximum");
    if got != big {
        server.fail(&format!(
            "Sent:     one datagram of 65,507 bytes\nExpected: the same 65,507 bytes back\n\
             Got:      {} (is your buffer BUF_SIZE bytes long?)",
            show(&got)
        ));
    }
}

#[test]
fn ex3_1_answers_each_peer_at_its_own_address() {
    let server = server(EX3_1, &[]);
    let alice = Peer::new(&server);
    let bob = Peer::new(&server);
    alice.send(b"from alice");
    bob.send(b"from bob");
    alice.send(b"alice again");
    alice.expect("\"from alice\" from one socket", b"from alice");
    bob.expect("\"from bob\" from another socket", b"from bob");
    alice.expect("\"alice again\" from the first socket", b"alice again");
}

#[test]
fn ex3_1_drops_exactly_the_datagrams_its_seed_says() {
    let (rate, seed) = (0.5, 1234);
    // The given Dropper is deterministic: the test can compute which of the
    // server's datagrams a seed drops. Send up to the last one it keeps, so
    // the test knows when everything that will come back has come back.
    let mut dropper = Dropper::new(rate, seed);
    let drops: Vec<bool> = (0..16).map(|_| dropper.should_drop()).collect();
    let last_kept = drops.iter().rposition(|d| !d).expect("seed keeps some");
    let name = |i: usize| format!("datagram {i}");
    let expected: Vec<String> = (0..=last_kept).filter(|&i| !drops[i]).map(name).collect();

    let server = server(EX3_1, &["--drop-rate", "0.5", "--seed", "1234"]);
    let peer = Peer::new(&server);
    for i in 0..=last_kept {
        peer.send(name(i).as_bytes());
    }
    let what = format!(
        "{} datagrams, \"datagram 0\" to \"datagram {last_kept}\", to `server --drop-rate 0.5 \
         --seed 1234`",
        last_kept + 1
    );
    // Receive until the last datagram the seed keeps comes back (or too many did).
    let mut got: Vec<String> = Vec::new();
    while got.len() < expected.len() + 1 && got.last() != expected.last() {
        got.push(String::from_utf8_lossy(&peer.recv(&what)).into_owned());
    }
    if got != expected {
        server.fail(&format!(
            "Sent:     {what}\nExpected: {expected:?} (seed 1234 drops the others)\n\
             Got:      {got:?}\n\
             Call dropper.should_drop() exactly once for each datagram received, and skip \
             the echo when it returns true."
        ));
    }
}

#[test]
fn ex3_1_keeps_serving_after_garbage_and_vanished_peers() {
    // Hostile peers: odd sizes, binary junk, and sockets that close before
    // their echo arrives (on Windows that makes the server's next recv_from
    // fail with ConnectionReset). The server must shrug all of it off.
    let server = server(EX3_1, &[]);
    let junk = [
        Vec::new(),
        vec![0xff; 1],
        binary_bytes(1500),
        binary_bytes(MAX_PAYLOAD),
    ];
    for datagram in &junk {
        let vanishing = UdpSocket::bind("127.0.0.1:0").unwrap();
        vanishing.send_to(datagram, server.addr()).unwrap();
        drop(vanishing); // gone before the echo comes back
    }
    let peer = Peer::new(&server);
    peer.send(b"anyone home?");
    peer.expect(
        "empty, 1-byte, 1500-byte and 65,507-byte datagrams from sockets that closed at once, \
         then \"anyone home?\"",
        b"anyone home?",
    );
    if !server.is_running() {
        server.fail("the server exited after datagrams from peers that went away");
    }
}

// ---------------------------------------------------------------- exercise 3.2

/// A UDP echo server written in the test, bound to `bind`: it echoes every
/// datagram until DEADLINE passes without one.
fn reference_echo_server(bind: &str) -> io::Result<SocketAddr> {
    let socket = UdpSocket::bind(bind)?;
    let addr = socket.local_addr()?;
    socket.set_read_timeout(Some(DEADLINE))?;
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let _ = socket.send_to(&buf[..n], peer);
        }
    });
    Ok(addr)
}

/// An address where nothing listens: bound, then freed.
fn closed_port() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Calls `ping::connect(addr)`, checks that the socket is connected to
/// `addr`, and fails with a learner's message if not.
fn connected_to(addr: SocketAddr) -> UdpSocket {
    let socket = within(
        &format!("ping::connect({addr}) — revisit {EX3_2}"),
        move || ping::connect(addr),
    );
    let family = if addr.is_ipv6() {
        " For an IPv6 server, bind an IPv6 socket ([::]:0): an IPv4 socket cannot reach it."
    } else {
        ""
    };
    let socket = socket
        .unwrap_or_else(|e| panic!("ping::connect({addr}) failed: {e}.{family}\nRevisit: {EX3_2}"));
    let peer = socket.peer_addr();
    assert!(
        matches!(peer, Ok(p) if p == addr),
        "after ping::connect({addr}), the socket's peer_addr() should be {addr}; got {peer:?}. \
         Call socket.connect(server) before returning it.\nRevisit: {EX3_2}"
    );
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    socket
}

#[test]
fn ex3_2_connect_makes_the_server_the_peer() {
    let addr = reference_echo_server("127.0.0.1:0").unwrap();
    let socket = connected_to(addr); // checks peer_addr() == addr
    let sent = socket.send(b"hello");
    let mut buf = [0u8; 16];
    let got = socket.recv(&mut buf);
    assert!(
        sent.is_ok() && matches!(got, Ok(5)) && &buf[..5] == b"hello",
        "send(\"hello\") to an echo server through the connected socket, then recv(): \
         expected \"hello\" back; send gave {sent:?}, recv gave {got:?}.\nRevisit: {EX3_2}"
    );
}

#[test]
fn ex3_2_a_connected_socket_hears_only_its_server() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let socket = connected_to(server.local_addr().unwrap());
    // The server learns the client's address from a first datagram.
    socket.send(b"hi").unwrap();
    let mut buf = [0u8; 64];
    server.set_read_timeout(Some(DEADLINE)).unwrap();
    let (_, client) = server.recv_from(&mut buf).unwrap();

    // A stranger writes first, then the server. A connected socket never sees
    // the stranger's datagram: the kernel drops it.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(b"psst, from a stranger", client).unwrap();
    server.send_to(b"from the server", client).unwrap();
    let got = socket.recv(&mut buf).map(|n| buf[..n].to_vec());
    assert!(
        matches!(&got, Ok(d) if d == b"from the server"),
        "a stranger sent \"psst, from a stranger\" to the client's port, then the server sent \
         \"from the server\". The socket from ping::connect should only hear the server, but \
         recv() gave {:?}. Did you connect() the socket?\nRevisit: {EX3_2}",
        got.map(|d| show(&d))
    );
}

#[test]
fn ex3_2_connect_works_with_ipv6() {
    let Ok(addr) = reference_echo_server("[::1]:0") else {
        eprintln!("IPv6 loopback is not available here; skipping");
        return;
    };
    let socket = connected_to(addr);
    let sent = socket.send(b"over IPv6");
    let mut buf = [0u8; 64];
    let got = socket.recv(&mut buf).map(|n| buf[..n].to_vec());
    assert!(
        sent.is_ok() && matches!(&got, Ok(d) if d == b"over IPv6"),
        "ping::connect({addr}), then send(\"over IPv6\") to an echo server and recv(): send \
         gave {sent:?}, recv gave {:?}.\nRevisit: {EX3_2}",
        got.map(|d| show(&d))
    );
}

#[test]
fn ex3_2_a_closed_port_is_refused_on_the_next_receive() {
    let addr = closed_port();
    let socket = connected_to(addr);
    // Linux rate-limits ICMP errors (a burst of 50, then 1000 a second, for
    // the whole machine), and the other tests of this lesson send plenty. So
    // a missing ICMP is no verdict: send again, until the deadline.
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 64];
    let (sent, got) = loop {
        let sent = socket.send(b"anyone?");
        let got = socket.recv(&mut buf);
        let timed_out = matches!(&got, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
        if !timed_out || Instant::now() > deadline {
            break (sent, got);
        }
    };
    assert!(
        sent.is_ok() && matches!(&got, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused),
        "through ping::connect({addr}), where nothing listens: send(\"anyone?\") gave {sent:?}, \
         then recv() gave {got:?}; expected the send to succeed and the recv to fail with \
         ConnectionRefused (the ICMP port unreachable). Only a connected socket hears it.\
         \nRevisit: {EX3_2}"
    );
}

// ---------------------------------------------------------------- exercise 3.3

/// A fake server written in the test. `respond` gets the number (from 1) and
/// bytes of each datagram received and returns the datagrams to send back, in
/// order. Every datagram received also goes to the returned channel, so the
/// test can check what the client sent.
fn fake_server(
    mut respond: impl FnMut(usize, &[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let addr = socket.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut count = 0;
        // Ends when nothing arrives for DEADLINE, or the client's port closes.
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            count += 1;
            let _ = tx.send(buf[..n].to_vec());
            for reply in respond(count, &buf[..n]) {
                let _ = socket.send_to(&reply, peer);
            }
        }
    });
    (addr, rx)
}

/// A client socket made by the test (not by exercise 3.2), connected to `addr`.
fn socket_to(addr: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(addr).unwrap();
    socket
}

/// Runs `probe(seq)` on its own thread with a deadline.
fn run_probe(
    socket: &UdpSocket,
    clock: Clock,
    seq: u32,
    timeout_ms: u64,
    retries: u32,
    what: &str,
) -> io::Result<Outcome> {
    let socket = socket.try_clone().unwrap();
    within(
        &format!("probe({seq}) {what} — revisit {EX3_3}"),
        move || {
            ping::probe(
                &socket,
                &clock,
                seq,
                Duration::from_millis(timeout_ms),
                retries,
            )
        },
    )
}

/// Everything the fake server received from `socket`, decoded as probes
/// (or shown raw). Sends a marker datagram first and collects up to it, so
/// the test knows when it has seen everything.
fn received_probes(socket: &UdpSocket, rx: &mpsc::Receiver<Vec<u8>>) -> Vec<Result<Probe, String>> {
    const MARKER: &[u8] = b"end of test";
    socket.send(MARKER).unwrap();
    (0..100)
        .map_while(|_| rx.recv_timeout(DEADLINE).ok())
        .take_while(|d| d != MARKER)
        .map(|d| Probe::decode(&d).ok_or_else(|| show(&d)))
        .collect()
}

#[test]
fn ex3_3_probe_gets_the_reply_of_an_echo_server() {
    let (addr, rx) = fake_server(|_, datagram| vec![datagram.to_vec()]);
    let socket = socket_to(addr);
    let clock = Clock::new();
    let outcome = run_probe(&socket, clock, 7, 1000, 2, "against an echo server");
    let got = received_probes(&socket, &rx);
    assert!(
        matches!(&got[..], [Ok(Probe { seq: 7, sent_us })] if *sent_us <= clock.now_us()),
        "probe(seq 7) should send one 12-byte datagram, Probe {{ seq: 7, sent_us: \
         clock.now_us() }}.encode(); the server received: {got:?}\nRevisit: {EX3_3}"
    );
    assert!(
        matches!(outcome, Ok(Outcome { seq: 7, sent: 1, rtt: Some(rtt), ignored: 0 })
            if rtt < Duration::from_secs(1)),
        "probe(seq 7, timeout 1000 ms) against an echo server: expected \
         Outcome {{ seq: 7, sent: 1, rtt: Some(..), ignored: 0 }}, got {outcome:?}\
         \nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_probe_retransmits_until_a_reply_comes() {
    // Simulated loss: the first two copies vanish, the third is echoed.
    let (addr, rx) = fake_server(|n, datagram| {
        if n <= 2 {
            vec![]
        } else {
            vec![datagram.to_vec()]
        }
    });
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        1,
        100,
        3,
        "with the first 2 copies lost",
    );
    let got = received_probes(&socket, &rx);
    let same_seq = got.iter().all(|p| matches!(p, Ok(Probe { seq: 1, .. })));
    let new_times = got.windows(2).all(|w| match (&w[0], &w[1]) {
        (Ok(a), Ok(b)) => a.sent_us < b.sent_us,
        _ => false,
    });
    assert!(
        got.len() == 3 && same_seq && new_times,
        "each retransmission should be Probe {{ seq: 1, .. }} again, with a new sent_us; \
         the server received: {got:?}\nRevisit: {EX3_3}"
    );
    assert!(
        matches!(
            outcome,
            Ok(Outcome {
                seq: 1,
                sent: 3,
                rtt: Some(_),
                ignored: 0
            })
        ),
        "probe(seq 1, timeout 100 ms, 3 retries); the server ignores the first two copies and \
         echoes the third. Expected Outcome {{ seq: 1, sent: 3, rtt: Some(..), ignored: 0 }}, \
         got {outcome:?}\nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_probe_gives_up_after_its_retries() {
    let (addr, rx) = fake_server(|_, _| vec![]);
    let socket = socket_to(addr);
    let start = Instant::now();
    let outcome = run_probe(&socket, Clock::new(), 1, 30, 2, "against a silent server");
    let elapsed = start.elapsed();
    let received = received_probes(&socket, &rx);
    assert!(
        matches!(
            outcome,
            Ok(Outcome {
                seq: 1,
                sent: 3,
                rtt: None,
                ignored: 0
            })
        ) && received.len() == 3
            && elapsed >= Duration::from_millis(90),
        "probe(seq 1, timeout 30 ms, 2 retries) against a server that never answers: expected \
         3 datagrams sent, 30 ms of waiting after each, then Outcome {{ sent: 3, rtt: None, .. }}.\n\
         Got {outcome:?} after {elapsed:?}; the server received {} datagrams.\nRevisit: {EX3_3}",
        received.len()
    );
}

#[test]
fn ex3_3_probe_ignores_garbage_and_wrong_sizes() {
    // Hostile input: the "server" answers every probe with junk before the
    // real echo. None of it may be taken for the reply, nor crash the probe.
    let (addr, _rx) = fake_server(|_, datagram| {
        let mut too_long = datagram.to_vec();
        too_long.push(b'!'); // the right 12 bytes, plus one
        let mut huge = binary_bytes(MAX_PAYLOAD);
        huge[..datagram.len()].copy_from_slice(datagram);
        let mut other_seq = datagram.to_vec();
        other_seq[3] ^= 0x80; // a reply, but to another probe
        vec![
            Vec::new(),
            b"garbage".to_vec(),
            datagram[..PROBE_LEN - 1].to_vec(),
            too_long,
            huge,
            other_seq,
            datagram.to_vec(),
        ]
    });
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        5,
        1000,
        1,
        "with junk before the reply",
    );
    assert!(
        matches!(
            outcome,
            Ok(Outcome {
                seq: 5,
                sent: 1,
                rtt: Some(_),
                ignored: 6
            })
        ),
        "probe(seq 5); the server answers with 6 wrong datagrams — empty, \"garbage\", the \
         probe's first 11 bytes, the probe plus 1 byte, 65,507 bytes starting with the probe, \
         a reply to another seq — then the real echo.\n\
         Expected Outcome {{ seq: 5, sent: 1, rtt: Some(..), ignored: 6 }}, got {outcome:?}.\n\
         If `ignored` is too small, a too-long datagram passed for a reply: with a buffer of \
         exactly 12 bytes, Linux cuts it to 12 silently. Use PROBE_LEN + 1 bytes.\
         \nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_probe_ignores_a_duplicate_of_an_earlier_reply() {
    // The network duplicated every reply.
    let (addr, _rx) = fake_server(|_, datagram| vec![datagram.to_vec(), datagram.to_vec()]);
    let socket = socket_to(addr);
    let clock = Clock::new();
    let first = run_probe(&socket, clock, 1, 1000, 1, "with every reply duplicated");
    let second = run_probe(&socket, clock, 2, 1000, 1, "with every reply duplicated");
    assert!(
        matches!(
            first,
            Ok(Outcome {
                seq: 1,
                sent: 1,
                rtt: Some(_),
                ignored: 0
            })
        ) && matches!(
            second,
            Ok(Outcome {
                seq: 2,
                sent: 1,
                rtt: Some(_),
                ignored: 1
            })
        ),
        "the server answers every datagram twice. probe(1) should get its reply; the second \
         copy arrives while probe(2) waits and must be ignored, not taken for reply 2.\n\
         Expected probe(1) = Outcome {{ seq: 1, sent: 1, rtt: Some(..), ignored: 0 }}, got \
         {first:?}\nExpected probe(2) = Outcome {{ seq: 2, sent: 1, rtt: Some(..), ignored: 1 }}, \
         got {second:?}\nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_a_late_reply_counts_with_its_own_send_time() {
    // The reply to the first copy is held back (a slow network) and arrives
    // just after the retransmission reaches the server, followed by the reply
    // to the retransmission.
    let mut held = Vec::new();
    let (addr, _rx) = fake_server(move |n, datagram| match n {
        1 => {
            held = datagram.to_vec();
            vec![]
        }
        2 => vec![held.clone(), datagram.to_vec()],
        _ => vec![datagram.to_vec()],
    });
    let socket = socket_to(addr);
    let clock = Clock::new();
    let first = run_probe(&socket, clock, 1, 100, 1, "whose first reply comes late");
    let second = run_probe(&socket, clock, 2, 1000, 1, "after a late duplicate");
    assert!(
        matches!(first, Ok(Outcome { seq: 1, sent: 2, rtt: Some(rtt), ignored: 0 })
            if rtt >= Duration::from_millis(100)),
        "probe(seq 1, timeout 100 ms, 1 retry): the first copy's reply arrives late, after the \
         retransmission. It answers seq 1, so accept it; its sent_us is the first copy's, so \
         the RTT is at least 100 ms: use clock.since(reply.sent_us).\n\
         Expected Outcome {{ seq: 1, sent: 2, rtt: Some(>= 100ms), ignored: 0 }}, got {first:?}\
         \nRevisit: {EX3_3}"
    );
    assert!(
        matches!(
            second,
            Ok(Outcome {
                seq: 2,
                sent: 1,
                rtt: Some(_),
                ignored: 1
            })
        ),
        "then probe(seq 2): the reply to the second copy of probe 1 arrives first and must be \
         ignored. Expected Outcome {{ seq: 2, sent: 1, rtt: Some(..), ignored: 1 }}, got \
         {second:?}\nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_a_trickle_of_garbage_does_not_postpone_the_timeout() {
    // After the first copy, the "server" sends garbage every 10 ms, and stops
    // only when the retransmission arrives, which it echoes. A probe that
    // restarts its full timeout after each datagram never retransmits.
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(DEADLINE)).unwrap();
    let addr = server.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        let Ok((_, client)) = server.recv_from(&mut buf) else {
            return;
        };
        let stop = Arc::new(AtomicBool::new(false));
        let trickle = server.try_clone().unwrap();
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            let give_up = Instant::now() + DEADLINE + Duration::from_secs(1);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < give_up {
                let _ = trickle.send_to(b"noise", client);
                // Not synchronisation: this is the simulated network's pace.
                thread::sleep(Duration::from_millis(10));
            }
        });
        if let Ok((n, client)) = server.recv_from(&mut buf) {
            stop.store(true, Ordering::SeqCst);
            let _ = server.send_to(&buf[..n], client);
        }
    });
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        1,
        100,
        3,
        "with a timeout of 100 ms while garbage arrives every 10 ms (if it never ends, each \
         recv gets a fresh 100 ms: the deadline must be for the whole try)",
    );
    assert!(
        matches!(outcome, Ok(Outcome { seq: 1, sent, rtt: Some(_), ignored }) if sent >= 2 && ignored > 0),
        "probe(seq 1, timeout 100 ms, 3 retries): the first copy gets only garbage, every 10 ms; \
         the retransmission is echoed. Expected Outcome {{ seq: 1, sent: 2, rtt: Some(..), \
         ignored: (some) }}, got {outcome:?}\nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_probe_returns_connection_refused_at_once() {
    let addr = closed_port();
    let socket = socket_to(addr);
    let start = Instant::now();
    // 4 tries of 300 ms. The ICMP answer to the first normally ends the probe
    // at once; Linux's ICMP rate limit may swallow one, and then the
    // retransmission's answer ends it. Either way, well before the last try.
    let outcome = run_probe(&socket, Clock::new(), 1, 300, 3, "to a closed port");
    let elapsed = start.elapsed();
    assert!(
        matches!(&outcome, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
            && elapsed < Duration::from_millis(900),
        "probe(seq 1, timeout 300 ms, 3 retries) on a socket connected to {addr}, where nothing \
         listens: expected Err(ConnectionRefused) at once — retrying cannot help; got \
         {outcome:?} after {elapsed:?}.\nRevisit: {EX3_3}"
    );
}

#[test]
fn ex3_3_ping_stops_promptly_when_nothing_is_listening() {
    // Without the ICMP news this would take 3 probes x 5 tries x 500 ms =
    // 7.5 s, past the deadline; with it, a moment (or 500 ms when Linux's
    // ICMP rate limit swallows the first answer).
    let addr = closed_port().to_string();
    let args = [
        "ping",
        &addr,
        "--count",
        "3",
        "--timeout",
        "500",
        "--retries",
        "4",
    ];
    let finished = support::run(BIN, &args, Vec::new());
    let expected = format!("nothing is listening on {addr}");
    assert!(
        finished.status.is_some_and(|s| !s.success()) && finished.stderr.contains(&expected),
        "`lesson03 {}` should fail at once and say {expected:?} on stderr.\n\
         It {}.\nIts stdout: {}\nIts stderr: {}\nRevisit: {EX3_2}, and {EX3_3}",
        args.join(" "),
        match finished.status {
            Some(status) => format!("exited with {status}"),
            None => format!("was still running after {DEADLINE:?} and was killed"),
        },
        String::from_utf8_lossy(&finished.stdout),
        finished.stderr
    );
}

// ---------------------------------------------------------------- exercise 3.4

// ------------------------------------------------------------------ given code
fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn outcome(seq: u32, sent: u32, rtt_ms: Option<u64>, ignored: u32) -> Outcome {
    Outcome {
        seq,
        sent,
        rtt: rtt_ms.map(ms),
        ignored,
    }
}

/// Adds `outcomes` to a fresh `Stats`, on a thread, so that a todo!() or a
/// panic becomes a readable failure.
fn stats_of(outcomes: &[Outcome]) -> Stats {
    let outcomes = outcomes.to_vec();
    let what = format!("adding {outcomes:?} to Stats::default() — revisit {EX3_4}");
    within(&what, move || {
        let mut stats = Stats::default();
        for outcome in &outcomes {
            stats.add(outcome);
        }
        stats
    })
}

#[test]
fn ex3_4_adds_up_probes_datagrams_and_replies() {
    let outcomes = [
        outcome(1, 1, Some(10), 0),
        outcome(2, 3, Some(30), 2),
        outcome(3, 4, None, 1),
    ];
    let expected = Stats {
        probes: 3,
        sent: 8,
        received: 2,
        ignored: 3,
        rtt_min: Some(ms(10)),
        rtt_max: Some(ms(30)),
        rtt_total: ms(40),
    };
    let got = stats_of(&outcomes);
    assert!(
        got == expected,
        "\n\nAdded the outcomes {outcomes:#?}\nExpected: {expected:#?}\nGot:      {got:#?}\n\
         Revisit: {EX3_4}\n"
    );
}

#[test]
fn ex3_4_a_probe_is_received_once_however_many_tries_it_took() {
    let got = stats_of(&[outcome(1, 3, Some(7), 0)]);
    assert!(
        got.probes == 1 && got.sent == 3 && got.received == 1,
        "one probe, answered on its third try: expected probes 1, sent 3, received 1; got \
         {got:?}\nRevisit: {EX3_4}"
    );
    let loss = got.loss_percent();
    assert!(
        (loss - 200.0 / 3.0).abs() < 1e-9,
        "3 datagrams sent, 1 reply: loss_percent() (given) should be 66.7, got {loss} from \
         {got:?}\nRevisit: {EX3_4}"
    );
}

#[test]
fn ex3_4_a_probe_without_a_reply_is_all_loss() {
    let got = stats_of(&[outcome(1, 4, None, 0)]);
    let text = got.to_string();
    assert!(
        got == Stats {
            probes: 1,
            sent: 4,
            ..Stats::default()
        } && text == "4 sent, 0 received, 100.0% loss (1 probe, 3 retransmissions, 0 ignored)",
        "one probe, 4 tries, no reply: expected Stats {{ probes: 1, sent: 4, received: 0, \
         rtt_min: None, .. }}, printed as\n\"4 sent, 0 received, 100.0% loss (1 probe, 3 \
         retransmissions, 0 ignored)\"\ngot {got:?}, printed as\n{text:?}\nRevisit: {EX3_4}"
    );
}

#[test]
fn ex3_4_the_summary_reads_like_ping() {
    let outcomes = [
        outcome(1, 1, Some(5), 0),
        outcome(2, 2, Some(2), 1),
        outcome(3, 1, Some(9), 0),
        outcome(4, 1, Some(4), 0),
    ];
    let expected = "5 sent, 4 received, 20.0% loss (4 probes, 1 retransmission, 1 ignored)\n\
                    rtt min/avg/max = 2.000/5.000/9.000 ms";
    let got = stats_of(&outcomes).to_string();
    assert!(
        got == expected,
        "RTTs of 5, 2, 9 and 4 ms, the second probe sent twice with one datagram ignored.\n\
         Expected:\n{expected}\nGot:\n{got}\nRevisit: {EX3_4}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ex3_4_statistics_stay_consistent(
        raw in prop::collection::vec((1u32..5, prop::option::of(0u64..2000), 0u32..4), 1..20)
    ) {
        let outcomes: Vec<Outcome> = raw
            .iter()
            .enumerate()
            .map(|(i, &(sent, rtt, ignored))| outcome(i as u32 + 1, sent, rtt, ignored))
            .collect();
        let answered = outcomes.iter().filter(|o| o.rtt.is_some()).count() as u32;
        let stats = stats_of(&outcomes);
        let loss = stats.loss_percent();
        prop_assert!(
            stats.probes == outcomes.len() as u32
                && stats.received == answered
                && stats.received <= stats.probes
                && stats.probes <= stats.sent
                && (0.0..=100.0).contains(&loss),
            "after adding {:?}: {:?} (loss {}%); expected probes = {}, received = {}, \
             received <= probes <= sent.\nRevisit: {}",
            outcomes, stats, loss, outcomes.len(), answered, EX3_4
        );
        if let (Some(min), Some(avg), Some(max)) = (stats.rtt_min, stats.rtt_avg(), stats.rtt_max) {
            prop_assert!(min <= avg && avg <= max, "min {:?} avg {:?} max {:?} in {:?}\nRevisit: {}",
                min, avg, max, stats, EX3_4);
        } else {
            prop_assert!(answered == 0 && stats.rtt_min.is_none() && stats.rtt_max.is_none(),
                "{} replies but rtt_min/rtt_max are {:?}/{:?}\nRevisit: {}",
                answered, stats.rtt_min, stats.rtt_max, EX3_4);
        }
    }
}

/// The numbers of ping's summary line "S sent, R received, L% loss (P probes,
/// T retransmissions, I ignored)": (S, R, L, P, T, I).
fn summary_numbers(stdout: &str) -> Option<(u32, u32, f64, u32, u32, u32)> {
    let line = stdout.lines().find(|l| l.contains(" sent, "))?;
    let numbers: Vec<&str> = line
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .filter(|s| !s.is_empty())
        .collect();
    match numbers[..] {
        [s, r, l, p, t, i] => Some((
            s.parse().ok()?,
            r.parse().ok()?,
            l.parse().ok()?,
            p.parse().ok()?,
            t.parse().ok()?,
            i.parse().ok()?,
        )),
        _ => None,
    }
}

/// Runs `lesson03 ping ADDR args...` to completion (or DEADLINE).
fn ping(addr: SocketAddr, args: &[&str]) -> (support::Finished, String) {
    let addr = addr.to_string();
    let mut all = vec!["ping", addr.as_str()];
    all.extend_from_slice(args);
    let finished = support::run(BIN, &all, Vec::new());
    let description = format!(
        "`lesson03 {}` {}.\nIts stdout:\n{}\nIts stderr:\n{}",
        all.join(" "),
        match finished.status {
            Some(status) => format!("exited with {status}"),
            None => format!("was still running after {DEADLINE:?} and was killed"),
        },
        String::from_utf8_lossy(&finished.stdout),
        finished.stderr
    );
    (finished, description)
}

#[test]
fn ex3_4_ping_prints_each_probe_and_a_summary() {
    let addr = reference_echo_server("127.0.0.1:0").unwrap();
    let (finished, run) = ping(addr, &["--count", "3", "--timeout", "1000"]);
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let lines_ok = (1..=3).all(|seq| {
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("12 bytes from {addr}: seq={seq} time=")))
    });
    assert!(
        finished.status.is_some_and(|s| s.success())
            && lines_ok
            && stdout
                .contains("3 sent, 3 received, 0.0% loss (3 probes, 0 retransmissions, 0 ignored)")
            && stdout.contains("rtt min/avg/max = "),
        "against an echo server, expected a line \"12 bytes from {addr}: seq=N time=...\" for \
         N = 1, 2, 3 and the summary \"3 sent, 3 received, 0.0% loss (3 probes, 0 \
         retransmissions, 0 ignored)\" with an rtt line.\n{run}\nRevisit: {PING}"
    );
}

#[test]
fn ex3_4_ping_gets_every_reply_from_a_lossy_server() {
    // Seed 24 at 30% loss drops one of the first dozen datagrams and never more
    // than two in a row in the first 60, so 3 retries always get through,
    // whatever the timing. The exact numbers depend on timing under load, so
    // the test checks what must hold: every probe answered, the loss seen
    // reported, and the summary adding up.
    let server = server(PING, &["--drop-rate", "0.3", "--seed", "24"]);
    let (finished, run) = ping(
        server.addr(),
        &["--count", "10", "--timeout", "100", "--retries", "3"],
    );
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let answered = (1..=10).all(|seq| {
        stdout
            .lines()
            .any(|l| l.contains(&format!(": seq={seq} time=")))
    });
    let summary_ok = match summary_numbers(&stdout) {
        Some((sent, received, loss, probes, retransmissions, _)) => {
            received == 10
                && probes == 10
                && retransmissions >= 1
                && sent == probes + retransmissions
                && format!("{loss:.1}")
                    == format!(
                        "{:.1}",
                        100.0 * f64::from(sent - received) / f64::from(sent)
                    )
        }
        None => false,
    };
    if !(finished.status.is_some_and(|s| s.success()) && answered && summary_ok) {
        server.fail(&format!(
            "ping against `server --drop-rate 0.3 --seed 24` with 3 retries should get a reply \
             to each of its 10 probes (some after a retransmission: \"(sent 2 times)\") and \
             report the loss it saw: \"S sent, 10 received, L% loss (10 probes, S-10 \
             retransmissions, ..)\" with at least 1 retransmission and L = (S-10)/S.\n{run}\n\
             The server is exercise 3.1; the rest is exercises 3.2 to 3.4."
        ));
    }
}

#[test]
fn ex3_4_ping_does_not_count_a_late_duplicate_twice() {
    // The reply to probe 1's first copy is held back until the retransmission
    // arrives; then both replies come. Probe 1 counts once, and the second
    // reply, arriving while probe 2 waits, is ignored.
    let mut held = Vec::new();
    let (addr, _rx) = fake_server(move |n, datagram| match n {
        1 => {
            held = datagram.to_vec();
            vec![]
        }
        2 => vec![held.clone(), datagram.to_vec()],
        _ => vec![datagram.to_vec()],
    });
    let (finished, run) = ping(
        addr,
        &["--count", "2", "--timeout", "200", "--retries", "1"],
    );
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let expected = "3 sent, 2 received, 33.3% loss (2 probes, 1 retransmission, 1 ignored)";
    assert!(
        finished.status.is_some_and(|s| s.success()) && stdout.contains(expected),
        "probe 1's first reply is late: it arrives after the retransmission, together with \
         the reply to the retransmission. Expected the summary {expected:?}: two probes, each \
         received once, the extra reply ignored.\n{run}\nRevisit: {PING}"
    );
}

#[test]
fn ex3_4_ping_shrugs_off_a_server_that_sends_garbage() {
    let (addr, _rx) = fake_server(|_, datagram| {
        vec![
            b"garbage".to_vec(),
            binary_bytes(MAX_PAYLOAD),
            datagram.to_vec(),
        ]
    });
    let (finished, run) = ping(addr, &["--count", "3", "--timeout", "1000"]);
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let expected = "3 sent, 3 received, 0.0% loss (3 probes, 0 retransmissions, 6 ignored)";
    assert!(
        finished.status.is_some_and(|s| s.success()) && stdout.contains(expected),
        "the server sends \"garbage\" and 65,507 bytes before each real echo. Expected the \
         summary {expected:?}.\n{run}\nRevisit: {PING}"
    );
}

#[test]
fn ex3_4_the_narrated_demo_runs_to_the_end() {
    let finished = support::run(BIN, &[], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout);
    assert!(
        finished.status.is_some_and(|s| s.success())
            && stdout.contains("Try it yourself")
            && stdout.contains(&format!("cargo run -p lesson03{FEATURES} -- server")),
        "`cargo run -p lesson03` (the demo) should run to the end, and suggest \
         `cargo run -p lesson03{FEATURES} -- server`.\nIts stdout:\n{stdout}\n\
         Its stderr:\n{}\nRevisit: the exercise its stderr names",
        finished.stderr
    );
}

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    let server = server(Hint("the given `main.rs` of lesson 3"), &[]);
    support::assert_real_port(&server);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    support::assert_fails_saying(
        BIN,
        &["server", &addr],
        &[&format!("could not bind {addr}"), "in use"],
    );
}

#[test]
fn given_server_rejects_a_drop_rate_that_is_not_a_probability() {
    Command::new(BIN)
        .args(["server", "127.0.0.1:0", "--drop-rate", "1.5"])
        .timeout(DEADLINE)
        .assert()
        .failure()
        .stderr(predicate::str::contains("not a probability"));
}

#[test]
fn given_probe_has_the_documented_wire_layout() {
    let probe = Probe {
        seq: 0x0102_0304,
        sent_us: 0x0506_0708_090a_0b0c,
    };
    let bytes = probe.encode();
    assert_eq!(
        bytes,
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        "big-endian, seq first"
    );
    assert_eq!(Probe::decode(&bytes), Some(probe));
    assert_eq!(Probe::decode(&bytes[..PROBE_LEN - 1]), None, "too short");
    assert_eq!(
        Probe::decode(&[bytes.as_slice(), &[0]].concat()),
        None,
        "too long"
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn given_probe_decodes_what_it_encodes(seq: u32, sent_us: u64) {
        let probe = Probe { seq, sent_us };
        prop_assert_eq!(Probe::decode(&probe.encode()), Some(probe));
    }

    #[test]
    fn given_probe_decode_takes_exactly_12_bytes_and_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..40)
    ) {
        prop_assert_eq!(Probe::decode(&bytes).is_some(), bytes.len() == PROBE_LEN);
    }
}

#[test]
fn given_dropper_is_reproducible_and_fair() {
    let draw = |rate, seed, n| -> Vec<bool> {
        let mut dropper = Dropper::new(rate, seed);
        (0..n).map(|_| dropper.should_drop()).collect()
    };
    assert_eq!(
        draw(0.3, 42, 1000),
        draw(0.3, 42, 1000),
        "same seed, same drops"
    );
    assert_ne!(
        draw(0.3, 42, 1000),
        draw(0.3, 43, 1000),
        "another seed, other drops"
    );
    assert!(draw(0.0, 42, 1000).iter().all(|d| !d), "rate 0 never drops");
    assert!(
        draw(1.0, 42, 1000).iter().all(|d| *d),
        "rate 1 always drops"
    );
    let dropped = draw(0.3, 7, 10_000).iter().filter(|d| **d).count();
    assert!(
        (2700..3300).contains(&dropped),
        "rate 0.3 dropped {dropped} of 10,000"
    );
    let mut never = Dropper::never();
    assert!((0..1000).all(|_| !never.should_drop()));
}

#[test]
fn given_clock_gives_zero_for_a_time_in_the_future() {
    let clock = Clock::new();
    let now = clock.now_us();
    assert!(clock.now_us() >= now, "the clock never goes backwards");
    assert_eq!(clock.since(u64::MAX), Duration::ZERO);
    assert!(clock.since(0) >= Duration::from_micros(now));
}
