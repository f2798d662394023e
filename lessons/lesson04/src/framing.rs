//! Length-prefixed frames: a 4-byte big-endian length, then that many bytes.
//!
//! ```text
//! +----+----+----+----+----+----+----+----+----+
//! | 00 | 00 | 00 | 05 | h  | e  | l  | l  | o  |
//! +----+----+----+----+----+----+----+----+----+
//!  length: u32, big-endian  payload: 5 bytes
//! ```
//!
//! This is exactly what Python's `struct.pack('!I', len(data)) + data`
//! produces, and what tokio-util's `LengthDelimitedCodec` reads by default, so
//! peers written with either interoperate with this one.

use std::io::{self, Write};

// ANCHOR: constants
/// The size of the length prefix: one big-endian `u32`.
pub const HEADER_LEN: usize = 4;

/// The longest payload a [`Decoder`] accepts unless told otherwise: 8 MiB,
/// the same default as tokio-util's `LengthDelimitedCodec`.
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;
// ANCHOR_END: constants

// ANCHOR: write_frame
/// Exercise 4.1: write a frame — book §4.1.
///
/// Write `payload` to `w` as one frame: its length as a 4-byte big-endian
/// (network byte order) unsigned integer, then the payload itself.
///
/// - Every byte of the frame reaches `w`, even when `w` takes only a few
///   bytes per `write` call (a socket does that when its buffer is nearly
///   full).
/// - The header and the payload go to `w` together, in one piece: a writer
///   that takes everything it is offered sees a single `write` call. Two
///   small writes in a row can make TCP hold the second one back (§4.1).
/// - A payload of 4 GiB or more does not fit a 4-byte length: return an
///   error of kind `io::ErrorKind::InvalidInput` and write nothing.
/// - An error from `w` is returned.
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let _ = (w, payload); // unused until you write the function
    todo!("exercise 4.1: write a frame — book §4.1")
}
// ANCHOR_END: write_frame

// ANCHOR: decoder
/// Takes the bytes of a stream as they arrive, in pieces of any size, and
/// hands back the complete frames in them.
///
/// The buffer holds three regions:
///
/// ```text
///   buf: [ already taken out | unread: partial or complete frames ] spare capacity
///          0 ............ start ......................... buf.len()
/// ```
///
/// [`next_frame`](Decoder::next_frame) takes frames from the front of the
/// unread region by moving `start` forward; [`push`](Decoder::push) appends at
/// the end, and now and then moves the unread bytes back to the front.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Where the unread bytes begin; everything before was taken out.
    start: usize,
    max_frame_len: usize,
}

impl Default for Decoder {
    fn default() -> Decoder {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder that refuses payloads longer than [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new() -> Decoder {
        Decoder::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A decoder that refuses payloads longer than `max_frame_len` bytes.
    pub fn with_max_frame_len(max_frame_len: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            start: 0,
            max_frame_len,
        }
    }

    /// The longest payload this decoder accepts.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// How many bytes arrived that are not yet part of a frame taken out:
    /// after the last frame of a stream, 0 means the stream ended cleanly.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// How many bytes the decoder has allocated for its buffer.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    // ANCHOR: push
    /// Appends bytes that just arrived, e.g. `&buf[..n]` after a `read`.
    ///
    /// Take out the complete frames with [`next_frame`](Decoder::next_frame)
    /// after every push: the decoder keeps whatever you push until then.
    pub fn push(&mut self, bytes: &[u8]) {
        // Reclaim the space of the frames already taken out, but only once
        // they fill at least half the buffer. Moving the unread rest to the
        // front then costs at most as many bytes as were taken out since the
        // last move, so every byte is moved O(1) times on average and decoding
        // a whole stream stays linear. (Draining after every frame instead
        // would move the whole rest of the buffer once per frame.)
        if self.start > 0 && self.start >= self.buf.len() - self.start {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }
    // ANCHOR_END: push
}
// ANCHOR_END: decoder

impl Decoder {
    // ANCHOR: frame_len
    /// Exercise 4.2: a length you can trust — book §4.2.
    ///
    /// Return the payload length that `header` declares — a big-endian `u32`,
    /// as [`write_frame`] writes it — if it is at most
    /// [`max_frame_len`](Decoder::max_frame_len) bytes.
    ///
    /// - A payload of exactly the limit is allowed; one byte more is not.
    /// - A longer one is an error of kind `io::ErrorKind::InvalidData` whose
    ///   message gives the declared length and the limit, in decimal: the
    ///   person reading the server's log wants both.
    /// - `header` comes from the peer: it can be anything, up to `ff ff ff ff`
    ///   (4 GiB − 1 bytes).
    pub fn frame_len(&self, header: [u8; HEADER_LEN]) -> io::Result<usize> {
        let _ = header; // unused until you write the function
        todo!("exercise 4.2: a length you can trust — book §4.2")
    }
    // ANCHOR_END: frame_len

    // ANCHOR: next_frame
    /// Exercise 4.3: an incremental decoder — book §4.3.
    ///
    /// Take the first complete frame out of the unread bytes
    /// (`self.buf[self.start..]`) and return its payload. When no frame is
    /// complete yet — the header or the payload has only partly arrived —
    /// return `Ok(None)` and keep every byte: the next
    /// [`push`](Decoder::push) may complete the frame.
    ///
    /// - The payload length is [`frame_len`](Decoder::frame_len)'s (exercise
    ///   4.2). A length over the limit is its error, returned as soon as the
    ///   four header bytes are there: not after waiting for a payload that
    ///   may never come, and with no room reserved for it.
    /// - Take out one frame per call; what follows it stays unread.
    /// - Taking a frame out moves `self.start` past it, and nothing else: the
    ///   cost of a call must not grow with what is buffered behind the frame
    ///   (a whole stream decodes in linear time). `push` reclaims the space.
    /// - A payload of length 0 is a frame like any other.
    /// - The payload borrows the decoder until you call it again.
    pub fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        todo!("exercise 4.3: an incremental decoder — book §4.3")
    }
    // ANCHOR_END: next_frame
}
