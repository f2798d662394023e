//! The key-value server: a store, the request handler (exercise 5.4) and the
//! accept loop.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::frame::FrameError;
use crate::message::{Request, Response};

// ANCHOR: limits
/// The most keys the store holds. Clients grow the store, so it has a limit
/// like every other buffer a peer can grow: at most 1024 keys × 64 KiB.
pub const MAX_ENTRIES: usize = 1024;

/// The most bytes of answers the request handler keeps before it writes
/// them: once its unsent answers reach this, they go out, even if more
/// requests are waiting. A client that pipelines requests without reading
/// the answers must not make the server's memory grow.
pub const MAX_PENDING: usize = 64 * 1024;

/// How long a client may stay silent, or leave an answer untaken, before the
/// server hangs up on it (`server --idle-ms` changes it). The server serves
/// one client at a time, so a client that holds it blocks everyone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
// ANCHOR_END: limits

// ANCHOR: store
/// The keys and values, shared by every client (one at a time).
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<Vec<u8>, Vec<u8>>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Carries out one request and says how it went. Never fails: a missing
    /// key or a full store is an answer, not a reason to hang up.
    pub fn apply(&mut self, request: Request) -> Response {
        match request {
            Request::Get { key } => match self.map.get(&key) {
                Some(value) => Response::Value(value.clone()),
                None => Response::NotFound,
            },
            Request::Set { key, value } => {
                if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&key) {
                    return Response::Error(format!(
                        "the store is full ({MAX_ENTRIES} keys); delete some first"
                    ));
                }
                self.map.insert(key, value);
                Response::Ok
            }
            Request::Delete { key } => match self.map.remove(&key) {
                Some(_) => Response::Ok,
                None => Response::NotFound,
            },
        }
    }
}
// ANCHOR_END: store

// ANCHOR: handle_connection
/// Exercise 5.4: the request handler — book §5.4.
///
/// Serve one client: read the requests that arrive on `reader`, carry each
/// out on `store`, and write each answer to `writer`, until the client closes
/// the connection between two messages; then return how many requests you
/// answered.
///
/// - Answers go out in the order of the requests, each with the id of the
///   request it answers.
/// - A request whose body [`Request::decode`] refuses (an unknown kind, an
///   empty key, ...) is answered with `Response::Error`, the error's text as
///   its message, and counts as answered; the connection goes on.
/// - A framing error from [`read_message`] (a bad header, a message cut
///   short, a read that timed out, a reset) ends the connection unanswered:
///   return it. The answers to the requests before it still go out first.
/// - A failed write ends the connection too: return its error at once and
///   write nothing more (each write to a client that does not read may wait
///   for the whole timeout).
/// - Never wait for more bytes from the client while answers it may be
///   waiting for are unsent: a client that sends one request and waits gets
///   its answer.
/// - Write the answers in batches with `write_all`: those to requests that
///   arrived together go out together, not one write each — but once unsent
///   answers reach [`MAX_PENDING`] bytes, write them.
///
/// In the server, `reader` is the client's `TcpStream` (its read timeout
/// set) and `writer` a [`netlings_kit::WriteWithin`] over it, whose every
/// `write_all` must finish within the timeout; some tests pass streams in
/// memory.
pub fn handle_connection<R: Read, W: Write>(
    reader: R,
    writer: W,
    store: &mut Store,
) -> Result<u64, FrameError> {
    let _ = (reader, writer, store); // unused until you write the function
    todo!("exercise 5.4: the request handler — book §5.4")
}
// ANCHOR_END: handle_connection

// ANCHOR: serve
/// Serves clients one after another, forever, with one store for all.
///
/// One client at a time (Part III of the course serves many at once): while
/// one is connected, the next waits in the listen backlog. So that no client
/// can hold the server for ever, each read may wait at most `idle` (a silent
/// client), and each batch of answers must be taken within `idle` (a client
/// that does not read). A framing error or a timeout closes only that
/// client's connection.
pub fn serve(listener: TcpListener, idle: Duration) -> io::Result<()> {
    let mut store = Store::new();
    loop {
        // Logs accept errors and pauses when they would only repeat (lesson 1).
        let (stream, peer) = netlings_kit::accept(&listener);
        eprintln!("{peer}: connected");
        if let Err(e) = stream.set_read_timeout(Some(idle)) {
            eprintln!("{peer}: could not set a read timeout: {e}");
            continue;
        }
        // Not set_write_timeout: it bounds each send, and write_all starts a
        // fresh one after every partial send. This is one deadline per write_all.
        let writer = netlings_kit::WriteWithin::new(&stream, idle);
        match handle_connection(&stream, writer, &mut store) {
            Ok(1) => eprintln!("{peer}: the client closed after 1 request"),
            Ok(n) => eprintln!("{peer}: the client closed after {n} requests"),
            Err(e) => eprintln!("{peer}: closing the connection: {e}"),
        }
        // `stream` is dropped here, which closes the connection.
    }
}
// ANCHOR_END: serve
