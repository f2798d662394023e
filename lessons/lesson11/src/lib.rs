//! Lesson 11 — a distributed task queue.
//!
//! A coordinator (`server.rs`, with its state in `coordinator.rs`) holds a
//! queue of tasks; workers (`worker.rs`) connect, pull tasks when they have
//! a free slot, run them (`task.rs`) and report results; clients
//! (`client.rs`) submit jobs and wait for them. Every message travels as a
//! length-prefixed frame (`wire.rs`). A task handed to a worker is *leased*
//! (`lease.rs`): if the worker stops renewing it, the task goes back to the
//! queue. Every job the coordinator acknowledges is first written and synced
//! to an append-only log (`log.rs`), so it survives a restart.
//!
//! The exercises: 11.1 lease bookkeeping (`lease.rs`), 11.2 the worker loop
//! with heartbeats (`worker.rs`), 11.3 pull-based dispatch and 11.4 results
//! exactly once (`coordinator.rs`), 11.5 reading the log back
//! (`log.rs`). Book: chapter 11, "A distributed task queue".

pub mod client;
#[cfg_attr(
    feature = "solution",
    path = "../../../solutions/lesson11/coordinator.rs"
)]
pub mod coordinator;
pub mod demo;
pub mod events;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson11/lease.rs")]
pub mod lease;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson11/log.rs")]
pub mod log;
pub mod server;
pub mod task;
pub mod wire;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson11/worker.rs")]
pub mod worker;

/// The address the coordinator listens on when you give it none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7011";
