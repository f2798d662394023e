//! The lesson's line protocol: one request line in, one reply line out.
//!
//! ```text
//! PING                 →  PONG
//! ECHO some text       →  some text
//! UPPER some text      →  SOME TEXT
//! QUIT                 →  BYE            (then the server closes)
//! anything else        →  ERR why it was wrong
//! ```
//!
//! Command words are case-insensitive. Lines end in `\n`; a `\r` before it is
//! ignored, so `nc -C` and telnet work too. Nothing in this file touches a
//! socket: it turns a `&str` into a [`Reply`], which makes it easy to test.

use std::fmt;

// ANCHOR: max_line
/// The longest request line the server accepts, in bytes, not counting its
/// `\n` or `\r\n`: 8 KiB. A peer decides how long its lines are; without a
/// limit, one that never sends `\n` would make the server buffer until memory
/// runs out.
pub const MAX_LINE: usize = 8 * 1024;
// ANCHOR_END: max_line

// ANCHOR: reply
/// The answer to one request line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A line of text: `PONG`, or what ECHO and UPPER give back.
    Text(String),
    /// `ERR <reason>`: the request was wrong; the connection goes on.
    Err(String),
    /// `BYE`: the client said QUIT; the server closes after sending it.
    Bye,
}

impl fmt::Display for Reply {
    /// The reply as it goes on the wire, without the `\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Text(text) => f.write_str(text),
            Reply::Err(reason) => write!(f, "ERR {reason}"),
            Reply::Bye => f.write_str("BYE"),
        }
    }
}
// ANCHOR_END: reply

// ANCHOR: respond
/// Answers one request line (without its `\n`).
pub fn respond(line: &str) -> Reply {
    // "ECHO a b" → ("ECHO", "a b"); "PING" → ("PING", "").
    let (command, argument) = line.split_once(' ').unwrap_or((line, ""));
    match command.to_ascii_uppercase().as_str() {
        "PING" => Reply::Text("PONG".to_string()),
        "ECHO" => Reply::Text(argument.to_string()),
        // Unicode upper case: "café" → "CAFÉ", "straße" → "STRASSE".
        "UPPER" => Reply::Text(argument.to_uppercase()),
        "QUIT" => Reply::Bye,
        "" => Reply::Err(format!("empty request; {COMMANDS}")),
        // {:?} quotes and escapes: a client's control characters never reach
        // the other side's terminal raw.
        _ => Reply::Err(format!("unknown command {command:?}; {COMMANDS}")),
    }
}

/// The end of every `ERR` about a command: what the server does understand.
const COMMANDS: &str = "try PING, ECHO <text>, UPPER <text> or QUIT";
// ANCHOR_END: respond
