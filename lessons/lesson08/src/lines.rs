//! Reading one line of the chat protocol from a blocking stream, with a
//! limit. (Lesson 2 wrote this kind of loop; here it is given.)

use std::io::{self, BufRead, Read};

use netlings_chat::protocol::MAX_LINE;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A whole line, now in the buffer, without its `\n`.
    Line,
    /// A line longer than [`MAX_LINE`] bytes: the client must be sent away.
    TooLong,
    /// The client finished sending (a half-finished last line is dropped).
    End,
}

/// Reads the next line into `line` (cleared first), reading at most
/// `MAX_LINE + 2` bytes (the line, `\r`, `\n`), so that a client that never
/// sends `\n` cannot grow `line` without end.
pub fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Next> {
    line.clear();
    let limit = MAX_LINE as u64 + 2;
    reader.by_ref().take(limit).read_until(b'\n', line)?;
    if line.last() != Some(&b'\n') {
        return Ok(if line.len() as u64 == limit {
            Next::TooLong
        } else {
            Next::End
        });
    }
    line.pop();
    let content = line.strip_suffix(b"\r").unwrap_or(line).len();
    Ok(if content > MAX_LINE {
        Next::TooLong
    } else {
        Next::Line
    })
}
