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
    let mut buf = [0u8; BUF_SIZE];
    let mut total = 0;
    loop {
        // `read` returns as soon as *some* bytes have arrived — maybe fewer than
        // the client sent, maybe parts of two of its writes. We don't care where
        // the boundaries were: an echo only has to give the bytes back in order.
        let n = match stream.read(&mut buf) {
            // 0 bytes means end of stream: the client shut down its sending side.
            Ok(0) => return Ok(total),
            Ok(n) => n,
            // A signal interrupted the call before any byte arrived; just retry.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // `write` may send only part of the buffer; `write_all` loops until all
        // of it is handed to the kernel.
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
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
    loop {
        // accept waits for the next client in the backlog, and returns a new
        // stream for it together with the client's address.
        let (mut stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Logs, and pauses if this error would only repeat at once.
            Err(e) => {
                netlings_kit::accept_failed(&e);
                continue;
            }
        };
        eprintln!("{peer}: connected");
        // One client's failure is that client's problem: log it, serve the next.
        match echo(&mut stream) {
            Ok(n) => eprintln!("{peer}: echoed {n} bytes, closed"),
            Err(e) => eprintln!("{peer}: {e}"),
        }
        // `stream` is dropped here, which closes our side of the connection.
    }
}
// ANCHOR_END: serve
