//! Accepting connections without ever stopping, spinning or flooding the log.
//!
//! `listener.accept()` can fail for two very different reasons:
//!
//! - Something went wrong with *one* would-be connection: the client reset it
//!   while it waited in the backlog (`ConnectionAborted`), or a signal
//!   interrupted the call. Try again at once; the next client is fine.
//! - The *process* is out of something: file descriptors ("Too many open
//!   files", EMFILE), the system's file table (ENFILE), kernel memory
//!   (ENOBUFS, ENOMEM). The waiting connection stays in the backlog, so the
//!   very next `accept` fails the same way. A loop that simply retries spins
//!   at 100% CPU, and if it logs each failure it writes megabytes a second.
//!   Pause a moment instead: connections that close meanwhile free what was
//!   missing.
//!
//! Either way the listener itself is fine, so an accept loop never returns
//! because of an error. Every server of the course accepts through here
//! (lesson 1's exercise through [`accept_failed`]), and tokio, mio-based
//! servers and hyper do the same thing in their own accept loops.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long to pause after an error that would repeat at once.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Failures less than this far apart belong to one burst, logged once.
const BURST_GAP: Duration = Duration::from_secs(1);

/// While a burst lasts, a reminder at most this often.
const REMINDER_EVERY: Duration = Duration::from_secs(60);

// ANCHOR: accept
/// Waits for the next connection on `listener` and returns it with the
/// client's address. It never fails: errors go to [`accept_failed`], which
/// logs them and pauses when retrying at once would only fail again.
pub fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let mut failed = 0u64;
    loop {
        match listener.accept() {
            Ok(accepted) => {
                if failed > 0 {
                    eprintln!("accepting connections again (after {failed} failed tries)");
                }
                return accepted;
            }
            Err(e) => {
                failed += 1;
                accept_failed(&e);
            }
        }
    }
}
// ANCHOR_END: accept

// ANCHOR: accept_failed
/// Deals with an error from `listener.accept()`: logs it once per burst of
/// failures (not once per failure), and pauses for [`ACCEPT_PAUSE`] unless
/// the error concerned only one connection. Call it and try `accept` again.
pub fn accept_failed(error: &io::Error) {
    if accept_failure_logged(error) {
        thread::sleep(ACCEPT_PAUSE);
    }
}
// ANCHOR_END: accept_failed

/// What [`accept_failed`] does, without the pause, for a server that must
/// not block: an event loop (lesson 9) or an async task (lesson 10). Logs
/// the error once per burst and returns whether the server should stop
/// accepting for [`ACCEPT_PAUSE`] — true unless the error concerned only one
/// connection.
pub fn accept_failure_logged(error: &io::Error) -> bool {
    let pause = !concerns_one_connection(error);
    if let Some(repeats) = worth_a_line() {
        let pausing = if pause {
            format!("; pausing {} ms between tries", ACCEPT_PAUSE.as_millis())
        } else {
            String::new()
        };
        let again = match repeats {
            0 => String::new(),
            n => format!(" (still failing: {n} times since the last message)"),
        };
        eprintln!("accept failed: {error}{pausing}{again}");
    }
    pause
}

/// Errors about one would-be connection: the next `accept` may well succeed.
fn concerns_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The log's memory: when the last failure happened, when we last wrote
/// about it, and how many failures we kept quiet since.
struct Burst {
    last_failure: Instant,
    last_message: Instant,
    quiet: u64,
}

static BURST: Mutex<Option<Burst>> = Mutex::new(None);

/// Records a failure. Returns `Some(n)` when it deserves a log line — the
/// first of a burst (`n` = 0), or a reminder that `n` more failed since the
/// last line — and `None` when it is better left unsaid.
fn worth_a_line() -> Option<u64> {
    let now = Instant::now();
    let mut burst = BURST.lock().unwrap_or_else(|e| e.into_inner());
    match burst.as_mut() {
        Some(b) if now.duration_since(b.last_failure) < BURST_GAP => {
            b.last_failure = now;
            if now.duration_since(b.last_message) < REMINDER_EVERY {
                b.quiet += 1;
                return None;
            }
            b.last_message = now;
            Some(std::mem::take(&mut b.quiet) + 1)
        }
        _ => {
            *burst = Some(Burst {
                last_failure: now,
                last_message: now,
                quiet: 0,
            });
            Some(0)
        }
    }
}
