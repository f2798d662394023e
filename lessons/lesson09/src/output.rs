//! A client's output: the lines waiting to be written to its socket.
//!
//! A non-blocking `write` takes what fits in the socket's send buffer —
//! all of it, a part, or nothing (`WouldBlock`) — and returns at once. What
//! it did not take must wait, in order, until the socket is writable
//! again. That waiting room is the [`Outbox`]: in lesson 8 it was a
//! channel and a writer thread; here it is a queue that the event loop
//! writes from whenever the poll says the socket has room.

use std::collections::VecDeque;
use std::io::{self, Write};

use netlings_chat::Line;

/// At most this many lines go into one `write_vectored`: one system call
/// for a client that fell behind by many lines, rather than one per line.
pub const MAX_SLICES: usize = 64;

// ANCHOR: outbox
/// The lines waiting to be written to one client, oldest first.
///
/// The lines are the chat's shared `Line`s (`Arc<str>`): a message to a room
/// of a thousand is one allocation, and each outbox holds a pointer to it.
// Only exercise 9.3 reads `written`: until it is written, the compiler
// would call that field unused.
#[cfg_attr(not(feature = "solution"), allow(dead_code))]
#[derive(Debug, Default)]
pub struct Outbox {
    lines: VecDeque<Line>,
    /// How many bytes of the first line were written already.
    written: usize,
    /// How many bytes are queued and not yet written, all lines together:
    /// what the server's bound on a client's output is checked against.
    bytes: usize,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Queues `line` after the others.
    pub fn push(&mut self, line: Line) {
        self.bytes += line.len();
        self.lines.push_back(line);
    }

    /// Whether everything queued has been written.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// How many bytes wait to be written.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Forgets every line: the client is gone, or too slow to wait for.
    pub fn clear(&mut self) {
        *self = Outbox::default();
    }

    /// Gives back the memory of a queue that once held many lines and now
    /// holds none, so that a burst does not cost a client memory for ever.
    pub fn release_if_empty(&mut self) {
        if self.lines.is_empty() && self.lines.capacity() > 16 {
            self.lines = VecDeque::new();
        }
    }
}
// ANCHOR_END: outbox

impl Outbox {
    // ANCHOR: flush
    /// Exercise 9.3: write until WouldBlock — book §9.3.
    ///
    /// Write the queued lines to `stream`, oldest first, until every one is
    /// written or `stream` has no room for more; return `Ok(())` either way
    /// (the caller looks at [`is_empty`](Outbox::is_empty)).
    ///
    /// - A write may take only part of what it is given: what it did not
    ///   take stays queued, in order, down to the byte, and the next write
    ///   starts exactly there. Keep `self.written` and `self.bytes` true.
    /// - `WouldBlock` means the socket's buffer is full: stop, and leave
    ///   the rest for the next call (the server asks the poll to say when
    ///   there is room). `Interrupted`: write again.
    /// - Hand many lines to each write, not one: a client that fell behind
    ///   by a hundred lines gets them in one or two system calls, not a
    ///   hundred (`write_vectored`, with up to [`MAX_SLICES`] slices).
    /// - Any other error is returned, and so is a write that takes nothing
    ///   (`Ok(0)`), as an error of kind `WriteZero`: trying again would
    ///   only spin.
    pub fn flush(&mut self, stream: &mut impl Write) -> io::Result<()> {
        let _ = stream; // unused until you write the function
        todo!("exercise 9.3: write until WouldBlock — book §9.3")
    }
    // ANCHOR_END: flush
}
