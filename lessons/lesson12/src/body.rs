//! Where a request's body ends: `Content-Length`, or `chunked` coding.
//!
//! ```text
//! POST /api/echo HTTP/1.1\r\n
//! Transfer-Encoding: chunked\r\n
//! \r\n
//! 5\r\n              a chunk: its size in hex, CRLF,
//! hello\r\n          that many bytes, CRLF
//! 0\r\n              the last chunk: size 0,
//! \r\n               then (optional trailer fields and) an empty line
//! ```
//!
//! A server and a proxy in front of it must agree on where each request
//! ends, or a request hidden in another's body reaches the server unseen
//! (request smuggling, book §12.2): so every ambiguous framing is an error.

use crate::HttpError;
use crate::request::Request;

// ANCHOR: framing_enum
/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body: neither `Content-Length` nor `Transfer-Encoding`.
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// Chunks follow, up to the last (empty) chunk: see [`decode_chunked`].
    Chunked,
}
// ANCHOR_END: framing_enum

// ANCHOR: framing
/// Exercise 12.2: where the body ends — book §12.2.
///
/// Decides how the body of `request` is framed, from its
/// `Transfer-Encoding` and `Content-Length` fields (there may be several of
/// each, and each may hold a comma-separated list):
/// - neither: [`Framing::None`];
/// - `Content-Length` alone: every value must be the same decimal number
///   (digits only), else 400; more than `max_body` is 413;
/// - `Transfer-Encoding` alone: its codings (compared without case) must be
///   exactly `chunked` → [`Framing::Chunked`]; if the last coding is not
///   `chunked` the length is unknowable: 400; any other coding before it
///   (`gzip, chunked`) is one this server does not implement: 501. In an
///   HTTP/1.0 request `Transfer-Encoding` is 400;
/// - both: 400, always (the smuggling case).
pub fn framing(request: &Request, max_body: u64) -> Result<Framing, HttpError> {
    let _ = (request, max_body); // unused until you write the function
    todo!("exercise 12.2: where the body ends — book §12.2")
}
// ANCHOR_END: framing

// ANCHOR: progress
/// How far [`decode_chunked`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// How many bytes at the start of the input it used up: drop them, and
    /// call again with what follows (and more) unless `done`.
    pub consumed: usize,
    /// Whether the last chunk and the trailer section were among them.
    pub done: bool,
}
// ANCHOR_END: progress

/// The longest chunk-size line (with its extensions) and trailer line.
pub const MAX_CHUNK_LINE: usize = 1024;

/// The largest trailer section (else 431, like a head too large).
pub const MAX_TRAILERS: usize = 8 * 1024;

// ANCHOR: decode_chunked
/// Exercise 12.2: decode chunks — book §12.2.
///
/// Decodes the complete chunks at the start of `input`, appending their
/// data to `body`, and says how many bytes of `input` it used: only whole
/// chunks (size line, data and CRLF) are consumed, so calling again with the
/// unconsumed rest plus more bytes continues where this call stopped.
/// After the last chunk (`0`), trailer lines are skipped up to the empty
/// line, and `done` is true.
///
/// A size is 1 to 16 hex digits, optionally followed by `;extensions`
/// (ignored). Errors: 400 for a size that is not hex, chunk data not
/// followed by CRLF, or a size or trailer line longer than
/// [`MAX_CHUNK_LINE`]; 413 as soon as a chunk size says the body would
/// grow past `max_body`; 431 for trailers longer than [`MAX_TRAILERS`].
pub fn decode_chunked(
    input: &[u8],
    body: &mut Vec<u8>,
    max_body: usize,
) -> Result<Progress, HttpError> {
    let _ = (input, body, max_body); // unused until you write the function
    todo!("exercise 12.2: decode chunks — book §12.2")
}
// ANCHOR_END: decode_chunked

/// The end of the line at `at` (index of its CR), `None` if incomplete; 400
/// for a bare LF or a line longer than [`MAX_CHUNK_LINE`].
pub fn chunk_line(input: &[u8], at: usize) -> Result<Option<usize>, HttpError> {
    match crate::request::line_end(input, at)? {
        Some(end) if end - at <= MAX_CHUNK_LINE => Ok(Some(end)),
        None if input.len() - at <= MAX_CHUNK_LINE => Ok(None),
        _ => Err(HttpError::bad("a chunk-size or trailer line is too long")),
    }
}
