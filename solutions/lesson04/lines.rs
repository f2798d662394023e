//! Delimiter frames: each message ends with a `\n`, like the lines of lesson 2.
//!
//! Easy to read and to type into `nc`, but a payload must never contain the
//! delimiter itself: binary data has to be escaped first ([`escape`]).

use std::io;

/// The longest line a [`LineDecoder`] accepts unless told otherwise.
pub const DEFAULT_MAX_LINE_LEN: usize = 64 * 1024;

// ANCHOR: line_decoder
/// Takes the bytes of a stream as they arrive and hands back complete lines.
///
/// The same buffer as [`Decoder`](crate::framing::Decoder)'s, plus one number:
/// how far past `start` we already know there is no `\n`.
#[derive(Debug)]
pub struct LineDecoder {
    buf: Vec<u8>,
    /// Where the unread bytes begin; everything before was taken out.
    start: usize,
    /// How many unread bytes (from `start` on) were already searched for a
    /// `\n` without finding one.
    searched: usize,
    max_line_len: usize,
}

impl Default for LineDecoder {
    fn default() -> LineDecoder {
        LineDecoder::new()
    }
}

impl LineDecoder {
    /// A decoder that refuses lines longer than [`DEFAULT_MAX_LINE_LEN`].
    pub fn new() -> LineDecoder {
        LineDecoder::with_max_line_len(DEFAULT_MAX_LINE_LEN)
    }

    /// A decoder that refuses lines longer than `max_line_len` bytes (not
    /// counting the `\n`).
    pub fn with_max_line_len(max_line_len: usize) -> LineDecoder {
        LineDecoder {
            buf: Vec::new(),
            start: 0,
            searched: 0,
            max_line_len,
        }
    }

    /// The longest line this decoder accepts, not counting the `\n`.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// How many bytes arrived that are not yet part of a line taken out.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many bytes the decoder has allocated for its buffer.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Appends bytes that just arrived. Take out the complete lines with
    /// [`next_line`](LineDecoder::next_line) after every push.
    pub fn push(&mut self, bytes: &[u8]) {
        // Same bookkeeping as Decoder::push. `searched` counts from `start`,
        // so moving the unread bytes to the front does not change it.
        debug_assert!(
            self.searched <= self.buffered(),
            "LineDecoder: `searched` ({}) counts unread bytes, but only {} are unread",
            self.searched,
            self.buffered()
        );
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }
}
// ANCHOR_END: line_decoder

impl LineDecoder {
    // ANCHOR: next_line
    /// Exercise 4.4: delimiter framing — book §4.4.
    ///
    /// Take the first complete line out of the unread bytes
    /// (`self.buf[self.start..]`) and return it without its `\n`. When no
    /// `\n` has arrived yet, return `Ok(None)` and keep every byte.
    ///
    /// - A line may hold at most `self.max_line_len` bytes, not counting the
    ///   `\n`. A longer one is an error of kind `io::ErrorKind::InvalidData`
    ///   whose message gives the limit — as soon as you can tell, which is
    ///   often *before* its `\n` arrives: a peer that never sends one must
    ///   not fill your memory.
    /// - Take out one line per call; what follows it stays unread. An empty
    ///   line is a line.
    /// - A `\r` before the `\n` stays part of the line: the caller decides.
    /// - Look at each byte once: a long line that arrives in small pieces
    ///   must not be searched from its start again after every piece
    ///   (`self.searched` is there to remember how far you got). Taking a
    ///   line out moves `self.start` past its `\n`, as in
    ///   [`Decoder::next_frame`](crate::framing::Decoder::next_frame).
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        let unread = &self.buf[self.start..];
        // Pick up the search where the last call stopped.
        let newline = unread[self.searched..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| self.searched + i);
        // Without a `\n` yet, the line is at least as long as what we have.
        let len = newline.unwrap_or(unread.len());
        if len > self.max_line_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line longer than {} bytes", self.max_line_len),
            ));
        }
        match newline {
            Some(end) => {
                self.start += end + 1;
                self.searched = 0;
                Ok(Some(&unread[..end]))
            }
            None => {
                self.searched = unread.len();
                Ok(None)
            }
        }
    }
    // ANCHOR_END: next_line
}

// ANCHOR: escape
/// Makes any bytes safe to send as one line: `\` becomes `\\` and a newline
/// byte becomes `\n` (a backslash and the letter n). The result contains no
/// newline byte, so a [`LineDecoder`] cannot split it.
pub fn escape(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len());
    for &b in payload {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
    out
}

/// Undoes [`escape`]. A backslash followed by anything but `\` or `n`, or at
/// the very end, is an `InvalidData` error: the line was not escaped by us.
pub fn unescape(line: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(line.len());
    let mut bytes = line.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            Some(&other) => return Err(bad_escape(&format!("byte {other:#04x}"))),
            None => return Err(bad_escape("the end of the line")),
        }
    }
    Ok(out)
}

fn bad_escape(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad escape: a backslash followed by {what}"),
    )
}
// ANCHOR_END: escape
