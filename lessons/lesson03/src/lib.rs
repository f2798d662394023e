//! Lesson 3 — UDP: datagrams, loss, timeouts and retransmission.
//!
//! The exercises are in `echo.rs` (3.1) and `ping.rs` (3.2, 3.3 and 3.4).
//! `wire.rs` holds the given probe format and small helpers.
//! Book: chapter 3, "UDP".

pub mod demo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson03/echo.rs")]
pub mod echo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson03/ping.rs")]
pub mod ping;
pub mod wire;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7003";
