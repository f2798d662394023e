//! The protocol of tokio's own chat example (`examples/chat.rs` in tokio's
//! repository), for `--protocol tokio-example`: the yardstick lesson 10 is
//! measured against.
//!
//! That server has one room and no commands. It greets each connection
//! with a prompt, and takes the first line as the user's name. From then on
//! each line a user sends goes to *every other* connected user as
//! `NAME: line`, and arrivals and departures are announced to them as
//! `NAME has joined the chat` and `NAME has left the chat`.
//!
//! So with this protocol:
//!
//! - all the clients share the one room: `--room-size` must equal
//!   `--clients`, and each message is expected by every other client
//!   connected when it leaves;
//! - client `i` answers the prompt with the name `c{i}`, then sends the same
//!   timestamped messages as with the course's protocol (see `payload`);
//! - the server's lines are read as the course's [`Incoming`] lines, so
//!   that the clients handle both protocols alike: the prompt and the
//!   arrivals and departures are notices, `NAME: text` is a message.
//!
//! One difference matters when measuring: that server confirms nothing. A
//! client counts as joined once it has sent its name, a moment before the
//! server has registered it, and a message sent in that moment would miss
//! it. Only the last clients to connect can be caught so, just as the
//! sending starts: `--warmup 1` leaves the server time to register everyone
//! before the measuring does.

use std::net::SocketAddr;

use crate::client::connect;
use crate::connection::{Connection, describe};
use crate::payload::Incoming;

/// The first line the server sends to each connection.
pub const PROMPT: &str = "Please enter your username:";

/// Connects, waits for the prompt and answers with client `id`'s name.
/// The error is the reason, as the report shows it.
pub async fn join(addr: SocketAddr, id: u32) -> Result<Connection, String> {
    let mut connection = connect(addr).await?;
    match connection.read_line().await {
        Ok(Some(PROMPT)) => {}
        // The line itself is not shown: the report counts failures by kind.
        Ok(Some(_)) => return Err("no username prompt".into()),
        Ok(None) => return Err("closed before the prompt".into()),
        Err(e) => return Err(describe(&e)),
    }
    let name = format!("{}\n", name(id));
    connection
        .send(name.as_bytes())
        .await
        .map_err(|e| describe(&e))?;
    Ok(connection)
}

/// Client `id`'s name: short, unique, and without `": "`.
pub fn name(id: u32) -> String {
    format!("c{id}")
}

/// Classifies one line of the server (without its `\n`).
pub fn classify(line: &str) -> Incoming<'_> {
    // Our names never contain ": ", so the first one ends the name.
    if let Some((from, text)) = line.split_once(": ") {
        Incoming::Message { from, text }
    } else if line == PROMPT
        || line.ends_with(" has joined the chat")
        || line.ends_with(" has left the chat")
    {
        Incoming::Notice(line)
    } else {
        Incoming::Other(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Payload;

    #[test]
    fn the_servers_lines_are_told_apart() {
        use Incoming::*;
        assert_eq!(classify(PROMPT), Notice(PROMPT));
        assert_eq!(
            classify("c12 has joined the chat"),
            Notice("c12 has joined the chat")
        );
        assert_eq!(
            classify("c12 has left the chat"),
            Notice("c12 has left the chat")
        );
        assert_eq!(
            classify("c7: see: this"),
            Message {
                from: "c7",
                text: "see: this"
            }
        );
        assert_eq!(classify("garbage"), Other("garbage"));
    }

    #[test]
    fn a_payload_survives_the_trip() {
        let payload = Payload {
            client: 7,
            seq: 3,
            sent_at: 41_000,
        };
        let mut line = Vec::new();
        payload.encode(&mut line);
        let line = std::str::from_utf8(&line).unwrap();
        // What the server does with it: `{username}: {msg}`.
        let relayed = format!("{}: {}", name(7), line.trim_end());
        let Incoming::Message { from, text } = classify(&relayed) else {
            panic!("{relayed:?} is a message");
        };
        assert_eq!(from, "c7");
        assert_eq!(Payload::parse(text), Some(payload));
    }
}
