//! The server: one client at a time; for each request line, one reply line.

use std::io::{self, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::lines::read_line;
use crate::protocol::{self, MAX_LINE, Reply};

/// How long a client may stay silent, or leave its replies unread, before the
/// server gives up on it (`server --idle-ms` changes it).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

// ANCHOR: serve
/// Serves clients one after another, forever: lesson 1's accept loop, with a
/// [`session`] for each client where lesson 1 had an echo.
pub fn serve(listener: TcpListener, idle: Duration) -> io::Result<()> {
    loop {
        // accept returns the client's address with the stream: asking the
        // stream later (peer_addr) fails if the client has already reset it.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        eprintln!("{peer}: connected");
        match session(&stream, idle) {
            Ok(()) => eprintln!("{peer}: done, closed"),
            // The message is for people and differs between systems; the kind
            // is what a program decides on. The log shows both.
            Err(e) => eprintln!("{peer}: {e} [{:?}], closed", e.kind()),
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: session
/// Exercise 2.2: answer each command — book §2.2.
///
/// Talk with one client until it is done: read a request line, answer it
/// with [`protocol::respond`], send the reply followed by `\n`, and again.
/// Return `Ok(())` when the client has finished sending (your [`read_line`]
/// says `None`), or after you sent the reply to `QUIT` ([`Reply::Bye`]).
///
/// - First give the stream deadlines: `stream.set_read_timeout(Some(idle))`
///   and `stream.set_write_timeout(Some(idle))`. Without them, a client that
///   says nothing, or never reads its replies, holds this one-at-a-time
///   server forever, and everyone else waits (§2.2, §2.3).
/// - Make one `BufReader::new(stream)` *before* the loop and read every line
///   through it with `read_line(&mut reader, MAX_LINE)`. A `BufReader` may
///   already hold the next lines; one made anew each time round would lose
///   them.
/// - `&TcpStream` is `Read` and `Write`, so the `BufReader` can read through
///   one reference while you write through another: `let mut writer = stream;`.
/// - Send each reply in one `write_all(format!("{reply}\n").as_bytes())`.
///   (`writeln!` on a socket makes one system call per piece of the format.)
/// - When `read_line` fails, the client may deserve an explanation: if
///   [`last_words`] gives you `Some(text)`, send `ERR {text}\n` — and ignore
///   an error from that write, the client may be gone — then return the
///   error from `read_line`. Other errors: return them (`?`).
pub fn session(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    // A client that goes quiet, or stops reading, must not hold us forever.
    stream.set_read_timeout(Some(idle))?;
    stream.set_write_timeout(Some(idle))?;
    // One BufReader for the whole session: after a read it may already hold
    // the start of the next lines, and they must not be lost.
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    loop {
        let line = match read_line(&mut reader, MAX_LINE) {
            Ok(Some(line)) => line,
            // End of stream between two lines: the client is done.
            Ok(None) => return Ok(()),
            Err(e) => {
                if let Some(text) = last_words(&e) {
                    // Best effort: if the client is gone, there is nobody to
                    // tell, and the read error is the one worth reporting.
                    let _ = writer.write_all(format!("ERR {text}\n").as_bytes());
                }
                return Err(e);
            }
        };
        let reply = protocol::respond(&line);
        // The reply and its newline in one write: one system call, and
        // usually one packet.
        writer.write_all(format!("{reply}\n").as_bytes())?;
        if reply == Reply::Bye {
            return Ok(());
        }
    }
}
// ANCHOR_END: session

// ANCHOR: last_words
/// Exercise 2.3: the idle timeout — book §2.3.
///
/// Reading from a client failed with `error`, and [`session`] is about to
/// close the connection. Decide what to tell the client first: the text of
/// an `ERR` line, or `None` when there is no one left to tell.
///
/// Decide by `error.kind()`, an `io::ErrorKind`, never by the message: the
/// message is for people, and differs from one system to the next.
/// - `WouldBlock` or `TimedOut`: the read timeout that [`session`] set has
///   expired — the client said nothing for `idle`. (Unix reports the first,
///   Windows the second.) Say `idle timeout`.
/// - `InvalidData`: the client sent something that breaks the protocol, and
///   your [`read_line`] put the reason in the message: say
///   `error.to_string()` (`line too long`, `line is not valid UTF-8`).
/// - `UnexpectedEof`, `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`:
///   the client has gone — it hung up in the middle of a line, or reset the
///   connection. `None`.
/// - Any other kind is nothing a client caused or can fix: `None` too. The
///   server's log shows it.
pub fn last_words(error: &io::Error) -> Option<String> {
    use io::ErrorKind::*;
    match error.kind() {
        // The read timeout: Unix reports EAGAIN (WouldBlock), Windows
        // WSAETIMEDOUT (TimedOut). Both mean "nothing came in time".
        WouldBlock | TimedOut => Some("idle timeout".to_string()),
        // read_line's own errors: too long, or not UTF-8. The message says which.
        InvalidData => Some(error.to_string()),
        // The client hung up mid-line or reset the connection: nobody listens.
        UnexpectedEof | ConnectionReset | ConnectionAborted | BrokenPipe => None,
        // Our problem, not the client's: the log will show it.
        _ => None,
    }
}
// ANCHOR_END: last_words
