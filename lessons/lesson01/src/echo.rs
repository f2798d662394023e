//! The echo server: whatever a client sends comes straight back.

use std::io::{self, Read, Write};
use std::net::TcpListener;

/// How many bytes one `read` may return. Any size works; 8 KiB is a common
/// choice — large enough to move megabytes quickly, small enough for the stack.
pub const BUF_SIZE: usize = 8 * 1024;

// ANCHOR: echo
/// Exercise 1.1: echo one connection — book §1.1.
///
/// Read what the client sends on `stream` and write each piece back as soon
/// as it arrives, until the client has finished sending; then return how
/// many bytes you echoed.
///
/// - Reply to each piece before reading the next: a person typing into `nc`
///   expects every line back while the connection is still open.
/// - Every byte you read goes back exactly once, in order — nothing more,
///   nothing less — even when a write accepts only part of what you give it.
/// - The client has finished sending when a read returns `Ok(0)`.
/// - A read interrupted by a signal (`io::ErrorKind::Interrupted`) is retried;
///   any other error ends this connection: return it.
///
/// `stream` is any byte stream that can be read and written: a `TcpStream`
/// in the server, an in-memory fake in some of the tests.
pub fn echo<S: Read + Write>(stream: &mut S) -> io::Result<u64> {
    let _ = stream; // unused until you write the function
    todo!("exercise 1.1: echo one connection — book §1.1")
}
// ANCHOR_END: echo

// ANCHOR: serve
/// Exercise 1.2: the accept loop — book §1.2.
///
/// Serve clients one after another, forever: accept a connection, [`echo`]
/// it until the client is done, then accept the next. Log each client to
/// stderr (`eprintln!`) as it connects and as it leaves, with its address.
///
/// - An error from [`echo`] concerns that client only (it may have reset the
///   connection): log it and serve the next one.
/// - An error from `accept` does not stop the server either. Hand it to
///   [`netlings_kit::accept_failed`] (given), which logs it and pauses when
///   the process is out of resources, then try again: `accept` fails again at
///   once when the server has run out of file descriptors, and a loop that
///   simply retries spins at 100% CPU (§1.2).
/// - `serve` only returns if it cannot go on at all; in this lesson, never.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    let _ = listener; // unused until you write the function
    todo!("exercise 1.2: the accept loop — book §1.2")
}
// ANCHOR_END: serve
