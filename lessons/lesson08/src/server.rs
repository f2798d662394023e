//! The server: accepts clients, starts two threads for each, and stops
//! cleanly when asked.

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use netlings_chat::protocol::SERVER_FULL;
use netlings_chat::{Leaving, Limits};
use netlings_kit::WriteWithin;

use crate::chat::{Chat, SharedChat, lock};
use crate::client::serve_client;
use crate::writer::writer_thread;

/// How long a stopping server waits for its writer threads to send their
/// last lines, before it exits anyway (the promise is: within 2 s).
pub const GOODBYE_TIME: Duration = Duration::from_millis(1500);

/// Every thread is small: a client's threads need little stack, and 10,000
/// clients mean 20,000 threads. (Rust's default is 2 MiB of address space.)
pub const THREAD_STACK: usize = 64 * 1024;

// ANCHOR: capacity
/// How many clients this system lets the server give two threads each, if
/// it can tell (Linux), before thread creation starts to fail.
///
/// The limit that bites first is not memory but the kernel's cap on memory
/// *mappings* per process (`/proc/sys/vm/max_map_count`, 65,530 by
/// default): each Rust thread takes four — its stack, the stack's guard
/// page, and the same two for the small stack its stack-overflow handler
/// runs on. Past the cap, `thread::spawn` fails, and so can any allocation.
pub fn most_clients_the_system_allows() -> Option<usize> {
    const MAPS_PER_CLIENT: usize = 2 * 4;
    // Room for the program itself, its libraries and its heap.
    const MAPS_FOR_THE_REST: usize = 2_000;
    let max_maps: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(max_maps.saturating_sub(MAPS_FOR_THE_REST) / MAPS_PER_CLIENT)
}
// ANCHOR_END: capacity

// ANCHOR: server
/// A chat server, ready to run.
pub struct Server {
    listener: TcpListener,
    limits: Limits,
    chat: SharedChat,
    stopping: Arc<AtomicBool>,
    writers: Arc<Live>,
}

impl Server {
    pub fn new(listener: TcpListener, limits: Limits) -> Server {
        Server {
            listener,
            limits,
            chat: Arc::new(Mutex::new(Chat::new())),
            stopping: Arc::new(AtomicBool::new(false)),
            writers: Arc::new(Live::default()),
        }
    }

    /// A handle that stops this server from another thread.
    pub fn stopper(&self) -> io::Result<Stopper> {
        Ok(Stopper {
            stopping: Arc::clone(&self.stopping),
            addr: self.listener.local_addr()?,
        })
    }

    // ANCHOR: run
    /// Accepts clients until stopped, then says goodbye to every client and
    /// returns once their writer threads are done (or [`GOODBYE_TIME`] has
    /// passed).
    pub fn run(self) -> io::Result<()> {
        while !self.stopping.load(Ordering::SeqCst) {
            match self.listener.accept() {
                // The connection that woke us up to stop is not a client.
                Ok(_) if self.stopping.load(Ordering::SeqCst) => break,
                Ok((stream, _)) => {
                    if let Err(e) = self.start_client(stream) {
                        eprintln!("could not start a client's threads: {e}");
                    }
                }
                // Logs, and pauses if retrying at once would fail again.
                Err(e) => netlings_kit::accept_failed(&e),
            }
        }
        lock(&self.chat).shut_down();
        self.writers.wait_for_none(Instant::now() + GOODBYE_TIME);
        Ok(())
    }
    // ANCHOR_END: run

    // ANCHOR: start_client
    /// Joins a new client to the chat and starts its two threads.
    fn start_client(&self, stream: TcpStream) -> io::Result<()> {
        let (outbox, lines) = sync_channel(self.limits.queue_lines);
        stream.set_read_timeout(Some(self.limits.idle))?;
        // A chat's lines are small and wanted now: without this, Nagle's
        // algorithm holds a small write back until the client has
        // acknowledged the previous one (lesson 2). The writer thread
        // already sends what is queued together.
        stream.set_nodelay(true)?;
        // One socket, shared by the chat and the client's two threads: `&TcpStream`
        // reads and writes, so no clone of the file descriptor is needed.
        let stream = Arc::new(stream);
        let id = {
            // Checked and joined under one lock, so that two clients
            // accepted at once cannot both take the last place.
            let mut chat = lock(&self.chat);
            if chat.len() >= self.limits.max_clients {
                drop(chat);
                let _ = WriteWithin::new(&stream, Duration::from_secs(1))
                    .write_all(SERVER_FULL.as_bytes());
                return Ok(());
            }
            chat.join(outbox, Arc::clone(&stream))
        };

        let (chat, writers) = (Arc::clone(&self.chat), Arc::clone(&self.writers));
        let (writer_stream, stall) = (Arc::clone(&stream), self.limits.stall);
        writers.add();
        let spawned = thread::Builder::new()
            .name(format!("writer {id}"))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                writer_thread(&chat, id, &writer_stream, &lines, stall);
                writers.remove();
            });
        if let Err(e) = spawned {
            self.writers.remove();
            lock(&self.chat).leave(id, Leaving::Gone);
            return Err(e);
        }

        let chat = Arc::clone(&self.chat);
        let spawned = thread::Builder::new()
            .name(format!("reader {id}"))
            .stack_size(THREAD_STACK)
            .spawn(move || {
                let why = serve_client(&chat, id, &stream);
                lock(&chat).leave(id, why);
            });
        if let Err(e) = spawned {
            // The writer thread hangs up when its queue closes.
            lock(&self.chat).leave(id, Leaving::Gone);
            return Err(e);
        }
        Ok(())
    }
    // ANCHOR_END: start_client
}
// ANCHOR_END: server

/// Stops a [`Server`] from another thread, e.g. the Ctrl-C handler.
#[derive(Clone)]
pub struct Stopper {
    stopping: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Stopper {
    // ANCHOR: stop
    /// Raises the flag, then connects to the server once: its accept loop
    /// is blocked in `accept`, and a connection is what wakes it up to see
    /// the flag.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            // Bound to 0.0.0.0 or [::]: reach it on loopback.
            addr.set_ip(match addr {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        if let Ok(wake) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = wake.shutdown(Shutdown::Both);
        }
    }
    // ANCHOR_END: stop
}

/// Counts live threads, so that a stopping server can wait for them.
#[derive(Default)]
struct Live {
    count: Mutex<usize>,
    changed: Condvar,
}

impl Live {
    fn add(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn remove(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.changed.notify_all();
    }

    /// Waits until the count is 0, or `deadline`.
    fn wait_for_none(&self, deadline: Instant) {
        let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *count > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            count = self
                .changed
                .wait_timeout(count, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}
