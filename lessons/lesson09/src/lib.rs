//! Lesson 9 — many connections, one thread: the chat server as an event loop
//! with mio.
//!
//! One thread waits on one `Poll` for every socket at once, and does for
//! each whatever it is ready for. The loop itself is `server.rs` (given);
//! the exercises are the four places where the loop touches a socket:
//! `accept.rs` (9.1: accept until WouldBlock), `input.rs` (9.2: read lines
//! until WouldBlock), `output.rs` (9.3: write until WouldBlock) and
//! `conn.rs` (9.4: ask the poll only for what a connection needs, and let
//! it go when it is done). `busy.rs` shows, with a number, the problem all
//! this solves. Book: chapter 9, "One thread, many sockets".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson09/accept.rs")]
pub mod accept;
pub mod busy;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson09/conn.rs")]
pub mod conn;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson09/input.rs")]
pub mod input;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson09/output.rs")]
pub mod output;
pub mod server;
pub mod timers;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7009";
