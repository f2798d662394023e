//! The chat protocol's lines: what a client may send, parsed, and the fixed
//! lines a server sends. Nothing here does I/O, so all three servers of
//! Part III (threads, mio, tokio) share it, and it is tested on its own.
//!
//! Every line ends in `\n`; a client may end its lines in `\r\n` (as
//! `nc -C` and telnet do) and the `\r` is dropped. Every line the server
//! sends starts with `* ` (a notice), `! ` (an error) or `NAME: ` (a message).

/// The longest line a client may send, in bytes, not counting its `\n` or
/// `\r\n`. A longer one gets [`LINE_TOO_LONG`] and the connection is closed:
/// without a limit, a client that never sends `\n` would grow our buffer
/// without end.
pub const MAX_LINE: usize = 1024;

/// Sent to a client whose line is longer than [`MAX_LINE`], before closing.
pub const LINE_TOO_LONG: &str = "! line too long\n";
/// Sent to a new connection when the server already has `--max-clients`.
pub const SERVER_FULL: &str = "! server full\n";
/// Sent (best effort) to a client that stopped reading, before closing.
pub const TOO_SLOW: &str = "! too slow\n";
/// Sent to a client that was silent for `--idle-secs`, before closing.
pub const IDLE_TIMEOUT: &str = "! idle timeout\n";
/// Sent to every client when the server is asked to stop (Ctrl-C, SIGTERM).
pub const SHUTTING_DOWN: &str = "* server shutting down\n";

/// The room every client starts in.
pub const LOBBY: &str = "lobby";

/// What a client sent, as the server understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// An empty line: ignored.
    Empty,
    /// `/nick NAME` (the name is not checked yet; `""` when missing).
    Nick(&'a str),
    /// `/join ROOM` (not checked yet; `""` when missing).
    Join(&'a str),
    /// `/who`.
    Who,
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
    /// Any other word starting with `/`, e.g. `/x`.
    Unknown(&'a str),
    /// Anything else: a message to the room.
    Message(&'a str),
    /// Bytes that are not UTF-8: answered with `! invalid UTF-8`.
    InvalidUtf8,
}

/// Parses one line, without its `\n` (a trailing `\r` is dropped here).
///
/// ```text
/// b"hello"          → Message("hello")
/// b"/nick ada\r"    → Nick("ada")
/// b"/join"          → Join("")
/// b"/dance now"     → Unknown("/dance")
/// ```
pub fn parse(line: &[u8]) -> Input<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return Input::InvalidUtf8;
    };
    if line.is_empty() {
        return Input::Empty;
    }
    if !line.starts_with('/') {
        return Input::Message(line);
    }
    // "/join  room " → command "/join", argument "room"
    let (command, argument) = match line.split_once(' ') {
        Some((command, rest)) => (command, rest.trim_matches(' ')),
        None => (line, ""),
    };
    match command {
        "/nick" => Input::Nick(argument),
        "/join" => Input::Join(argument),
        "/who" => Input::Who,
        "/help" => Input::Help,
        "/quit" => Input::Quit,
        other => Input::Unknown(other),
    }
}

/// A name is 1 to 16 of `A-Z a-z 0-9 _ -`.
pub fn valid_name(name: &str) -> bool {
    (1..=16).contains(&name.len()) && name.bytes().all(allowed)
}

/// A room is 1 to 32 of `A-Z a-z 0-9 _ -`.
pub fn valid_room(room: &str) -> bool {
    (1..=32).contains(&room.len()) && room.bytes().all(allowed)
}

fn allowed(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

/// The answer to `/help`.
pub const HELP: &str = "\
* commands:
*   /nick NAME   choose your name (1-16 letters, digits, _ or -)
*   /join ROOM   move to another room (1-32 of the same)
*   /who         who is in your room
*   /help        this list
*   /quit        leave
* any other line is a message to everyone in your room
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands_and_messages() {
        assert_eq!(parse(b"hello"), Input::Message("hello"));
        assert_eq!(parse(b"hello\r"), Input::Message("hello"));
        assert_eq!(parse(b" /nick ada"), Input::Message(" /nick ada"));
        assert_eq!(parse(b""), Input::Empty);
        assert_eq!(parse(b"\r"), Input::Empty);
        assert_eq!(parse(b"/nick ada\r"), Input::Nick("ada"));
        assert_eq!(parse(b"/nick"), Input::Nick(""));
        assert_eq!(parse(b"/nick a b"), Input::Nick("a b"));
        assert_eq!(parse(b"/join  room "), Input::Join("room"));
        assert_eq!(parse(b"/who"), Input::Who);
        assert_eq!(parse(b"/help"), Input::Help);
        assert_eq!(parse(b"/quit"), Input::Quit);
        assert_eq!(parse(b"/dance now"), Input::Unknown("/dance"));
        assert_eq!(parse(b"/"), Input::Unknown("/"));
        assert_eq!(parse(b"caf\xe9"), Input::InvalidUtf8);
    }

    #[test]
    fn checks_names_and_rooms() {
        assert!(valid_name("ada_L-1"));
        assert!(valid_name(&"a".repeat(16)));
        assert!(!valid_name(&"a".repeat(17)));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name("ada!"));
        assert!(!valid_name("é"));
        assert!(valid_room(&"r".repeat(32)));
        assert!(!valid_room(&"r".repeat(33)));
        assert!(!valid_room("a/b"));
    }

    #[test]
    fn every_line_the_server_sends_is_a_notice_or_an_error() {
        for line in [
            LINE_TOO_LONG,
            SERVER_FULL,
            TOO_SLOW,
            IDLE_TIMEOUT,
            SHUTTING_DOWN,
        ]
        .into_iter()
        .chain(HELP.lines())
        {
            assert!(line.starts_with("* ") || line.starts_with("! "), "{line:?}");
        }
    }
}
