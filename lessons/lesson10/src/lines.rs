//! The chat's lines on a tokio socket: a codec for tokio-util's `Framed`.
//!
//! Lesson 4 wrote a line decoder by hand: a buffer, the bytes pushed into it
//! as they arrive, complete lines taken out, and a `searched` count so that
//! no byte is looked at twice. tokio-util splits that job in two.
//! [`FramedRead`] owns the buffer and reads the socket into it; a *codec*
//! (a [`Decoder`]) looks at the buffer and says where a line ends. Going
//! out, [`FramedWrite`] owns a buffer too, and the codec (an [`Encoder`])
//! appends each line to it; a flush writes the buffer to the socket.
//!
//! Why not tokio-util's own `LinesCodec`? It hands out `String`s, so a line
//! that is not UTF-8 is an error — and a `FramedRead` ends after an error,
//! where the protocol answers `! invalid UTF-8` and keeps the connection.
//! Its length limit differs too: it skips a long line and carries on, where
//! the protocol closes the connection. So the lines stay bytes here, and
//! `Rooms` decides what they mean.

use std::fmt;
use std::io;

use bytes::BytesMut;
use netlings_chat::Line;
use netlings_chat::protocol::MAX_LINE;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

/// The lines a client sends, as they arrive: a `Stream` of
/// `Result<BytesMut, LineError>`, each line without its `\n`.
pub type LinesIn<R = OwnedReadHalf> = FramedRead<R, LineCodec>;

/// The lines a client is sent: a `Sink` of [`Line`]s. Feed it lines, then
/// flush it.
pub type LinesOut<W = OwnedWriteHalf> = FramedWrite<W, LineCodec>;

/// Lines waiting for a client are written together, up to about this many
/// bytes at a time (exercise 10.2).
pub const BATCH_BYTES: usize = 64 * 1024;

/// A client's read buffer starts this small: an idle client costs little,
/// and the buffer grows (up to about a line) if the client needs more.
const READ_BUFFER: usize = 256;

// ANCHOR: framed
/// The lines of a client's read half.
pub fn lines_in<R: AsyncRead>(read: R) -> LinesIn<R> {
    FramedRead::with_capacity(read, LineCodec::default(), READ_BUFFER)
}

/// The lines of a client's write half. Its buffer starts empty and grows
/// with the largest batch; up to [`BATCH_BYTES`], feeding a line only
/// appends it, and only a flush writes.
pub fn lines_out<W: AsyncWrite>(write: W) -> LinesOut<W> {
    let mut out = FramedWrite::with_capacity(write, LineCodec::default(), 0);
    // Past this many unwritten bytes, `feed` writes before it appends.
    out.set_backpressure_boundary(BATCH_BYTES);
    out
}
// ANCHOR_END: framed

/// Why no more lines come from a client.
#[derive(Debug)]
pub enum LineError {
    /// A line longer than [`MAX_LINE`] bytes (not counting its `\n` or
    /// `\r\n`), or that many bytes without a `\n` at all.
    TooLong,
    /// Reading the socket failed: a reset, say.
    Io(io::Error),
}

impl From<io::Error> for LineError {
    fn from(e: io::Error) -> LineError {
        LineError::Io(e)
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::TooLong => write!(f, "a line longer than {MAX_LINE} bytes"),
            LineError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LineError {}

// ANCHOR: codec
/// The chat's lines, both ways: in, `\n`-terminated lines of at most
/// [`MAX_LINE`] bytes (a `\r` before the `\n` stays, `Rooms` drops it);
/// out, [`Line`]s, which carry their own `\n`.
#[derive(Debug, Default)]
pub struct LineCodec {
    /// How many buffered bytes are known to hold no `\n` (lesson 4's
    /// `searched`): a line that arrives in many pieces is searched once.
    searched: usize,
}

impl Decoder for LineCodec {
    type Item = BytesMut;
    type Error = LineError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, LineError> {
        let Some(at) = buf[self.searched..].iter().position(|&b| b == b'\n') else {
            // No `\n` yet: the line is at least this long already. One byte
            // more than MAX_LINE may still be fine: a `\r`, its `\n` to come.
            if buf.len() > MAX_LINE + 1 {
                return Err(LineError::TooLong);
            }
            self.searched = buf.len();
            return Ok(None);
        };
        let end = self.searched + at;
        self.searched = 0;
        // The line leaves the buffer without being copied: `split_to` hands
        // out the front of the same allocation.
        let mut line = buf.split_to(end + 1);
        line.truncate(end);
        let content = line.strip_suffix(b"\r").unwrap_or(&line).len();
        if content > MAX_LINE {
            return Err(LineError::TooLong);
        }
        Ok(Some(line))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, LineError> {
        // The client has finished sending. A last line without its `\n` is
        // dropped, like lesson 8's `read_line` does. (The default would
        // call it an error.)
        let line = self.decode(buf)?;
        if line.is_none() {
            buf.clear();
            self.searched = 0;
        }
        Ok(line)
    }
}

impl Encoder<Line> for LineCodec {
    type Error = io::Error;

    fn encode(&mut self, line: Line, buf: &mut BytesMut) -> io::Result<()> {
        // A copy into the write buffer, and no allocation while the buffer
        // is big enough: the lines of a batch leave in one write.
        buf.extend_from_slice(line.as_bytes());
        Ok(())
    }
}
// ANCHOR_END: codec
