//! Reading a line from a byte stream: TCP delivers bytes, the protocol wants lines.

use std::io::{self, BufRead, Read};

// ANCHOR: read_line
/// Exercise 2.1: read a line with a limit — book §2.1.
///
/// Read one line from `reader` and return it without its `\n`, and without
/// the one `\r` that may come just before it (telnet and `nc -C` send
/// `\r\n`). A line may arrive in many pieces, or together with the next
/// lines: what follows the `\n` stays in `reader` for the next call.
///
/// Return:
/// - `Ok(Some(line))` for a complete line of at most `max` bytes, not
///   counting its `\n` or `\r\n` (an empty line is `Some("")`);
/// - `Ok(None)` when the stream ends before the first byte of a line: the
///   peer has finished, cleanly;
/// - an error of kind `io::ErrorKind::InvalidData` with the message
///   `line too long` when the line has more than `max` bytes (whatever
///   they are), or `line is not valid UTF-8` when it is not UTF-8;
/// - an error of kind `io::ErrorKind::UnexpectedEof` when the stream ends in
///   the middle of a line (of at most `max` bytes: a longer one is too long,
///   whether or not the stream goes on);
/// - any other error from `reader` as it is; a read interrupted by a signal
///   (`io::ErrorKind::Interrupted`) is not an error, but a reason to try again.
///
/// A peer decides how long its lines are, so never take more than `max + 2`
/// bytes from `reader` for one line (room for `max` bytes and a `\r\n`):
/// once you have that many without a `\n`, the line is too long — say so at
/// once, without waiting for the rest, which may never come (§2.1).
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<String>> {
    let mut bytes = Vec::new();
    // take() makes read_until stop after max + 2 bytes even without a `\n`:
    // room for the longest allowed line and its `\r\n`, and not one byte
    // more. (read_until itself retries when a read is Interrupted.)
    let limit = (max as u64).saturating_add(2);
    reader.by_ref().take(limit).read_until(b'\n', &mut bytes)?;
    let complete = bytes.last() == Some(&b'\n');
    if complete {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    // Before the end-of-stream check: more than max bytes and no `\n` means
    // the limit is what stopped read_until.
    if bytes.len() > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
    }
    if !complete {
        // No `\n`, so the stream ended: cleanly if nothing came at all.
        if bytes.is_empty() {
            return Ok(None);
        }
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the stream ended in the middle of a line",
        ));
    }
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "line is not valid UTF-8"))
}
// ANCHOR_END: read_line
