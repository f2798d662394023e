//! Lesson 2 — streams, lines and errors: a line protocol over TCP, with a
//! limit on every line, an idle timeout, names with several addresses, and
//! what each `io::ErrorKind` means.
//!
//! The exercises are in `lines.rs` (2.1), `server.rs` (2.2 and 2.3) and
//! `client.rs` (2.4). The protocol itself is given, in `protocol.rs`, and so
//! is `errors.rs`, which says what an `io::Error` means in plain words.
//! Book: chapter 2, "Streams, lines and errors".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson02/client.rs")]
pub mod client;
pub mod demo;
pub mod errors;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson02/lines.rs")]
pub mod lines;
pub mod protocol;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson02/server.rs")]
pub mod server;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7002";
