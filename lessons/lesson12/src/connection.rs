//! One connection, many requests: reading them in turn, with deadlines, and
//! deciding whether to keep the connection open after each answer.
//!
//! Bytes arrive in whatever pieces TCP makes of them: half a head, or two
//! whole pipelined requests and the start of a third. Everything received
//! and not used yet waits in [`Connection::buf`]; a request takes its bytes
//! from the front and leaves the rest for the next one.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use crate::request::Request;
use crate::{Config, HttpError};

/// How much room to make in the buffer before each read.
pub const READ_SIZE: usize = 16 * 1024;

// ANCHOR: connection
/// A client's connection and the bytes received from it not used yet.
pub struct Connection {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// Received, not yet part of a request: the start of the next one.
    pub buf: BytesMut,
}

impl Connection {
    pub fn new(stream: TcpStream, peer: SocketAddr) -> Connection {
        Connection {
            stream,
            peer,
            buf: BytesMut::with_capacity(READ_SIZE),
        }
    }

    /// Reads what has arrived (waiting for something if nothing has) onto
    /// the end of `buf`: how many bytes, 0 at end of stream.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        self.buf.reserve(READ_SIZE);
        self.stream.read_buf(&mut self.buf).await
    }
}
// ANCHOR_END: connection

// ANCHOR: incoming
/// A whole request: its head and its body (empty if it had none).
#[derive(Debug)]
pub struct Incoming {
    pub request: Request,
    pub body: Vec<u8>,
}
// ANCHOR_END: incoming

// ANCHOR: read_request
/// Exercise 12.3: read the next request — book §12.3.
///
/// Reads the next request from `conn`, using the bytes already in
/// `conn.buf` first (a pipelined request may be there whole), and leaves in
/// `conn.buf` whatever follows it.
/// - Between requests, with nothing buffered, wait at most
///   `config.idle_timeout` for a first byte: `Ok(None)` if none comes.
/// - From then on, the whole head must arrive before one deadline,
///   `config.header_timeout` after that moment — not a timeout per read,
///   which a peer sending a byte now and then would renew forever. Past
///   it: `Err(HttpError::TIMED_OUT)`.
/// - Then the body, framed as §12.2 says (errors from
///   [`framing`](crate::body::framing) and
///   [`decode_chunked`](crate::body::decode_chunked) are returned as they
///   are, limits from `config`),
///   before a new deadline `config.header_timeout` after the head's end.
/// - End of stream or a read error on the way: `Ok(None)` (nobody is left
///   to answer). Errors from [`parse_head`](crate::request::parse_head)
///   are returned as they are.
pub async fn read_request(
    conn: &mut Connection,
    config: &Config,
) -> Result<Option<Incoming>, HttpError> {
    let _ = (conn, config); // unused until you write the function
    todo!("exercise 12.3: read the next request — book §12.3")
}
// ANCHOR_END: read_request

// ANCHOR: keep_alive
/// Exercise 12.3: keep the connection open? — book §12.3.
///
/// Whether the connection stays open after the answer to `request`: in
/// HTTP/1.1 yes, unless its `Connection` field lists `close`; in HTTP/1.0
/// no, unless it lists `keep-alive`. `Connection` may appear more than once
/// and hold a comma-separated list; its options are compared without case.
pub fn keep_alive(request: &Request) -> bool {
    let _ = request; // unused until you write the function
    todo!("exercise 12.3: keep the connection open? — book §12.3")
}
// ANCHOR_END: keep_alive
