//! A client's input: the bytes read from its socket, cut into lines.
//!
//! A non-blocking `read` returns whatever has arrived — half a line, three
//! lines and a bit — or fails with `WouldBlock` when nothing has. So each
//! connection keeps the bytes that are not a whole line yet in a
//! [`LineBuffer`], lesson 4's incremental decoder made for lines, and the
//! event loop takes lines out of it one at a time with [`read_line`].

use std::io::{self, Read};

/// How much one `read` may bring in. Small, because every connection with
/// unread input holds a buffer this size, and a chat line is short.
pub const READ_CHUNK: usize = 4096;

// ANCHOR: line_buffer
/// The input of one connection that is not yet handed out as lines.
///
/// It holds memory only while it holds bytes: a connection that has sent
/// whole lines and is now silent — most of them, most of the time — costs
/// no buffer at all (see [`LineBuffer::release_if_empty`]).
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Where the bytes not yet handed out start.
    start: usize,
    /// How many bytes after `start` are known to hold no `\n`: a line that
    /// arrives in many pieces is searched once, not once per piece.
    searched: usize,
}

impl LineBuffer {
    pub fn new() -> LineBuffer {
        LineBuffer::default()
    }

    /// Reads once from `reader`, adding at most [`READ_CHUNK`] bytes, and
    /// returns what `read` returned: `Ok(0)` at the end of the stream,
    /// `Err` of kind `WouldBlock` when nothing is there for now.
    pub fn fill_from(&mut self, reader: &mut impl Read) -> io::Result<usize> {
        // What was handed out is dropped here: the rest (at most an
        // unfinished line) moves to the front, so the buffer stays small.
        self.buf.drain(..self.start);
        self.start = 0;
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let result = reader.read(&mut self.buf[old..]);
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(old + n);
        result
    }

    /// The next complete line, without its `\n` (a `\r` before it stays),
    /// or `None` if no `\n` has arrived yet.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        let unread = &self.buf[self.start..];
        match unread[self.searched..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = self.start..self.start + self.searched + i;
                self.start = line.end + 1;
                self.searched = 0;
                Some(&self.buf[line])
            }
            None => {
                self.searched = unread.len();
                None
            }
        }
    }

    /// How many bytes are buffered and not handed out: after
    /// [`next_line`](LineBuffer::next_line) returned `None`, the length of
    /// the unfinished line so far.
    pub fn unfinished(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Gives the buffer's memory back if it holds nothing.
    pub fn release_if_empty(&mut self) {
        if self.start == self.buf.len() {
            *self = LineBuffer::default();
        }
    }
}
// ANCHOR_END: line_buffer

// ANCHOR: next
/// What [`read_line`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// A whole line, now in `line`.
    Line,
    /// Nothing more for now: the socket said `WouldBlock`.
    Drained,
    /// A line longer than [`MAX_LINE`](netlings_chat::protocol::MAX_LINE):
    /// the client must be sent away.
    TooLong,
    /// The end of the stream, or an error such as a reset: the client is gone.
    Closed,
}
// ANCHOR_END: next

// ANCHOR: read_line
/// Exercise 9.2: read until WouldBlock — book §9.2.
///
/// Take the next complete line of this client's input out of `input` and
/// copy it into `line` (cleared first), without its `\n` — a `\r` before
/// the `\n` stays, the chat drops it — and return [`Next::Line`]. When
/// `input` holds no complete line, read more from `stream` with
/// [`LineBuffer::fill_from`], as many times as it takes, until there is
/// one or the stream has nothing more for now.
///
/// - A read that fails with `WouldBlock` means nothing more for now:
///   return [`Next::Drained`]. The server calls `read_line` until you do:
///   the poll is edge-triggered, and reports new input only, so whatever
///   you leave in the socket waits there until the client sends more.
/// - `Ok(0)` is the end of the stream, and any other error (a reset)
///   means the client is gone: [`Next::Closed`]. A read interrupted by a
///   signal (`Interrupted`) is simply tried again.
/// - A line longer than [`MAX_LINE`](netlings_chat::protocol::MAX_LINE)
///   bytes, not counting its `\n` or its `\r\n`, is refused:
///   [`Next::TooLong`]. So is a line that is not finished yet but already
///   too long whatever comes next — more than `MAX_LINE + 1` bytes without
///   a `\n` (check before each read): a client that never sends `\n` must
///   not grow the buffer without end.
pub fn read_line(stream: &mut impl Read, input: &mut LineBuffer, line: &mut Vec<u8>) -> Next {
    let _ = (stream, input, line); // unused until you write the function
    todo!("exercise 9.2: read until WouldBlock — book §9.2")
}
// ANCHOR_END: read_line
