//! One client's connection, and the table that holds them all.
//!
//! In lesson 8 a client was two threads, and their stacks held its state:
//! where it was in a line, what it still had to send. With one thread for
//! everybody, that state must live somewhere else: in a [`Conn`], one per
//! client, kept in [`Conns`], a table indexed by the `Token` that the poll
//! hands back with every event.

use std::io;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::input::LineBuffer;
use crate::output::Outbox;

// ANCHOR: conn
/// Everything the server knows about one client's connection.
pub struct Conn {
    pub stream: TcpStream,
    /// Bytes read and not yet handed out as lines (exercise 9.2).
    pub input: LineBuffer,
    /// Lines waiting to be written (exercise 9.3).
    pub output: Outbox,
    /// What the poll reports for this connection now: set by `register`
    /// (exercise 9.1), changed with `reregister` (exercise 9.4).
    pub interest: Interest,
    /// Whether the server still reads this client's lines. False once it
    /// is leaving (`/quit`, a line too long, idle, too slow, the server
    /// stopping): then only its last lines are written, and it is closed.
    pub reading: bool,
    /// Which connection this is of all that the server has had. A token is
    /// used again once its connection is closed; a serial, never.
    pub serial: u64,
    /// When the client last sent something (for `--idle-secs`).
    pub last_heard: Instant,
    /// When its output last moved (for `--stall-secs`).
    pub last_progress: Instant,
    /// Whether a stall timer is set for it (at most one at a time).
    pub stall_timer: bool,
    /// Whether it is in the server's list of connections to look at when
    /// this turn of the loop ends (at most once).
    pub touched: bool,
}

impl Conn {
    /// A connection just accepted, and registered for [`Interest::READABLE`].
    pub fn new(stream: TcpStream) -> Conn {
        let now = Instant::now();
        Conn {
            stream,
            input: LineBuffer::new(),
            output: Outbox::new(),
            interest: Interest::READABLE,
            reading: true,
            serial: 0,
            last_heard: now,
            last_progress: now,
            stall_timer: false,
            touched: false,
        }
    }
}
// ANCHOR_END: conn

impl Conn {
    // ANCHOR: update_interest
    /// Exercise 9.4: ask only for what you need — book §9.4.
    ///
    /// The server calls this at the end of each turn of its loop, for every
    /// connection that something happened to, after writing what it could.
    /// Tell the poll what this connection waits for now (`token` is its
    /// token):
    ///
    /// - `Interest::READABLE` while the server is still `reading` it;
    /// - `Interest::WRITABLE` while its `output` is not empty — and only
    ///   then: a socket with room in its buffer is writable nearly always,
    ///   and a poll asked about it would say so again and again.
    ///
    /// If that differs from `self.interest`, `reregister` the stream and
    /// remember the new interest; if not, make no system call at all (a
    /// `reregister` also makes the poll report a writable socket afresh).
    /// Return `Ok(true)`: the connection stays.
    ///
    /// A connection that waits for nothing — not reading, nothing left to
    /// write — is finished: `deregister` it and return `Ok(false)`; the
    /// server then drops it, which closes the socket. (So every line
    /// queued for a client, `* bye` included, is written before it is
    /// closed.) Errors from the registry are returned.
    pub fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<bool> {
        let wanted = match (self.reading, !self.output.is_empty()) {
            (true, false) => Interest::READABLE,
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (false, true) => Interest::WRITABLE,
            (false, false) => {
                registry.deregister(&mut self.stream)?;
                return Ok(false);
            }
        };
        if wanted != self.interest {
            registry.reregister(&mut self.stream, token, wanted)?;
            self.interest = wanted;
        }
        Ok(true)
    }
    // ANCHOR_END: update_interest
}

// ANCHOR: conns
/// Every connection, indexed by its token: a *slab*. A closed
/// connection's slot goes on a free list and the next connection takes
/// it, so the table never grows past the most clients connected at once,
/// and finding a connection from an event's token is one index.
#[derive(Default)]
pub struct Conns {
    slots: Vec<Option<Conn>>,
    free: Vec<usize>,
    len: usize,
    serials: u64,
    arrivals: Vec<Token>,
}

impl Conns {
    pub fn new() -> Conns {
        Conns::default()
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The token that the next [`insert`](Conns::insert) will give: register
    /// a new connection with it before inserting it.
    pub fn next_token(&self) -> Token {
        Token(self.free.last().copied().unwrap_or(self.slots.len()))
    }

    /// Adds a connection, gives it a serial number, and returns its token.
    /// The token is also noted as an arrival, for the server to welcome
    /// (see [`take_arrivals`](Conns::take_arrivals)).
    pub fn insert(&mut self, mut conn: Conn) -> Token {
        self.serials += 1;
        conn.serial = self.serials;
        let index = match self.free.pop() {
            Some(index) => {
                self.slots[index] = Some(conn);
                index
            }
            None => {
                self.slots.push(Some(conn));
                self.slots.len() - 1
            }
        };
        self.len += 1;
        self.arrivals.push(Token(index));
        Token(index)
    }

    pub fn get(&self, token: Token) -> Option<&Conn> {
        self.slots.get(token.0)?.as_ref()
    }

    pub fn get_mut(&mut self, token: Token) -> Option<&mut Conn> {
        self.slots.get_mut(token.0)?.as_mut()
    }

    /// Takes a connection out of the table; dropping it closes its socket.
    pub fn remove(&mut self, token: Token) -> Option<Conn> {
        let conn = self.slots.get_mut(token.0)?.take()?;
        self.free.push(token.0);
        self.len -= 1;
        Some(conn)
    }

    /// The tokens of every open connection.
    pub fn tokens(&self) -> Vec<Token> {
        (self.slots.iter().enumerate())
            .filter(|(_, slot)| slot.is_some())
            .map(|(index, _)| Token(index))
            .collect()
    }

    /// The connections inserted since the last call, oldest first.
    pub fn take_arrivals(&mut self) -> Vec<Token> {
        std::mem::take(&mut self.arrivals)
    }
}
// ANCHOR_END: conns
