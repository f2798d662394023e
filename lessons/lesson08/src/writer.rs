//! The writer thread: one per client, it sends the client the lines that
//! its queue receives, so that writing to a slow client only ever holds up
//! this one thread.

use std::io;
use std::net::TcpStream;
use std::sync::mpsc::Receiver;
use std::time::Duration;

use netlings_chat::{Leaving, Line};

use crate::chat::{SharedChat, lock};

/// Lines already queued are sent together, up to this many bytes per write:
/// one system call for many lines when a client falls a little behind.
pub const BATCH_BYTES: usize = 64 * 1024;

// ANCHOR: write_lines
/// Exercise 8.2: the writer thread — book §8.2.
///
/// Send every line that arrives on `lines` to `stream`, in order, until the
/// queue is closed (every sender dropped: the client left, or the server is
/// stopping); then return `Ok(())`.
///
/// - Wait for a line, then take whatever else is already queued (without
///   waiting) until you have about [`BATCH_BYTES`], and write them with one
///   `write_all`: one system call for many lines when the client falls
///   behind. (The tests cannot see this — the bytes are the same — but the
///   benchmark of the comparison chapter can.)
/// - Each `write_all` must finish within `stall`, however slowly the client
///   reads: write through a [`WriteWithin`](netlings_kit::WriteWithin). Return its error (of kind
///   `TimedOut` when the client stopped reading), or any other write error.
pub fn write_lines(stream: &TcpStream, lines: &Receiver<Line>, stall: Duration) -> io::Result<()> {
    let _ = (stream, lines, stall); // unused until you write the function
    todo!("exercise 8.2: the writer thread — book §8.2")
}
// ANCHOR_END: write_lines

// ANCHOR: writer_thread
/// The body of a client's writer thread (given): runs [`write_lines`], then
/// hangs up. A write that stalled means the client is too slow: it leaves
/// the chat, and the room is told.
pub fn writer_thread(
    chat: &SharedChat,
    id: netlings_chat::ClientId,
    stream: &TcpStream,
    lines: &Receiver<Line>,
    stall: Duration,
) {
    let stalled = write_lines(stream, lines, stall).is_err_and(|e| {
        matches!(
            e.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        )
    });
    if stalled {
        lock(chat).leave(id, Leaving::TooSlow);
    }
    // Both ways: the client sees the end of the stream after the last line,
    // and the reader thread, if still blocked in `read`, wakes up.
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
// ANCHOR_END: writer_thread
