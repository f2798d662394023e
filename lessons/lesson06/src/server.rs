//! `lesson06 server`: a line echo server whose sockets carry the options you
//! ask for, and that logs each connection's options as the kernel reports
//! them — something to point `inspect`, `nc` and Python at.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use netlings_kit::WriteWithin;
use socket2::{SockRef, TcpKeepalive};

use crate::close;
use crate::inspect;

/// At most this many connections are served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 100;
/// The longest line echoed; a longer one ends its connection.
pub const MAX_LINE: usize = 64 * 1024;
/// A connection that sends nothing for this long is closed.
pub const IDLE: Duration = Duration::from_secs(60);
/// Every echo must be written within this time (a client that never reads
/// cannot hold a thread for ever).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

// ANCHOR: options
/// The options `server` sets on every connection it accepts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// TCP_NODELAY: send small writes at once.
    pub nodelay: bool,
    /// SO_LINGER 0: end every connection with a reset instead of a FIN.
    pub linger0: bool,
    /// SO_KEEPALIVE, with the first probe after this much idle time.
    pub keepalive: Option<Duration>,
    /// Log nothing (the demo's servers run quietly).
    pub quiet: bool,
}

/// Sets `options` on an accepted connection.
pub fn apply(stream: &TcpStream, options: &Options) -> io::Result<()> {
    let socket = SockRef::from(stream);
    socket.set_tcp_nodelay(options.nodelay)?;
    if let Some(idle) = options.keepalive {
        socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
    }
    // SO_LINGER 0 is applied at the end, by close::abort.
    Ok(())
}
// ANCHOR_END: options

// ANCHOR: serve
/// Serves every connection on its own thread, at most [`MAX_CONNECTIONS`]
/// at once: each line a client sends comes back to it. Never returns.
pub fn serve(listener: TcpListener, options: Options) -> io::Result<()> {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = netlings_kit::accept(&listener);
        if active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            eprintln!("{peer}: closed at once: already {MAX_CONNECTIONS} connections");
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let done = Arc::clone(&active);
        let spawned = thread::Builder::new().spawn(move || {
            let result = handle(stream, peer, &options);
            if !options.quiet {
                match result {
                    Ok(how) => eprintln!("{peer}: {how}"),
                    Err(e) => eprintln!("{peer}: {e}"),
                }
            }
            done.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            // The closure (and the stream in it) is dropped: the client sees a close.
            eprintln!("{peer}: could not start a thread: {e}");
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
// ANCHOR_END: serve

/// Echoes lines until the client is done; says how the connection ended.
fn handle(stream: TcpStream, peer: SocketAddr, options: &Options) -> io::Result<String> {
    apply(&stream, options)?;
    if !options.quiet {
        eprintln!(
            "{peer}: connected; {}",
            inspect::summary(&stream, options.linger0)
        );
    }
    stream.set_read_timeout(Some(IDLE))?;
    let mut lines = 0u64;
    let mut reader = BufReader::new(&stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // One byte more than allowed, to tell a line of MAX_LINE from a longer one.
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                    io::Error::new(e.kind(), format!("silent for {} s, closed", IDLE.as_secs()))
                }
                _ => e,
            })?;
        if n == 0 {
            break; // end of file: the client is done
        }
        if line.len() > MAX_LINE {
            let _ = WriteWithin::new(&stream, WRITE_TIMEOUT).write_all(b"error: line too long\n");
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a line longer than {MAX_LINE} bytes, closed"),
            ));
        }
        // A last line without its newline is echoed as it came.
        WriteWithin::new(&stream, WRITE_TIMEOUT).write_all(&line)?;
        lines += 1;
    }
    drop(reader);
    let echoed = format!("{lines} line(s) echoed");
    if options.linger0 {
        close::abort(stream)?;
        Ok(format!("{echoed}, closed with a reset (SO_LINGER 0)"))
    } else {
        drop(stream);
        Ok(format!("{echoed}, closed cleanly"))
    }
}
