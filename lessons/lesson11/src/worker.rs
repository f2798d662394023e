//! The worker: connects to the coordinator (again and again, with backoff,
//! for as long as it runs), says hello, then pulls tasks, runs them and
//! reports their results, with a heartbeat all the while.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};

use crate::events::event;
use crate::wire::{Incoming, Outgoing, Reply, Request, split};

/// The first pause before connecting again, and the longest.
pub const BACKOFF_FIRST: Duration = Duration::from_millis(50);
pub const BACKOFF_MAX: Duration = Duration::from_secs(1);

// ANCHOR: run
/// Works for the coordinator at `coordinator` forever: connect, work until
/// the connection ends, pause, connect again. The pause doubles after each
/// failure, from 50 ms up to 1 s, and starts over after a good session.
/// `heartbeat`: how often to send one; `None` for a third of the lease the
/// coordinator announces.
pub async fn run(coordinator: &str, slots: u32, heartbeat: Option<Duration>) {
    let mut backoff = BACKOFF_FIRST;
    loop {
        match session(coordinator, slots, heartbeat).await {
            Ok(Some(beat)) => {
                event(format!(
                    "worker: connection ended (heartbeat was {} ms)",
                    beat.as_millis()
                ));
                backoff = BACKOFF_FIRST;
            }
            Ok(None) => event("worker: the coordinator closed before its welcome"),
            Err(e) => event(format!("worker: {coordinator}: {e}")),
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
// ANCHOR_END: run

/// One connection: hello, welcome, then [`serve`] until it ends. Returns the
/// heartbeat interval it used, or `None` if there was no welcome.
async fn session(
    coordinator: &str,
    slots: u32,
    heartbeat: Option<Duration>,
) -> io::Result<Option<Duration>> {
    let stream = timeout(Duration::from_secs(5), TcpStream::connect(coordinator))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connecting timed out"))??;
    stream.set_nodelay(true)?;
    let (mut from, mut to) = split(stream);
    to.request(&Request::Hello { slots }).await?;
    let lease_ms = match timeout(Duration::from_secs(5), from.reply()).await {
        Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "no welcome")),
        Ok(Ok(Some(Reply::Welcome { lease_ms }))) => lease_ms,
        Ok(Ok(None)) => return Ok(None),
        Ok(Ok(Some(other))) => return Err(unexpected(&other)),
        Ok(Err(e)) => return Err(e),
    };
    let beat = heartbeat.unwrap_or(Duration::from_millis(u64::from(lease_ms.max(3)) / 3));
    event(format!(
        "worker: connected to {coordinator} (lease {lease_ms} ms, heartbeat {} ms, slots {slots})",
        beat.as_millis()
    ));
    // The tasks still running are dropped with `serve`: their results
    // belong to this connection, and the coordinator gives them to someone
    // else.
    if let Err(e) = serve(&mut from, &mut to, slots, beat).await {
        event(format!("worker: {e}"));
    }
    Ok(Some(beat))
}

/// A reply a worker does not expect.
pub fn unexpected(reply: &Reply) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected message from the coordinator: {reply:?}"),
    )
}

// ANCHOR: serve
/// Exercise 11.2: the worker loop with heartbeats — book §11.2.
///
/// After the welcome: ask for `slots` tasks (one `Ready { slots }`), then,
/// until the coordinator closes the connection (`Ok(())`) or something
/// fails (the error):
/// - run each `Lease` it sends, at the same time as the others (a task of
///   the lease's `spec`, run by [`run_task`](crate::task::run_task) with the lease's attempt);
/// - when a task finishes, report it (`Done { job, index, value }`) and ask
///   for one more (`Ready { slots: 1 }`);
/// - every `heartbeat`, whatever the tasks are doing, send a `Heartbeat`.
///
/// Any other message, or more leases than `slots`, is an error. Tasks still
/// running when this returns are dropped.
pub async fn serve(
    from: &mut Incoming,
    to: &mut Outgoing,
    slots: u32,
    heartbeat: Duration,
) -> io::Result<()> {
    let _ = (from, to, slots, heartbeat); // unused until you write the function
    todo!("exercise 11.2: the worker loop with heartbeats — book §11.2")
}
// ANCHOR_END: serve
