//! The clients (given): `submit`, `wait` and `status`, each a connection,
//! a request and its reply.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, timeout};

use crate::wire::{Progress, Reply, Request, split};
use crate::worker::{BACKOFF_FIRST, BACKOFF_MAX};

/// Connects to `coordinator`, sends `request`, and returns the reply.
pub async fn ask(coordinator: &str, request: &Request) -> io::Result<Reply> {
    let stream = TcpStream::connect(coordinator).await?;
    stream.set_nodelay(true)?;
    let (mut from, mut to) = split(stream);
    to.request(request).await?;
    match from.reply().await? {
        Some(reply) => Ok(reply),
        None => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the coordinator closed the connection without a reply",
        )),
    }
}

/// Why a client could not get what it asked for.
#[derive(Debug)]
pub enum Refusal {
    /// The coordinator said no, and why.
    Refused(String),
    /// The connection failed.
    Io(io::Error),
}

impl From<io::Error> for Refusal {
    fn from(e: io::Error) -> Refusal {
        Refusal::Io(e)
    }
}

/// Submits a job; its id once the coordinator has logged it.
pub async fn submit(coordinator: &str, request: &Request) -> Result<u64, Refusal> {
    match ask(coordinator, request).await? {
        Reply::Accepted { job } => Ok(job),
        Reply::Refused { reason } => Err(Refusal::Refused(reason)),
        other => Err(Refusal::Io(crate::worker::unexpected(&other))),
    }
}

// ANCHOR: wait
/// Waits until job `job` is finished, for at most `limit`: asks the
/// coordinator to answer when it is, and when the connection fails — the
/// coordinator restarting, say — asks again, with backoff. `Ok(None)` when
/// `limit` passed first.
pub async fn wait(
    coordinator: &str,
    job: u64,
    limit: Duration,
) -> Result<Option<Progress>, Refusal> {
    let deadline = Instant::now() + limit;
    let mut backoff = BACKOFF_FIRST;
    loop {
        let request = Request::Query { job, wait: true };
        match timeout(deadline - Instant::now(), ask(coordinator, &request)).await {
            Err(_) => return Ok(None),
            Ok(Ok(Reply::Progress(p))) if p.finished() => return Ok(Some(p)),
            Ok(Ok(Reply::Refused { reason })) => return Err(Refusal::Refused(reason)),
            Ok(Ok(other)) => return Err(Refusal::Io(crate::worker::unexpected(&other))),
            Ok(Err(e)) => eprintln!("wait: {coordinator}: {e}; asking again"),
        }
        if Instant::now() + backoff >= deadline {
            return Ok(None);
        }
        sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
// ANCHOR_END: wait

/// The coordinator's state, as text.
pub async fn status(coordinator: &str) -> io::Result<String> {
    match ask(coordinator, &Request::Status).await? {
        Reply::Status { text } => Ok(text),
        other => Err(crate::worker::unexpected(&other)),
    }
}
