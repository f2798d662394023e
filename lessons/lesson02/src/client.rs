//! The client: find the server by name, then talk to it line by line.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::Duration;

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
/// Resolve `addrs` (a `"host:port"` string, a `(host, port)` pair, a
/// `SocketAddr`, a slice of them…) to socket addresses, and connect to the
/// first one that accepts, trying them in the order the resolver gave them.
/// Return the connected stream.
///
/// - Give each address at most `timeout`: one that never answers must not
///   keep you from trying the next (§2.4 shows one).
/// - When every address fails, return one error that reports every attempt:
///   each address and, in plain words, why it failed — what
///   [`explain`](crate::errors::explain) (given) says about its error —
///   separated by `; `, e.g. `[::1]:7002: nothing is listening there;
///   127.0.0.1:7002: no answer in time`. Its kind is the kind of the last
///   failure, so that a program can still decide by it.
/// - When the name resolves to no address at all, return an error of kind
///   `io::ErrorKind::InvalidInput`; when it cannot be resolved, the
///   resolver's error as it is.
pub fn connect_any(addrs: impl ToSocketAddrs, timeout: Duration) -> io::Result<TcpStream> {
    let _ = (addrs, timeout); // unused until you write the function
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
