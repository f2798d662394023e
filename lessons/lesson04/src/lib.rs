//! Lesson 4 — sticky packets: framing a byte stream.
//!
//! TCP delivers a stream of bytes, not messages: several writes may arrive in
//! one read, and one write may arrive in several. A *frame* puts the message
//! boundaries back. The exercises are in `framing.rs` (4.1 to 4.3: length
//! prefix frames), `lines.rs` (4.4: delimiter frames) and `server.rs` (4.5: a
//! framed echo server). Book: chapter 4, "Sticky packets".

pub mod client;
pub mod demo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson04/framing.rs")]
pub mod framing;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson04/lines.rs")]
pub mod lines;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson04/server.rs")]
pub mod server;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7004";
