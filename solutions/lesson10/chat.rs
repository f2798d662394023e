//! The chat that every client's task shares: the rooms (from
//! `netlings-chat`), and for each client the sending end of its queue and
//! the token that hangs up on it.
//!
//! One `std::sync::Mutex<Chat>` guards it all, as in lesson 8, and for the
//! same reason: what is done under the lock is short and never waits. A
//! task takes the lock, changes the state, pushes the resulting lines into
//! queues with `try_send`, and lets go — it never holds the lock across an
//! `.await`. (The compiler sees to that: a `std::sync::MutexGuard` may not
//! move to another thread, so a task that keeps one across an `.await`
//! cannot be spawned on tokio's multi-threaded runtime.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use netlings_chat::protocol::SHUTTING_DOWN;
use netlings_chat::{ClientId, Delivery, Leaving, Line, Rooms};
use tokio::sync::mpsc::Sender;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

/// The chat, shared by every task of the server.
pub type SharedChat = Arc<Mutex<Chat>>;

/// Locks the chat. A task that panicked while holding the lock leaves it
/// "poisoned"; the rooms are still consistent (every change to them is one
/// call), so the others carry on rather than panic in turn.
pub fn lock(chat: &SharedChat) -> MutexGuard<'_, Chat> {
    chat.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the chat reaches one client.
// Only exercise 10.1 reads `hang_up`: until it is written, the compiler
// would call it unused.
#[cfg_attr(not(feature = "solution"), allow(dead_code))]
struct Client {
    /// The bounded queue its task drains (exercise 10.3).
    outbox: Sender<Line>,
    /// Cancelled to make its task hang up at once, whatever it is doing.
    hang_up: CancellationToken,
}

/// The rooms, plus a queue per connected client.
#[derive(Default)]
pub struct Chat {
    rooms: Rooms,
    clients: HashMap<ClientId, Client>,
    next_id: ClientId,
}

// ANCHOR: chat
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

    /// A new client arrives: lines for it go into `outbox`, and `hang_up`
    /// is the token its task watches. It gets a number, a guest name and
    /// the welcome.
    pub fn join(&mut self, outbox: Sender<Line>, hang_up: CancellationToken) -> ClientId {
        self.next_id += 1;
        let id = self.next_id;
        self.clients.insert(id, Client { outbox, hang_up });
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

    /// Client `id` leaves: its room is told why, and its queue's sending
    /// end is dropped, so that the queue ends after the lines already in
    /// it. Leaving twice is harmless.
    pub fn leave(&mut self, id: ClientId, why: Leaving) {
        self.clients.remove(&id);
        let notices = self.rooms.leave(id, why);
        self.deliver(notices);
    }

    /// The server is stopping: queue the goodbye for every client, without
    /// waiting (a full queue gets none: that client is not reading), then
    /// forget them all. Each queue ends after its goodbye, so each task
    /// sends what is left and hangs up; and as no client is known any more,
    /// nobody hears who leaves after that. (You wrote this in lesson 8.)
    pub fn shut_down(&mut self) {
        for client in self.clients.values() {
            let _ = client.outbox.try_send(SHUTTING_DOWN.into());
        }
        self.clients.clear();
    }
}
// ANCHOR_END: chat

impl Chat {
    // ANCHOR: deliver
    /// Exercise 10.1: deliver without ever waiting — book §10.1.
    ///
    /// Push each delivery's line into the queue (`outbox`) of the client it
    /// is for, in order, without ever waiting: this runs under the chat's
    /// lock, which every task needs.
    ///
    /// - A delivery for a client that is not in `self.clients` (it left
    ///   meanwhile) is skipped.
    /// - A full queue means the client is too slow: it has let
    ///   `queue_lines` lines pile up. Remove it from `self.clients`, cancel
    ///   its `hang_up` token (its task then hangs up at once), and make it
    ///   leave the rooms with [`Leaving::TooSlow`] — which gives more
    ///   deliveries (`* NAME left ROOM (too slow)`) to deliver the same way.
    /// - A closed queue (its task has ended) is not an error here: that
    ///   client is already leaving.
    pub fn deliver(&mut self, deliveries: Vec<Delivery>) {
        let mut pending = VecDeque::from(deliveries);
        while let Some(Delivery { to, line }) = pending.pop_front() {
            let Some(client) = self.clients.get(&to) else {
                continue;
            };
            match client.outbox.try_send(line) {
                Ok(()) | Err(TrySendError::Closed(_)) => {}
                Err(TrySendError::Full(_)) => {
                    let client = self.clients.remove(&to).expect("found above");
                    client.hang_up.cancel();
                    pending.extend(self.rooms.leave(to, Leaving::TooSlow));
                }
            }
        }
    }
    // ANCHOR_END: deliver
}
