//! Two ways to end a TCP connection, and how the other side tells them
//! apart: a clean close sends a FIN, which the peer reads as end of file
//! (`Ok(0)`); an abortive close (SO_LINGER with a timeout of 0) sends a RST,
//! which the peer's next read reports as an error, `ConnectionReset`.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use socket2::SockRef;

// ANCHOR: abort
/// Closes `stream` abortively: SO_LINGER on with a timeout of zero, then
/// close. The kernel throws away whatever it has not sent yet and sends a
/// RST instead of a FIN; this side does not go through TIME_WAIT, and the
/// peer's next read fails with `ConnectionReset`.
pub fn abort(stream: TcpStream) -> io::Result<()> {
    SockRef::from(&stream).set_linger(Some(Duration::ZERO))?;
    drop(stream); // the close is where the RST goes out
    Ok(())
}
// ANCHOR_END: abort

// ANCHOR: ending
/// How a connection ended, as the reading side saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// End of file: the peer closed (or shut down its writing side) with a
    /// FIN, after sending `bytes` bytes.
    Clean { bytes: u64 },
    /// The peer reset the connection (a RST: SO_LINGER 0, a crash, a
    /// firewall) after `bytes` bytes had been read.
    Reset { bytes: u64 },
}
// ANCHOR_END: ending

// ANCHOR: how_it_ended
/// Exercise 6.3: reset or clean close? — book §6.3.
///
/// Read everything the peer sends on `stream`, until the connection ends,
/// counting the bytes (and throwing them away), and say how it ended:
///
/// - a read that returns 0 bytes is end of file, a clean close:
///   `Ending::Clean { bytes }`, with every byte read before it;
/// - a read that fails with `ConnectionReset` is a reset:
///   `Ending::Reset { bytes }`, with the bytes read before it. (Windows may
///   report an abortive close as `ConnectionAborted`: a reset too.)
/// - an `Interrupted` read is tried again;
/// - any other error is returned as it is. Above all a read timeout that
///   the caller set (`WouldBlock` on Unix, `TimedOut` on Windows): a silent
///   peer has not reset anything.
///
/// Data can arrive in any number of reads: the count is their total.
pub fn how_it_ended(stream: &TcpStream) -> io::Result<Ending> {
    let _ = stream; // unused until you write the function
    todo!("exercise 6.3: reset or clean close? — book §6.3")
}
// ANCHOR_END: how_it_ended
