//! The echo client: send everything, say "that's all", read everything back.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;

// ANCHOR: round_trip
/// Exercise 1.3: the client round trip — book §1.3.
///
/// Copy all of `input` to the server over `stream`, tell the server you are
/// done sending (a half-close), and copy everything the server sends back
/// into `output` until the server closes. Return how many bytes you received.
///
/// - Send and receive at the same time: an input of any size must work, also
///   one far larger than the sockets' buffers (§1.3 shows why sending
///   everything first deadlocks).
/// - Flush `output` before you return.
/// - If writing to `output` fails (say, the program reading your output has
///   quit), stop sending as well and return that error at once; never leave
///   the sending side blocked on a server that waits for you to read.
/// - If reading `input` fails, half-close all the same, so that the server
///   finishes and closes, and return that error; never leave the receiving
///   side waiting for a server that waits for the rest of the input.
/// - Any other error, on either side, is returned too; when both sides
///   failed, receiving's error.
pub fn round_trip<R, W>(stream: &TcpStream, input: R, output: W) -> io::Result<u64>
where
    R: Read + Send,
    W: Write,
{
    let (mut input, mut output) = (input, output);
    thread::scope(|s| {
        let sender = s.spawn(move || -> io::Result<()> {
            let mut to_server = stream;
            let copied = io::copy(&mut input, &mut to_server);
            // Half-close: "no more bytes from me" — also when the input
            // failed. The server sees end of stream, finishes echoing, and
            // closes, which ends our read below; without it, both would wait.
            let half_closed = stream.shutdown(Shutdown::Write);
            copied?;
            half_closed
        });

        let mut from_server = stream;
        let received = io::copy(&mut from_server, &mut output).and_then(|n| {
            output.flush()?;
            Ok(n)
        });
        if received.is_err() {
            // Nobody will take the rest of the echo, so the server will stop
            // reading, and the sender would wait for it forever. Shutting the
            // socket down wakes the sender with an error.
            let _ = stream.shutdown(Shutdown::Both);
        }
        // The sender's error (say, the server reset the connection) matters
        // too, but the receiving side's comes first.
        let sent = sender.join().expect("the sending thread panicked");
        let received = received?;
        sent?;
        Ok(received)
    })
}
// ANCHOR_END: round_trip
