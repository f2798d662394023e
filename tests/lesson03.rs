//! Lesson 3 — UDP. Run with `cargo test -p lesson03`.
//!
//! Tests named `ex3_k_...` check exercise 3.k; `given_...` check given code.
//! A test of a later exercise first checks the earlier ones it builds on, and
//! says so if one of them is not done yet. The tests of the `ping` command
//! need exercises 3.2 to 3.4 together and are named after the last of them.

mod support;

use std::io;
use std::net::{Shutdown, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use lesson03::echo::Dropper;
use lesson03::ping::{self, Outcome, Stats};
use lesson03::wire::{Clock, MAX_PAYLOAD, PROBE_LEN, Probe, timed_out};
use predicates::prelude::*;
use proptest::prelude::*;
use socket2::SockRef;
use support::{DEADLINE, Hint, Server, binary_bytes, first_difference, show, within};

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
/// For the tests of the `ping` command, which runs 3.2, 3.3 and 3.4.
const PING: Hint = Hint(
    "exercise 3.4, `Stats::add` in lessons/lesson03/src/ping.rs — book §3.4. The `ping` \
     command also runs `connect` (3.2) and `probe` (3.3): if their own tests fail, fix \
     those first",
);

/// `lesson03 server 127.0.0.1:0 extra...`: the echo server of exercise 3.1.
fn server(extra: &[&str]) -> Server {
    support::server(BIN, EX3_1, extra)
}

/// Whether `error` is how this system reports an ICMP "port unreachable" on
/// a connected UDP socket: `ConnectionRefused` on Linux and macOS,
/// `ConnectionReset` (WSAECONNRESET) on Windows.
fn refused(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionRefused
        || (cfg!(windows) && error.kind() == io::ErrorKind::ConnectionReset)
}

/// The largest datagram this system lets a program send: [`MAX_PAYLOAD`],
/// the IPv4 limit — except where the system sets a lower one, as macOS does
/// (9,216 bytes by default: `sysctl net.inet.udp.maxdgram`).
fn largest_datagram() -> usize {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = socket.local_addr().unwrap();
    if socket.send_to(&vec![0; MAX_PAYLOAD], me).is_ok() {
        MAX_PAYLOAD
    } else {
        9216
    }
}

/// A UDP socket of the test, connected to a server under test: it hears only
/// that server, and every receive waits at most [`DEADLINE`].
struct Peer<'a> {
    socket: UdpSocket,
    server: &'a Server,
}

impl<'a> Peer<'a> {
    /// A socket on loopback, of the server's address family.
    fn new(server: &'a Server) -> Peer<'a> {
        let local = if server.addr().is_ipv4() {
            "127.0.0.1:0"
        } else {
            "[::1]:0"
        };
        let socket = UdpSocket::bind(local).unwrap();
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

    /// The next datagram, if one arrives within `wait` — for tests that, like
    /// a pinger, send again when no answer comes. `None` soon after the
    /// server exits, too.
    fn try_recv(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024 + 1];
        let deadline = Instant::now() + wait;
        let mut last_try = false;
        loop {
            // Short slices, checking between them that the server lives.
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let slice = left.min(Duration::from_millis(50));
            self.socket.set_read_timeout(Some(slice)).unwrap();
            match self.socket.recv(&mut buf) {
                Ok(n) => return Some(buf[..n].to_vec()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if timed_out(&e) && !last_try => {
                    // One more slice after the server exited, for a reply
                    // it sent just before.
                    last_try = !self.server.is_running();
                }
                Err(_) => return None,
            }
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
                Err(e) if timed_out(&e) => {
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
                "Sent:     {sent}\nExpected: the datagram {}\nGot:      {} ({})",
                show(expected),
                show(&got),
                first_difference(expected, &got)
            ));
        }
    }
}

// ---------------------------------------------------------------- exercise 3.1
//
// Most of these tests talk to the real server, `lesson03 server`. The last
// two run your `serve` inside the test, on a socket the test prepared so that
// its receives or sends fail.

#[test]
fn ex3_1_three_datagrams_come_back_as_three_exactly() {
    let server = server(&[]);
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
    let server = server(&[]);
    let peer = Peer::new(&server);
    peer.send(b"");
    peer.expect("an empty datagram (0 bytes)", b"");
    peer.send(b"still there?");
    peer.expect("an empty datagram, then \"still there?\"", b"still there?");
}

#[test]
fn ex3_1_echoes_the_largest_ipv4_datagram() {
    let server = server(&[]);
    let peer = Peer::new(&server);
    let big = binary_bytes(largest_datagram());
    peer.send(&big);
    let got = peer.recv(&format!(
        "one datagram of {} bytes, the IPv4 maximum",
        big.len()
    ));
    if got != big {
        server.fail(&format!(
            "Sent:     one datagram of {} bytes\nExpected: the same {} bytes back\n\
             Got:      {} ({}). A buffer smaller than the datagram cuts it short, without \
             a word on Linux and macOS.",
            big.len(),
            big.len(),
            show(&got),
            first_difference(&big, &got)
        ));
    }
}

#[test]
fn ex3_1_serves_over_ipv6_up_to_the_largest_datagram() {
    if !support::ipv6_loopback("ex3_1_serves_over_ipv6_up_to_the_largest_datagram") {
        return;
    }
    let server = Server::start(BIN, &["server", "[::1]:0"], EX3_1);
    let peer = Peer::new(&server);
    peer.send(b"over IPv6");
    peer.expect("\"over IPv6\" to `server [::1]:0`", b"over IPv6");
    // IPv6's length field does not count its own header: 65,535 - 8 bytes
    // of UDP header.
    if largest_datagram() < MAX_PAYLOAD {
        return; // a system that sends no datagram this large
    }
    let big = binary_bytes(65_527);
    peer.send(&big);
    let got = peer.recv("one datagram of 65,527 bytes, the IPv6 maximum");
    if got != big {
        server.fail(&format!(
            "Sent:     one datagram of 65,527 bytes over IPv6, 20 more than IPv4 allows\n\
             Expected: the same 65,527 bytes back\nGot:      {} ({}). Is your buffer \
             BUF_SIZE (64 KiB) long? MAX_PAYLOAD is the IPv4 limit.",
            show(&got),
            first_difference(&big, &got)
        ));
    }
}

#[test]
fn ex3_1_answers_each_peer_at_its_own_address() {
    let server = server(&[]);
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
fn ex3_1_fifty_peers_at_once_each_get_their_own_echoes() {
    // Many peers at once, their datagrams interleaved: one socket serves them
    // all, and each datagram says whom to answer.
    let server = server(&[]);
    let peers: Vec<Peer<'_>> = (0..50).map(|_| Peer::new(&server)).collect();
    for round in 1..=3 {
        for (i, peer) in peers.iter().enumerate() {
            peer.send(format!("peer {i}, datagram {round}").as_bytes());
        }
        for (i, peer) in peers.iter().enumerate() {
            let datagram = format!("peer {i}, datagram {round}");
            peer.expect(
                &format!(
                    "{datagram:?}, while 49 other sockets sent theirs (each of 50 sockets sends \
                     a datagram, then each waits for its echo; round {round} of 3)"
                ),
                datagram.as_bytes(),
            );
        }
    }
}

/// The datagrams the tests of the dropper send: `datagram 0`, an empty one,
/// `datagram 2`, … (every third one empty, and the empty ones count too).
fn numbered(i: usize) -> Vec<u8> {
    if i % 3 == 1 {
        Vec::new()
    } else {
        format!("datagram {i}").into_bytes()
    }
}

#[test]
fn ex3_1_drops_exactly_the_datagrams_its_seed_says() {
    // The given Dropper is deterministic: the test can compute which of the
    // server's datagrams a seed drops. Send up to the last non-empty one it
    // keeps, so the test knows when everything that comes back has come back.
    let mut dropper = Dropper::new(0.5, 1234);
    let drops: Vec<bool> = (0..24).map(|_| dropper.should_drop()).collect();
    let last_kept = (0..drops.len())
        .rev()
        .find(|&i| !drops[i] && !numbered(i).is_empty())
        .expect("seed 1234 keeps some");
    let expected: Vec<Vec<u8>> = (0..=last_kept)
        .filter(|&i| !drops[i])
        .map(numbered)
        .collect();

    let server = server(&["--drop-rate", "0.5", "--seed", "1234"]);
    let peer = Peer::new(&server);
    for i in 0..=last_kept {
        peer.send(&numbered(i));
    }
    let what = format!(
        "{} datagrams, \"datagram 0\", \"\", \"datagram 2\", \"datagram 3\", \"\", … \
         \"datagram {last_kept}\" (every third one empty), to `server --drop-rate 0.5 \
         --seed 1234`",
        last_kept + 1
    );
    // Receive until the last datagram the seed keeps comes back, or one that
    // should not.
    let mut got: Vec<Vec<u8>> = Vec::new();
    while got.len() < expected.len() && got[..] == expected[..got.len()] {
        match peer.try_recv(DEADLINE) {
            Some(datagram) => got.push(datagram),
            None => break,
        }
    }
    if got != expected {
        let shown = |list: &[Vec<u8>]| list.iter().map(|d| show(d)).collect::<Vec<_>>();
        server.fail(&format!(
            "Sent:     {what}\nExpected: {:?} (seed 1234 drops the others)\nGot:      {:?}{}\n\
             Call dropper.should_drop() exactly once for each datagram received, empty ones \
             too, and skip the echo when it returns true.",
            shown(&expected),
            shown(&got),
            if got.len() < expected.len() {
                " and then nothing more"
            } else {
                ""
            }
        ));
    }
}

#[test]
fn ex3_1_logs_each_datagram_with_its_sender() {
    let mut dropper = Dropper::new(0.5, 1234);
    let drops: Vec<bool> = (0..6).map(|_| dropper.should_drop()).collect();
    let dropped = drops.iter().filter(|d| **d).count();
    assert!(
        (1..6).contains(&dropped),
        "seed 1234 keeps some, drops some"
    );

    let server = server(&["--drop-rate", "0.5", "--seed", "1234"]);
    let peer = Peer::new(&server);
    let me = peer.socket.local_addr().unwrap().to_string();
    for i in 0..6 {
        peer.send(format!("log me {i}").as_bytes());
    }
    let lines = || -> Vec<String> {
        let log = server.stderr();
        log.lines()
            .filter(|l| l.contains(&me))
            .map(str::to_string)
            .collect()
    };
    support::wait_until(|| lines().len() >= 6 || !server.is_running());
    let lines = lines();
    let said_dropped = lines.iter().filter(|l| l.contains("drop")).count();
    if lines.len() < 6 || said_dropped != dropped {
        server.fail(&format!(
            "Sent:     6 datagrams from {me} to `server --drop-rate 0.5 --seed 1234`, which \
             drops {dropped} of them\nExpected: a line on stderr for each datagram that names \
             {me} and says \"dropped\" for the {dropped} lost ones, like \
             \"{me}: echoed 9 bytes\" and \"{me}: dropped 9 bytes (simulated loss)\"\n\
             Got:      {} lines that name {me}, {said_dropped} of them saying \"drop\"",
            lines.len()
        ));
    }
}

#[test]
fn ex3_1_keeps_serving_after_garbage_and_vanished_peers() {
    // Hostile peers: odd sizes, binary junk, and sockets that close before
    // their echo arrives (on Windows that makes the server's next recv_from
    // fail with ConnectionReset). The server must shrug all of it off.
    let server = server(&[]);
    let junk = [
        Vec::new(),
        vec![0xff; 1],
        binary_bytes(1500),
        binary_bytes(largest_datagram()),
    ];
    for datagram in &junk {
        let vanishing = UdpSocket::bind("127.0.0.1:0").unwrap();
        vanishing.send_to(datagram, server.addr()).unwrap();
        drop(vanishing); // gone before the echo comes back
    }
    let peer = Peer::new(&server);
    peer.send(b"anyone home?");
    peer.expect(
        "empty, 1-byte, 1500-byte and 65,507-byte (or the largest allowed) datagrams from \
         sockets that closed at once, then \"anyone home?\"",
        b"anyone home?",
    );
    if !server.is_running() {
        server.fail("the server exited after datagrams from peers that went away");
    }
}

#[test]
fn ex3_1_the_largest_datagram_from_many_peers_at_once() {
    // Ten peers send 65,507 bytes each, all at once: more than the server's
    // receive buffer holds (on Linux about 208 KiB by default), so the kernel
    // may drop some — that is UDP. Like a pinger, a peer whose echo does not
    // come sends again. Each must get its own datagram back, whole.
    let server = server(&[]);
    let peers: Vec<Peer<'_>> = (0..10).map(|_| Peer::new(&server)).collect();
    let largest = largest_datagram();
    let datagram = |i: usize| {
        let mut d = binary_bytes(largest);
        d[..8].copy_from_slice(&(i as u64).to_be_bytes());
        d
    };
    let mut pending: Vec<usize> = (0..peers.len()).collect();
    let deadline = Instant::now() + DEADLINE;
    while !pending.is_empty() && Instant::now() < deadline && server.is_running() {
        for &i in &pending {
            peers[i].send(&datagram(i));
        }
        // A pinger's wait for its reply, before it sends again.
        let round_end = Instant::now() + Duration::from_millis(200);
        pending.retain(|&i| {
            let wait = round_end.saturating_duration_since(Instant::now());
            match peers[i].try_recv(wait.max(Duration::from_millis(1))) {
                Some(got) if got == datagram(i) => false,
                Some(got) => server.fail(&format!(
                    "Sent:     65,507 bytes from each of 10 sockets at once (peer {i}'s \
                     starting with its number)\nExpected: each peer's own datagram back, \
                     whole\nGot:      {} at peer {i} ({})",
                    show(&got),
                    first_difference(&datagram(i), &got)
                )),
                None => true,
            }
        });
    }
    if !pending.is_empty() {
        server.fail(&format!(
            "10 sockets sent 65,507 bytes each, at once, and again every 200 ms while no echo \
             came. After {DEADLINE:?}, {} of them still had no echo: peers {pending:?}.",
            pending.len()
        ));
    }
    if let Some(memory) = server.memory()
        && memory > 64 << 20
    {
        server.fail(&format!(
            "after 10 datagrams of 64 KiB, the server holds {} MiB of memory; it needs \
                 one buffer of 64 KiB",
            memory >> 20
        ));
    }
}

#[test]
fn ex3_1_a_flooding_peer_does_not_crowd_out_the_others() {
    // One peer sends as fast as it can and never reads its echoes. UDP has no
    // flow control: the server's receive buffer fills up and the kernel drops
    // what does not fit, the flooder's and others' alike, and the echoes to the
    // flooder are dropped at its full buffer. Nothing piles up in the server.
    // A polite peer, asking again every 100 ms like a pinger, gets through.
    let server = server(&[]);
    let stop = Arc::new(AtomicBool::new(false));
    let flooded = Arc::new(AtomicUsize::new(0));
    let flooder = {
        let (stop, flooded, to) = (Arc::clone(&stop), Arc::clone(&flooded), server.addr());
        thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let give_up = Instant::now() + 2 * DEADLINE;
            let junk = binary_bytes(1000);
            while !stop.load(Ordering::Relaxed) && Instant::now() < give_up {
                let _ = socket.send_to(&junk, to);
                flooded.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    support::wait_until(|| flooded.load(Ordering::Relaxed) >= 2000);

    let peer = Peer::new(&server);
    let deadline = Instant::now() + DEADLINE;
    let mut asked = 0;
    let mut answered = false;
    while !answered && Instant::now() < deadline && server.is_running() {
        asked += 1;
        peer.send(format!("still there? ({asked})").as_bytes());
        // A pinger's wait for its reply, before it asks again.
        while let Some(got) = peer.try_recv(Duration::from_millis(100)) {
            if got.starts_with(b"still there?") {
                answered = true;
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flooder.join();
    let flood = flooded.load(Ordering::Relaxed);
    if !answered {
        server.fail(&format!(
            "While another peer flooded the server ({flood} datagrams of 1,000 bytes, never \
             reading an echo), a polite peer asked \"still there?\" {asked} times, 100 ms \
             apart, and got no echo in {DEADLINE:?}."
        ));
    }
    if let Some(memory) = server.memory()
        && memory > 64 << 20
    {
        server.fail(&format!(
            "after a flood of {flood} datagrams, the server holds {} MiB of memory; it \
                 needs one buffer of 64 KiB",
            memory >> 20
        ));
    }
}

/// Your `serve`, running on a thread of this test, on a socket the test has
/// prepared. What it returns, if it ever does, arrives on the channel; a
/// panic (a todo!()) closes the channel.
fn serve_on_thread(socket: UdpSocket, dropper: Dropper) -> mpsc::Receiver<io::Result<()>> {
    support::quiet_panics();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut dropper = dropper;
        let result = lesson03::echo::serve(&socket, &mut dropper);
        let _ = tx.send(result);
    });
    rx
}

/// What became of `serve` if it is no longer running: `Some(why)`.
fn stopped(returned: &mpsc::Receiver<io::Result<()>>, wait: Duration) -> Option<String> {
    match returned.recv_timeout(wait) {
        Ok(result) => Some(format!("serve returned {result:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Some("serve panicked (its message is above)".to_string())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => None,
    }
}

/// The next datagram `client` receives from a `serve` running on a thread:
/// `Err(why)` if none comes within `wait`, or `serve` stops.
fn recv_on_thread(
    client: &UdpSocket,
    returned: &mpsc::Receiver<io::Result<()>>,
    wait: Duration,
) -> Result<Vec<u8>, String> {
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let deadline = Instant::now() + wait;
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        match client.recv(&mut buf) {
            Ok(n) => return Ok(buf[..n].to_vec()),
            Err(e) if timed_out(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
        if let Some(why) = stopped(returned, Duration::ZERO) {
            return Err(why);
        }
    }
    Err(format!("nothing within {wait:?}"))
}

/// Sends `datagram` from `client` to a `serve` running on a thread, and
/// waits for its echo, or for `serve` to stop.
fn echo_on_thread(
    client: &UdpSocket,
    returned: &mpsc::Receiver<io::Result<()>>,
    datagram: &[u8],
) -> Result<(), String> {
    client.send(datagram).map_err(|e| format!("send: {e}"))?;
    match recv_on_thread(client, returned, DEADLINE)? {
        echo if echo == datagram => Ok(()),
        other => Err(format!("got {} back", show(&other))),
    }
}

#[test]
fn ex3_1_a_failed_receive_does_not_stop_the_server() {
    // A receive can fail for reasons that concern one datagram or one peer:
    // on Windows, the next recv_from after an echo to a peer that left fails
    // with ConnectionReset. Here the server's socket has a read timeout of
    // 10 ms, so every recv_from that waits longer fails (WouldBlock). And the
    // dropper has seed 9: a failed receive is no datagram, and draws nothing.
    let mut seeded = Dropper::new(0.5, 9);
    let drops: Vec<bool> = (0..13).map(|_| seeded.should_drop()).collect();
    assert!(!drops[0] && !drops[12], "seed 9 keeps datagrams 0 and 12");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let returned = serve_on_thread(socket, Dropper::new(0.5, 9));
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.connect(addr).unwrap();
    let sent = "your serve, run by the test with `Dropper::new(0.5, 9)` on a socket whose \
                recv_from fails with WouldBlock whenever 10 ms pass without a datagram";
    if let Err(why) = echo_on_thread(&client, &returned, b"datagram 0") {
        panic!(
            "\n\nSent:     \"datagram 0\" to {sent}\nExpected: \"datagram 0\" back (seed 9 \
             keeps it)\nGot:      {why}\nRevisit: {EX3_1}\n"
        );
    }
    // An observation window, not synchronisation: 200 ms in which serve's
    // recv_from fails about 20 times. Does serve stop?
    if let Some(why) = stopped(&returned, Duration::from_millis(200)) {
        panic!(
            "\n\n{sent}: after echoing \"datagram 0\", {why} within 200 ms, as its recv_from \
             failed.\nExpected: the error logged, and the next datagram served: a failed \
             receive is about one datagram or one peer, never the server's end.\n\
             Revisit: {EX3_1}\n"
        );
    }
    // Then the next twelve datagrams: the seed decides which come back, as
    // if the failed receives had never happened.
    for i in 1..drops.len() {
        client.send(format!("datagram {i}").as_bytes()).unwrap();
    }
    let expected: Vec<String> = (1..drops.len())
        .filter(|&i| !drops[i])
        .map(|i| format!("datagram {i}"))
        .collect();
    let mut got: Vec<String> = Vec::new();
    let mut problem = None;
    while got.len() < expected.len() && got[..] == expected[..got.len()] {
        match recv_on_thread(&client, &returned, DEADLINE) {
            Ok(datagram) => got.push(String::from_utf8_lossy(&datagram).into_owned()),
            Err(why) => {
                problem = Some(why);
                break;
            }
        }
    }
    if got != expected {
        panic!(
            "\n\nSent:     \"datagram 0\", then 200 ms later \"datagram 1\" to \"datagram 12\", \
             to {sent}\nExpected: {expected:?} back after \"datagram 0\" (seed 9 drops the \
             others)\nGot:      {got:?}{}\nA failed receive does not stop the server, and it is \
             no datagram: it draws no drop decision.\nRevisit: {EX3_1}\n",
            problem.map_or(String::new(), |why| format!(", then {why}"))
        );
    }
}

#[test]
fn ex3_1_a_failed_send_does_not_stop_the_server() {
    // A send can fail too, for one peer or one datagram. Here the server's
    // socket is shut down for writing, so that every send_to fails (on Linux
    // with "Broken pipe"); receiving still works.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    // UDP has no connection to shut down, and says so (ENOTCONN); Linux
    // stops the socket's sending all the same.
    let _ = SockRef::from(&socket).shutdown(Shutdown::Write);
    if socket.send_to(b"test", addr).is_ok() {
        eprintln!(
            "NOTICE: ex3_1_a_failed_send_does_not_stop_the_server skipped: shutdown(Write) \
             does not stop a UDP socket's sends here"
        );
        return;
    }
    // A read timeout, so that the test can see when serve has received
    // everything (a peek that times out); serve's receives then fail too,
    // every 20 ms, which it must survive as well.
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let watcher = socket.try_clone().unwrap();
    let returned = serve_on_thread(socket, Dropper::never());

    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    for datagram in [&b"one"[..], b"two", b"three"] {
        client.send_to(datagram, addr).unwrap();
    }
    // Wait until serve has taken all three datagrams off the socket (a peek
    // returns at once while one is still there): it has then tried to echo
    // each of them, and lived on after each failure.
    let deadline = Instant::now() + DEADLINE;
    let mut buf = [0u8; 64];
    let problem = loop {
        if let Some(why) = stopped(&returned, Duration::ZERO) {
            break Some(why);
        }
        match watcher.peek_from(&mut buf) {
            Err(e) if timed_out(&e) => break stopped(&returned, Duration::ZERO),
            _ if Instant::now() > deadline => {
                break Some(format!("serve had not received them after {DEADLINE:?}"));
            }
            _ => thread::yield_now(),
        }
    };
    if let Some(why) = problem {
        panic!(
            "\n\nSent:     \"one\", \"two\", \"three\" to your serve, run by the test on a \
             socket shut down for writing, so that every send_to fails\nExpected: each \
             failure logged, and serve receiving the next datagram: a failed send concerns \
             one peer or one datagram, never the server\nGot:      {why}\nRevisit: {EX3_1}\n"
        );
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
    let socket = socket.unwrap_or_else(|e| {
        panic!("\n\nping::connect({addr}) failed: {e}.{family}\nRevisit: {EX3_2}\n")
    });
    let peer = socket.peer_addr();
    let why = match &peer {
        Ok(p) if *p == addr => return with_deadline(socket),
        Ok(p) if p.is_ipv6() && addr.is_ipv4() => {
            "It is an IPv6 socket that reaches the IPv4 server through a mapped address \
             (::ffff:…), which works on Linux but not on Windows: bind an IPv4 socket \
             (0.0.0.0:0) for an IPv4 server."
        }
        Ok(_) => "Connect it to the server it is for.",
        Err(_) => "Call socket.connect(server) before returning it.",
    };
    panic!(
        "\n\nAfter ping::connect({addr}), the socket's peer_addr() should be {addr}; got \
         {peer:?}. {why}\nRevisit: {EX3_2}\n"
    )
}

fn with_deadline(socket: UdpSocket) -> UdpSocket {
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    socket
}

/// Checks exercise 3.2 for the tests of later exercises.
fn connect_works() -> Result<(), String> {
    let addr = reference_echo_server("127.0.0.1:0").map_err(|e| e.to_string())?;
    let socket = ping::connect(addr).map_err(|e| format!("ping::connect({addr}) failed: {e}"))?;
    match socket.peer_addr() {
        Ok(peer) if peer == addr => {}
        other => {
            return Err(format!(
                "after ping::connect({addr}), peer_addr() is {other:?}"
            ));
        }
    }
    socket.set_read_timeout(Some(DEADLINE / 2)).unwrap();
    let mut buf = [0u8; 16];
    match socket.send(b"hello").and_then(|_| socket.recv(&mut buf)) {
        Ok(5) if &buf[..5] == b"hello" => Ok(()),
        other => Err(format!(
            "through ping::connect({addr}), \"hello\" to an echo server got {other:?} back"
        )),
    }
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
        "\n\nsend(\"hello\") to an echo server through the connected socket, then recv(): \
         expected \"hello\" back; send gave {sent:?}, recv gave {got:?}.\nRevisit: {EX3_2}\n"
    );
}

#[test]
fn ex3_2_sends_nothing_and_hears_only_its_server() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(DEADLINE)).unwrap();
    let socket = connected_to(server.local_addr().unwrap());
    // The server learns the client's address from a first datagram — the
    // test's, since connecting sends nothing.
    socket.send(b"hi").unwrap();
    let mut buf = [0u8; 64];
    let (n, client) = server.recv_from(&mut buf).unwrap();
    assert!(
        &buf[..n] == b"hi",
        "\n\nAfter ping::connect(server) the test sent \"hi\"; the server's first datagram \
         was {} instead. Connecting a UDP socket sends nothing: there is no handshake.\n\
         Revisit: {EX3_2}\n",
        show(&buf[..n])
    );

    // A stranger writes first, then the server. A connected socket never sees
    // the stranger's datagram: the kernel drops it.
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger.send_to(b"psst, from a stranger", client).unwrap();
    server.send_to(b"from the server", client).unwrap();
    let got = socket.recv(&mut buf).map(|n| buf[..n].to_vec());
    assert!(
        matches!(&got, Ok(d) if d == b"from the server"),
        "\n\nA stranger sent \"psst, from a stranger\" to the client's port, then the server \
         sent \"from the server\". The socket from ping::connect should only hear the \
         server, but recv() gave {:?}. Did you connect() the socket?\nRevisit: {EX3_2}\n",
        got.map(|d| show(&d))
    );
}

#[test]
fn ex3_2_connect_works_with_ipv6() {
    if !support::ipv6_loopback("ex3_2_connect_works_with_ipv6") {
        return;
    }
    let addr = reference_echo_server("[::1]:0").unwrap();
    let socket = connected_to(addr);
    let sent = socket.send(b"over IPv6");
    let mut buf = [0u8; 64];
    let got = socket.recv(&mut buf).map(|n| buf[..n].to_vec());
    assert!(
        sent.is_ok() && matches!(&got, Ok(d) if d == b"over IPv6"),
        "\n\nping::connect({addr}), then send(\"over IPv6\") to an echo server and recv(): \
         send gave {sent:?}, recv gave {:?}.\nRevisit: {EX3_2}\n",
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
        let waited_out = matches!(&got, Err(e) if timed_out(e));
        if !waited_out || Instant::now() > deadline {
            break (sent, got);
        }
    };
    assert!(
        sent.is_ok() && matches!(&got, Err(e) if refused(e)),
        "\n\nThrough ping::connect({addr}), where nothing listens: send(\"anyone?\") gave \
         {sent:?}, then recv() gave {got:?}; expected the send to succeed and the recv to fail \
         with ConnectionRefused (the ICMP port unreachable). Only a connected socket hears \
         it.\nRevisit: {EX3_2}\n"
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

/// Checks exercise 3.3 for the tests of later exercises.
fn probe_works() -> Result<(), String> {
    let addr = reference_echo_server("127.0.0.1:0").map_err(|e| e.to_string())?;
    let socket = socket_to(addr);
    match ping::probe(&socket, &Clock::new(), 1, Duration::from_secs(1), 0) {
        Ok(Outcome {
            seq: 1,
            sent: 1,
            rtt: Some(_),
            ignored: 0,
        }) => Ok(()),
        other => Err(format!(
            "probe(seq 1, timeout 1 s, 0 retries) against an echo server returned {other:?}"
        )),
    }
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
        "\n\nprobe(seq 7) should send one 12-byte datagram, Probe {{ seq: 7, sent_us: \
         clock.now_us() }}.encode(); the server received: {got:?}\nRevisit: {EX3_3}\n"
    );
    assert!(
        matches!(outcome, Ok(Outcome { seq: 7, sent: 1, rtt: Some(rtt), ignored: 0 })
            if rtt < Duration::from_secs(1)),
        "\n\nprobe(seq 7, timeout 1000 ms) against an echo server: expected \
         Outcome {{ seq: 7, sent: 1, rtt: Some(..), ignored: 0 }}, got {outcome:?}\
         \nRevisit: {EX3_3}\n"
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
        200,
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
        "\n\nprobe(seq 1, timeout 200 ms, 3 retries), the first two copies lost: each \
         retransmission should be Probe {{ seq: 1, .. }} again, with the time of its own \
         send; the server received: {got:?}\nRevisit: {EX3_3}\n"
    );
    // The third copy left at least 400 ms after the first, and its echo came
    // within its own 200 ms: an RTT of 400 ms or more was timed from an
    // earlier copy.
    assert!(
        matches!(
            outcome,
            Ok(Outcome { seq: 1, sent: 3, rtt: Some(rtt), ignored: 0 }) if rtt < ms(400)
        ),
        "\n\nprobe(seq 1, timeout 200 ms, 3 retries); the server ignores the first two copies \
         and echoes the third. Expected Outcome {{ seq: 1, sent: 3, rtt: Some(under 200 ms), \
         ignored: 0 }}, got {outcome:?}. The RTT is that of the copy the reply answers: \
         clock.since(reply.sent_us).\nRevisit: {EX3_3}\n"
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
        "\n\nprobe(seq 1, timeout 30 ms, 2 retries) against a server that never answers: \
         expected 3 datagrams sent (the first and 2 retries), 30 ms of waiting after each, \
         then Outcome {{ sent: 3, rtt: None, .. }}.\nGot {outcome:?} after {elapsed:?}; the \
         server received {} datagrams.\nRevisit: {EX3_3}\n",
        received.len()
    );
}

#[test]
fn ex3_3_probe_ignores_garbage_and_wrong_sizes() {
    // Hostile input: the "server" answers every probe with junk before the
    // real echo. None of it may be taken for the reply, nor end the probe.
    let (addr, _rx) = fake_server(|_, datagram| {
        let mut too_long = datagram.to_vec();
        too_long.push(b'!'); // the right 12 bytes, plus one
        let mut huge = binary_bytes(largest_datagram());
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
        "\n\nprobe(seq 5); the server answers with 6 wrong datagrams — empty, \"garbage\", the \
         probe's first 11 bytes, the probe plus 1 byte, 65,507 bytes starting with the probe, \
         a reply to another seq — then the real echo.\n\
         Expected Outcome {{ seq: 5, sent: 1, rtt: Some(..), ignored: 6 }}, got {outcome:?}.\n\
         If `ignored` is too small, a too-long datagram passed for a reply: a buffer of \
         exactly 12 bytes gets its first 12 bytes, silently, on Linux and macOS.\
         \nRevisit: {EX3_3}\n"
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
        "\n\nThe server answers every datagram twice. probe(1) should get its reply; the \
         second copy arrives while probe(2) waits and must be ignored, not taken for reply \
         2.\nExpected probe(1) = Outcome {{ seq: 1, sent: 1, rtt: Some(..), ignored: 0 }}, got \
         {first:?}\nExpected probe(2) = Outcome {{ seq: 2, sent: 1, rtt: Some(..), ignored: 1 \
         }}, got {second:?}\nRevisit: {EX3_3}\n"
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
        "\n\nprobe(seq 1, timeout 100 ms, 1 retry): the first copy's reply arrives late, \
         after the retransmission. It answers seq 1, so accept it; its sent_us is the first \
         copy's, so the RTT is at least 100 ms: use clock.since(reply.sent_us).\n\
         Expected Outcome {{ seq: 1, sent: 2, rtt: Some(>= 100ms), ignored: 0 }}, got \
         {first:?}\nRevisit: {EX3_3}\n"
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
        "\n\nThen probe(seq 2): the reply to the second copy of probe 1 arrives first and \
         must be ignored. Expected Outcome {{ seq: 2, sent: 1, rtt: Some(..), ignored: 1 }}, \
         got {second:?}\nRevisit: {EX3_3}\n"
    );
}

/// A fake server that answers the first datagram it receives with garbage,
/// `noise`, every `every` — until the next datagram arrives, which it echoes,
/// if `echo_next`, or else until the guard it returns drops.
fn noisy_server(every: Duration, echo_next: bool) -> (SocketAddr, StopOnDrop) {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(DEADLINE)).unwrap();
    let addr = server.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let guard = StopOnDrop(Arc::clone(&stop));
    thread::spawn(move || {
        let mut buf = [0u8; 64];
        let Ok((_, client)) = server.recv_from(&mut buf) else {
            return;
        };
        let trickle = server.try_clone().unwrap();
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            let give_up = Instant::now() + DEADLINE + Duration::from_secs(1);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < give_up {
                let _ = trickle.send_to(b"noise", client);
                // Not synchronisation: this is the simulated network's pace.
                thread::sleep(every);
            }
        });
        if !echo_next {
            return;
        }
        if let Ok((n, client)) = server.recv_from(&mut buf) {
            stop.store(true, Ordering::SeqCst);
            let _ = server.send_to(&buf[..n], client);
        }
    });
    (addr, guard)
}

/// Sets its flag when dropped: stops a simulated peer at the end of a test.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn ex3_3_a_reply_from_the_future_does_not_panic() {
    // A confused or lying server: the reply has the right seq, but its
    // sent_us is the largest u64, far in the future of our clock.
    let (addr, _rx) = fake_server(|_, datagram| match Probe::decode(datagram) {
        Some(probe) => vec![
            Probe {
                sent_us: u64::MAX,
                ..probe
            }
            .encode()
            .to_vec(),
        ],
        None => vec![],
    });
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        3,
        1000,
        0,
        "whose reply says it was sent at u64::MAX microseconds",
    );
    assert!(
        matches!(
            outcome,
            Ok(Outcome {
                seq: 3,
                sent: 1,
                rtt: Some(Duration::ZERO),
                ignored: 0
            })
        ),
        "\n\nprobe(seq 3); the reply has seq 3 but sent_us = u64::MAX, a time in the future. \
         Expected Outcome {{ seq: 3, sent: 1, rtt: Some(0ns), ignored: 0 }}, got \
         {outcome:?}.\nA peer can send any bytes: clock.since(reply.sent_us) gives zero for a \
         time in the future, where a subtraction of your own would overflow.\nRevisit: {EX3_3}\n"
    );
}

#[test]
fn ex3_3_a_trickle_of_garbage_does_not_postpone_the_timeout() {
    // After the first copy, the "server" sends garbage every 10 ms, and stops
    // only when the retransmission arrives, which it echoes. A probe that
    // restarts its full timeout after each datagram never retransmits.
    let (addr, noise) = noisy_server(ms(10), true);
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
    drop(noise);
    assert!(
        matches!(outcome, Ok(Outcome { seq: 1, sent, rtt: Some(_), ignored }) if sent >= 2 && ignored > 0),
        "\n\nprobe(seq 1, timeout 100 ms, 3 retries): the first copy gets only garbage, every \
         10 ms; the retransmission is echoed. Expected Outcome {{ seq: 1, sent: 2, rtt: \
         Some(..), ignored: (some) }}, got {outcome:?}\nRevisit: {EX3_3}\n"
    );
}

#[test]
fn ex3_3_garbage_right_up_to_the_deadline_is_no_error() {
    // Garbage every millisecond, and no reply at all: some datagram arrives
    // just as each copy's time runs out (an expired read timeout returns a
    // few milliseconds late on most systems). No time left means the wait is
    // over, not `set_read_timeout(Some(Duration::ZERO))`, which is an error.
    let (addr, noise) = noisy_server(ms(1), false);
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        1,
        20,
        7,
        "with garbage every millisecond and no reply",
    );
    drop(noise);
    assert!(
        matches!(outcome, Ok(Outcome { seq: 1, sent: 8, rtt: None, ignored }) if ignored > 0),
        "\n\nprobe(seq 1, timeout 20 ms, 7 retries) with garbage arriving every millisecond \
         and no reply: expected Outcome {{ seq: 1, sent: 8, rtt: None, ignored: (many) }}, got \
         {outcome:?}.\nWhen a datagram arrives as the time runs out, no time is left: stop \
         waiting (set_read_timeout(Some(Duration::ZERO)) is an error).\nRevisit: {EX3_3}\n"
    );
}

#[test]
fn ex3_3_a_stray_datagram_does_not_extend_the_wait() {
    // One garbage datagram 200 ms into a try of 300 ms, and no reply: the try
    // still ends 300 ms after the probe left, 100 ms after the stray datagram.
    // A receive that waits a full `timeout` again after the stray datagram
    // ends 300 ms after it, or later.
    let stray_sent = Arc::new(Mutex::new(None));
    let sent_at = Arc::clone(&stray_sent);
    let (addr, _rx) = fake_server(move |_, _| {
        // Not synchronisation: a network that takes 200 ms to deliver junk.
        thread::sleep(ms(200));
        *sent_at.lock().unwrap() = Some(Instant::now());
        vec![b"stray".to_vec()]
    });
    let socket = socket_to(addr);
    let outcome = run_probe(
        &socket,
        Clock::new(),
        1,
        300,
        0,
        "with a stray datagram 200 ms into its 300 ms",
    );
    let returned = Instant::now();
    let after_stray = stray_sent
        .lock()
        .unwrap()
        .map(|sent| returned.saturating_duration_since(sent));
    // On a very busy machine the stray datagram may come after the try is
    // over (then `ignored` is 0, and this run proves less).
    assert!(
        matches!(
            outcome,
            Ok(Outcome {
                seq: 1,
                sent: 1,
                rtt: None,
                ignored: 0 | 1
            })
        ) && after_stray.is_some_and(|d| d < ms(300)),
        "\n\nprobe(seq 1, timeout 300 ms, 0 retries); 200 ms after the probe a stray \
         datagram arrives, and no reply ever. Expected Outcome {{ seq: 1, sent: 1, rtt: None, \
         ignored: 1 }} about 100 ms after the stray datagram; got {outcome:?}, {} after it.\n\
         The wait for a copy ends `timeout` after the copy was sent: give each receive only \
         the time that is left.\nRevisit: {EX3_3}\n",
        after_stray.map_or("never sent".to_string(), |d| format!("{d:?}"))
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
        matches!(&outcome, Err(e) if refused(e)) && elapsed < Duration::from_millis(900),
        "\n\nprobe(seq 1, timeout 300 ms, 3 retries) on a socket connected to {addr}, where \
         nothing listens: expected Err(ConnectionRefused) at once — retrying cannot help; got \
         {outcome:?} after {elapsed:?}.\nRevisit: {EX3_3}\n"
    );
}

#[test]
fn ex3_3_ping_stops_promptly_when_nothing_is_listening() {
    // The `ping` command with your connect (3.2) and probe. Without the ICMP
    // news this would take 3 probes x 5 tries x 500 ms = 7.5 s, past the
    // deadline; with it, a moment (or 500 ms when Linux's ICMP rate limit
    // swallows the first answer).
    support::needs(EX3_2, connect_works);
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
        "\n\n`lesson03 {}` should fail at once and say {expected:?} on stderr.\n\
         It {}.\nIts stdout: {}\nIts stderr: {}\nRevisit: {EX3_3}\n",
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
        "\n\nOne probe, answered on its third try: expected probes 1, sent 3, received 1; \
         got {got:?}\nRevisit: {EX3_4}\n"
    );
    let loss = got.loss_percent();
    assert!(
        (loss - 200.0 / 3.0).abs() < 1e-9,
        "\n\n3 datagrams sent, 1 reply: loss_percent() (given) should be 66.7, got {loss} \
         from {got:?}\nRevisit: {EX3_4}\n"
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
        "\n\nOne probe, 4 tries, no reply: expected Stats {{ probes: 1, sent: 4, received: 0, \
         rtt_min: None, .. }}, printed as\n\"4 sent, 0 received, 100.0% loss (1 probe, 3 \
         retransmissions, 0 ignored)\"\ngot {got:?}, printed as\n{text:?}\nRevisit: {EX3_4}\n"
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
        "\n\nRTTs of 5, 2, 9 and 4 ms, the second probe sent twice with one datagram ignored.\n\
         Expected:\n{expected}\nGot:\n{got}\nRevisit: {EX3_4}\n"
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
    fn ex3_4_statistics_add_up_whatever_the_outcomes(
        raw in prop::collection::vec((1u32..5, prop::option::of(0u64..2000), 0u32..4), 1..20)
    ) {
        let outcomes: Vec<Outcome> = raw
            .iter()
            .enumerate()
            .map(|(i, &(sent, rtt, ignored))| outcome(i as u32 + 1, sent, rtt, ignored))
            .collect();
        let rtts: Vec<Duration> = outcomes.iter().filter_map(|o| o.rtt).collect();
        let expected = Stats {
            probes: outcomes.len() as u32,
            sent: outcomes.iter().map(|o| o.sent).sum(),
            received: rtts.len() as u32,
            ignored: outcomes.iter().map(|o| o.ignored).sum(),
            rtt_min: rtts.iter().min().copied(),
            rtt_max: rtts.iter().max().copied(),
            rtt_total: rtts.iter().sum(),
        };
        let stats = stats_of(&outcomes);
        let loss = stats.loss_percent();
        prop_assert!(
            stats == expected && (0.0..=100.0).contains(&loss),
            "\n\nAdded the outcomes {:?}\nExpected: {:?}\nGot:      {:?} (loss {}%)\nRevisit: {}\n",
            outcomes, expected, stats, loss, EX3_4
        );
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

/// Runs `lesson03 ping ADDR args...` to completion (or DEADLINE), after
/// checking the exercises it builds on, 3.2 and 3.3.
fn ping(addr: SocketAddr, args: &[&str]) -> (support::Finished, String) {
    support::needs(EX3_2, connect_works);
    support::needs(EX3_3, probe_works);
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
        "\n\nAgainst an echo server, expected a line \"12 bytes from {addr}: seq=N time=...\" \
         for N = 1, 2, 3 and the summary \"3 sent, 3 received, 0.0% loss (3 probes, 0 \
         retransmissions, 0 ignored)\" with an rtt line.\n{run}\nRevisit: {PING}\n"
    );
}

#[test]
fn ex3_4_ping_works_over_ipv6() {
    if !support::ipv6_loopback("ex3_4_ping_works_over_ipv6") {
        return;
    }
    let addr = reference_echo_server("[::1]:0").unwrap();
    let (finished, run) = ping(addr, &["--count", "2", "--timeout", "1000"]);
    let stdout = String::from_utf8_lossy(&finished.stdout);
    assert!(
        finished.status.is_some_and(|s| s.success())
            && stdout.contains(&format!("12 bytes from {addr}: seq=2 time="))
            && stdout.contains("2 sent, 2 received, 0.0% loss"),
        "\n\nAgainst an echo server on {addr}, expected two replies and the summary \"2 sent, \
         2 received, 0.0% loss …\".\n{run}\nRevisit: {PING}\n"
    );
}

#[test]
fn ex3_4_ping_gets_every_reply_from_a_lossy_server() {
    // Seed 24 at 30% loss drops one of the first dozen datagrams and never more
    // than two in a row in the first 60, so 3 retries always get through,
    // whatever the timing. The exact numbers depend on timing under load, so
    // the test checks what must hold: every probe answered, the loss seen
    // reported, and the summary adding up.
    support::needs(EX3_1, serve_works);
    let server = support::server(BIN, PING, &["--drop-rate", "0.3", "--seed", "24"]);
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
             retransmissions, ..)\" with at least 1 retransmission and L = (S-10)/S.\n{run}"
        ));
    }
}

/// Checks exercise 3.1 for the tests of later exercises: your `serve`, run
/// in this process, echoes a datagram.
fn serve_works() -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = socket.local_addr().map_err(|e| e.to_string())?;
    let returned = serve_on_thread(socket, Dropper::never());
    let client = socket_to(addr);
    echo_on_thread(&client, &returned, b"hello")
        .map_err(|why| format!("serve, sent \"hello\", should echo it; instead: {why}"))
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
        "\n\nProbe 1's first reply is late: it arrives after the retransmission, together with \
         the reply to the retransmission. Expected the summary {expected:?}: two probes, each \
         received once, the extra reply ignored.\n{run}\nRevisit: {PING}\n"
    );
}

#[test]
fn ex3_4_ping_shrugs_off_a_server_that_sends_garbage() {
    let (addr, _rx) = fake_server(|_, datagram| {
        vec![
            b"garbage".to_vec(),
            binary_bytes(largest_datagram()),
            datagram.to_vec(),
        ]
    });
    let (finished, run) = ping(addr, &["--count", "3", "--timeout", "1000"]);
    let stdout = String::from_utf8_lossy(&finished.stdout);
    let expected = "3 sent, 3 received, 0.0% loss (3 probes, 0 retransmissions, 6 ignored)";
    assert!(
        finished.status.is_some_and(|s| s.success()) && stdout.contains(expected),
        "\n\nThe server sends \"garbage\" and 65,507 bytes before each real echo. Expected the \
         summary {expected:?}.\n{run}\nRevisit: {PING}\n"
    );
}

#[test]
fn ex3_4_the_narrated_demo_runs_to_the_end() {
    support::assert_demo_runs(
        BIN,
        &[
            "Try it yourself",
            &format!("cargo run -p lesson03{FEATURES} -- server"),
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
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    support::given::server_explains_a_port_that_is_in_use(
        BIN,
        taken.local_addr().unwrap(),
        "in use",
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
