//! The echo server: whatever a client sends comes straight back.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};

/// How many bytes one `read` may return. Any size works; 8 KiB is a common
/// choice — large enough to move megabytes quickly, small enough for the stack.
pub const BUF_SIZE: usize = 8 * 1024;

// ANCHOR: echo
/// Exercise 1.1: echo one connection — book §1.1.
///
/// Read from `stream` into a buffer of [`BUF_SIZE`] bytes and write every byte
/// you read back to the same `stream`, until the client has finished sending.
/// Return how many bytes you echoed.
///
/// - `stream.read(&mut buf)` returns `Ok(n)`: `n` bytes arrived, in
///   `buf[..n]`. Echo them *right away*, not after the client is done — a
///   person typing into `nc` expects each line back as they send it.
/// - `Ok(0)` means end of stream: the client shut down its sending side. Stop
///   and return the total.
/// - `stream.write(..)` may send only part of what you give it; use
///   `write_all`, which loops until every byte is handed to the kernel.
/// - An `Err` whose `kind()` is `io::ErrorKind::Interrupted` means "try again";
///   any other error ends this connection: return it (`?` does that).
pub fn echo(stream: &mut TcpStream) -> io::Result<u64> {
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
/// Serve clients one after another, forever: accept a connection, [`echo`] it
/// until the client is done, then accept the next.
///
/// - `listener.incoming()` is an iterator that calls `accept` each time round;
///   each item is an `io::Result<TcpStream>`.
/// - A failed `accept` or a failed [`echo`] concerns one client only (it may
///   have reset the connection): log it with `eprintln!` and go on. If you use
///   `?` here, one rude client stops the server for everyone.
/// - `stream.peer_addr()` tells who connected — nice in a log line, but it can
///   fail too if the client is already gone.
/// - Dropping the `TcpStream` closes the connection; no explicit close needed.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    for incoming in listener.incoming() {
        // An error from accept concerns one would-be connection (it may have
        // been reset before we got to it); the listener itself is still fine.
        let mut stream = match incoming {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        // peer_addr fails if the client is already gone; that is no reason to stop.
        let peer = match stream.peer_addr() {
            Ok(addr) => addr.to_string(),
            Err(_) => "a client".to_string(),
        };
        eprintln!("{peer}: connected");
        // One client's failure is that client's problem: log it, serve the next.
        match echo(&mut stream) {
            Ok(n) => eprintln!("{peer}: echoed {n} bytes, closed"),
            Err(e) => eprintln!("{peer}: {e}"),
        }
        // `stream` is dropped here, which closes our side of the connection.
    }
    Ok(())
}
// ANCHOR_END: serve
