//! The experiments of the lesson, each a subcommand (`lesson06 time-wait`,
//! `nodelay`, …) and a step of the narrated demo. Each makes an option's
//! effect visible with a number. Everything happens on loopback.

use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::close::{self, Ending};
use crate::inspect;
use crate::listener;
use crate::nodelay::{self, Client};
use crate::server;

/// The demo's servers: no options, no log.
const QUIET: server::Options = server::Options {
    nodelay: false,
    linger0: false,
    keepalive: None,
    quiet: true,
};

/// How long any step waits for the other end before giving up.
const PATIENCE: Duration = Duration::from_secs(5);

/// 127.0.0.1, port 0: a free port on IPv4 loopback.
fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// A plain TCP socket bound to `addr` and listening, with no option set: no
/// SO_REUSEADDR, unlike std's listeners on Unix.
pub fn bare_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.bind(&addr.into())?;
    socket.listen(listener::BACKLOG)?;
    Ok(socket.into())
}

/// Waits (at most [`PATIENCE`]) until the peer closes `stream`.
fn wait_for_close(stream: &mut TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(PATIENCE))?;
    let mut buf = [0u8; 256];
    while stream.read(&mut buf)? > 0 {}
    Ok(())
}

/// How many sockets on local `port` are in TIME_WAIT, from /proc/net/tcp
/// (Linux; `None` elsewhere).
pub fn time_wait_count(port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let port = format!(":{port:04X}");
    // Each line: "sl local_address rem_address st ...", the state 06 is TIME_WAIT.
    Some(
        table
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                fields.len() > 3 && fields[1].ends_with(&port) && fields[3] == "06"
            })
            .count(),
    )
}

/// Prints how many of `port`'s sockets are in TIME_WAIT, where the system says.
fn show_time_wait(port: u16) {
    if let Some(n) = time_wait_count(port) {
        println!("         /proc/net/tcp: {n} socket(s) on port {port} in TIME_WAIT");
    }
}

// ANCHOR: time_wait
/// A server restarts while its last connection is in TIME_WAIT: binding its
/// port fails without SO_REUSEADDR and works with it. Then the same with the
/// client closing first, which leaves the server nothing to wait for.
pub fn time_wait() -> io::Result<()> {
    // The server closes first: the active close, and TIME_WAIT, are its own.
    let server = listener::listener(loopback())?;
    let addr = server.local_addr()?;
    let mut client = TcpStream::connect_timeout(&addr, PATIENCE)?;
    let (accepted, _) = server.accept()?;
    println!(
        "[server] listening on {addr} (SO_REUSEADDR {}); a client connected from {}",
        if SockRef::from(&server).reuse_address()? {
            "on"
        } else {
            "off"
        },
        client.local_addr()?
    );
    drop(accepted);
    wait_for_close(&mut client)?;
    drop(client);
    drop(server);
    println!("[server] closed the connection first, then its listener: the process \"restarts\"");
    show_time_wait(addr.port());
    match bare_listener(addr) {
        Ok(_) => println!("[restart] bind {addr} without SO_REUSEADDR: it worked (not on Linux)"),
        Err(e) => println!("[restart] bind {addr} without SO_REUSEADDR: {e}"),
    }
    match listener::listener(addr) {
        Ok(_) => println!("[restart] bind {addr} with SO_REUSEADDR (§6.1's listener): ok"),
        Err(e) => println!("[restart] bind {addr} with SO_REUSEADDR (§6.1's listener): {e}"),
    }

    // The client closes first: TIME_WAIT is on the client's side.
    let server = bare_listener(loopback())?;
    let addr = server.local_addr()?;
    let client = TcpStream::connect_timeout(&addr, PATIENCE)?;
    let (mut accepted, _) = server.accept()?;
    let client_port = client.local_addr()?.port();
    drop(client);
    wait_for_close(&mut accepted)?;
    drop(accepted);
    drop(server);
    println!("\n[client] this time the client closed first (its port {client_port})");
    show_time_wait(client_port);
    match bare_listener(addr) {
        Ok(_) => println!("[restart] bind {addr} without SO_REUSEADDR: ok, nothing waits there"),
        Err(e) => println!("[restart] bind {addr} without SO_REUSEADDR: {e}"),
    }
    Ok(())
}
// ANCHOR_END: time_wait

// ANCHOR: dual_stack
/// One `[::]` listener with IPV6_V6ONLY off accepts an IPv4 and an IPv6
/// client; the IPv4 one shows up as `::ffff:127.0.0.1`.
pub fn dual_stack() -> io::Result<()> {
    let listener = match listener::dual_stack(0) {
        Ok(listener) => listener,
        Err(e) => {
            println!("[server] no dual-stack listener on this machine: {e}");
            return Ok(());
        }
    };
    let port = listener.local_addr()?.port();
    println!(
        "[server] listening on {} with IPV6_V6ONLY {}",
        listener.local_addr()?,
        if SockRef::from(&listener).only_v6()? {
            "on"
        } else {
            "off"
        }
    );
    for ip in [
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
    ] {
        match TcpStream::connect_timeout(&ip, PATIENCE) {
            Ok(client) => {
                let (_, peer) = listener.accept()?;
                println!(
                    "[client] connected to {ip} from {}; the server accepted {peer}",
                    client.local_addr()?
                );
            }
            Err(e) => println!("[client] connect to {ip}: {e}"),
        }
    }
    Ok(())
}
// ANCHOR_END: dual_stack

// ANCHOR: linger
/// What the client's reads return when the server closes normally, and when
/// it closes with SO_LINGER 0.
pub fn linger() -> io::Result<()> {
    let server = listener::listener(loopback())?;
    let addr = server.local_addr()?;

    // The raw reads first: what the client's read returns, call by call.
    let mut client = TcpStream::connect_timeout(&addr, PATIENCE)?;
    client.set_read_timeout(Some(PATIENCE))?;
    let (mut accepted, _) = server.accept()?;
    io::Write::write_all(&mut accepted, b"bye\n")?;
    close::abort(accepted)?;
    println!("[server] wrote \"bye\\n\" (4 bytes), then closed with SO_LINGER 0");
    let mut buf = [0u8; 64];
    for _ in 0..2 {
        match client.read(&mut buf) {
            Ok(n) => println!("[client] read -> Ok({n})"),
            Err(e) => println!("[client] read -> Err({:?}): {e}", e.kind()),
        }
    }

    // Then §6.3's function on both kinds of close.
    for abortive in [false, true] {
        let client = TcpStream::connect_timeout(&addr, PATIENCE)?;
        client.set_read_timeout(Some(PATIENCE))?;
        let (mut accepted, _) = server.accept()?;
        io::Write::write_all(&mut accepted, b"bye\n")?;
        let how = if abortive {
            close::abort(accepted)?;
            "closed with SO_LINGER 0"
        } else {
            drop(accepted);
            "closed normally"
        };
        let ending: Ending = close::how_it_ended(&client)?;
        println!("[server] wrote 4 bytes, {how:<24} [client] how_it_ended -> {ending:?}");
    }
    Ok(())
}
// ANCHOR_END: linger

/// The `p`th percentile (0 to 100) of sorted `times`: the smallest time at
/// least `p`% of them do not exceed.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Microseconds below a millisecond, milliseconds with one decimal above.
pub fn time(duration: Duration) -> String {
    let us = duration.as_secs_f64() * 1e6;
    if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{us:.0} µs")
    }
}

// ANCHOR: nodelay
/// The write-write-read experiment, `rounds` rounds with Nagle's algorithm
/// on and as many with TCP_NODELAY, against the line echo server.
pub fn nodelay(rounds: u32) -> io::Result<()> {
    let server = listener::listener(loopback())?;
    let addr = server.local_addr()?;
    thread::spawn(move || server::serve(server, QUIET));
    println!(
        "[client] each round: write {:?}, write {:?}, read the {}-byte reply; {rounds} rounds",
        String::from_utf8_lossy(nodelay::HEAD),
        String::from_utf8_lossy(nodelay::BODY),
        nodelay::REPLY.len()
    );
    for on in [false, true] {
        let mut client = Client::connect(addr, PATIENCE)?;
        let mut times = nodelay::measure(&mut client, on, rounds)?;
        times.sort();
        println!(
            "  TCP_NODELAY {:<3}  min {:>9}  median {:>9}  p99 {:>9}  max {:>9}",
            if on { "on" } else { "off" },
            time(percentile(&times, 0.0)),
            time(percentile(&times, 50.0)),
            time(percentile(&times, 99.0)),
            time(percentile(&times, 100.0)),
        );
    }
    Ok(())
}
// ANCHOR_END: nodelay

// ANCHOR: buffers
/// Asks for each of `asks` bytes of receive and send buffer, and prints
/// what the kernel reports back.
pub fn buffers(asks: &[usize]) -> io::Result<()> {
    let fresh = || Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP));
    let socket = fresh()?;
    println!(
        "  {:>12}  {:>12}  {:>12}",
        "asked", "SO_RCVBUF", "SO_SNDBUF"
    );
    println!(
        "  {:>12}  {:>12}  {:>12}",
        "(default)",
        socket.recv_buffer_size()?,
        socket.send_buffer_size()?
    );
    for &ask in asks {
        let socket = fresh()?;
        socket.set_recv_buffer_size(ask)?;
        socket.set_send_buffer_size(ask)?;
        println!(
            "  {ask:>12}  {:>12}  {:>12}",
            socket.recv_buffer_size()?,
            socket.send_buffer_size()?
        );
    }
    for name in ["rmem_max", "wmem_max"] {
        if let Ok(max) = std::fs::read_to_string(format!("/proc/sys/net/core/{name}")) {
            println!("  net.core.{name} = {}", max.trim());
        }
    }
    Ok(())
}
// ANCHOR_END: buffers

// ANCHOR: keepalive
/// Turns keepalive on for one connection and prints its settings before
/// and after, as the kernel reports them.
pub fn keepalive() -> io::Result<()> {
    let server = listener::listener(loopback())?;
    let client = TcpStream::connect_timeout(&server.local_addr()?, PATIENCE)?;
    let show = |when: &str| -> io::Result<()> {
        let socket = SockRef::from(&client);
        print!(
            "  {when:<7} SO_KEEPALIVE {:<3}",
            if socket.keepalive()? { "on" } else { "off" }
        );
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
        print!(
            "  idle {:>6}  interval {:>4}  probes {}",
            inspect::seconds(socket.tcp_keepalive_time()?),
            inspect::seconds(socket.tcp_keepalive_interval()?),
            socket.tcp_keepalive_retries()?
        );
        println!();
        Ok(())
    };
    show("before")?;
    let wanted = TcpKeepalive::new().with_time(Duration::from_secs(30));
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
    let wanted = wanted.with_interval(Duration::from_secs(5)).with_retries(3);
    SockRef::from(&client).set_tcp_keepalive(&wanted)?;
    show("after")?;
    println!("  (asked: idle 30 s, then a probe every 5 s, give up after 3 unanswered)");
    Ok(())
}
// ANCHOR_END: keepalive

/// Whether this system has SO_REUSEPORT (socket2 offers it on most Unixes).
pub const HAS_REUSE_PORT: bool = cfg!(all(
    unix,
    not(any(
        target_os = "solaris",
        target_os = "illumos",
        target_os = "cygwin"
    ))
));

// ANCHOR: reuse_port_listener
/// A listener on `addr` with SO_REUSEPORT (and SO_REUSEADDR) on: other
/// listeners made this way, by the same user, can bind the same port.
#[cfg(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
))]
pub fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    socket.listen(listener::BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: reuse_port_listener

/// Where SO_REUSEPORT does not exist: an error that says so.
#[cfg(not(all(
    unix,
    not(any(target_os = "solaris", target_os = "illumos", target_os = "cygwin"))
)))]
pub fn reuse_port_listener(_addr: SocketAddr) -> io::Result<TcpListener> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "SO_REUSEPORT does not exist on this system",
    ))
}

// ANCHOR: reuse_port
/// `listeners` listeners share one port with SO_REUSEPORT; `connections`
/// clients connect one after another; each listener counts what it accepts.
pub fn reuse_port(listeners: usize, connections: usize) -> io::Result<()> {
    if !HAS_REUSE_PORT {
        println!("  SO_REUSEPORT does not exist on this system: nothing to show");
        return Ok(());
    }
    let first = reuse_port_listener(loopback())?;
    let addr = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..listeners {
        all.push(reuse_port_listener(addr)?);
    }
    println!("[server] {listeners} listeners bound to {addr}, each with SO_REUSEPORT");
    // Each listener accepts on its own thread and reports every connection.
    let (tx, rx) = std::sync::mpsc::channel::<usize>();
    for (i, listener) in all.into_iter().enumerate() {
        let tx = tx.clone();
        thread::spawn(move || {
            while listener.accept().is_ok() {
                if tx.send(i).is_err() {
                    break;
                }
            }
        });
    }
    for _ in 0..connections {
        // Connect and close at once: the listener that got it counts it.
        TcpStream::connect_timeout(&addr, PATIENCE)?;
    }
    let mut counts = vec![0usize; listeners];
    for _ in 0..connections {
        match rx.recv_timeout(PATIENCE) {
            Ok(i) => counts[i] += 1,
            Err(_) => break,
        }
    }
    let list: Vec<String> = counts.iter().map(|n| n.to_string()).collect();
    println!(
        "[client] {connections} connections, accepted per listener: {}",
        list.join(" / ")
    );
    Ok(())
}
// ANCHOR_END: reuse_port

/// `inspect` against a server started here: what the kernel reports for
/// a client's socket.
pub fn inspect() -> io::Result<()> {
    let server = listener::listener(loopback())?;
    let addr = server.local_addr()?;
    thread::spawn(move || server::serve(server, QUIET));
    inspect::run(addr, &mut io::stdout())
}
