//! The server: one client at a time; for each request line, one reply line.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use netlings_kit::accept;

/// How long a client may stay silent, or take to read a reply, before the
/// server gives up on it (`server --idle-ms` changes it).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

// ANCHOR: serve
/// Serves clients one after another, forever: lesson 1's accept loop, with a
/// [`session`] for each client where lesson 1 had an echo.
pub fn serve(listener: TcpListener, idle: Duration) -> io::Result<()> {
    loop {
        // The kit's accept: lesson 1's loop around `listener.accept()`, which
        // logs a failure, and pauses when the next try would only fail the
        // same way.
        let (stream, peer) = accept(&listener);
        eprintln!("{peer}: connected");
        match session(&stream, idle) {
            Ok(()) => eprintln!("{peer}: done, closed"),
            // The message is for people and differs between systems; the kind
            // is what a program decides on. The log shows both.
            Err(e) => eprintln!("{peer}: {e} [{:?}], closed", e.kind()),
        }
        // `stream` is dropped here, which closes the connection.
    }
}
// ANCHOR_END: serve

// ANCHOR: last_words
/// Exercise 2.2: last words before closing — book §2.2.
///
/// Reading from a client failed with `error`, and the server is about to
/// close the connection. Decide what to tell the client first: the text of
/// an `ERR` line (without the `ERR ` and the newline), or `None` when there
/// is nobody left to tell, or nothing the client should hear.
///
/// Decide by the error's kind, never by its message: the message is for
/// people, and differs from one system to the next.
/// - A read timeout — the client said nothing for too long — is
///   `idle timeout`. Unix reports it as `WouldBlock`, Windows as `TimedOut`:
///   both mean the same here.
/// - `InvalidData`: the client broke the protocol, and the error's message
///   says how (`line too long`, `line is not valid UTF-8`): say exactly that.
/// - The client has gone: the stream ended in the middle of a line
///   (`UnexpectedEof`), or the connection was reset or aborted
///   (`ConnectionReset`, `ConnectionAborted`, `BrokenPipe`): `None`.
/// - Any other kind is nothing the client caused or can fix: `None` too. The
///   server's log shows it.
pub fn last_words(error: &io::Error) -> Option<String> {
    let _ = error; // unused until you write the function
    todo!("exercise 2.2: last words before closing — book §2.2")
}
// ANCHOR_END: last_words

// ANCHOR: session
/// Exercise 2.3: answer each command, with an idle timeout — book §2.3.
///
/// Talk with one client on `stream` until it is done: read a request line
/// with [`read_line`](crate::lines::read_line) (2.1), at most
/// [`MAX_LINE`](crate::protocol::MAX_LINE) bytes long, answer it with
/// [`protocol::respond`](crate::protocol::respond), send the reply and a
/// `\n`, and again.
///
/// - Requests may arrive many in one read, or a byte at a time: answer each,
///   in order.
/// - Send each reply and its `\n` in one write: a reply sent in two pieces
///   can wait 40 ms for its second (§2.3).
/// - The idle timeout: no read may wait more than `idle` for the client, and
///   the client must take each reply within `idle` of when you start sending
///   it — a client that goes silent, or never reads, must not hold this
///   one-at-a-time server. Send through
///   [`WriteWithin`](netlings_kit::WriteWithin) (given): its `write_all` has
///   one deadline for the whole reply.
/// - Return `Ok(())` when the client has finished sending between two
///   lines, or after you have sent `BYE`, the reply to `QUIT`.
/// - When reading fails, tell the client why first, if
///   [`last_words`] (2.2) has something to say: send `ERR `, its text and a
///   `\n`, best effort — if that fails too, never mind. Then return the read
///   error, so that the server's log shows it.
/// - A reply that cannot be sent is an error too: return it.
pub fn session(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    let _ = (stream, idle); // unused until you write the function
    todo!("exercise 2.3: answer each command, with an idle timeout — book §2.3")
}
// ANCHOR_END: session
