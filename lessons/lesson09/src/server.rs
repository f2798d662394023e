//! The event loop: one thread, one `Poll`, every client.
//!
//! Each turn of the loop waits in `poll` until a socket is ready (or a
//! deadline comes), then does what each ready socket allows — accept,
//! read, write — without ever waiting on one of them, and last writes out
//! what the turn queued. No locks, no threads, no channels: every
//! client's state is in the table of connections, and the chat's state is
//! one `Rooms` that only this thread touches.

use std::collections::VecDeque;
use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use netlings_chat::protocol::{IDLE_TIMEOUT, LINE_TOO_LONG, SHUTTING_DOWN};
use netlings_chat::{ClientId, Delivery, Leaving, Limits, Line, Rooms};
use netlings_kit::ACCEPT_PAUSE;

use crate::accept::{Accepting, accept_ready};
use crate::conn::{Conn, Conns};
use crate::input::{Next, read_line};
use crate::timers::{Timer, Timers};

/// The listener's token and the waker's, far from the connections' tokens,
/// which count from 0.
pub const LISTENER: Token = Token(usize::MAX);
pub const WAKER: Token = Token(usize::MAX - 1);

/// How long a stopping server goes on writing its clients' last lines
/// before it exits anyway (the promise is: within 2 s).
pub const GOODBYE_TIME: Duration = Duration::from_millis(1500);

/// How many events one `poll` may return; more wait for the next turn.
const EVENTS: usize = 1024;

// ANCHOR: server
/// A chat server, ready to run.
pub struct Server {
    poll: Poll,
    listener: TcpListener,
    /// Wakes the loop up from another thread: that is how it is stopped.
    waker: Arc<Waker>,
    conns: Conns,
    rooms: Rooms,
    limits: Limits,
    timers: Timers,
    /// The connections that something happened to in this turn of the
    /// loop: at its end, each is written to and asked what it waits for.
    touched: Vec<Token>,
    /// The line being handled (one buffer for all: nothing allocated per line).
    line: Vec<u8>,
    /// Accepting stopped until then: the process is out of file descriptors.
    accept_paused_until: Option<Instant>,
    /// Once asked to stop: when the server exits, whatever is left to write.
    stopping: Option<Instant>,
}
// ANCHOR_END: server

/// Stops a [`Server`] from another thread, e.g. the Ctrl-C handler.
#[derive(Clone)]
pub struct Stopper(Arc<Waker>);

impl Stopper {
    /// Wakes the server's loop up: its `poll` returns an event with the
    /// token [`WAKER`], and the server says goodbye to everyone.
    pub fn stop(&self) {
        // If this fails the loop is gone already.
        let _ = self.0.wake();
    }
}

/// The chat knows clients by number: a connection's number is its token.
fn client_id(token: Token) -> ClientId {
    token.0 as ClientId
}

/// Writes what `conn` has queued, as much as its socket takes now
/// (exercise 9.3), and notes when its output last moved.
fn write_out(conn: &mut Conn, now: Instant) -> io::Result<()> {
    let before = conn.output.bytes();
    let result = conn.output.flush(&mut conn.stream);
    if conn.output.bytes() < before {
        conn.last_progress = now;
    }
    result
}

impl Server {
    /// Makes the listener non-blocking and registers it with a new `Poll`.
    pub fn new(listener: StdListener, limits: Limits) -> io::Result<Server> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            poll,
            listener,
            waker,
            conns: Conns::new(),
            rooms: Rooms::new(),
            limits,
            timers: Timers::new(),
            touched: Vec::new(),
            line: Vec::new(),
            accept_paused_until: None,
            stopping: None,
        })
    }

    /// A handle that stops this server from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(Arc::clone(&self.waker))
    }

    // ANCHOR: run
    /// Serves until stopped, then says goodbye to every client and returns
    /// once their last lines are written (or [`GOODBYE_TIME`] has passed).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS);
        loop {
            // Sleep until a socket is ready, or the next deadline.
            let timeout =
                (self.next_deadline()).map(|at| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                // A signal (Ctrl-C) arrived while we slept: its handler wakes us.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    WAKER => self.stop(),
                    token => {
                        // An error or a hang-up is news to read too: the read says which.
                        let news =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.on_event(token, news);
                    }
                }
            }
            let now = Instant::now();
            self.expire(now);
            self.end_turn(now);
            self.forget_old_timers();
            if let Some(deadline) = self.stopping
                && (self.conns.is_empty() || now >= deadline)
            {
                return Ok(());
            }
        }
    }
    // ANCHOR_END: run

    /// A closed connection's timers stay in the heap until they come due:
    /// with `--idle-secs 600`, ten minutes. Clients that connect and leave
    /// by the thousand would grow it without end; so when it holds twice as
    /// many timers as there can be live ones, the dead ones go. (Rarely, so
    /// the cost of going through the heap is spread over many turns.)
    fn forget_old_timers(&mut self) {
        if self.timers.len() <= 2 * (2 * self.conns.len() + 1024) {
            return;
        }
        let conns = &self.conns;
        self.timers
            .retain(|token, serial| conns.get(token).is_some_and(|c| c.serial == serial));
    }

    /// The earliest moment the loop must wake up even if no socket is ready.
    fn next_deadline(&self) -> Option<Instant> {
        [self.timers.next(), self.accept_paused_until, self.stopping]
            .into_iter()
            .flatten()
            .min()
    }

    // ANCHOR: accept
    /// The listener is readable: accept every waiting client (exercise 9.1)
    /// and welcome each one.
    fn accept(&mut self) {
        if self.accept_paused_until.is_some() || self.stopping.is_some() {
            return;
        }
        let registry = self.poll.registry();
        let max = self.limits.max_clients;
        if accept_ready(&self.listener, registry, &mut self.conns, max) == Accepting::Pause {
            // Out of file descriptors: try again in a moment, not at once.
            self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
        }
        let now = Instant::now();
        for token in self.conns.take_arrivals() {
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            // The end of each turn writes a client's lines together already:
            // Nagle's algorithm would only hold them back until the client
            // has acknowledged the previous write (lesson 2).
            let _ = conn.stream.set_nodelay(true);
            conn.last_heard = now;
            let at = now + self.limits.idle;
            self.timers.add(at, Timer::Idle, token, conn.serial);
            let welcome = self.rooms.arrive(client_id(token));
            self.deliver(welcome);
        }
    }
    // ANCHOR_END: accept

    // ANCHOR: on_event
    /// Something happened on a client's socket: read what it sent, if it
    /// sent anything. Whatever it was, the end of the turn writes what
    /// waits for the client and asks the poll for what it needs next.
    fn on_event(&mut self, token: Token, news: bool) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if news && conn.reading {
            conn.last_heard = Instant::now();
            self.read_lines(token);
        }
        self.touch(token);
    }

    /// Hands every line the client sent to the chat (exercise 9.2 reads
    /// them), until its socket has no more for now, or the client leaves.
    fn read_lines(&mut self, token: Token) {
        loop {
            let Some(conn) = self.conns.get_mut(token) else {
                return;
            };
            if !conn.reading {
                return;
            }
            match read_line(&mut conn.stream, &mut conn.input, &mut self.line) {
                Next::Line => {
                    let reply = self.rooms.handle(client_id(token), &self.line);
                    self.deliver(reply.deliveries);
                    if reply.close {
                        self.stop_reading(token, Leaving::Gone);
                    }
                }
                Next::Drained => {
                    conn.input.release_if_empty();
                    return;
                }
                Next::TooLong => {
                    self.tell(token, LINE_TOO_LONG);
                    self.stop_reading(token, Leaving::Gone);
                }
                Next::Closed => self.stop_reading(token, Leaving::Gone),
            }
        }
    }
    // ANCHOR_END: on_event

    // ANCHOR: deliver
    /// Appends each line to its receiver's outbox. No writing here (that
    /// waits for the end of the turn, so that all the lines a client gets
    /// in one turn leave in one write) — unless an outbox grows past its
    /// bound: then the socket may take some at once, and if it still holds
    /// more than `queue_bytes`, the client is too slow and leaves, which
    /// gives its room more lines to deliver.
    fn deliver(&mut self, deliveries: Vec<Delivery>) {
        let mut pending = VecDeque::from(deliveries);
        while let Some(Delivery { to, line }) = pending.pop_front() {
            let token = Token(to as usize);
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if !conn.reading {
                continue;
            }
            conn.output.push(line);
            if !conn.touched {
                conn.touched = true;
                self.touched.push(token);
            }
            if conn.output.bytes() <= self.limits.queue_bytes {
                continue;
            }
            let why = match write_out(conn, Instant::now()) {
                Err(_) => Leaving::Gone,
                Ok(()) if conn.output.bytes() > self.limits.queue_bytes => Leaving::TooSlow,
                Ok(()) => continue,
            };
            conn.output.clear();
            conn.reading = false;
            pending.extend(self.rooms.leave(to, why));
        }
    }
    // ANCHOR_END: deliver

    /// Queues `text` for one client (after whatever it was already sent).
    fn tell(&mut self, token: Token, text: &str) {
        self.deliver(vec![Delivery {
            to: client_id(token),
            line: text.into(),
        }]);
    }

    /// The client is leaving, for reason `why`: its room hears of it, and
    /// the server reads nothing more from it. What it was sent is still
    /// written; then it is closed.
    fn stop_reading(&mut self, token: Token, why: Leaving) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if !conn.reading {
            return;
        }
        conn.reading = false;
        self.touch(token);
        let notices = self.rooms.leave(client_id(token), why);
        self.deliver(notices);
    }

    /// Notes that something happened to a connection in this turn.
    fn touch(&mut self, token: Token) {
        if let Some(conn) = self.conns.get_mut(token)
            && !conn.touched
        {
            conn.touched = true;
            self.touched.push(token);
        }
    }

    // ANCHOR: end_turn
    /// The end of a turn: every connection something happened to writes
    /// what it has queued (exercise 9.3), and tells the poll what it waits
    /// for next, or is closed (exercise 9.4).
    fn end_turn(&mut self, now: Instant) {
        while let Some(token) = self.touched.pop() {
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            conn.touched = false;
            if !conn.output.is_empty() {
                if write_out(conn, now).is_err() {
                    // The client is gone: nothing queued for it can arrive.
                    conn.output.clear();
                    self.stop_reading(token, Leaving::Gone);
                } else if !conn.output.is_empty() && !conn.stall_timer {
                    // It did not all fit: from now on, the output must move.
                    conn.stall_timer = true;
                    conn.last_progress = now;
                    let at = now + self.limits.stall;
                    self.timers.add(at, Timer::Stall, token, conn.serial);
                }
            }
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            conn.output.release_if_empty();
            match conn.update_interest(self.poll.registry(), token) {
                Ok(true) => {}
                // Finished: dropping the connection closes its socket.
                Ok(false) => drop(self.conns.remove(token)),
                Err(e) => {
                    eprintln!("could not change what the poll watches on a connection: {e}");
                    let _ = self.poll.registry().deregister(&mut conn.stream);
                    conn.output.clear();
                    self.stop_reading(token, Leaving::Gone);
                    drop(self.conns.remove(token));
                }
            }
        }
    }
    // ANCHOR_END: end_turn

    // ANCHOR: expire
    /// Whatever came due: accepting again after a pause, clients silent
    /// for too long, outputs that stopped moving.
    fn expire(&mut self, now: Instant) {
        if self.accept_paused_until.is_some_and(|until| until <= now) {
            self.accept_paused_until = None;
            self.accept();
        }
        while let Some((timer, token, serial)) = self.timers.pop_due(now) {
            // The connection may be gone, or its token be another's now.
            let Some(conn) = self.conns.get_mut(token).filter(|c| c.serial == serial) else {
                continue;
            };
            match timer {
                Timer::Idle if conn.reading => {
                    let due = conn.last_heard + self.limits.idle;
                    if due > now {
                        // It spoke since: look again at the new deadline.
                        self.timers.add(due, Timer::Idle, token, serial);
                    } else {
                        self.tell(token, IDLE_TIMEOUT);
                        self.stop_reading(token, Leaving::Idle);
                    }
                }
                Timer::Idle => {}
                Timer::Stall => {
                    let due = conn.last_progress + self.limits.stall;
                    if conn.output.is_empty() {
                        conn.stall_timer = false;
                    } else if due > now {
                        self.timers.add(due, Timer::Stall, token, serial);
                    } else {
                        // Nothing moved for --stall-secs: too slow.
                        conn.stall_timer = false;
                        conn.output.clear();
                        self.touch(token);
                        self.stop_reading(token, Leaving::TooSlow);
                    }
                }
            }
        }
    }
    // ANCHOR_END: expire

    // ANCHOR: stop
    /// Asked to stop: no new clients; every client still reading gets a
    /// goodbye, after whatever it was sent already; then each is closed as
    /// soon as its output is written. `run` returns when all are closed, or
    /// at [`GOODBYE_TIME`].
    fn stop(&mut self) {
        if self.stopping.is_some() {
            return;
        }
        self.stopping = Some(Instant::now() + GOODBYE_TIME);
        let _ = self.poll.registry().deregister(&mut self.listener);
        let goodbye: Line = SHUTTING_DOWN.into();
        for token in self.conns.tokens() {
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if !conn.reading {
                continue;
            }
            // Best effort: a client already too far behind gets no goodbye.
            if conn.output.bytes() + goodbye.len() <= self.limits.queue_bytes {
                conn.output.push(Arc::clone(&goodbye));
            }
            conn.reading = false;
            self.touch(token);
        }
    }
    // ANCHOR_END: stop
}
