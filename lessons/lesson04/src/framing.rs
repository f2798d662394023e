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
/// - `u32::try_from(payload.len())` gives the length as a `u32`, or an error
///   for a payload of 4 GiB or more, which a 4-byte prefix cannot describe.
///   Return that as an `io::Error` of kind `io::ErrorKind::InvalidInput`
///   (`io::Error::new(kind, "a message")`).
/// - `len.to_be_bytes()` gives the four bytes, most significant first; `be`
///   is "big-endian", the byte order of Python's `struct.pack('!I', n)`.
/// - Hand the kernel the whole frame in **one** `w.write_all(..)`: build it in
///   a `Vec<u8>` first (`Vec::with_capacity`, `extend_from_slice`). Two small
///   writes in a row (header, then payload) can make TCP wait for an
///   acknowledgement before it sends the second one (Nagle's algorithm, §4.1).
pub fn write_frame<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
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
    // ANCHOR: next_frame
    /// Exercise 4.2: an incremental decoder — book §4.2.
    ///
    /// Return the payload of the first complete frame among the unread bytes
    /// (`self.buf[self.start..]`) and move `self.start` past that frame. If
    /// there is no complete frame yet — the header or the payload has only
    /// partly arrived — return `Ok(None)` and keep those bytes for the next
    /// call: the next [`push`](Decoder::push) may complete them.
    ///
    /// - `unread.first_chunk::<HEADER_LEN>()` gives `Some(&[u8; 4])` once the
    ///   four header bytes are there.
    /// - `u32::from_be_bytes(header)` turns them into the payload length —
    ///   and once you have written exercise 4.3, `self.frame_len(header)?`
    ///   does that *and* refuses a length over the limit. Check the length as
    ///   soon as you have the header, not after the payload arrived.
    /// - `slice.get(a..b)` is `None` when the slice is too short: no panic.
    /// - Do not remove the frame from `self.buf` (`drain` moves everything
    ///   after it, once per frame: quadratic). Advancing `self.start` is
    ///   enough; `push` reclaims the space.
    /// - The payload you return borrows the decoder: use it (or copy it with
    ///   `.to_vec()`) before the next call.
    pub fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        todo!("exercise 4.2: an incremental decoder — book §4.2")
    }
    // ANCHOR_END: next_frame

    // ANCHOR: frame_len
    /// Exercise 4.3: a maximum frame length — book §4.3.
    ///
    /// Return the payload length that `header` declares (a big-endian `u32`)
    /// if it is at most `self.max_frame_len` bytes. Otherwise return an
    /// `io::Error` of kind `io::ErrorKind::InvalidData` whose message gives
    /// the declared length and the limit. Then use this in
    /// [`next_frame`](Decoder::next_frame) instead of `u32::from_be_bytes`.
    ///
    /// - A peer can declare any length up to 4 GiB − 1 (`0xFFFFFFFF`). If the
    ///   decoder believed it, one 4-byte message would make it wait for, and
    ///   buffer, four gigabytes. Refuse it here, before anything is
    ///   allocated; the connection is then out of sync, so the caller closes it.
    /// - A payload of exactly `max_frame_len` bytes is allowed.
    /// - `usize::try_from(len)` converts without assuming `usize` is 64 bits.
    pub fn frame_len(&self, header: [u8; HEADER_LEN]) -> io::Result<usize> {
        todo!("exercise 4.3: a maximum frame length — book §4.3")
    }
    // ANCHOR_END: frame_len
}
