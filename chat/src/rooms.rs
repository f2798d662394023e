//! Who is connected, under which name, in which room — and which lines each
//! event sends to whom.
//!
//! [`Rooms`] is the whole chat, minus the network. A server tells it what
//! happened (a client arrived, sent a line, left) and gets back a list of
//! [`Delivery`]s: this line to that client. How the lines then reach the
//! sockets is what differs between the three servers of Part III, and what
//! their lessons are about:
//!
//! - lesson 8 keeps `Rooms` behind a `Mutex` and pushes each delivery into
//!   the receiver's bounded channel, which a writer thread drains;
//! - lesson 9 appends each delivery to the receiver's output buffer, which
//!   the event loop flushes when the socket is writable;
//! - lesson 10 pushes each delivery into the receiver task's bounded channel.
//!
//! Nothing here blocks or does I/O, so holding a lock while calling it is
//! cheap, and it can be tested on its own.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::protocol::{self, HELP, Input, LOBBY};

/// A client, as the server numbers them: any number unique among the
/// clients connected at once (a counter, a mio `Token`, …).
pub type ClientId = u64;

/// One line the server sends, with its `\n`. Shared (`Arc`), so that a
/// message to a room of a thousand is one allocation, not a thousand.
pub type Line = Arc<str>;

// ANCHOR: types
/// Send `line` to client `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub to: ClientId,
    pub line: Line,
}

/// What a line from a client leads to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reply {
    /// Lines to send, in this order.
    pub deliveries: Vec<Delivery>,
    /// The client asked to leave (`/quit`): send its deliveries, then close
    /// the connection and call [`Rooms::leave`].
    pub close: bool,
}

/// Why a client left: the room is told `* NAME left ROOM`, plus ` (too
/// slow)` or ` (idle)` for the two cases the server decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    /// `/quit`, end of stream, a reset, a line too long, server shutdown.
    Gone,
    /// Its outgoing queue was full, or a write to it stalled.
    TooSlow,
    /// It was silent for longer than `--idle-secs`.
    Idle,
}
// ANCHOR_END: types

#[derive(Debug)]
struct Member {
    name: String,
    room: String,
}

/// The chat's state: members, names and rooms.
#[derive(Debug, Default)]
pub struct Rooms {
    members: HashMap<ClientId, Member>,
    /// Every name in use, guests' included, so names are unique.
    names: HashMap<String, ClientId>,
    /// The members of each room; a room exists while it has members.
    rooms: HashMap<String, BTreeSet<ClientId>>,
    /// The last guest number handed out.
    guests: u64,
}

impl Rooms {
    pub fn new() -> Rooms {
        Rooms::default()
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Every connected client.
    pub fn clients(&self) -> impl Iterator<Item = ClientId> + '_ {
        self.members.keys().copied()
    }

    /// The name of client `id`, if it is connected.
    pub fn name(&self, id: ClientId) -> Option<&str> {
        self.members.get(&id).map(|m| m.name.as_str())
    }

    /// A new client `id` arrived: it gets a guest name and the welcome, and
    /// the lobby hears that it joined.
    pub fn arrive(&mut self, id: ClientId) -> Vec<Delivery> {
        let name = self.next_guest_name();
        let mut out = vec![Delivery {
            to: id,
            line: line(format!(
                "* welcome, {name}: /nick NAME to choose a name, /help for commands"
            )),
        }];
        self.tell_room(LOBBY, id, format!("* {name} joined {LOBBY}"), &mut out);
        self.names.insert(name.clone(), id);
        self.rooms.entry(LOBBY.to_string()).or_default().insert(id);
        self.members.insert(
            id,
            Member {
                name,
                room: LOBBY.to_string(),
            },
        );
        out
    }

    /// Client `id` sent `line` (without its `\n`; a trailing `\r` is fine).
    pub fn handle(&mut self, id: ClientId, line: &[u8]) -> Reply {
        let mut reply = Reply::default();
        if !self.members.contains_key(&id) {
            return reply;
        }
        let out = &mut reply.deliveries;
        match protocol::parse(line) {
            Input::Empty => {}
            Input::InvalidUtf8 => out.push(to(id, "! invalid UTF-8")),
            Input::Unknown(command) => out.push(to(id, &format!("! unknown command {command}"))),
            Input::Help => out.push(Delivery {
                to: id,
                line: HELP.into(),
            }),
            Input::Quit => {
                out.push(to(id, "* bye"));
                reply.close = true;
            }
            Input::Who => {
                let room = &self.members[&id].room;
                let mut names: Vec<&str> = self.rooms[room]
                    .iter()
                    .map(|m| self.members[m].name.as_str())
                    .collect();
                names.sort_unstable();
                out.push(to(id, &format!("* in {room}: {}", names.join(", "))));
            }
            Input::Message(text) => {
                let member = &self.members[&id];
                let room = member.room.clone();
                let message = format!("{}: {text}", member.name);
                self.tell_room(&room, id, message, out);
            }
            Input::Nick(name) => self.rename(id, name, out),
            Input::Join(room) => self.join(id, room, out),
        }
        reply
    }

    /// Client `id` left, for reason `why`: its room hears of it, and its
    /// name is free again. Leaving twice is harmless (nothing happens).
    pub fn leave(&mut self, id: ClientId, why: Leaving) -> Vec<Delivery> {
        let mut out = Vec::new();
        let Some(member) = self.members.remove(&id) else {
            return out;
        };
        self.names.remove(&member.name);
        self.remove_from_room(&member.room, id);
        let reason = match why {
            Leaving::Gone => "",
            Leaving::TooSlow => " (too slow)",
            Leaving::Idle => " (idle)",
        };
        let notice = format!("* {} left {}{reason}", member.name, member.room);
        self.tell_room(&member.room, id, notice, &mut out);
        out
    }

    fn rename(&mut self, id: ClientId, name: &str, out: &mut Vec<Delivery>) {
        if !protocol::valid_name(name) {
            out.push(to(id, "! invalid name"));
            return;
        }
        match self.names.get(name) {
            Some(&owner) if owner == id => {
                out.push(to(id, &format!("* you are now {name}")));
                return;
            }
            Some(_) => {
                out.push(to(id, &format!("! name {name} is taken")));
                return;
            }
            None => {}
        }
        let member = self.members.get_mut(&id).expect("checked by handle");
        let old = std::mem::replace(&mut member.name, name.to_string());
        let room = member.room.clone();
        self.names.remove(&old);
        self.names.insert(name.to_string(), id);
        out.push(to(id, &format!("* you are now {name}")));
        self.tell_room(&room, id, format!("* {old} is now {name}"), out);
    }

    fn join(&mut self, id: ClientId, room: &str, out: &mut Vec<Delivery>) {
        if !protocol::valid_room(room) {
            out.push(to(id, "! invalid room"));
            return;
        }
        let member = self.members.get_mut(&id).expect("checked by handle");
        let old = std::mem::replace(&mut member.room, room.to_string());
        let name = member.name.clone();
        if old != room {
            self.remove_from_room(&old, id);
            self.tell_room(&old, id, format!("* {name} left {old}"), out);
            self.tell_room(room, id, format!("* {name} joined {room}"), out);
            self.rooms.entry(room.to_string()).or_default().insert(id);
        }
        let here = self.rooms[room].len();
        out.push(to(id, &format!("* you joined {room} ({here} here)")));
    }

    /// Sends `text` to every member of `room` except `sender`.
    fn tell_room(&self, room: &str, sender: ClientId, text: String, out: &mut Vec<Delivery>) {
        let Some(members) = self.rooms.get(room) else {
            return;
        };
        let shared = line(text);
        out.extend(members.iter().filter(|&&m| m != sender).map(|&m| Delivery {
            to: m,
            line: Arc::clone(&shared),
        }));
    }

    fn remove_from_room(&mut self, room: &str, id: ClientId) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// `guestN` for the next N whose name nobody has taken with `/nick`.
    fn next_guest_name(&mut self) -> String {
        loop {
            self.guests += 1;
            let name = format!("guest{}", self.guests);
            if !self.names.contains_key(&name) {
                return name;
            }
        }
    }
}

fn line(mut text: String) -> Line {
    text.push('\n');
    text.into()
}

fn to(id: ClientId, text: &str) -> Delivery {
    Delivery {
        to: id,
        line: line(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deliveries as `(to, "line")`, sorted, for comparing.
    fn lines(deliveries: &[Delivery]) -> Vec<(ClientId, &str)> {
        let mut v: Vec<_> = deliveries
            .iter()
            .map(|d| (d.to, d.line.trim_end()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn arrivals_get_guest_names_and_the_lobby_hears() {
        let mut rooms = Rooms::new();
        assert_eq!(
            lines(&rooms.arrive(7)),
            [(
                7,
                "* welcome, guest1: /nick NAME to choose a name, /help for commands"
            )]
        );
        let second = rooms.arrive(8);
        assert_eq!(
            lines(&second),
            [
                (7, "* guest2 joined lobby"),
                (
                    8,
                    "* welcome, guest2: /nick NAME to choose a name, /help for commands"
                )
            ]
        );
    }

    #[test]
    fn names_are_unique_and_guests_skip_taken_names() {
        let mut rooms = Rooms::new();
        rooms.arrive(1);
        rooms.arrive(2);
        let r = rooms.handle(1, b"/nick guest3");
        assert_eq!(
            lines(&r.deliveries),
            [(1, "* you are now guest3"), (2, "* guest1 is now guest3")]
        );
        assert_eq!(
            lines(&rooms.handle(2, b"/nick guest3").deliveries),
            [(2, "! name guest3 is taken")]
        );
        assert_eq!(
            lines(&rooms.handle(2, b"/nick").deliveries),
            [(2, "! invalid name")]
        );
        let third = rooms.arrive(3);
        assert!(third[0].line.starts_with("* welcome, guest4:"), "{third:?}");
        // A name is free again once its owner leaves.
        rooms.leave(1, Leaving::Gone);
        assert_eq!(
            lines(&rooms.handle(2, b"/nick guest3").deliveries),
            [(2, "* you are now guest3"), (3, "* guest2 is now guest3")]
        );
    }

    #[test]
    fn joining_tells_both_rooms_and_counts_the_sender() {
        let mut rooms = Rooms::new();
        for id in 1..=3 {
            rooms.arrive(id);
        }
        rooms.handle(3, b"/join den");
        let r = rooms.handle(1, b"/join den");
        assert_eq!(
            lines(&r.deliveries),
            [
                (1, "* you joined den (2 here)"),
                (2, "* guest1 left lobby"),
                (3, "* guest1 joined den")
            ]
        );
        assert_eq!(
            lines(&rooms.handle(1, b"/join bad/room").deliveries),
            [(1, "! invalid room")]
        );
        assert_eq!(
            lines(&rooms.handle(2, b"hi").deliveries),
            Vec::<(ClientId, &str)>::new(),
            "nobody else is in the lobby"
        );
        assert_eq!(
            lines(&rooms.handle(3, b"hi all").deliveries),
            [(1, "guest3: hi all")]
        );
        assert_eq!(
            lines(&rooms.handle(3, b"/who").deliveries),
            [(3, "* in den: guest1, guest3")]
        );
    }

    #[test]
    fn leaving_tells_the_room_why() {
        let mut rooms = Rooms::new();
        rooms.arrive(1);
        rooms.arrive(2);
        rooms.arrive(3);
        assert_eq!(
            lines(&rooms.leave(1, Leaving::TooSlow)),
            [
                (2, "* guest1 left lobby (too slow)"),
                (3, "* guest1 left lobby (too slow)")
            ]
        );
        assert_eq!(
            lines(&rooms.leave(2, Leaving::Idle)),
            [(3, "* guest2 left lobby (idle)")]
        );
        assert!(rooms.leave(2, Leaving::Gone).is_empty(), "leaving twice");
        assert_eq!(rooms.len(), 1);
    }

    #[test]
    fn quit_help_and_errors_answer_only_the_sender() {
        let mut rooms = Rooms::new();
        rooms.arrive(1);
        rooms.arrive(2);
        let quit = rooms.handle(1, b"/quit\r");
        assert!(quit.close);
        assert_eq!(lines(&quit.deliveries), [(1, "* bye")]);
        assert_eq!(
            lines(&rooms.handle(1, b"/x y").deliveries),
            [(1, "! unknown command /x")]
        );
        assert_eq!(
            lines(&rooms.handle(1, b"\xff").deliveries),
            [(1, "! invalid UTF-8")]
        );
        assert!(rooms.handle(1, b"").deliveries.is_empty());
        let help = rooms.handle(1, b"/help");
        assert_eq!(help.deliveries.len(), 1);
        assert!(help.deliveries[0].line.lines().all(|l| l.starts_with("* ")));
        assert!(
            rooms.handle(99, b"hello").deliveries.is_empty(),
            "not a member"
        );
    }
}
