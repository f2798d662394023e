//! The key-value server: a store, the request handler (exercise 5.4) and the
//! accept loop.

use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::frame::{FrameError, read_message, write_message};
use crate::message::{Request, Response};

/// The most keys the store holds. Clients grow the store, so it has a limit
/// like every other buffer a peer can grow: at most 1024 keys × 64 KiB.
pub const MAX_ENTRIES: usize = 1024;

/// How long a client may stay silent before the server hangs up on it. The
/// server serves one client at a time, so a silent client blocks everyone.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

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
/// Answer every request that arrives on `stream`, in order, until the client
/// closes the connection; then return how many requests you answered. For
/// each message:
///
/// 1. Read it with [`read_message`]. `Ok(None)` means the client closed the
///    connection cleanly: you are done. An `Err` is a *framing* error (bad
///    magic, bad version, body too large, truncated): return it, and the
///    caller logs it and closes the connection — `?` does exactly that.
/// 2. Decode the body with [`Request::decode`]`(header.kind(), &body)`. An
///    `Err` here is an *application* error: the framing was fine, so answer
///    `Response::Error(e.to_string())` and carry on with the next message.
/// 3. Otherwise let the store carry it out: `store.apply(request)`.
/// 4. Send the response with [`write_message`], with the *request's* id
///    (`header.id()`): a client that sent ten requests before reading any
///    reply matches replies to requests by id.
///
/// Read through a `BufReader` and write through a `BufWriter` (both wrap
/// `stream`: `&TcpStream` is `Read` and `Write`). Flush the writer whenever
/// the reader has no more requests buffered (`reader.buffer().is_empty()`):
/// a lone request is answered at once, and a batch of pipelined requests gets
/// its answers in a few large writes instead of one packet each.
pub fn handle_connection(stream: &TcpStream, store: &mut Store) -> Result<u64, FrameError> {
    todo!("exercise 5.4: the request handler — book §5.4")
}
// ANCHOR_END: handle_connection

// ANCHOR: serve
/// Serves clients one after another, forever, with one store for all.
///
/// One client at a time (lesson 8 adds threads): while one is connected, the
/// next waits in the listen backlog. A framing error closes only that client's
/// connection, and [`IDLE_TIMEOUT`] stops a silent one from holding the
/// server forever.
pub fn serve(listener: TcpListener) -> io::Result<()> {
    let mut store = Store::new();
    loop {
        // accept returns the client's address with the stream: asking the
        // stream later (peer_addr) fails if the client has already reset it.
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        eprintln!("{peer}: connected");
        let timeouts = stream
            .set_read_timeout(Some(IDLE_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IDLE_TIMEOUT)));
        if let Err(e) = timeouts {
            eprintln!("{peer}: could not set timeouts: {e}");
            continue;
        }
        match handle_connection(&stream, &mut store) {
            Ok(1) => eprintln!("{peer}: the client closed after 1 request"),
            Ok(n) => eprintln!("{peer}: the client closed after {n} requests"),
            Err(e) => eprintln!("{peer}: closing the connection: {e}"),
        }
        // `stream` is dropped here, which closes the connection.
    }
}
// ANCHOR_END: serve
