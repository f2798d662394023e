//! Lesson 6 — socket options. Run with `cargo test -p lesson06`.
//!
//! Tests named `ex6_k_...` check exercise 6.k; `given_...` check given code.
//! The tests look at what the kernel reports (getsockopt through socket2's
//! `SockRef`, error kinds, what a peer's read returns), never at timings: a
//! measured latency is for the demo and the book, not for an assertion.

mod support;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use lesson06::close::{self, Ending};
use lesson06::listener;
use lesson06::nodelay::{self, BODY, Client, HEAD};
use socket2::SockRef;
use support::{DEADLINE, Hint, Server, show};

const BIN: &str = env!("CARGO_BIN_EXE_lesson06");

const EX6_1: Hint =
    Hint("exercise 6.1, `listener` in lessons/lesson06/src/listener.rs — book §6.1");
const EX6_2: Hint =
    Hint("exercise 6.2, `dual_stack` in lessons/lesson06/src/listener.rs — book §6.2");
const EX6_3: Hint =
    Hint("exercise 6.3, `how_it_ended` in lessons/lesson06/src/close.rs — book §6.3");
const EX6_4: Hint = Hint("exercise 6.4, `measure` in lessons/lesson06/src/nodelay.rs — book §6.4");
/// The given server binds with the listener of exercise 6.1.
const SERVER: Hint = Hint(
    "the given server in lessons/lesson06/src/server.rs; it binds with `listener` (exercise \
     6.1, book §6.1): if that exercise's tests fail, fix it first",
);

/// 127.0.0.1, port 0.
fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// Fails the test for a learner: what happened, and where to look.
fn fail(hint: Hint, what: &str) -> ! {
    support::quiet_panics();
    panic!("\n\n{what}\n\nRevisit: {hint}\n")
}

/// Runs `f` (which calls an exercise) on a thread and returns its result
/// within [`DEADLINE`]; a panic (a `todo!()`) or a hang fails the test with
/// `hint`.
fn call<T: Send + 'static>(hint: Hint, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    support::quiet_panics();
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => fail(
            hint,
            &format!("{what}: no result within {DEADLINE:?}. Does a loop never end?"),
        ),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            fail(hint, &format!("{what}: it panicked (its message is above)"))
        }
    }
}

/// `listener::listener(addr)`, which must succeed.
fn listener_on(addr: SocketAddr) -> TcpListener {
    call(EX6_1, &format!("listener({addr})"), move || {
        listener::listener(addr)
    })
    .unwrap_or_else(|e| fail(EX6_1, &format!("listener({addr}) failed: {e}")))
}

/// Connects to `addr` within the deadline, or fails with `hint`.
fn connect(addr: SocketAddr, hint: Hint) -> TcpStream {
    let stream = TcpStream::connect_timeout(&addr, DEADLINE)
        .unwrap_or_else(|e| fail(hint, &format!("connecting to {addr} failed: {e}")));
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream.set_write_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Accepts one connection within the deadline, or fails with `hint`.
fn accept(listener: &TcpListener, hint: Hint) -> (TcpStream, SocketAddr) {
    let listener = listener.try_clone().unwrap();
    call(hint, "accept on the listener", move || listener.accept())
        .unwrap_or_else(|e| fail(hint, &format!("accept failed: {e}")))
}

/// A plain socket bound to `addr` without SO_REUSEADDR (the test's own).
#[cfg(target_os = "linux")]
fn bare_bind(addr: SocketAddr) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

// ---------------------------------------------------------------- exercise 6.1

#[test]
fn ex6_1_listens_on_the_port_it_reports() {
    let listener = listener_on(loopback());
    let addr = listener.local_addr().unwrap();
    if addr.port() == 0 || addr.ip() != Ipv4Addr::LOCALHOST {
        fail(
            EX6_1,
            &format!(
                "listener(127.0.0.1:0) is bound to {addr}; expected 127.0.0.1 and a real port"
            ),
        );
    }
    let mut client = connect(addr, EX6_1);
    let (mut accepted, peer) = accept(&listener, EX6_1);
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"hi").unwrap();
    let mut buf = [0u8; 2];
    accepted.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn ex6_1_sets_so_reuseaddr_on_unix_only() {
    let listener = listener_on(loopback());
    let socket = SockRef::from(&listener);
    let reuse = socket.reuse_address().unwrap();
    if reuse != cfg!(unix) {
        fail(
            EX6_1,
            &format!(
                "The kernel reports SO_REUSEADDR {} on the listener; expected {} on this \
                 system. On Unix, set it before bind; on Windows, never (it lets another \
                 program take the port).",
                if reuse { "on" } else { "off" },
                if cfg!(unix) { "on" } else { "off" }
            ),
        );
    }
    #[cfg(unix)]
    if socket.reuse_port().unwrap_or(false) {
        fail(
            EX6_1,
            "The kernel reports SO_REUSEPORT on: that lets other listeners share the port and \
             take some of its connections. Leave it off.",
        );
    }
}

#[cfg(unix)]
#[test]
fn ex6_1_restarts_while_its_last_connection_is_in_time_wait() {
    // The server closes first (the active close), so TIME_WAIT is its own.
    let server = listener_on(loopback());
    let addr = server.local_addr().unwrap();
    let mut client = connect(addr, EX6_1);
    let (accepted, _) = accept(&server, EX6_1);
    drop(accepted);
    let mut buf = [0u8; 8];
    match client.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => fail(
            EX6_1,
            &format!(
                "The test accepted a connection on listener({addr}) and closed it without \
                 sending anything; the client then read {n} byte(s) instead of end of file."
            ),
        ),
        Err(e) => fail(
            EX6_1,
            &format!(
                "The test accepted a connection on listener({addr}) and closed it normally; the \
                 client's read should then return end of file (Ok(0)). It failed instead: \
                 {e}.{}",
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) {
                    "\nA reset: the accepted socket had SO_LINGER 0, and accepted sockets \
                     inherit their options from the listener. Do not set SO_LINGER on the \
                     listener: every connection it accepts would end with a reset, and the \
                     TIME_WAIT that a restart must get past would never happen."
                } else {
                    ""
                }
            ),
        ),
    }
    drop(client);
    drop(server);
    // Without SO_REUSEADDR the port is still taken, by the connection in
    // TIME_WAIT (on Linux; other systems may be more lenient).
    #[cfg(target_os = "linux")]
    match bare_bind(addr) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
        other => fail(
            EX6_1,
            &format!(
                "After the server closed its connection first, binding {addr} again without \
                 SO_REUSEADDR should fail with \"address in use\" (the connection is in \
                 TIME_WAIT); it gave {other:?}. Did your listener really accept through the \
                 kernel? (Set SO_REUSEADDR before bind, on the listener itself.)"
            ),
        ),
    }
    let again = call(EX6_1, "listener(the same address)", move || {
        listener::listener(addr)
    });
    if let Err(e) = again {
        fail(
            EX6_1,
            &format!(
                "A server listened on {addr}, served a connection and closed it first, then \
                 closed its listener: a restart. listener({addr}) then failed: {e}.\nThe old \
                 connection waits in TIME_WAIT; only SO_REUSEADDR, set before bind, on both the \
                 old listener and the new one, lets the port be bound again."
            ),
        );
    }
}

#[test]
fn ex6_1_a_port_held_by_a_listener_stays_taken() {
    let first = listener_on(loopback());
    let addr = first.local_addr().unwrap();
    let second = call(EX6_1, "listener(an address in use)", move || {
        listener::listener(addr)
    });
    match second {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {}
        Err(e) => fail(
            EX6_1,
            &format!(
                "listener({addr}) while another listener holds it: expected \"address in use\", got {e}"
            ),
        ),
        Ok(_) => fail(
            EX6_1,
            &format!(
                "A second listener({addr}) succeeded while the first still listens there. Two \
                 listeners on one port split its connections: that is SO_REUSEPORT, not \
                 SO_REUSEADDR. Set only SO_REUSEADDR."
            ),
        ),
    }
}

#[test]
fn ex6_1_an_ipv6_listener_takes_ipv6_only() {
    if !support::ipv6_loopback("ex6_1_an_ipv6_listener_takes_ipv6_only") {
        return;
    }
    // On [::], the unspecified address: bound to one address such as ::1,
    // Linux turns IPV6_V6ONLY on by itself, and the test would see nothing.
    let listener = listener_on(SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)));
    let addr = listener.local_addr().unwrap();
    if !addr.is_ipv6() {
        fail(
            EX6_1,
            &format!("listener([::]:0) is bound to {addr}, not to an IPv6 address"),
        );
    }
    if !SockRef::from(&listener).only_v6().unwrap() {
        fail(
            EX6_1,
            "listener([::]:0): the kernel reports IPV6_V6ONLY off, so IPv4 clients would reach \
             it too. Set it on for an IPv6 address, before bind: the system's default differs \
             (Linux off, Windows on). A dual-stack listener is §6.2's.",
        );
    }
    let _client = connect(SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port())), EX6_1);
    accept(&listener, EX6_1);
}

// ---------------------------------------------------------------- exercise 6.2

/// `listener::dual_stack(port)`, or `None` (with a notice) when this machine
/// has no IPv6 loopback.
fn dual_stack(test: &str, port: u16) -> Option<TcpListener> {
    if !support::ipv6_loopback(test) {
        return None;
    }
    let listener = call(EX6_2, &format!("dual_stack({port})"), move || {
        listener::dual_stack(port)
    })
    .unwrap_or_else(|e| fail(EX6_2, &format!("dual_stack({port}) failed: {e}")));
    Some(listener)
}

#[test]
fn ex6_2_accepts_ipv4_as_mapped_addresses_and_ipv6() {
    let Some(listener) = dual_stack("ex6_2_accepts_ipv4_as_mapped_addresses_and_ipv6", 0) else {
        return;
    };
    let local = listener.local_addr().unwrap();
    if local.ip() != Ipv6Addr::UNSPECIFIED || local.port() == 0 {
        fail(
            EX6_2,
            &format!("dual_stack(0) is bound to {local}; expected [::] and a real port"),
        );
    }
    if SockRef::from(&listener).only_v6().unwrap() {
        fail(
            EX6_2,
            "dual_stack(0): the kernel reports IPV6_V6ONLY on, so IPv4 clients cannot reach \
             it. Set it off, before bind.",
        );
    }
    let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, local.port()));
    let client = TcpStream::connect_timeout(&v4, DEADLINE).unwrap_or_else(|e| {
        fail(
            EX6_2,
            &format!("an IPv4 client could not connect to {v4}: {e}"),
        )
    });
    let (accepted, peer) = accept(&listener, EX6_2);
    // Accepted sockets inherit the listener's options, SO_LINGER included.
    let linger = SockRef::from(&accepted).linger().unwrap();
    if linger.is_some() {
        fail(
            EX6_2,
            &format!(
                "A connection accepted by dual_stack(0) has SO_LINGER {linger:?}: it inherited \
                 it from the listener, and closing it would not send a FIN (SO_LINGER 0 sends \
                 a reset). Leave SO_LINGER alone on a listener: it is for a connection to set \
                 when it closes, as §6.3's abort does."
            ),
        );
    }
    let expected = SocketAddr::from((
        Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
        client.local_addr().unwrap().port(),
    ));
    if peer != expected {
        fail(
            EX6_2,
            &format!(
                "an IPv4 client from {} was accepted as {peer}; expected {expected}",
                client.local_addr().unwrap()
            ),
        );
    }
    let v6 = SocketAddr::from((Ipv6Addr::LOCALHOST, local.port()));
    let client = connect(v6, EX6_2);
    let (_, peer) = accept(&listener, EX6_2);
    assert_eq!(peer, client.local_addr().unwrap());
}

#[test]
fn ex6_2_binds_the_port_it_is_given_with_so_reuseaddr() {
    // A port that was free a moment ago.
    let port = TcpListener::bind("[::]:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port());
    let Ok(port) = port else {
        eprintln!("NOTICE: ex6_2_binds_the_port_it_is_given_with_so_reuseaddr skipped: no IPv6");
        return;
    };
    let Some(listener) = dual_stack("ex6_2_binds_the_port_it_is_given_with_so_reuseaddr", port)
    else {
        return;
    };
    let got = listener.local_addr().unwrap();
    if got.port() != port {
        fail(
            EX6_2,
            &format!("dual_stack({port}) is bound to {got}; expected port {port}"),
        );
    }
    let reuse = SockRef::from(&listener).reuse_address().unwrap();
    if reuse != cfg!(unix) {
        fail(
            EX6_2,
            &format!(
                "dual_stack: the kernel reports SO_REUSEADDR {}; like §6.1's listener, it \
                 should be {} on this system, so that the server can restart.",
                if reuse { "on" } else { "off" },
                if cfg!(unix) { "on" } else { "off" }
            ),
        );
    }
    #[cfg(unix)]
    if SockRef::from(&listener).reuse_port().unwrap_or(false) {
        fail(
            EX6_2,
            "dual_stack: the kernel reports SO_REUSEPORT on. That lets a second listener take \
             the same port and some of its connections, without an error; SO_REUSEADDR is the \
             one that lets a server restart. Leave SO_REUSEPORT off.",
        );
    }
}

#[test]
fn ex6_2_the_server_serves_ipv4_and_ipv6_with_dual_stack() {
    if !support::ipv6_loopback("ex6_2_the_server_serves_ipv4_and_ipv6_with_dual_stack") {
        return;
    }
    let server = Server::start(BIN, &["server", "127.0.0.1:0", "--dual-stack"], EX6_2);
    let port = server.addr().port();
    for ip in [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ] {
        let mut client = connect(ip, EX6_2);
        client.write_all(b"hello\n").unwrap();
        let mut got = [0u8; 6];
        if client.read_exact(&mut got).is_err() || &got != b"hello\n" {
            server.fail(&format!(
                "`server --dual-stack` should echo \"hello\\n\" to a client of {ip}; got {}",
                show(&got)
            ));
        }
    }
}

// ---------------------------------------------------------------- exercise 6.3

/// A connection from the test: `client` reads; the returned peer is the
/// test's other end.
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = connect(listener.local_addr().unwrap(), EX6_3);
    let (peer, _) = listener.accept().unwrap();
    (client, peer)
}

/// Runs `how_it_ended` on `client` within the deadline.
fn ending_of(client: TcpStream, what: &str) -> io::Result<Ending> {
    call(
        EX6_3,
        &format!("how_it_ended, after the peer {what}"),
        move || close::how_it_ended(&client),
    )
}

fn expect_ending(got: io::Result<Ending>, what: &str, expected: Ending) {
    match got {
        Ok(ending) if ending == expected => {}
        other => fail(
            EX6_3,
            &format!("The peer {what}.\nExpected: Ok({expected:?})\nGot:      {other:?}"),
        ),
    }
}

#[test]
fn ex6_3_a_clean_close_after_many_reads_is_clean_with_every_byte() {
    let (client, mut peer) = pair();
    let writer = thread::spawn(move || {
        for _ in 0..100 {
            peer.write_all(&[b'x'; 1000])?;
        }
        Ok::<_, io::Error>(())
    });
    let what = "sent 100,000 bytes in 100 writes, then closed normally";
    let got = ending_of(client, what);
    writer.join().unwrap().unwrap();
    expect_ending(got, what, Ending::Clean { bytes: 100_000 });
}

#[test]
fn ex6_3_end_of_file_after_a_half_close_is_clean() {
    let (client, mut peer) = pair();
    peer.write_all(b"last words").unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let what = "sent \"last words\" (10 bytes), then shut down its writing side (still open)";
    expect_ending(ending_of(client, what), what, Ending::Clean { bytes: 10 });
    drop(peer);
}

#[test]
fn ex6_3_a_clean_close_before_any_data_is_clean() {
    let (client, peer) = pair();
    drop(peer);
    let what = "closed normally without sending anything";
    expect_ending(ending_of(client, what), what, Ending::Clean { bytes: 0 });
}

#[test]
fn ex6_3_a_reset_is_a_reset_not_an_error() {
    let (client, peer) = pair();
    close::abort(peer).unwrap();
    let what = "closed at once with SO_LINGER 0 (a reset), without sending anything";
    expect_ending(ending_of(client, what), what, Ending::Reset { bytes: 0 });
}

#[test]
fn ex6_3_a_reset_after_data_counts_the_data() {
    let (client, mut peer) = pair();
    peer.write_all(b"bye\n").unwrap();
    close::abort(peer).unwrap();
    let what = "sent \"bye\\n\" (4 bytes), then closed with SO_LINGER 0 (a reset)";
    let got = ending_of(client, what);
    // Linux hands over the data before the reset; other systems may drop it.
    match got {
        Ok(Ending::Reset { bytes: 4 }) => {}
        Ok(Ending::Reset { bytes }) if !cfg!(target_os = "linux") && bytes < 4 => {}
        other => fail(
            EX6_3,
            &format!("The peer {what}.\nExpected: Ok(Reset {{ bytes: 4 }})\nGot:      {other:?}"),
        ),
    }
}

#[test]
fn ex6_3_a_silent_peer_is_a_timeout_not_a_reset() {
    let (client, peer) = pair();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let what = "sent 5 bytes and then nothing, for longer than the 100 ms read timeout the \
                caller set";
    let mut peer = peer;
    peer.write_all(b"hello").unwrap();
    // The same socket: its read timeout is the one how_it_ended reads with.
    let same = client.try_clone().unwrap();
    match ending_of(client, what) {
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) => {}
        other => fail(
            EX6_3,
            &format!(
                "The peer {what}.\nExpected: the read's timeout error, returned as it is \
                 (WouldBlock on Unix, TimedOut on Windows)\nGot:      {other:?}\nA peer that \
                 is silent has neither closed nor reset the connection."
            ),
        ),
    }
    let timeout = same.read_timeout().unwrap();
    if timeout != Some(Duration::from_millis(100)) {
        fail(
            EX6_3,
            &format!(
                "The caller set a read timeout of 100 ms; after how_it_ended the socket's is \
                 {timeout:?}. The timeout is the caller's choice: read with it, do not set \
                 your own."
            ),
        );
    }
    drop(peer);
}

#[test]
fn ex6_3_tells_the_servers_two_kinds_of_close_apart() {
    for (flags, abortive) in [(&[][..], false), (&["--linger0"][..], true)] {
        let server = support::server(BIN, SERVER, flags);
        let mut conn = server.connect();
        conn.send(b"one line\n");
        conn.finish_sending();
        let client = conn.stream.try_clone().unwrap();
        let command: String = flags.iter().map(|flag| format!(" {flag}")).collect();
        let what = format!(
            "(`lesson06 server{command}`) echoed the test's \"one line\\n\" and closed, once the \
             test had shut down writing"
        );
        let got = ending_of(client, &what);
        let expected = if abortive {
            Ending::Reset { bytes: 9 }
        } else {
            Ending::Clean { bytes: 9 }
        };
        match got {
            Ok(ending) if ending == expected => {}
            Ok(Ending::Reset { bytes }) if abortive && !cfg!(target_os = "linux") && bytes < 9 => {}
            other => server.fail(&format!(
                "The test connected to `lesson06 server{command}`, sent \"one line\\n\" and \
                 shut down writing: the server echoes the line, then closes {}.\n\
                 Expected: Ok({expected:?})\nGot:      {other:?}\nRevisit: {EX6_3}",
                if abortive {
                    "with a reset (SO_LINGER 0)"
                } else {
                    "normally"
                }
            )),
        }
    }
}

// ---------------------------------------------------------------- exercise 6.4

/// How late [`counting_server_late`] answers the round it is asked to.
const LATE: Duration = Duration::from_millis(100);

/// A line echo server in the test that answers `requests` requests and then
/// shuts down its writing side; returns its address and how many request
/// lines it saw, as HEAD + BODY each.
fn counting_server(requests: usize) -> (SocketAddr, thread::JoinHandle<io::Result<Vec<Vec<u8>>>>) {
    counting_server_late(requests, None)
}

/// [`counting_server`], which answers request number `late` (0 is the
/// first), if any, [`LATE`] after it has read it. (Not a sleep to wait for
/// something: a delay that no round-trip time can be shorter than.)
fn counting_server_late(
    requests: usize,
    late: Option<usize>,
) -> (SocketAddr, thread::JoinHandle<io::Result<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(DEADLINE))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut seen = Vec::new();
        for request in 0..requests {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            if late == Some(request) {
                thread::sleep(LATE);
            }
            writer.write_all(&line)?;
            seen.push(line);
        }
        writer.shutdown(Shutdown::Write)?;
        // Wait for the client to go, so that it never sees a reset.
        let mut rest = Vec::new();
        let _ = reader.read_to_end(&mut rest);
        Ok(seen)
    });
    (addr, handle)
}

fn client_of(addr: SocketAddr) -> Client {
    Client::connect(addr, DEADLINE)
        .unwrap_or_else(|e| fail(EX6_4, &format!("could not connect to {addr}: {e}")))
}

/// Runs `measure` within the deadline; returns the client too.
fn measured(client: Client, nodelay: bool, rounds: u32) -> (Client, io::Result<Vec<Duration>>) {
    call(
        EX6_4,
        &format!("measure(client, {nodelay}, {rounds})"),
        move || {
            let mut client = client;
            let result = nodelay::measure(&mut client, nodelay, rounds);
            (client, result)
        },
    )
}

#[test]
fn ex6_4_does_the_rounds_asked_two_writes_and_a_reply_each() {
    let (addr, server) = counting_server(5);
    let (client, result) = measured(client_of(addr), true, 5);
    let times =
        result.unwrap_or_else(|e| fail(EX6_4, &format!("measure(client, true, 5) failed: {e}")));
    if times.len() != 5 || client.writes() != 10 {
        fail(
            EX6_4,
            &format!(
                "measure(client, true, 5) returned {} times after {} writes; expected 5 times \
                 and 10 writes (HEAD and BODY as two writes per round).",
                times.len(),
                client.writes()
            ),
        );
    }
    // Every reply was read: what is left is the server's end of file.
    let mut rest = Vec::new();
    let _ = client.stream().set_read_timeout(Some(DEADLINE));
    let _ = client.stream().read_to_end(&mut rest);
    if !rest.is_empty() {
        fail(
            EX6_4,
            &format!(
                "After measure(client, true, 5) returned, {} were still waiting to be read: each \
                 round must read its reply (client.reply()) before the next one.",
                show(&rest)
            ),
        );
    }
    drop(client);
    let seen = server.join().unwrap().unwrap();
    let request = [HEAD, BODY].concat();
    if seen.len() != 5 || seen.iter().any(|line| *line != request) {
        fail(
            EX6_4,
            &format!(
                "The server saw {} request(s); expected 5, each {}.",
                seen.len(),
                show(&request)
            ),
        );
    }
}

#[test]
fn ex6_4_times_each_round_from_its_first_write_to_its_reply() {
    // The server answers round 2 (times[1]) 100 ms late: that round cannot
    // take less, however fast or slow the machine. And the rounds come one
    // after the other within the call: their times add up to no more than
    // the call took. Neither bound can fail for a right solution.
    let (addr, _server) = counting_server_late(3, Some(1));
    let client = client_of(addr);
    let (result, call_took) = call(EX6_4, "measure(client, true, 3)", move || {
        let mut client = client;
        let start = Instant::now();
        let result = nodelay::measure(&mut client, true, 3);
        (result, start.elapsed())
    });
    let times =
        result.unwrap_or_else(|e| fail(EX6_4, &format!("measure(client, true, 3) failed: {e}")));
    if times.len() != 3 {
        fail(
            EX6_4,
            &format!(
                "measure(client, true, 3) returned {} times; expected 3",
                times.len()
            ),
        );
    }
    if times[1] < LATE {
        fail(
            EX6_4,
            &format!(
                "The test's server answered round 2 {LATE:?} after its request came; \
                 measure(client, true, 3) says that round took {:?}. A round's time runs until \
                 its reply has been read (client.reply()), not only until the writes are done.",
                times[1]
            ),
        );
    }
    let sum: Duration = times.iter().sum();
    if sum > call_took {
        fail(
            EX6_4,
            &format!(
                "measure(client, true, 3) returned {times:?}: together {sum:?}, more than the \
                 {call_took:?} the whole call took. Each time must be its own round's, from \
                 just before its first write: one Instant per round, not one for all of them."
            ),
        );
    }
}

#[test]
fn ex6_4_zero_rounds_send_nothing() {
    let (addr, server) = counting_server(1);
    let (client, result) = measured(client_of(addr), true, 0);
    match result {
        Ok(times) if times.is_empty() && client.writes() == 0 => {}
        other => fail(
            EX6_4,
            &format!(
                "measure(client, true, 0) should send nothing and return Ok([]); it returned \
                 {other:?} after {} writes",
                client.writes()
            ),
        ),
    }
    drop(client);
    let seen = server.join().unwrap().unwrap();
    assert!(
        seen.is_empty(),
        "measure with 0 rounds sent {} request(s)",
        seen.len()
    );
}

#[test]
fn ex6_4_sets_tcp_nodelay_either_way() {
    for (before, asked) in [(false, true), (true, false)] {
        let (addr, _server) = counting_server(2);
        let client = client_of(addr);
        client.stream().set_nodelay(before).unwrap();
        let (client, result) = measured(client, asked, 2);
        if let Err(e) = result {
            fail(EX6_4, &format!("measure(client, {asked}, 2) failed: {e}"));
        }
        let at_writes = client.nodelay_at_writes();
        if at_writes.len() != 4 || at_writes.iter().any(|&on| on != asked) {
            fail(
                EX6_4,
                &format!(
                    "The socket had TCP_NODELAY {before}; measure(client, {asked}, 2) made its \
                     writes with TCP_NODELAY {at_writes:?}, one per write as the kernel \
                     reported it; expected {asked} at each of 4 writes. Set the option once, \
                     before the first round: every write of the experiment must go out with it."
                ),
            );
        }
        let now = SockRef::from(client.stream()).tcp_nodelay().unwrap();
        if now != asked {
            fail(
                EX6_4,
                &format!(
                    "The socket had TCP_NODELAY {before}; after measure(client, {asked}, 2) the \
                     kernel reports {now}. Set the option to what was asked, off as well as on."
                ),
            );
        }
    }
}

#[test]
fn ex6_4_an_error_ends_the_experiment_and_is_returned() {
    // The server answers two requests, then closes.
    let (addr, _server) = counting_server(2);
    let (_, result) = measured(client_of(addr), true, 5);
    match result {
        Err(_) => {}
        Ok(times) => fail(
            EX6_4,
            &format!(
                "The server answered 2 requests and then closed; measure(client, true, 5) \
                 returned Ok with {} times. A failed write or reply must end the experiment with \
                 that error (`?`), not a shorter or padded list.",
                times.len()
            ),
        ),
    }
}

#[test]
fn ex6_4_runs_against_the_real_server_with_nagle_on() {
    let server = support::server(BIN, SERVER, &[]);
    let (client, result) = measured(client_of(server.addr()), false, 2);
    match result {
        Ok(times) if times.len() == 2 && client.writes() == 4 => {}
        other => server.fail(&format!(
            "measure(client, false, 2) against `lesson06 server`: expected 2 times after 4 \
             writes, got {other:?} after {} writes\nRevisit: {EX6_4}",
            client.writes()
        )),
    }
    drop(client);
    if !server.wait_for_stderr("2 line(s) echoed") {
        server.fail(&format!(
            "After measure(client, false, 2), the server should log \"2 line(s) echoed\".\n\
             Revisit: {EX6_4}"
        ));
    }
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
fn given_server_echoes_lines_with_the_options_asked() {
    let server = support::server(BIN, SERVER, &["--nodelay", "--keepalive", "30"]);
    let mut conn = server.connect();
    conn.expect_answer("hello", "hello");
    conn.expect_answer("", "");
    if !server.wait_for_stderr("nodelay on") || !server.stderr().contains("keepalive on") {
        server.fail(
            "`server --nodelay --keepalive 30` should log each connection's options, as the \
             kernel reports them: \"nodelay on\" and \"keepalive on\"",
        );
    }
}

#[test]
fn given_server_logs_linger0_as_set_at_close() {
    let server = support::server(BIN, SERVER, &["--linger0"]);
    server.connect().expect_answer("hello", "hello");
    if !server.wait_for_stderr("linger 0 at close") {
        server.fail(
            "`server --linger0` sets SO_LINGER 0 only when it closes a connection; its log \
             should say \"linger 0 at close\" for each connection, not the \"off\" the kernel \
             reports before then",
        );
    }
}

#[test]
fn given_server_serves_ipv6() {
    if !support::ipv6_loopback("given_server_serves_ipv6") {
        return;
    }
    let server = Server::start(BIN, &["server", "[::1]:0"], SERVER);
    server.connect().expect_answer("over IPv6", "over IPv6");
}

#[test]
fn given_server_survives_resets_silence_and_a_client_that_never_reads() {
    let server = support::server(BIN, SERVER, &[]);
    let addr = server.addr();
    let silent = server.connect();
    // A client that sends and never reads: its echoes fill the buffers, and
    // the server's write to it blocks (until its deadline).
    let greedy = TcpStream::connect(addr).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut writer = greedy.try_clone().unwrap();
    thread::spawn(move || {
        let line = [b"x".repeat(1000), b"\n".to_vec()].concat();
        while writer.write_all(&line).is_ok() {}
    });
    let connected = support::churn(addr, 200, || {
        server
            .connect()
            .expect_answer("still there?", "still there?")
    });
    assert!(connected > 0);
    server.connect().expect_answer(
        "after a silent client, a greedy one and 200 resets",
        "after a silent client, a greedy one and 200 resets",
    );
    drop(silent);
    drop(greedy);
}

#[test]
fn given_server_closes_a_line_that_is_too_long() {
    let server = support::server(BIN, SERVER, &[]);
    let mut conn = server.connect();
    conn.send(&vec![b'x'; lesson06::server::MAX_LINE + 1]);
    let got = conn.expect_close("a line longer than MAX_LINE");
    if got != b"error: line too long\n" {
        server.fail(&format!(
            "Expected \"error: line too long\\n\" before the close; got {}",
            show(&got)
        ));
    }
    server.connect().expect_answer("next", "next");
}

#[cfg(unix)]
#[test]
fn given_server_is_calm_when_out_of_files() {
    let server = Server::start_with_file_limit(BIN, &["server", "127.0.0.1:0"], 4, SERVER);
    let _waiting = server.connect();
    support::assert_calm_when_out_of_files(&server, "the given server's accept loop");
}

#[test]
fn given_inspect_reports_the_client_socket() {
    let server = support::server(BIN, SERVER, &[]);
    let addr = server.addr().to_string();
    let finished = support::run(BIN, &["inspect", &addr], Vec::new());
    let out = String::from_utf8_lossy(&finished.stdout);
    for expected in [
        "peer address",
        &addr,
        "TCP_NODELAY",
        "SO_LINGER",
        "SO_RCVBUF",
        "ephemeral",
    ] {
        if !out.contains(expected) {
            server.fail(&format!(
                "`lesson06 inspect {addr}` should print {expected:?}. {}; it printed:\n{out}\n{}",
                finished.how_it_ended(),
                finished.stderr
            ));
        }
    }
}

#[test]
fn given_inspect_explains_that_nothing_is_listening() {
    let addr = support::closed_tcp_addr();
    support::assert_fails_saying(
        BIN,
        &["inspect", &addr],
        &[&format!("could not connect to {addr}"), "refused"],
    );
}

#[cfg(target_os = "linux")]
#[test]
fn given_reuse_port_spreads_connections_over_every_listener() {
    let finished = support::run(
        BIN,
        &["reuse-port", "--listeners", "4", "--connections", "200"],
        Vec::new(),
    );
    let out = String::from_utf8_lossy(&finished.stdout);
    let counts: Vec<usize> = out
        .lines()
        .find_map(|l| l.split_once("accepted per listener: "))
        .map(|(_, list)| {
            list.split(" / ")
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        counts.len() == 4 && counts.iter().sum::<usize>() == 200 && counts.iter().all(|&n| n > 0),
        "`lesson06 reuse-port --listeners 4 --connections 200` should spread 200 connections over \
         4 listeners; it printed:\n{out}\n{}",
        finished.stderr
    );
}

#[test]
fn given_demo_runs() {
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let try_it = format!("cargo run -p lesson06{features} -- server");
    let mut expected = vec![
        "1. TIME_WAIT",
        "with SO_REUSEADDR (§6.1's listener): ok",
        "how_it_ended -> Clean { bytes: 4 }",
        "how_it_ended -> Reset { bytes: 4 }",
        "TCP_NODELAY on",
        "SO_RCVBUF",
        try_it.as_str(),
    ];
    if cfg!(target_os = "linux") {
        expected.push("without SO_REUSEADDR: Address already in use");
        expected.push("1000 connections, accepted per listener");
    }
    support::assert_demo_runs(BIN, &expected);
}
