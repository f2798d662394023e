//! Deadlines, for a loop that must never sleep on one client.
//!
//! Lesson 8 gave each client's threads their own timeouts: a read timeout
//! on the socket, a deadline for each write. One thread serving everybody
//! cannot wait on any one socket, so it keeps every deadline here, and
//! sleeps in the poll until the earliest of them at most.
//!
//! Each connection has at most one timer of each kind, and a timer is
//! not moved when its deadline changes (a client that talks pushes its
//! idle deadline back with every line): when it comes due, the server
//! looks at the connection and sets a new one if the real deadline is
//! later. A heap keeps the earliest on top: adding and taking a timer cost
//! O(log n), whatever the number of clients.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use mio::Token;

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The client may have been silent too long (`--idle-secs`).
    Idle,
    /// The client's output may have stopped moving (`--stall-secs`).
    Stall,
}

// ANCHOR: timers
/// The deadlines of every connection, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer, Token, u64)>>,
}

impl Timers {
    pub fn new() -> Timers {
        Timers::default()
    }

    /// Sets a timer of kind `timer` for the connection `token` whose serial
    /// is `serial` (a token is used again once its connection is closed;
    /// the serial tells a timer of the old connection from one of the new).
    pub fn add(&mut self, at: Instant, timer: Timer, token: Token, serial: u64) {
        self.heap.push(Reverse((at, timer, token, serial)));
    }

    /// When the earliest timer comes due, if there is one.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// How many timers are set.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Keeps only the timers for which `keep(token, serial)` is true: the
    /// server drops those of connections that are gone, which would
    /// otherwise wait in the heap until they come due.
    pub fn retain(&mut self, mut keep: impl FnMut(Token, u64) -> bool) {
        self.heap
            .retain(|Reverse((_, _, token, serial))| keep(*token, *serial));
    }

    /// Takes the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Timer, Token, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, ..))) if *at <= now => {
                let Reverse((_, timer, token, serial)) = self.heap.pop()?;
                Some((timer, token, serial))
            }
            _ => None,
        }
    }
}
// ANCHOR_END: timers
