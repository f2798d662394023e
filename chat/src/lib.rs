//! The chat of Part III, shared by its three servers: lesson 8 (a thread per
//! client), lesson 9 (one thread, an event loop with mio) and lesson 10
//! (tokio tasks).
//!
//! The protocol ([`protocol`]) and the chat's state ([`rooms`]) are the same
//! whatever the model, and do no I/O: they are given code, read in the
//! chapter "The chat protocol, once". The lessons' exercises are the part
//! that differs — how bytes get from the sockets to [`Rooms`] and back.

pub mod demo;
mod limits;
mod process;
pub mod protocol;
pub mod rooms;

pub use limits::{LimitArgs, Limits};
pub use process::{on_shutdown_signal, raise_open_file_limit};
pub use rooms::{ClientId, Delivery, Leaving, Line, Reply, Rooms};
