//! The framed echo server: every frame a client sends comes back as a frame.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use netlings_kit::WriteWithin;

use crate::framing::{DEFAULT_MAX_FRAME_LEN, Decoder, write_frame};

/// How many bytes one `read` may return. Frames may be larger or smaller:
/// the decoder does not care where the reads cut the stream.
pub const BUF_SIZE: usize = 8 * 1024;

// ANCHOR: limits
/// What one client, and all of them together, may take from the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The longest payload a client may send (`--max-frame-len`); a longer
    /// one closes its connection.
    pub max_frame_len: usize,
    /// How many clients are served at once (`--max-connections`); one more
    /// is closed as soon as it is accepted. With the frame limit, this bounds
    /// the server's memory: each client's decoder holds about one frame.
    pub max_connections: usize,
    /// How long a client may stay silent, or leave its echoes unread, before
    /// its connection is closed (`--idle-ms`).
    pub idle: Duration,
}

/// 8 MiB frames, 32 clients at once (so about 256 MiB of frames at most),
/// 30 seconds of silence.
pub const DEFAULT_LIMITS: Limits = Limits {
    max_frame_len: DEFAULT_MAX_FRAME_LEN,
    max_connections: 32,
    idle: Duration::from_secs(30),
};
// ANCHOR_END: limits

// ANCHOR: echo_frames
/// Exercise 4.5: a framed echo server — book §4.5.
///
/// Read what a client sends from `reader` until it has finished sending, and
/// write each complete frame back to `writer` as a frame
/// ([`write_frame`](crate::framing::write_frame), exercise 4.1).
/// Payloads longer than `max_frame_len` bytes are refused. Return how many
/// frames you echoed.
///
/// - Find the frames with a [`Decoder`](crate::framing::Decoder) (exercises
///   4.2 and 4.3): one for the whole connection, since a frame may arrive
///   over several reads.
/// - Echo each frame as soon as its last byte has arrived, before reading
///   again: one read may complete no frame, one, or several, and the client
///   may be waiting for all of them. Flush `writer` before each read.
/// - The client has finished when a read returns `Ok(0)`. Between two frames
///   that is the clean end: return the count. In the middle of a frame it is
///   an error of kind `io::ErrorKind::UnexpectedEof` whose message says how
///   many bytes of the frame arrived.
/// - A frame over the limit ends the connection with the decoder's error.
///   So does an error from `reader` or `writer`: return it (the caller logs
///   it and closes this connection only). A read interrupted by a signal
///   (`io::ErrorKind::Interrupted`) is retried.
///
/// The server passes its client's `&TcpStream` as `reader`, and a
/// `WriteWithin` of the same stream as `writer`; tests pass streams in
/// memory too.
pub fn echo_frames<R: Read, W: Write>(
    reader: R,
    writer: W,
    max_frame_len: usize,
) -> io::Result<u64> {
    let (mut reader, mut writer) = (reader, writer);
    let mut decoder = Decoder::with_max_frame_len(max_frame_len);
    let mut buf = [0u8; BUF_SIZE];
    let mut frames = 0;
    loop {
        // The echoes so far must be on their way before we wait for more.
        writer.flush()?;
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        decoder.push(&buf[..n]);
        // This read may have completed several frames, or none.
        while let Some(frame) = decoder.next_frame()? {
            write_frame(&mut writer, frame)?;
            frames += 1;
        }
    }
    // End of stream is only clean between two frames.
    if decoder.buffered() > 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the client left in the middle of a frame ({} bytes of it arrived)",
                decoder.buffered()
            ),
        ));
    }
    Ok(frames)
}
// ANCHOR_END: echo_frames

// ANCHOR: serve
/// Serves clients forever, each on its own thread, with [`echo_frames`],
/// within `limits`.
///
/// A thread per connection is the simplest way to keep serving everybody
/// else while one client is slow, idle or hostile (Part III of the course
/// looks at it closely, and at the alternatives). The limits keep that
/// safe: no more than `max_connections` threads, each holding about one
/// frame, and none of them kept by a client that stopped talking or reading.
pub fn serve(listener: TcpListener, limits: Limits) -> io::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        // Logs accept errors and pauses when they would repeat at once (§1.2).
        let (stream, peer) = netlings_kit::accept(&listener);
        // Only this thread adds connections, so the count cannot overtake
        // the limit between this check and the increment below.
        let now = open.load(Ordering::SeqCst);
        if now >= limits.max_connections {
            eprintln!(
                "{peer}: refused: {now} clients already connected (--max-connections {})",
                limits.max_connections
            );
            continue; // dropping `stream` closes it
        }
        let slot = Slot::take(&open);
        eprintln!("{peer}: connected");
        let spawned = thread::Builder::new().spawn(move || {
            let result = session(&stream, limits);
            // Close this connection only, and make room for the next client;
            // then say so.
            drop(stream);
            drop(slot);
            match result {
                Ok(1) => eprintln!("{peer}: echoed 1 frame, closed"),
                Ok(n) => eprintln!("{peer}: echoed {n} frames, closed"),
                Err(e) => eprintln!("{peer}: {}; closed", explain(&e, limits)),
            }
        });
        if let Err(e) = spawned {
            // Out of memory or threads: this client goes, the server stays.
            eprintln!("{peer}: could not start a thread for it: {e}");
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: session
/// One client's connection, with the idle timeout: a read that waits longer
/// than `limits.idle` fails, and so does an echo that the client does not
/// take within `limits.idle` — for the whole frame, however the client paces
/// its reads (`WriteWithin`).
fn session(stream: &TcpStream, limits: Limits) -> io::Result<u64> {
    stream.set_read_timeout(Some(limits.idle))?;
    echo_frames(
        stream,
        WriteWithin::new(stream, limits.idle),
        limits.max_frame_len,
    )
}
// ANCHOR_END: session

/// The log's words for an error that ended a session.
fn explain(error: &io::Error, limits: Limits) -> String {
    match error.kind() {
        // An expired read timeout: Unix says WouldBlock, Windows TimedOut
        // (and WriteWithin's own TimedOut says what it is about).
        io::ErrorKind::WouldBlock => format!(
            "the client sent nothing for {} ms (--idle-ms)",
            limits.idle.as_millis()
        ),
        _ => error.to_string(),
    }
}

/// A place among the `max_connections`: taken when a client is accepted,
/// given back when it is dropped — when its thread is done with the client,
/// however that ends (even by a panic).
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>) -> Slot {
        open.fetch_add(1, Ordering::SeqCst);
        Slot(Arc::clone(open))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
