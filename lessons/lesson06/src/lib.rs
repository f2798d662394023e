//! Lesson 6 — socket options with socket2, every effect made visible with a
//! number: SO_REUSEADDR and TIME_WAIT, dual stack, SO_LINGER and resets,
//! TCP_NODELAY, buffers, keepalive, SO_REUSEPORT.
//!
//! The exercises are in `listener.rs` (6.1 and 6.2), `close.rs` (6.3) and
//! `nodelay.rs` (6.4). `experiments.rs` runs each experiment, `server.rs` is
//! the line echo server with options, `inspect.rs` reads a socket's options
//! back from the kernel.
//! Book: chapter 6, "Socket options, made visible".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson06/close.rs")]
pub mod close;
pub mod demo;
pub mod experiments;
pub mod inspect;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson06/listener.rs")]
pub mod listener;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson06/nodelay.rs")]
pub mod nodelay;
pub mod server;

/// The port `server` listens on when you give it no address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7006";
