//! Whole messages on a stream: a header, then exactly the body it announces.
//!
//! Given code; it uses your header code from `wire.rs`. Book §"A tour of the
//! given code".

use std::fmt;
use std::io::{self, Read, Write};

use crate::wire::{HEADER_LEN, Header, HeaderError};

// ANCHOR: frame_error
/// Why no message could be read. Each ends the connection: after a framing
/// error we cannot know where the next message would start.
#[derive(Debug)]
pub enum FrameError {
    /// The header was refused (bad magic, unsupported version, body too large).
    Header(HeaderError),
    /// The peer closed the connection in the middle of a message.
    Truncated {
        part: &'static str,
        expected: usize,
        received: usize,
    },
    /// A read waited longer than the stream's read timeout: the peer sent
    /// nothing for that long (the server's idle timeout).
    Idle,
    /// The connection itself failed: a reset, or a reply the peer did not
    /// take in time (a write that ran out of time), ...
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Header(e) => e.fmt(f),
            FrameError::Truncated {
                part,
                expected,
                received,
            } => write!(
                f,
                "truncated {part}: the peer closed the connection after {received} \
                 of its {expected} bytes"
            ),
            FrameError::Idle => write!(f, "the peer sent nothing for too long (read timed out)"),
            FrameError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for FrameError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FrameError::Header(e) => Some(e),
            FrameError::Io(e) => Some(e),
            FrameError::Truncated { .. } | FrameError::Idle => None,
        }
    }
}

// These two let `?` turn either error into a FrameError.
impl From<HeaderError> for FrameError {
    fn from(e: HeaderError) -> Self {
        FrameError::Header(e)
    }
}

impl From<io::Error> for FrameError {
    fn from(e: io::Error) -> Self {
        FrameError::Io(e)
    }
}

/// For code that deals in `io::Result`, such as the client: a refused header
/// or a truncated message is data that is not valid for this protocol.
impl From<FrameError> for io::Error {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::Io(e) => e,
            FrameError::Idle => io::Error::new(io::ErrorKind::TimedOut, FrameError::Idle),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}
// ANCHOR_END: frame_error

// ANCHOR: read_message
/// Reads one message: its validated header and its body.
///
/// `Ok(None)` means the peer closed the connection cleanly, *between* two
/// messages. A close in the middle of one is [`FrameError::Truncated`].
pub fn read_message(reader: &mut impl Read) -> Result<Option<(Header, Vec<u8>)>, FrameError> {
    let mut head = [0u8; HEADER_LEN];
    match read_full(reader, &mut head)? {
        0 => return Ok(None),
        HEADER_LEN => {}
        received => {
            return Err(FrameError::Truncated {
                part: "header",
                expected: HEADER_LEN,
                received,
            });
        }
    }
    // Validate *before* allocating: from here on, body_len <= MAX_BODY.
    let header = Header::decode(&head)?;
    let mut body = vec![0u8; header.body_len()];
    let received = read_full(reader, &mut body)?;
    if received < body.len() {
        return Err(FrameError::Truncated {
            part: "body",
            expected: body.len(),
            received,
        });
    }
    Ok(Some((header, body)))
}

/// Like `read_exact`, but at end of stream it says how many bytes arrived,
/// so that a log can tell "closed between messages" from "closed mid-message";
/// and a read timeout is [`FrameError::Idle`], so that a log can tell a
/// silent peer from one that does not read (a write timeout).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, FrameError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // An expired read timeout: WouldBlock on Unix, TimedOut on Windows.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(FrameError::Idle);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(filled)
}
// ANCHOR_END: read_message

// ANCHOR: write_message
/// Writes one message: the header for `kind`, `id` and `body`, then `body`.
///
/// Header and body go out in a single `write_all`: two small writes would
/// cost two system calls, and perhaps two packets.
pub fn write_message(
    writer: &mut impl Write,
    kind: u8,
    id: u32,
    body: &[u8],
) -> Result<(), FrameError> {
    let header = Header::new(kind, id, body.len())?;
    let mut message = Vec::with_capacity(HEADER_LEN + body.len());
    message.extend_from_slice(&header.encode());
    message.extend_from_slice(body);
    writer.write_all(&message)?;
    Ok(())
}
// ANCHOR_END: write_message
