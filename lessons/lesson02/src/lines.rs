//! Reading a line from a byte stream: TCP delivers bytes, the protocol wants lines.

use std::io::{self, BufRead};

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
    let _ = (reader, max); // unused until you write the function
    todo!("exercise 2.1: read a line with a limit — book §2.1")
}
// ANCHOR_END: read_line
