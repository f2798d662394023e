//! The reader thread: one per client, it reads the client's lines and hands
//! each one to the shared chat.

use std::io::BufReader;
use std::io::ErrorKind::{TimedOut, WouldBlock};
use std::net::TcpStream;

use netlings_chat::protocol::{IDLE_TIMEOUT, LINE_TOO_LONG};
use netlings_chat::{ClientId, Leaving};

use crate::chat::{SharedChat, lock};
use crate::lines::{Next, read_line};

// ANCHOR: serve_client
/// Exercise 8.3: the reader thread — book §8.3.
///
/// Read client `id`'s lines from `stream` with [`read_line`](crate::lines::read_line) and hand each
/// one to the chat ([`Chat::handle`](crate::chat::Chat::handle)), until the
/// client leaves; return why. `stream` has a read timeout: the idle limit.
///
/// - Hold the chat's lock only while you call the chat — never while you
///   wait for the client — or one silent client stops everybody.
/// - `handle` returns true when the client sent `/quit`: return
///   [`Leaving::Gone`].
/// - A line too long: tell the client [`LINE_TOO_LONG`](netlings_chat::protocol::LINE_TOO_LONG) (with
///   [`Chat::tell`](crate::chat::Chat::tell), so it is queued after what
///   the client was already sent), then return [`Leaving::Gone`].
/// - A read that timed out (kind `WouldBlock` or `TimedOut`, depending on
///   the platform) means the client was idle: tell it [`IDLE_TIMEOUT`](netlings_chat::protocol::IDLE_TIMEOUT) and
///   return [`Leaving::Idle`].
/// - The end of the stream, or any other error (a reset): [`Leaving::Gone`].
pub fn serve_client(chat: &SharedChat, id: ClientId, stream: &TcpStream) -> Leaving {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        match read_line(&mut reader, &mut line) {
            Ok(Next::Line) => {
                if lock(chat).handle(id, &line) {
                    return Leaving::Gone;
                }
            }
            Ok(Next::TooLong) => {
                lock(chat).tell(id, LINE_TOO_LONG);
                return Leaving::Gone;
            }
            Ok(Next::End) => return Leaving::Gone,
            // A read timeout is `WouldBlock` on Unix, `TimedOut` on Windows.
            Err(e) if matches!(e.kind(), WouldBlock | TimedOut) => {
                lock(chat).tell(id, IDLE_TIMEOUT);
                return Leaving::Idle;
            }
            Err(_) => return Leaving::Gone,
        }
    }
}
// ANCHOR_END: serve_client
