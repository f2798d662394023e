//! The Nagle experiment: a request sent as two small writes, then a wait
//! for the reply — write, write, read — with TCP_NODELAY off and on.
//!
//! With Nagle's algorithm on (the default), the second small write waits
//! until the first is acknowledged. The server has nothing to say before the
//! whole request is there, so it does not answer the first part at once: it
//! delays its ACK (about 40 ms on Linux) hoping to send it with a reply.
//! Each waits for the other, and every round takes ~40 ms instead of a few
//! microseconds.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

// ANCHOR: request
/// The first part of each request: a line that is not finished yet.
pub const HEAD: &[u8] = b"GET ";
/// The rest of the request, which ends the line.
pub const BODY: &[u8] = b"/status\n";
/// What the line echo server (`lesson06 server`) sends back: the whole line.
pub const REPLY: &[u8] = b"GET /status\n";
// ANCHOR_END: request

// ANCHOR: client
/// A connection to a line echo server that counts its writes, and notes
/// whether TCP_NODELAY was on at each, so that a test can check that a
/// request really went out as two of them, with the option asked.
pub struct Client {
    stream: TcpStream,
    writes: u32,
    nodelay_at_writes: Vec<bool>,
}

impl Client {
    /// Connects to `addr`; every read and write gives up after `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        Ok(Client::from(stream))
    }

    /// The socket, to set options on or to look at.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// How many times [`Client::send`] was called.
    pub fn writes(&self) -> u32 {
        self.writes
    }

    /// TCP_NODELAY as the kernel reported it at each [`Client::send`], in
    /// order.
    pub fn nodelay_at_writes(&self) -> &[bool] {
        &self.nodelay_at_writes
    }

    /// Sends all of `bytes` as one write (one `write_all`), after noting
    /// whether TCP_NODELAY is on (a getsockopt: a fraction of a microsecond).
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writes += 1;
        self.nodelay_at_writes.push(self.stream.nodelay()?);
        self.stream.write_all(bytes)
    }

    /// Reads one whole reply and checks that it is [`REPLY`]; an error of
    /// kind `InvalidData` if it is not, `UnexpectedEof` if the server closed.
    pub fn reply(&mut self) -> io::Result<()> {
        let mut reply = [0u8; REPLY.len()];
        self.stream.read_exact(&mut reply)?;
        if reply != REPLY {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "expected the reply {:?}, got {:?}",
                    String::from_utf8_lossy(REPLY),
                    String::from_utf8_lossy(&reply)
                ),
            ));
        }
        Ok(())
    }
}

impl From<TcpStream> for Client {
    fn from(stream: TcpStream) -> Client {
        Client {
            stream,
            writes: 0,
            nodelay_at_writes: Vec::new(),
        }
    }
}
// ANCHOR_END: client

// ANCHOR: measure
/// Exercise 6.4: the Nagle experiment — book §6.4.
///
/// Set TCP_NODELAY on `client`'s socket to `nodelay` (on: small writes go
/// out at once; off: Nagle's algorithm holds them back), then do `rounds`
/// rounds of the experiment and return how long each round took, in order.
///
/// A round is: [`HEAD`] and [`BODY`] sent as two writes (`client.send`),
/// then a wait for the whole reply (`client.reply()`). Its time runs from
/// just before the first write to just after the reply.
///
/// - Set the option either way: a socket that had TCP_NODELAY on and is
///   asked for `false` must end with it off.
/// - Two writes per round, never one: the experiment is about what the
///   second small write waits for.
/// - Exactly `rounds` rounds; 0 sends nothing and returns an empty list.
/// - Any error ends the experiment and is returned: a list of times is
///   complete or not returned at all.
pub fn measure(client: &mut Client, nodelay: bool, rounds: u32) -> io::Result<Vec<Duration>> {
    let _ = (client, nodelay, rounds); // unused until you write the function
    todo!("exercise 6.4: the Nagle experiment — book §6.4")
}
// ANCHOR_END: measure
