//! The responder: `lesson07 announce --name NAME`. It announces itself to
//! the group, then answers every "who is there?" it hears — and nothing else.

use std::fmt;
use std::io::{self, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sockets::{open_receiver, open_sender};
use crate::wire::{Kind, MAX_MESSAGE, Message};

// ANCHOR: counts
/// What a responder has heard, counted as it goes: shared with whoever
/// wants to read it (the demo, a test) while `serve` runs.
#[derive(Debug, Default)]
pub struct Counts {
    /// Queries answered (or that it tried to answer).
    pub queries: AtomicU64,
    /// Announcements heard, its own included.
    pub announces: AtomicU64,
    /// Datagrams of another protocol or another version: ignored.
    pub foreign: AtomicU64,
    /// Broken messages of ours, and answers (which are never sent to a
    /// group): ignored.
    pub garbage: AtomicU64,
    /// Lines of log written by [`Responder::log`]: the demo waits for them
    /// before it narrates the next step.
    pub logged: AtomicU64,
}

/// Adds one to `counter` and returns its new value.
pub fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether the `n`th ignored datagram deserves a line of log: the 1st, 2nd,
/// 4th, 8th, ... — a flood of 10,000 writes 14 lines, not 10,000.
pub fn worth_logging(n: u64) -> bool {
    n.is_power_of_two()
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        write!(
            f,
            "{} queries, {} announcements, {} foreign, {} garbage",
            get(&self.queries),
            get(&self.announces),
            get(&self.foreign),
            get(&self.garbage)
        )
    }
}
// ANCHOR_END: counts

// ANCHOR: responder
/// A responder's sockets, its name and its counts.
#[derive(Debug)]
pub struct Responder {
    /// Hears the channel: from [`open_receiver`] (exercise 7.1).
    pub receiver: UdpSocket,
    /// Sends answers and the announcement: from [`open_sender`].
    pub sender: UdpSocket,
    /// The group (or broadcast address) and port it serves.
    pub channel: SocketAddrV4,
    pub name: String,
    pub counts: Counts,
}

impl Responder {
    /// Opens both sockets for `channel` on the interface `iface`. Port 0 in
    /// `channel` becomes the port the receiver really bound.
    pub fn open(channel: SocketAddrV4, iface: Ipv4Addr, name: &str) -> io::Result<Responder> {
        let receiver = open_receiver(channel, iface)?;
        let port = receiver.local_addr()?.port();
        Ok(Responder {
            receiver,
            sender: open_sender(iface)?,
            channel: SocketAddrV4::new(*channel.ip(), port),
            name: name.to_string(),
            counts: Counts::default(),
        })
    }

    /// Writes one line of log to stderr: `NAME: what`. The line goes out in
    /// one write, so that the lines of responders running side by side (the
    /// demo's threads, programs sharing a terminal) never mix.
    pub fn log(&self, what: impl fmt::Display) {
        let line = format!("{}: {what}\n", self.name);
        let _ = io::stderr().write_all(line.as_bytes());
        bump(&self.counts.logged);
    }
}
// ANCHOR_END: responder

impl Responder {
    // ANCHOR: serve
    /// Exercise 7.2: the responder — book §7.2.
    ///
    /// Announce `self.name` once to `self.channel` from `self.sender`, then
    /// forever: receive the next datagram on `self.receiver` and decode it
    /// (`Message::decode`).
    ///
    /// - A query: send `Message::answer(query.nonce, &self.name)` from
    ///   `self.sender` to the address the query came from (not to the group:
    ///   only the asker wants it), count it in `queries` and log
    ///   `answered a query from ADDR`.
    /// - An announcement: count it in `announces`; unless it came from
    ///   `self.sender` (our own, looped back), log `NAME at ADDR announced
    ///   itself`. Never answer it.
    /// - Anything else is ignored, never answered — answering strangers
    ///   would make the responder an amplifier for anyone who forges a source
    ///   address. Count a foreign datagram (`DecodeError::is_foreign`) in
    ///   `foreign`, everything else (garbage, answers) in `garbage`, and log
    ///   `ignored a datagram from ADDR: REASON (COUNTS)` only when the total
    ///   ignored so far is [`worth_logging`]: a flood must not flood the log.
    /// - A failed send (the announcement or an answer) or a failed receive
    ///   concerns one datagram: log it and carry on. `serve` never returns.
    ///
    /// Every line of log goes through [`Responder::log`], which puts the name
    /// first: `alpha: answered a query from 127.0.0.1:40361`.
    pub fn serve(&self) -> io::Result<()> {
        let announcement = Message::announce(&self.name).encode();
        if let Err(e) = self.sender.send_to(&announcement, self.channel) {
            self.log(format!("could not announce to {}: {e}", self.channel));
        }
        let me = self.sender.local_addr()?;
        // One byte more than the longest message: a longer datagram is cut
        // to this size, and then its length no longer matches its header.
        let mut buf = [0u8; MAX_MESSAGE + 1];
        loop {
            let (n, from) = match self.receiver.recv_from(&mut buf) {
                Ok(received) => received,
                Err(e) => {
                    self.log(format!("receive failed: {e}"));
                    continue;
                }
            };
            let reason = match Message::decode(&buf[..n]) {
                Ok(query) if query.kind == Kind::Query => {
                    bump(&self.counts.queries);
                    let answer = Message::answer(query.nonce, &self.name).encode();
                    match self.sender.send_to(&answer, from) {
                        Ok(_) => self.log(format!("answered a query from {from}")),
                        Err(e) => self.log(format!("could not answer {from}: {e}")),
                    }
                    continue;
                }
                Ok(announce) if announce.kind == Kind::Announce => {
                    bump(&self.counts.announces);
                    if from != me {
                        self.log(format!("{} at {from} announced itself", announce.name));
                    }
                    continue;
                }
                // Answers go to whoever asked, never to a group.
                Ok(other) => {
                    bump(&self.counts.garbage);
                    format!("an unexpected {:?}", other.kind)
                }
                Err(e) => {
                    if e.is_foreign() {
                        bump(&self.counts.foreign);
                    } else {
                        bump(&self.counts.garbage);
                    }
                    e.to_string()
                }
            };
            let ignored = self.counts.foreign.load(Ordering::Relaxed)
                + self.counts.garbage.load(Ordering::Relaxed);
            if worth_logging(ignored) {
                self.log(format!(
                    "ignored a datagram from {from}: {reason} ({})",
                    self.counts
                ));
            }
        }
    }
    // ANCHOR_END: serve
}
