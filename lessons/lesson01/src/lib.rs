//! Lesson 1 — TCP echo: bind, listen, accept, read until EOF, write it all back.
//!
//! The exercises are in `echo.rs` (1.1 and 1.2) and `client.rs` (1.3).
//! Book: chapter 1, "TCP echo".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson01/client.rs")]
pub mod client;
pub mod demo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson01/echo.rs")]
pub mod echo;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7001";
