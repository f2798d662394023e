//! What a network error means to the person who reads it.

use std::io;

// ANCHOR: explain
/// Says what `error` means in a plain sentence, for a person rather than a
/// program: "nothing is listening there" rather than "Connection refused
/// (os error 111)".
///
/// It decides by `error.kind()`, never by the message: the message differs
/// from one system to the next, the kind does not. For kinds it has no
/// sentence for, it gives the system's own message.
pub fn explain(error: &io::Error) -> String {
    use io::ErrorKind::*;
    match error.kind() {
        // connect: the address answered, but no socket listens on that port.
        ConnectionRefused => "nothing is listening there".to_string(),
        // connect_timeout, or a read or write timeout (Windows says TimedOut,
        // Unix WouldBlock): the other side said nothing before the deadline.
        TimedOut | WouldBlock => "no answer in time".to_string(),
        // bind: that address and port are taken.
        AddrInUse => "another program has that port".to_string(),
        _ => error.to_string(),
    }
}
// ANCHOR_END: explain
