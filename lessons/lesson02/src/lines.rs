//! Reading a line from a byte stream: TCP delivers bytes, the protocol wants lines.

use std::io::{self, BufRead, Read};

// ANCHOR: read_line
/// Exercise 2.1: read a line with a limit — book §2.1.
///
/// Read one line from `reader` and return it without its `\n`, and without
/// the `\r` that may come just before it (telnet and `nc -C` send `\r\n`).
/// A line may arrive in many pieces, or together with the next lines: that is
/// what the `BufRead` is for. Never look more than `max + 2` bytes ahead for
/// the `\n` (room for `max` bytes and a `\r\n`): a peer that never sends one
/// must not make you buffer without end.
///
/// Return:
/// - `Ok(Some(line))` for a complete line of at most `max` bytes, not
///   counting its `\n` or `\r\n` (an empty line is `Some("")`);
/// - `Ok(None)` when the stream ends before the first byte of a line: the
///   peer has finished, cleanly;
/// - an error of kind `io::ErrorKind::InvalidData` when the line is longer
///   than `max` bytes (message: `line too long`) — decide that as soon as you
///   have `max + 2` bytes without a `\n`, do not wait for the rest — or when
///   it is not UTF-8 (message: `line is not valid UTF-8`);
/// - an error of kind `io::ErrorKind::UnexpectedEof` when the stream ends in
///   the middle of a line.
///
/// - `reader.read_until(b'\n', &mut bytes)` appends bytes up to and including
///   the `\n` — however many reads that takes — or up to the end of the
///   stream. It has no limit of its own, but `reader.by_ref().take(n)` is a
///   reader that stops after `n` bytes, and it is a `BufRead` too.
/// - `String::from_utf8(bytes)` checks the encoding.
/// - `io::Error::new(io::ErrorKind::InvalidData, "line too long")` makes an
///   error.
/// - `BufRead::lines()` and `read_line` look made for this, but they have no
///   limit: the chapter's "Every buffer a peer can grow needs a limit" shows
///   how a single `nc` can fill your server's memory.
pub fn read_line(reader: &mut impl BufRead, max: usize) -> io::Result<Option<String>> {
    todo!("exercise 2.1: read a line with a limit — book §2.1")
}
// ANCHOR_END: read_line
