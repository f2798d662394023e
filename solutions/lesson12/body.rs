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
use crate::request::{Request, Version};

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
    let codings: Vec<&str> = request
        .headers("transfer-encoding")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let lengths: Vec<&str> = request
        .headers("content-length")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    if !codings.is_empty() {
        if !lengths.is_empty() {
            return Err(HttpError::bad(
                "both Content-Length and Transfer-Encoding: where does the body end?",
            ));
        }
        if request.version == Version::Http10 {
            return Err(HttpError::bad("Transfer-Encoding in an HTTP/1.0 request"));
        }
        let last = codings[codings.len() - 1];
        if !last.eq_ignore_ascii_case("chunked") {
            return Err(HttpError::bad("the last transfer coding is not chunked"));
        }
        if codings.len() > 1 {
            return Err(HttpError::not_implemented(
                "a transfer coding other than chunked",
            ));
        }
        return Ok(Framing::Chunked);
    }
    let Some(first) = lengths.first() else {
        return Ok(Framing::None);
    };
    if lengths.iter().any(|l| l != first) {
        return Err(HttpError::bad("two different Content-Length values"));
    }
    // `parse` alone would take "+5": a proxy may read that differently.
    if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::bad("Content-Length is not a decimal number"));
    }
    match first.parse::<u64>() {
        Ok(n) if n <= max_body => Ok(Framing::Length(n)),
        // Too many digits for a u64 is too large a body, too.
        _ => Err(HttpError::BODY_TOO_LARGE),
    }
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
    let mut at = 0;
    let more = |consumed| {
        Ok(Progress {
            consumed,
            done: false,
        })
    };
    loop {
        let Some(end) = chunk_line(input, at)? else {
            return more(at);
        };
        let line = &input[at..end];
        let size_line = at;
        let digits = line.split(|&b| b == b';').next().unwrap_or(line);
        if digits.is_empty() || digits.len() > 16 || !digits.iter().all(u8::is_ascii_hexdigit) {
            return Err(HttpError::bad("a chunk size is not a hex number"));
        }
        // Hex digits are ASCII; at most 16 of them fit in a u64.
        let size = u64::from_str_radix(std::str::from_utf8(digits).unwrap_or("x"), 16)
            .map_err(|_| HttpError::bad("a chunk size is not a hex number"))?;
        if size > max_body.saturating_sub(body.len()) as u64 {
            return Err(HttpError::BODY_TOO_LARGE);
        }
        let size = size as usize;
        let data = end + 2;
        if size == 0 {
            // The trailer section: field lines we ignore, then an empty line.
            let mut at = data;
            loop {
                let Some(end) = chunk_line(input, at)? else {
                    return more(size_line);
                };
                if end + 2 - data > MAX_TRAILERS {
                    return Err(HttpError::HEAD_TOO_LARGE);
                }
                if end == at {
                    return Ok(Progress {
                        consumed: end + 2,
                        done: true,
                    });
                }
                at = end + 2;
            }
        }
        if input.len() < data + size + 2 {
            return more(at);
        }
        if &input[data + size..data + size + 2] != b"\r\n" {
            return Err(HttpError::bad("chunk data is not followed by CRLF"));
        }
        body.extend_from_slice(&input[data..data + size]);
        at = data + size + 2;
    }
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
