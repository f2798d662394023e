//! One line on stdout per event (given), flushed at once — without ever
//! letting a slow reader of stdout slow down the program.
//!
//! The lines go through a bounded queue to a thread of their own that
//! writes them. If nobody reads the pipe and the queue fills, the line is
//! dropped (and counted) rather than the coordinator stopping: a log must not
//! become a way to stall the server.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread;

static QUEUE: OnceLock<SyncSender<String>> = OnceLock::new();
static DIRECT: AtomicBool = AtomicBool::new(false);
static DROPPED: AtomicU64 = AtomicU64::new(0);
static SILENT: AtomicBool = AtomicBool::new(false);

/// Prints `line` on stdout (with a newline), flushed.
pub fn event(line: impl Into<String>) {
    if SILENT.load(Ordering::Relaxed) {
        return;
    }
    let line = line.into();
    if DIRECT.load(Ordering::Relaxed) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
        return;
    }
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = sync_channel::<String>(4096);
        thread::spawn(move || {
            for line in rx {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
        });
        tx
    });
    if queue.try_send(line).is_err() {
        DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// Prints events right away, on the caller's thread: for the
/// narrated demo, where they interleave with the narration.
pub fn print_directly() {
    DIRECT.store(true, Ordering::Relaxed);
}

/// Prints no events at all: for tests that drive a `Coordinator` in their
/// own process, where the lines would land in `cargo test`'s output (they
/// are written by a thread of their own, which the test harness does not
/// capture).
pub fn silence() {
    SILENT.store(true, Ordering::Relaxed);
}
