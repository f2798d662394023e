//! What the clients say to each other, and how to read what the server
//! sends.
//!
//! Every message a client sends is `m <client> <seq> <micros>`: who sent
//! it, its number, and when, in microseconds since this tool started. The
//! server passes it on as `guest7: m 3 41 1520333`. Because sender and
//! receiver are the same process, the receiver subtracts the send time from
//! its own clock and gets the delivery latency: no clock synchronisation,
//! no table of messages in flight.

use std::io::Write;

/// One message, as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    /// The sending client's number (0 … N−1).
    pub client: u32,
    /// The sender's message counter.
    pub seq: u32,
    /// When it was sent, in microseconds since the tool started.
    pub sent_at: u64,
}

impl Payload {
    /// Appends the line to send, with its `\n`, to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, "m {} {} {}", self.client, self.seq, self.sent_at);
    }

    /// Reads a message's text back; `None` if it is not one of ours.
    pub fn parse(text: &str) -> Option<Payload> {
        let mut words = text.strip_prefix("m ")?.split(' ');
        let payload = Payload {
            client: words.next()?.parse().ok()?,
            seq: words.next()?.parse().ok()?,
            sent_at: words.next()?.parse().ok()?,
        };
        words.next().is_none().then_some(payload)
    }
}

/// A line from the server, by its kind.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// `* …`: someone joined or left, a welcome, a confirmation.
    Notice(&'a str),
    /// `! …`: the server complains (`too slow`, `server full`, …).
    Error(&'a str),
    /// `NAME: text`: a message from another member of the room.
    Message { from: &'a str, text: &'a str },
    /// Anything else: not the chat protocol.
    Other(&'a str),
}

impl<'a> Incoming<'a> {
    /// Classifies one line (without its `\n`).
    pub fn classify(line: &'a str) -> Incoming<'a> {
        if let Some(notice) = line.strip_prefix("* ") {
            Incoming::Notice(notice)
        } else if let Some(error) = line.strip_prefix("! ") {
            Incoming::Error(error)
        } else if let Some((from, text)) = line.split_once(": ") {
            // Names are letters, digits, `_` and `-`, so the first ": " ends
            // the name whatever the text holds.
            Incoming::Message { from, text }
        } else {
            Incoming::Other(line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_survives_the_trip() {
        let payload = Payload {
            client: 9_999,
            seq: 41,
            sent_at: 1_520_333,
        };
        let mut line = Vec::new();
        payload.encode(&mut line);
        assert_eq!(line, b"m 9999 41 1520333\n");
        let line = std::str::from_utf8(&line).unwrap();
        let relayed = format!("guest7: {}", line.trim_end());
        let Incoming::Message { from, text } = Incoming::classify(&relayed) else {
            panic!("{relayed:?} is a message");
        };
        assert_eq!(from, "guest7");
        assert_eq!(Payload::parse(text), Some(payload));
    }

    #[test]
    fn other_texts_are_not_payloads() {
        for text in [
            "",
            "m",
            "m 1 2",
            "m 1 2 3 4",
            "m 1 2 x",
            "m -1 2 3",
            "hello",
            "m  1 2 3",
        ] {
            assert_eq!(Payload::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn lines_are_told_apart() {
        use Incoming::*;
        assert_eq!(
            Incoming::classify("* you joined r0 (3 here)"),
            Notice("you joined r0 (3 here)")
        );
        assert_eq!(Incoming::classify("! too slow"), Error("too slow"));
        assert_eq!(
            Incoming::classify("ada: see: this"),
            Message {
                from: "ada",
                text: "see: this"
            }
        );
        assert_eq!(Incoming::classify("garbage"), Other("garbage"));
    }
}
