//! A request's head — request line and header fields — parsed from bytes.
//!
//! ```text
//! GET /index.html HTTP/1.1\r\n          request line: METHOD SP TARGET SP VERSION CRLF
//! Host: 127.0.0.1:7012\r\n              a header field: NAME ":" OWS VALUE OWS CRLF
//! Accept: */*\r\n
//! \r\n                                  an empty line ends the head
//! ```
//!
//! The parser is a pure function over the bytes received so far: it never
//! reads a socket, so it can be tested with any split of any input, and the
//! connection (§12.3) calls it again each time more bytes arrive.

use crate::HttpError;

// ANCHOR: limits
/// The limits a peer's head must keep; see `--help` for the flags.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest request line, CRLF excluded (else 414 URI Too Long).
    pub max_line: usize,
    /// The largest head, request line and every header line included
    /// (else 431 Request Header Fields Too Large).
    pub max_head: usize,
    /// The most header fields (else 431).
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line: 4096,
            max_head: 16 * 1024,
            max_headers: 64,
        }
    }
}
// ANCHOR_END: limits

/// `HTTP/1.0` or `HTTP/1.1`: the two versions this server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

// ANCHOR: request
/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`…: case-sensitive, as sent.
    pub method: String,
    /// The request target as sent, still percent-encoded: `/a%20b.txt?x=1`.
    pub target: String,
    pub version: Version,
    /// The header fields in order, names in lower case (`content-length`),
    /// values without the whitespace around them.
    pub headers: Vec<(String, String)>,
}
// ANCHOR_END: request

impl Request {
    /// The value of the first header field called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of every header field called `name` (lower case).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The characters of a method or a header name (RFC 9110's `tchar`).
pub fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The next line of `buf` from `start`: `Ok(Some(end))` where `buf[end]` is
/// the `\r` of its CRLF, `Ok(None)` if the line is not complete yet, and 400
/// for a line that ends with a bare LF (HTTP wants CRLF: use `nc -C`).
pub fn line_end(buf: &[u8], start: usize) -> Result<Option<usize>, HttpError> {
    let Some(lf) = buf[start..].iter().position(|&b| b == b'\n') else {
        return Ok(None);
    };
    let lf = start + lf;
    if lf == start || buf[lf - 1] != b'\r' {
        return Err(HttpError::bad("a line ends with LF alone; HTTP needs CRLF"));
    }
    Ok(Some(lf - 1))
}

// ANCHOR: parse_head
/// Exercise 12.1: parse a request head — book §12.1.
///
/// Parses the head at the start of `buf` (the bytes received so far):
/// - `Ok(Some((request, n)))` when the whole head is there: `n` is its
///   length, final empty line included, so `buf[n..]` is what follows it
///   (a body, or the next pipelined request);
/// - `Ok(None)` when the head is not complete yet: call again with more;
/// - `Err` as soon as the bytes cannot be a good head, whatever follows:
///   414 if the request line is longer than `limits.max_line`, 431 if the
///   head is longer than `limits.max_head` or has more than
///   `limits.max_headers` fields, 505 for a version other than `HTTP/1.0`
///   or `HTTP/1.1`, and 400 for anything malformed: a line not ending in
///   CRLF, a request line that is not three parts separated by single
///   spaces, a method or field name that is not a token, a target with a
///   control character, a field line without a colon, whitespace before
///   the colon, or a line folded onto the previous one.
///
/// Empty lines before the request line are skipped (count them in the
/// head's length). The given [`line_end`], [`request_line`] and [`field`]
/// find and check one line each.
pub fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(Request, usize)>, HttpError> {
    let mut start = 0;
    while buf[start..].starts_with(b"\r\n") {
        start += 2;
    }
    // The limits hold for an incomplete head too: a peer that never sends
    // its CRLF must not make us buffer without end.
    let Some(end) = line_end(buf, start)? else {
        if buf.len() - start > limits.max_line {
            return Err(HttpError::URI_TOO_LONG);
        }
        if buf.len() > limits.max_head {
            return Err(HttpError::HEAD_TOO_LARGE);
        }
        return Ok(None);
    };
    if end - start > limits.max_line {
        return Err(HttpError::URI_TOO_LONG);
    }
    let (method, target, version) = request_line(&buf[start..end])?;
    let mut request = Request {
        method,
        target,
        version,
        headers: Vec::new(),
    };
    let mut at = end + 2;
    loop {
        let Some(end) = line_end(buf, at)? else {
            if buf.len() > limits.max_head {
                return Err(HttpError::HEAD_TOO_LARGE);
            }
            return Ok(None);
        };
        if end + 2 > limits.max_head {
            return Err(HttpError::HEAD_TOO_LARGE);
        }
        if end == at {
            return Ok(Some((request, end + 2)));
        }
        if request.headers.len() == limits.max_headers {
            return Err(HttpError::HEAD_TOO_LARGE);
        }
        request.headers.push(field(&buf[at..end])?);
        at = end + 2;
    }
}
// ANCHOR_END: parse_head

/// `GET /path HTTP/1.1` (a request line without its CRLF) → its method,
/// target and version; 400 or 505 for anything else (see [`parse_head`]).
pub fn request_line(line: &[u8]) -> Result<(String, String, Version), HttpError> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::bad(
            "the request line is not METHOD SP TARGET SP VERSION",
        ));
    };
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(HttpError::bad("the method is not a token"));
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(HttpError::bad(
            "the target is empty or has a control character",
        ));
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        // Well-formed, just not a version we speak.
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(HttpError::VERSION_NOT_SUPPORTED);
        }
        _ => return Err(HttpError::bad("the version is not HTTP/1.0 or HTTP/1.1")),
    };
    // Both are ASCII by now.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((text(method), text(target), version))
}

/// `Name: value` (a field line without its CRLF) → `("name", "value")`:
/// the name in lower case, the value trimmed of spaces and tabs; 400 for a
/// malformed line (see [`parse_head`]).
pub fn field(line: &[u8]) -> Result<(String, String), HttpError> {
    if line[0] == b' ' || line[0] == b'\t' {
        return Err(HttpError::bad("a folded header line (obs-fold)"));
    }
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(HttpError::bad("a header line without a colon"));
    };
    let name = &line[..colon];
    // `Transfer-Encoding : chunked` is how smuggling starts: a proxy that
    // ignores the field and a server that trims the space disagree.
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return Err(HttpError::bad(
            "a header name is empty or not a token (whitespace before the colon?)",
        ));
    }
    // Optional whitespace is spaces and tabs only: a stray CR is an error.
    let value = &line[colon + 1..];
    let from = value.iter().position(|&b| b != b' ' && b != b'\t');
    let to = value.iter().rposition(|&b| b != b' ' && b != b'\t');
    let value = match (from, to) {
        (Some(from), Some(to)) => &value[from..=to],
        _ => &[],
    };
    if value.iter().any(|&b| b != b'\t' && b.is_ascii_control()) {
        return Err(HttpError::bad("a header value has a control character"));
    }
    Ok((
        String::from_utf8_lossy(name).to_ascii_lowercase(),
        String::from_utf8_lossy(value).into_owned(),
    ))
}
