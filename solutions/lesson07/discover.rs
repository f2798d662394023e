//! The asker: `lesson07 discover`. One query to the group, then every
//! answer that comes back within a window, each responder listed once.

use std::fmt;
use std::io;
use std::net::{SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use crate::wire::{Kind, MAX_MESSAGE, Message, timed_out};

// ANCHOR: discovery
/// One responder that answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// Where its answer came from: the responder's own address.
    pub addr: SocketAddr,
    /// From sending the query to receiving this answer.
    pub rtt: Duration,
}

/// What one discovery found, and what it heard besides.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Each responder once, sorted by name, then address.
    pub found: Vec<Found>,
    /// Answers from a responder already found: dropped.
    pub duplicates: u32,
    /// Datagrams that were not an answer to this query: garbage, foreign
    /// datagrams, answers to another query (another nonce).
    pub ignored: u32,
}
// ANCHOR_END: discovery

// ANCHOR: discover
/// Exercise 7.3: the collecting client — book §7.3.
///
/// Send one query (`Message::query()`) on `socket` (from `open_sender`)
/// to `channel`, then collect the answers that arrive on `socket` until
/// `window` has passed since the query was sent, and return them.
///
/// - An answer to *this* query is a message of kind `Answer` with the
///   query's nonce. Its round-trip time is the time from the send to its
///   arrival; its address, the address it came from.
/// - Each responder — a name at an address — is listed once: a second answer
///   from it counts in `duplicates`. Anything else that arrives counts in
///   `ignored`, and the collecting goes on.
/// - `window` bounds the whole call, however many datagrams arrive meanwhile:
///   a peer that chatters cannot keep it waiting. A silent network gives an
///   empty list once the window has passed: that is not an error.
/// - `found` is sorted by name, then address.
/// - A receive that timed out ends the window (`wire::timed_out` knows how
///   each system says so); one interrupted by a signal is retried; any other
///   failure, of the send or of a receive, is returned.
pub fn discover(
    socket: &UdpSocket,
    channel: SocketAddrV4,
    window: Duration,
) -> io::Result<Discovery> {
    let query = Message::query();
    // The clock starts before the send: on loopback the answers may be back
    // before send_to even returns.
    let sent = Instant::now();
    socket.send_to(&query.encode(), channel)?;
    let deadline = sent + window;
    let mut discovery = Discovery::default();
    let mut buf = [0u8; MAX_MESSAGE + 1];
    loop {
        // The deadline is for the whole collection, not for each receive.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left))?;
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if timed_out(&e) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let rtt = sent.elapsed();
        match Message::decode(&buf[..n]) {
            Ok(answer) if answer.kind == Kind::Answer && answer.nonce == query.nonce => {
                let known = discovery
                    .found
                    .iter()
                    .any(|f| f.name == answer.name && f.addr == from);
                if known {
                    discovery.duplicates += 1;
                } else {
                    discovery.found.push(Found {
                        name: answer.name,
                        addr: from,
                        rtt,
                    });
                }
            }
            // Garbage, a stranger, or the answer to someone else's query.
            _ => discovery.ignored += 1,
        }
    }
    discovery
        .found
        .sort_by(|a, b| (&a.name, a.addr).cmp(&(&b.name, b.addr)));
    Ok(discovery)
}
// ANCHOR_END: discover

// ANCHOR: table
/// The table `discover` prints:
///
/// ```text
/// NAME   ADDRESS          RTT
/// alpha  127.0.0.1:41000  0.112 ms
/// beta   127.0.0.1:41002  0.131 ms
/// 2 responders (0 duplicates, 0 ignored)
/// ```
impl fmt::Display for Discovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name_width = self.found.iter().map(|r| r.name.chars().count()).max();
        let name_width = name_width.unwrap_or(0).max(4);
        let addr_width = self.found.iter().map(|r| r.addr.to_string().len()).max();
        let addr_width = addr_width.unwrap_or(0).max(7);
        writeln!(f, "{:name_width$}  {:addr_width$}  RTT", "NAME", "ADDRESS")?;
        for found in &self.found {
            writeln!(
                f,
                "{:name_width$}  {:addr_width$}  {:.3} ms",
                found.name,
                found.addr.to_string(),
                found.rtt.as_secs_f64() * 1000.0
            )?;
        }
        let responders = match self.found.len() {
            1 => "1 responder".to_string(),
            n => format!("{n} responders"),
        };
        write!(
            f,
            "{responders} ({} duplicates, {} ignored)",
            self.duplicates, self.ignored
        )
    }
}
// ANCHOR_END: table
