//! Lesson 7 — broadcast and multicast: service discovery.
//!
//! The exercises are in `sockets.rs` (7.1), `responder.rs` (7.2) and
//! `discover.rs` (7.3). `wire.rs` holds the given message format.
//! Book: chapter 7, "Broadcast and multicast: service discovery".

pub mod demo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson07/discover.rs")]
pub mod discover;
#[cfg_attr(
    feature = "solution",
    path = "../../../solutions/lesson07/responder.rs"
)]
pub mod responder;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson07/sockets.rs")]
pub mod sockets;
pub mod wire;
