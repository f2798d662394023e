//! Lesson 10 — many connections: a chat server with tokio tasks.
//!
//! Every client gets one task (`client.rs`): it waits, with `tokio::select!`,
//! for a line from the client, a line for the client, the end of its idle
//! time, or the chat hanging up on it. Lines go in and out through a codec
//! (`lines.rs`), and out in batches with a deadline (`writer.rs`). The chat
//! itself — rooms, names, and a bounded queue per client — is shared by all
//! the tasks behind a mutex (`chat.rs`), as in lesson 8. The exercises are in
//! `chat.rs` (10.1: deliver without ever waiting), `writer.rs` (10.2: write
//! with a deadline), `client.rs` (10.3: the client's task) and `server.rs`
//! (10.4: stop within two seconds). Book: chapter 10, "Async with tokio".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson10/chat.rs")]
pub mod chat;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson10/client.rs")]
pub mod client;
pub mod lines;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson10/server.rs")]
pub mod server;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson10/writer.rs")]
pub mod writer;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7010";
