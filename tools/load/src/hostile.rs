//! Hostile peers, run beside the measured clients to see whether they hurt
//! them (`--sleepers N`, `--slowloris N`). They connect before the clients,
//! stay until the run stops, and are not counted in the deliveries; the
//! report says how many connected and how many the server closed.
//!
//! - A *sleeper* never reads. It connects with a small receive buffer
//!   ([`SLEEPER_RCVBUF`]) and joins room r0. Room r0 alone would send it a
//!   few hundred bytes a second, too little to fill anything within a run,
//!   so from the moment it connects it also asks for `/help` (about 330
//!   bytes of answer) [`SLEEPER_ASKS`] times a second. Its small buffer is
//!   not enough on its own: on loopback Linux grows the *server's* send
//!   buffer for it up to `net.ipv4.tcp_wmem`'s maximum (4 MiB by default),
//!   and at this rate that is full after about 6 s. Then the server's own
//!   queue fills: a server that bounds it drops the sleeper as too slow; one
//!   that writes to it from the thread that serves the room stalls the room.
//! - A *slowloris* sends the start of a line, then one byte a second
//!   ([`DRIP`]), and never the `\n`. It reads (and ignores) everything the
//!   server sends, so that its unfinished line is the only thing hostile
//!   about it. A server must keep the partial line and serve everyone else
//!   meanwhile.
//!
//! Both write with `try_write`: a peer the server no longer reads from just
//! skips a beat, and nothing waits on it. A write that fails means the
//! server closed the connection (a sleeper finds out that way, since it
//! never reads); a slowloris also sees the close as the end of its reads.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::{MissedTickBehavior, interval, timeout};

use crate::client::{JOIN_TIMEOUT, Phase, Shared};
use crate::config::room_name;

/// A sleeper's receive buffer. Linux doubles what it is asked for and
/// keeps a floor of a few KiB; this is about the least it grants.
pub const SLEEPER_RCVBUF: u32 = 4096;

/// How many `/help`s a second a sleeper asks for: about 680 KB/s of
/// answers, enough to fill the buffers described above within a run of
/// 10 s, while costing the server much less than the clients' traffic.
pub const SLEEPER_ASKS: u32 = 2000;

/// A sleeper writes its asks in bursts of this many, [`SLEEPER_ASKS`] /
/// `BURST` times a second: a timer every 0.5 ms would cost more than it tests.
const BURST: u32 = 40;

/// How often a slowloris adds a byte to its line.
const DRIP: Duration = Duration::from_secs(1);

/// What a slowloris starts its line with: the start of a message.
const SLOW_START: &[u8] = b"I am slo";

/// What happened to the hostile peers of one kind, counted as it happens.
#[derive(Debug, Default)]
pub struct Count {
    connected: AtomicU32,
    closed: AtomicU32,
}

/// The same, for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// How many the command line asked for.
    pub asked: u32,
    /// How many connected.
    pub connected: u32,
    /// How many of those the server closed before the run stopped.
    pub closed: u32,
}

impl Count {
    pub fn outcome(&self, asked: u32) -> Outcome {
        Outcome {
            asked,
            connected: self.connected.load(Relaxed),
            closed: self.closed.load(Relaxed),
        }
    }
}

/// Connects every sleeper and slowloris of the configuration and leaves
/// them running as tasks of `tasks` until the phase is `Stopping`. Returns
/// when each has connected or failed (each within [`JOIN_TIMEOUT`]).
pub async fn start(
    shared: &std::sync::Arc<Shared>,
    phase: &watch::Receiver<Phase>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let config = &shared.config;
    let (done, mut answers) = mpsc::unbounded_channel();
    for _ in 0..config.sleepers {
        tasks.spawn(sleeper(shared.clone(), phase.clone(), done.clone()));
    }
    for _ in 0..config.slowloris {
        tasks.spawn(slowloris(shared.clone(), phase.clone(), done.clone()));
    }
    // Each task answers once, connected or not, within JOIN_TIMEOUT; the
    // outer bound is for a tool so busy that its timers fire late.
    let all = async {
        for _ in 0..config.sleepers + config.slowloris {
            answers.recv().await;
        }
    };
    let _ = timeout(JOIN_TIMEOUT + Duration::from_secs(2), all).await;
}

/// One sleeper: joins r0, never reads, asks for `/help` until the run stops.
async fn sleeper(
    shared: std::sync::Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    done: mpsc::UnboundedSender<()>,
) {
    let count = &shared.sleepers;
    let stream = timeout(JOIN_TIMEOUT, connect_sleeper(&shared)).await;
    let _ = done.send(());
    let Ok(Ok(stream)) = stream else { return };
    count.connected.fetch_add(1, Relaxed);

    let asks = "/help\n".repeat(BURST as usize);
    let mut tick = interval(Duration::from_secs(1) / (SLEEPER_ASKS / BURST));
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Stopping {
                    return;
                }
            }
            _ = tick.tick() => {
                if !still_open(stream.try_write(asks.as_bytes())) {
                    count.closed.fetch_add(1, Relaxed);
                    return;
                }
            }
        }
    }
}

/// Connects with a small receive buffer and asks to join r0, without
/// reading the welcome (or anything else, ever).
async fn connect_sleeper(shared: &Shared) -> std::io::Result<TcpStream> {
    let socket = match shared.addr {
        std::net::SocketAddr::V4(_) => TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // Before connecting: the buffer size decides the window offered in the
    // handshake.
    socket.set_recv_buffer_size(SLEEPER_RCVBUF)?;
    let stream = socket.connect(shared.addr).await?;
    let join = format!("/join {}\n", room_name(0));
    stream.writable().await?;
    stream.try_write(join.as_bytes())?;
    Ok(stream)
}

/// One slowloris: an unfinished line, a byte a second, everything read and
/// ignored.
async fn slowloris(
    shared: std::sync::Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
    done: mpsc::UnboundedSender<()>,
) {
    let count = &shared.slowloris;
    let stream = timeout(JOIN_TIMEOUT, TcpStream::connect(shared.addr)).await;
    let _ = done.send(());
    let Ok(Ok(mut stream)) = stream else { return };
    count.connected.fetch_add(1, Relaxed);

    let mut drip = interval(DRIP);
    drip.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut started = false;
    let mut scratch = [0u8; 4096];
    loop {
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Stopping {
                    return;
                }
            }
            read = stream.read(&mut scratch) => {
                if !matches!(read, Ok(n) if n > 0) {
                    count.closed.fetch_add(1, Relaxed);
                    return;
                }
            }
            _ = drip.tick() => {
                // The first tick fires at once: the start of the line.
                let bytes: &[u8] = if started { b"o" } else { SLOW_START };
                started = true;
                if !still_open(stream.try_write(bytes)) {
                    count.closed.fetch_add(1, Relaxed);
                    return;
                }
            }
        }
    }
}

/// Whether the connection is still open after a `try_write`: written, or
/// not now (the server is not reading us: it is allowed to).
fn still_open(written: std::io::Result<usize>) -> bool {
    match written {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_buffer_is_not_a_close() {
        use std::io::{Error, ErrorKind};
        assert!(still_open(Ok(0)));
        assert!(still_open(Err(Error::from(ErrorKind::WouldBlock))));
        assert!(!still_open(Err(Error::from(ErrorKind::BrokenPipe))));
        assert!(!still_open(Err(Error::from(ErrorKind::ConnectionReset))));
    }
}
