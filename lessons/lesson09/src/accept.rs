//! Accepting clients without ever blocking.
//!
//! The listener is registered with the poll like any socket: it is
//! "readable" when connections wait in its backlog. Then `accept` returns
//! one at once, and `WouldBlock` when there are no more.

use mio::Registry;
use mio::net::TcpListener;

use crate::conn::Conns;

// ANCHOR: accepting
/// What the server does after [`accept_ready`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepting {
    /// Every waiting connection was taken: wait for the listener's next event.
    Drained,
    /// Accepting failed for want of a resource (file descriptors, memory):
    /// stop accepting for [`ACCEPT_PAUSE`](netlings_kit::ACCEPT_PAUSE), then
    /// call [`accept_ready`] again.
    Pause,
}
// ANCHOR_END: accepting

// ANCHOR: accept_ready
/// Exercise 9.1: accept until WouldBlock — book §9.1.
///
/// The poll said the listener is readable: one connection or more waits.
/// Accept them all, until `accept` fails with `WouldBlock`; then return
/// [`Accepting::Drained`]. All: the poll is edge-triggered, and will not
/// report again the connections you leave waiting.
///
/// For each connection:
/// - If `conns` already holds `max_clients`, write
///   [`SERVER_FULL`](netlings_chat::protocol::SERVER_FULL) to it (one
///   `write`, its result ignored: a new socket's buffer is empty, so it
///   fits) and drop it, which closes it.
/// - Otherwise register it with `registry`, for `Interest::READABLE`, under
///   the token that `conns` will give it ([`Conns::next_token`]), and
///   insert it into `conns` as a [`Conn::new`](crate::conn::Conn::new).
///   (The server welcomes it afterwards.) If `register` fails, drop that
///   connection and go on.
///
/// Any other error of `accept`: hand it to
/// [`netlings_kit::accept_failure_logged`], which logs it once per burst.
/// If that returns true, the process is out of something and the next
/// `accept` would fail the same way at once: return [`Accepting::Pause`].
/// Otherwise the error concerned that one connection: go on accepting.
pub fn accept_ready(
    listener: &TcpListener,
    registry: &Registry,
    conns: &mut Conns,
    max_clients: usize,
) -> Accepting {
    let _ = (listener, registry, conns, max_clients); // unused until you write the function
    todo!("exercise 9.1: accept until WouldBlock — book §9.1")
}
// ANCHOR_END: accept_ready
