//! Lesson 5 — binary protocols: a typed header, validation of what a peer
//! sends, and a small key-value server that answers pipelined requests.
//!
//! The exercises are in `wire.rs` (5.1 and 5.2), `message.rs` (5.3) and
//! `server.rs` (5.4). Book: chapter 5, "Binary protocols".

pub mod client;
pub mod demo;
pub mod frame;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson05/message.rs")]
pub mod message;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson05/server.rs")]
pub mod server;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson05/wire.rs")]
pub mod wire;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7005";
