//! The head of an answer: status line and header fields, written into a
//! buffer that the body (when it is small) follows, so that a whole answer
//! leaves in one `write`.
//!
//! ```text
//! HTTP/1.1 200 OK\r\n
//! Date: Mon, 30 Nov 2026 13:10:42 GMT\r\n
//! Content-Type: text/html; charset=utf-8\r\n
//! Content-Length: 1234\r\n
//! \r\n
//! ```

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The reason phrase of a status code.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// What the `Connection` field of an answer says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// Nothing: an HTTP/1.1 connection stays open by default.
    Default,
    /// `Connection: keep-alive`: an HTTP/1.0 client asked to keep it open.
    KeepAlive,
    /// `Connection: close`: the server closes after this answer.
    Close,
}

/// How the end of an answer's body is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// `Content-Length: N` (also for a HEAD or 304 answer: the length the
    /// body would have).
    Known(u64),
    /// `Transfer-Encoding: chunked`: the body follows as chunks.
    Chunked,
    /// Neither field: no body at all (1xx, 204, 304 without a length).
    None,
}

// ANCHOR: write_head
/// Appends a response head to `out`: status line, `Date`, `Server`, then
/// `fields`, the length and `Connection`, then the empty line.
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    fields: &[(&str, &str)],
    length: Length,
    persistence: Persistence,
) {
    // Writing into a Vec<u8> cannot fail; write! needs fmt::Write, so
    // format through a small adapter instead of a String per field.
    let mut w = VecWriter(out);
    let _ = write!(w, "HTTP/1.1 {status} {}\r\n", reason(status));
    with_date(|date| w.0.extend_from_slice(date.as_bytes()));
    w.0.extend_from_slice(b"Server: netlings-lesson12\r\n");
    for (name, value) in fields {
        let _ = write!(w, "{name}: {value}\r\n");
    }
    match length {
        Length::Known(n) => {
            let _ = write!(w, "Content-Length: {n}\r\n");
        }
        Length::Chunked => w.0.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Length::None => {}
    }
    match persistence {
        Persistence::Default => {}
        Persistence::KeepAlive => w.0.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persistence::Close => w.0.extend_from_slice(b"Connection: close\r\n"),
    }
    w.0.extend_from_slice(b"\r\n");
}
// ANCHOR_END: write_head

/// Appends `body` to `out` in chunked coding: chunks of at most `size`
/// bytes, then the last chunk.
pub fn write_chunked(out: &mut Vec<u8>, body: &[u8], size: usize) {
    for chunk in body.chunks(size.max(1)) {
        let _ = write!(VecWriter(out), "{:x}\r\n", chunk.len());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
}

struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

thread_local! {
    /// The `Date` line of the current second, made once a second per
    /// thread rather than once per answer.
    static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Calls `f` with `Date: <now>\r\n`.
fn with_date(f: impl FnOnce(&str)) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        if date.0 != now {
            *date = (now, format!("Date: {}\r\n", http_date(now)));
        }
        f(&date.1);
    });
}

/// A time as HTTP writes it (RFC 9110's IMF-fixdate):
/// `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn http_date(unix_secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    // Howard Hinnant's days_from_civil, backwards: days since 1970-01-01
    // to year, month, day in the proleptic Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
