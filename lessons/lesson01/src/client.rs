//! The echo client: send everything, say "that's all", read everything back.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

// ANCHOR: round_trip
/// Exercise 1.3: the client round trip — book §1.3.
///
/// Copy all of `input` to the server over `stream`, tell the server you are
/// done sending, and copy everything the server sends back into `output`,
/// until the server closes. Return how many bytes you received.
///
/// - `io::copy(&mut reader, &mut writer)` loops read → write_all until EOF.
///   `&TcpStream` implements both `Read` and `Write`, so `let mut s = stream;`
///   gives you a handle you can pass to it.
/// - `stream.shutdown(Shutdown::Write)` is the half-close: the server's next
///   `read` returns `Ok(0)`, but you can still read its reply.
/// - Send and receive *at the same time*: do the sending in a second thread
///   with `thread::scope(|s| { s.spawn(|| ...); ... })`, and receive on this
///   one. If you sent everything first and only then read, a large input would
///   deadlock: the server blocks writing replies you are not reading yet, so it
///   stops reading, so you block writing. (§1.3 draws it.)
pub fn round_trip<R, W>(stream: &TcpStream, mut input: R, mut output: W) -> io::Result<u64>
where
    R: Read + Send,
    W: Write,
{
    todo!("exercise 1.3: the client round trip — book §1.3")
}
// ANCHOR_END: round_trip
