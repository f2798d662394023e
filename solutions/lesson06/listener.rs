//! Listeners built one option at a time with socket2, instead of in one
//! call to `TcpListener::bind`: `Socket::new` → options → `bind` → `listen`
//! → a std `TcpListener`. Some options only work before `bind`; socket2 lets
//! you set them there.

use std::io;
use std::net::{Ipv6Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// How many finished handshakes may wait for `accept`: std's value.
pub const BACKLOG: i32 = 128;

// ANCHOR: listener
/// Exercise 6.1: a listener built with options — book §6.1.
///
/// Return a TCP listener on `addr` (IPv4 or IPv6; port 0 lets the system
/// pick), built step by step with socket2 the way std's `TcpListener::bind`
/// builds one, with every option in sight:
///
/// - a TCP stream socket of `addr`'s family;
/// - on Unix, SO_REUSEADDR on before `bind`: a restarted server can then
///   bind its port again while connections of the previous one sit in
///   TIME_WAIT. Not on Windows, where SO_REUSEADDR lets another program bind
///   a port that is in use and steal its connections;
/// - for an IPv6 `addr`, IPV6_V6ONLY on: this listener takes IPv6 clients
///   only, whatever the system's default (a dual-stack listener is §6.2's);
/// - then `bind`, `listen` with a backlog of [`BACKLOG`], and a std listener.
///
/// Errors are returned. A port that another listener holds stays taken:
/// SO_REUSEADDR does not let two listeners share a port (SO_REUSEPORT does,
/// which is not what a server wants by accident — leave it off).
pub fn listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Before bind: bind is where the kernel checks for conflicts, TIME_WAIT
    // ones included. std does the same on Unix.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // Also before bind. Linux defaults to off (dual stack), Windows to on:
        // say which you want rather than inherit it.
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: listener

// ANCHOR: dual_stack
/// Exercise 6.2: a dual-stack listener — book §6.2.
///
/// Return one TCP listener on `[::]:port` (port 0: any free port) that
/// accepts IPv6 clients *and* IPv4 ones: IPV6_V6ONLY off, set explicitly
/// because Windows and some systems default to on. An IPv4 client then shows
/// up as an IPv4-mapped IPv6 address: 127.0.0.1 as `::ffff:127.0.0.1`.
///
/// - Like §6.1's listener otherwise: SO_REUSEADDR on Unix, set before
///   `bind`; `listen` with a backlog of [`BACKLOG`].
/// - `[::]` is every address of the machine, not only loopback: a server
///   that wants only this machine's clients listens on `[::1]` and
///   `127.0.0.1` with two sockets instead.
/// - Errors are returned: a system without IPv6 fails at `Socket::new` or
///   `bind`.
pub fn dual_stack(port: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    // Off: IPv4 connections to this port come here too, as ::ffff:a.b.c.d.
    socket.set_only_v6(false)?;
    let addr = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: dual_stack
