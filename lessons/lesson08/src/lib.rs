//! Lesson 8 — many connections: a chat server with a thread per client.
//!
//! Every client gets two threads: one reads its lines (`client.rs`), one
//! writes what the others say to it (`writer.rs`). The chat itself — rooms,
//! names, and a bounded queue per client — is shared by all of them behind a
//! mutex (`chat.rs`). The exercises are in `chat.rs` (8.1: deliver without
//! ever blocking; 8.4: shut down), `writer.rs` (8.2: the writer thread) and
//! `client.rs` (8.3: the reader thread). Book: chapter 8, "Threads".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson08/chat.rs")]
pub mod chat;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson08/client.rs")]
pub mod client;
pub mod lines;
pub mod server;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson08/writer.rs")]
pub mod writer;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7008";
