//! The framed echo server: every frame a client sends comes back as a frame.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::thread;

use crate::framing::{Decoder, write_frame};

/// How many bytes one `read` may return. Frames may be larger or smaller:
/// the decoder does not care where the reads cut the stream.
pub const BUF_SIZE: usize = 8 * 1024;

// ANCHOR: echo_frames
/// Exercise 4.5: a framed echo server — book §4.5.
///
/// Read from `stream` until the client has finished sending, feed every piece
/// to a [`Decoder`] that accepts payloads of at most `max_frame_len` bytes,
/// and write every complete frame back to the client as a frame (with
/// [`write_frame`]). Return how many frames you echoed.
///
/// - Read into a `[0u8; BUF_SIZE]` buffer and `decoder.push(&buf[..n])`.
///   One read may complete no frame, one, or several: after each push, take
///   out frames with `while let Some(frame) = decoder.next_frame()? { .. }`.
/// - `&TcpStream` implements `Read` and `Write`: `let mut writer = stream;`
///   is a second handle, for writing while `stream` is borrowed.
/// - `Ok(0)` from `read` is the end of the stream. If the decoder still holds
///   bytes (`decoder.buffered() > 0`), the client left in the middle of a
///   frame: return an `io::ErrorKind::UnexpectedEof` error that says so.
/// - An error from `next_frame` (a frame over the limit) ends this connection:
///   return it with `?`. The caller logs it and closes this connection only.
/// - Retry a read that fails with `io::ErrorKind::Interrupted`, as in §1.1.
pub fn echo_frames(stream: &TcpStream, max_frame_len: usize) -> io::Result<u64> {
    todo!("exercise 4.5: a framed echo server — book §4.5")
}
// ANCHOR_END: echo_frames

// ANCHOR: serve
/// Serves clients forever, each on its own thread, with [`echo_frames`].
///
/// A thread per connection is the simplest way to keep serving everybody else
/// while one client is slow, idle or hostile; lesson 8 looks at it closely
/// (and at what it costs: here, nothing limits how many clients connect).
pub fn serve(listener: TcpListener, max_frame_len: usize) -> io::Result<()> {
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
        thread::spawn(move || {
            // Whatever happens, only this client's thread ends; when it
            // returns, `stream` is dropped and this connection closes.
            match echo_frames(&stream, max_frame_len) {
                Ok(1) => eprintln!("{peer}: echoed 1 frame, closed"),
                Ok(n) => eprintln!("{peer}: echoed {n} frames, closed"),
                Err(e) => eprintln!("{peer}: {e}; closing this connection"),
            }
        });
    }
}
// ANCHOR_END: serve
