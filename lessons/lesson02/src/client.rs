//! The client: find the server by name, then talk to it line by line.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

use crate::errors::explain;
use crate::lines::read_line;

/// How long `client` gives each of the server's addresses to accept.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest reply line the client accepts. A server is a peer too: what
/// it sends gets a limit like everything else. (A reply can be longer than
/// its request: the upper case of `ΐ`, 2 bytes in UTF-8, is 6 bytes long.)
pub const MAX_REPLY: usize = 64 * 1024;

// ANCHOR: connect_any
/// Exercise 2.4: connect to the first address that answers — book §2.4.
///
/// Resolve `addrs` to socket addresses and connect to the first one that
/// accepts, trying them in order and giving each at most `timeout`. Return
/// the connected stream.
///
/// - `addrs.to_socket_addrs()?` resolves. `"localhost:7002"` often gives two
///   addresses, `[::1]:7002` and `127.0.0.1:7002`, and a server may listen on
///   only one of them. (It also takes `"127.0.0.1:7002"`, `("example.com",
///   80)`, a `SocketAddr`, or a slice `&[SocketAddr]`.)
/// - `TcpStream::connect_timeout(&addr, timeout)` tries one address.
/// - When every address fails, return one error that reports every attempt:
///   each address and, in plain words, why it failed — [`explain`] says it
///   for you — separated by `; `, e.g. `"[::1]:7002: nothing is listening
///   there; 127.0.0.1:7002: no answer in time"`. Give it the `kind()` of the
///   last failure: `io::Error::new(kind, message)`.
/// - When the name resolves to no address at all, return an error of kind
///   `io::ErrorKind::InvalidInput`.
///
/// (`TcpStream::connect` tries every address too, but it has no timeout, and
/// when all fail it only tells you why the last one did.)
pub fn connect_any(addrs: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    todo!("exercise 2.4: connect to the first address that answers — book §2.4")
}
// ANCHOR_END: connect_any

// ANCHOR: chat
/// Sends `input` to the server as it comes, and writes each reply line to
/// `output`, until the server closes. When `input` ends, half-closes the
/// connection, so that the server knows we are done.
pub fn chat(
    stream: TcpStream,
    mut input: impl Read + Send + 'static,
    mut output: impl Write,
) -> io::Result<()> {
    let mut to_server = stream.try_clone()?;
    // Send and receive at once: the server may speak when we did not ask
    // (`ERR idle timeout`), while the sender waits for the keyboard.
    // The sender is not joined: once the server has closed we are done, even
    // if it still waits for a line nobody will type.
    thread::spawn(move || {
        // An error here (the server closed) shows up on the reading side too.
        let _ = io::copy(&mut input, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let mut from_server = BufReader::new(&stream);
    while let Some(line) = read_line(&mut from_server, MAX_REPLY)? {
        writeln!(output, "{line}")?;
        output.flush()?;
    }
    Ok(())
}
// ANCHOR_END: chat
