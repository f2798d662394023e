//! The chat that every client's threads share: the rooms (from
//! `netlings-chat`), and for each client the sending end of its queue.
//!
//! One `Mutex<Chat>` guards it all. Every thread that touches it takes the
//! lock, changes the state, pushes the resulting lines into queues, and lets
//! go — it never reads or writes a socket while it holds the lock, so a slow
//! client can never hold up the others.

use std::collections::HashMap;
use std::net::TcpStream;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use netlings_chat::{ClientId, Delivery, Leaving, Line, Rooms};

/// The chat, shared by every thread of the server.
pub type SharedChat = Arc<Mutex<Chat>>;

/// Locks the chat. A thread that panicked while holding the lock leaves it
/// "poisoned"; the rooms are still consistent (every change to them is one
/// call), so the others carry on rather than panic in turn.
pub fn lock(chat: &SharedChat) -> MutexGuard<'_, Chat> {
    chat.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the chat reaches one client.
// Only exercises 8.1 and 8.4 read these fields: until they are written,
// the compiler would call them unused.
#[cfg_attr(not(feature = "solution"), allow(dead_code))]
struct Client {
    /// The bounded queue its writer thread drains (exercise 8.2).
    outbox: SyncSender<Line>,
    /// Its socket (shared with its two threads), to hang up on it when it
    /// is too slow.
    stream: Arc<TcpStream>,
}

/// The rooms, plus a queue per connected client.
#[derive(Default)]
pub struct Chat {
    rooms: Rooms,
    clients: HashMap<ClientId, Client>,
    next_id: ClientId,
}

impl Chat {
    pub fn new() -> Chat {
        Chat::default()
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// A new client arrives: lines for it go into `outbox`, and `stream` is
    /// its socket. It gets a number, a guest name and the welcome.
    pub fn join(&mut self, outbox: SyncSender<Line>, stream: Arc<TcpStream>) -> ClientId {
        self.next_id += 1;
        let id = self.next_id;
        self.clients.insert(id, Client { outbox, stream });
        let welcome = self.rooms.arrive(id);
        self.deliver(welcome);
        id
    }

    /// Client `id` sent `line`. Returns true when it asked to leave.
    pub fn handle(&mut self, id: ClientId, line: &[u8]) -> bool {
        let reply = self.rooms.handle(id, line);
        self.deliver(reply.deliveries);
        reply.close
    }

    /// Queues `line` (e.g. `! idle timeout\n`) for client `id` alone.
    pub fn tell(&mut self, id: ClientId, line: &str) {
        self.deliver(vec![Delivery {
            to: id,
            line: line.into(),
        }]);
    }

    /// Client `id` leaves: its room is told why, and its queue is dropped,
    /// so its writer thread sends what is left in it and then hangs up.
    /// Leaving twice is harmless.
    pub fn leave(&mut self, id: ClientId, why: Leaving) {
        self.clients.remove(&id);
        let notices = self.rooms.leave(id, why);
        self.deliver(notices);
    }

    // ANCHOR: deliver
    /// Exercise 8.1: deliver without ever blocking — book §8.1.
    ///
    /// Push each delivery's line into the queue (`outbox`) of the client it
    /// is for, in order, without ever waiting: this runs while the lock is
    /// held, and a thread that waits here for one slow client makes every
    /// other client wait too.
    ///
    /// - A delivery for a client that is not in `self.clients` (it left
    ///   meanwhile) is skipped.
    /// - A full queue means the client is too slow: it has let
    ///   `queue_lines` lines pile up. Remove it from `self.clients`, shut its
    ///   `stream` down (both ways: that wakes its reader and its writer
    ///   thread), and make it leave the rooms with [`Leaving::TooSlow`] —
    ///   which gives more deliveries (`* NAME left ROOM (too slow)`) to
    ///   deliver the same way.
    /// - A queue whose receiver is gone (its writer thread has stopped) is
    ///   not an error here: that client's own threads are already leaving.
    pub fn deliver(&mut self, deliveries: Vec<Delivery>) {
        let _ = deliveries; // unused until you write the function
        todo!("exercise 8.1: deliver without ever blocking — book §8.1")
    }
    // ANCHOR_END: deliver

    // ANCHOR: shut_down
    /// Exercise 8.4: say goodbye to everyone — book §8.4.
    ///
    /// The server is stopping: queue [`SHUTTING_DOWN`](netlings_chat::protocol::SHUTTING_DOWN) for every connected
    /// client, then drop every queue (empty `self.clients`), so that each
    /// writer thread sends what is left and hangs up. Never wait: a client
    /// whose queue is full is not reading, and gets no goodbye.
    pub fn shut_down(&mut self) {
        todo!("exercise 8.4: say goodbye to everyone — book §8.4")
    }
    // ANCHOR_END: shut_down
}
