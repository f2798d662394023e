//! One TCP connection to the chat server, read as lines and written with a
//! deadline.
//!
//! Like mini-redis's `Connection`, it keeps its own read buffer instead of
//! wrapping the stream in a `BufReader`, for two reasons:
//!
//! - [`Connection::read_more`] is *cancel safe*: a client waits for the
//!   server and for its next send time at once (`tokio::select!`), and when
//!   the timer wins, the read is dropped mid-way. `read_buf` guarantees that
//!   a dropped read took no bytes, and everything already read stays in our
//!   buffer, so no line is ever lost. (`BufReader::read_line` does not make
//!   that promise.)
//! - The buffer has a limit. A server that never sends `\n` would otherwise
//!   grow it without end, ten thousand times over.

use std::io;
use std::time::Duration;

use netlings_chat::protocol::MAX_LINE;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The longest line we accept from the server: a message of [`MAX_LINE`]
/// bytes, plus the sender's name (at most 16 bytes) and `": "`, with room
/// to spare.
pub const MAX_SERVER_LINE: usize = MAX_LINE + 64;

/// How much room to make before each read. Chat lines are short, so a
/// small buffer keeps ten thousand idle clients cheap; it grows only for
/// a long line.
const READ_SIZE: usize = 512;

/// How long one line may take to leave. A server that stops reading fills
/// the socket's buffers, and then `write_all` would wait for ever.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet handed out as lines start at `buf[start]`.
    buf: Vec<u8>,
    start: usize,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Connection {
        Connection {
            stream,
            buf: Vec::with_capacity(READ_SIZE),
            start: 0,
        }
    }

    /// Reads whatever the server sent next into the buffer. Returns the
    /// number of bytes read: 0 means the server closed the connection.
    ///
    /// Cancel safe (see the module's doc): use it in `tokio::select!`, then
    /// take the complete lines with [`Connection::next_line`].
    pub async fn read_more(&mut self) -> io::Result<usize> {
        // Forget the lines already handed out, so the buffer holds at most
        // one partial line before we read.
        self.buf.drain(..self.start);
        self.start = 0;
        self.buf.reserve(READ_SIZE);
        self.stream.read_buf(&mut self.buf).await
    }

    /// The next complete line in the buffer, without its `\n`, or `None`
    /// until more is read. An `InvalidData` error for a line longer than
    /// [`MAX_SERVER_LINE`] or not UTF-8.
    pub fn next_line(&mut self) -> io::Result<Option<&str>> {
        match self.line_length()? {
            Some(length) => self.take_line(length).map(Some),
            None => Ok(None),
        }
    }

    /// Waits for the next line; `None` if the server closed the connection.
    /// Not cancel safe by itself, but cancelling only loses the line being
    /// waited for: use it where the whole connection is abandoned on
    /// timeout, as when joining.
    pub async fn read_line(&mut self) -> io::Result<Option<&str>> {
        loop {
            if let Some(length) = self.line_length()? {
                return self.take_line(length).map(Some);
            }
            if self.read_more().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Sends `line` (which ends in `\n`) within [`WRITE_TIMEOUT`].
    pub async fn send(&mut self, line: &[u8]) -> io::Result<()> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(line)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "write stalled: the server stopped reading",
            )),
        }
    }

    /// How long the first complete line is, if there is one.
    fn line_length(&self) -> io::Result<Option<usize>> {
        let pending = &self.buf[self.start..];
        match pending.iter().position(|&b| b == b'\n') {
            Some(length) if length <= MAX_SERVER_LINE => Ok(Some(length)),
            None if pending.len() <= MAX_SERVER_LINE => Ok(None),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {MAX_SERVER_LINE} bytes"),
            )),
        }
    }

    fn take_line(&mut self, length: usize) -> io::Result<&str> {
        let line = &self.buf[self.start..self.start + length];
        self.start += length + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        std::str::from_utf8(line)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a line that is not UTF-8"))
    }
}

/// A short name for what went wrong, to count alike failures together in
/// the report: `refused`, `reset`, …
pub fn describe(error: &io::Error) -> String {
    use io::ErrorKind::*;
    match error.kind() {
        ConnectionRefused => "refused".into(),
        ConnectionReset | ConnectionAborted => "reset".into(),
        UnexpectedEof | BrokenPipe => "closed".into(),
        TimedOut => "timed out".into(),
        // Every connection to one address takes a local port of its own.
        AddrNotAvailable => "no local port left".into(),
        _ => error.to_string(),
    }
}
