//! A write deadline that holds for a whole reply, not for each system call.
//!
//! `stream.set_write_timeout(Some(t))` bounds *one* `send`: a call that makes
//! no progress for `t` fails. But `write_all` is a loop of `send`s, and each
//! one that moves a few bytes starts a fresh `t`. A peer that reads a trickle
//! — a few bytes whenever the timeout is about to expire — can keep a
//! `write_all` of a large reply going far longer than `t`, and hold a server
//! that serves one client at a time for as long as it likes.
//!
//! [`WriteWithin`] turns the timeout into a deadline: every `write_all`
//! (the whole reply) must be done within `t` of its start.

use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ANCHOR: write_within
/// A writer over a `TcpStream` whose every `write_all` must finish within
/// `timeout`, however the peer paces its reads. A `write_all` that runs out
/// of time fails with an error of kind `TimedOut`.
pub struct WriteWithin<'a> {
    stream: &'a TcpStream,
    timeout: Duration,
}

impl<'a> WriteWithin<'a> {
    /// Writes to `stream`, giving each `write_all` at most `timeout`.
    pub fn new(stream: &'a TcpStream, timeout: Duration) -> WriteWithin<'a> {
        WriteWithin { stream, timeout }
    }

    /// One `send`, allowed to wait until `deadline` at the latest.
    fn write_before(&mut self, bytes: &[u8], deadline: Instant) -> io::Result<usize> {
        let left = deadline.saturating_duration_since(Instant::now());
        // A timeout of zero means "block forever" to the OS: refuse it here.
        if left.is_zero() {
            return Err(too_slow(self.timeout));
        }
        self.stream.set_write_timeout(Some(left))?;
        match (&mut &*self.stream).write(bytes) {
            // Unix reports an expired send timeout as WouldBlock, Windows as TimedOut.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(too_slow(self.timeout))
            }
            other => other,
        }
    }
}

impl Write for WriteWithin<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_before(bytes, Instant::now() + self.timeout)
    }

    /// Writes all of `bytes` before one deadline, `timeout` from now.
    fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        let deadline = Instant::now() + self.timeout;
        while !bytes.is_empty() {
            match self.write_before(bytes, deadline) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A TcpStream has no buffer of its own to flush.
        Ok(())
    }
}
// ANCHOR_END: write_within

fn too_slow(timeout: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the peer did not take the reply within {} ms: it reads too slowly or not at all",
            timeout.as_millis()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    #[test]
    fn a_reader_gets_everything() {
        let (mut client, server) = pair();
        let bytes = vec![7u8; 4 << 20];
        let expected = bytes.len();
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            client.read_to_end(&mut got).map(|_| got.len())
        });
        WriteWithin::new(&server, Duration::from_secs(5))
            .write_all(&bytes)
            .unwrap();
        drop(server);
        assert_eq!(reader.join().unwrap().unwrap(), expected);
    }

    #[test]
    fn a_peer_that_never_reads_times_out_by_the_deadline() {
        let (_client, server) = pair();
        let start = Instant::now();
        // Far more than the socket buffers hold, so write_all must block.
        let result =
            WriteWithin::new(&server, Duration::from_millis(200)).write_all(&vec![0; 64 << 20]);
        let error = result.expect_err("nobody reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_trickling_reader_cannot_stretch_the_deadline() {
        let (client, server) = pair();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        // Reads 64 KiB every 50 ms (the pace of a slow peer, not a way to
        // synchronise): each send makes a little progress well within the
        // timeout, so a per-send timeout would never fire.
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let reader = thread::spawn(move || {
            let mut buf = vec![0u8; 64 << 10];
            while !stop.load(Ordering::SeqCst) {
                if matches!((&client).read(&mut buf), Ok(0) | Err(_)) {
                    break;
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        let start = Instant::now();
        let result =
            WriteWithin::new(&server, Duration::from_millis(300)).write_all(&vec![0; 256 << 20]);
        let elapsed = start.elapsed();
        done.store(true, Ordering::SeqCst);
        reader.join().unwrap();
        assert!(
            result.is_err(),
            "256 MiB at 1.3 MB/s cannot finish in 300 ms"
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }
}
