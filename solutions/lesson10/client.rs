//! A client's task: one per connection, from the welcome to the close.

use std::io;
use std::pin::pin;

use futures_util::{SinkExt, StreamExt};
use netlings_chat::protocol::{IDLE_TIMEOUT, LINE_TOO_LONG};
use netlings_chat::{ClientId, Leaving, Limits, Line};
use tokio::net::TcpStream;
use tokio::sync::mpsc::Receiver;
use tokio::time::{Instant, sleep, timeout};
use tokio_util::sync::CancellationToken;

use crate::chat::{SharedChat, lock};
use crate::lines::{LineError, LinesIn, LinesOut, lines_in, lines_out};
use crate::writer::write_lines;

// ANCHOR: connection
/// Everything a client's task owns: the socket, cut in two — its lines in
/// and its lines out — the queue the chat fills for it, and the token the
/// chat cancels to hang up on it.
pub struct Connection {
    pub lines: LinesIn,
    pub out: LinesOut,
    pub queue: Receiver<Line>,
    pub hang_up: CancellationToken,
}

impl Connection {
    pub fn new(socket: TcpStream, queue: Receiver<Line>, hang_up: CancellationToken) -> Connection {
        // Two halves, so that reading and writing are two separate values
        // (the socket itself is shared by them).
        let (read, write) = socket.into_split();
        Connection {
            lines: lines_in(read),
            out: lines_out(write),
            queue,
            hang_up,
        }
    }
}
// ANCHOR_END: connection

// ANCHOR: client_task
/// The whole life of a client's task (given): serve the client
/// ([`serve_client`]), tell the room that it left, send it what is still
/// queued — `* bye`, `! line too long`, `! idle timeout` — and close.
pub async fn client_task(chat: SharedChat, id: ClientId, conn: Connection, limits: Limits) {
    let mut conn = conn;
    let why = serve_client(&chat, id, &mut conn, &limits).await;
    // The chat drops its end of the queue: the queue now ends after the
    // lines already in it.
    lock(&chat).leave(id, why);
    if why != Leaving::TooSlow {
        // Within the stall time, as every write: a client that stopped
        // reading must not keep its task alive.
        let _ = timeout(limits.stall, send_the_rest(&mut conn, &limits)).await;
    }
    // Dropping `conn` closes the socket.
}

/// Sends what is left in the queue, then half-closes the connection: the
/// client reads the end of the stream after the last line.
async fn send_the_rest(conn: &mut Connection, limits: &Limits) -> io::Result<()> {
    while let Some(line) = conn.queue.recv().await {
        write_lines(&mut conn.out, line, &mut conn.queue, limits.stall).await?;
    }
    conn.out.close().await
}
// ANCHOR_END: client_task

// ANCHOR: serve_client
/// Exercise 10.3: one task, four things to wait for — book §10.3.
///
/// Serve client `id` until it leaves, and return why. Again and again,
/// wait for whichever of these comes first, and deal with it:
///
/// - **A line from the client** (`conn.lines`): hand it to the chat
///   ([`Chat::handle`](crate::chat::Chat::handle); true means `/quit`:
///   return [`Leaving::Gone`]). Every line restarts the client's idle time.
///   - A line too long ([`LineError::TooLong`](crate::lines::LineError)):
///     tell the client [`LINE_TOO_LONG`](netlings_chat::protocol::LINE_TOO_LONG) with
///     [`Chat::tell`](crate::chat::Chat::tell) — so that it comes after
///     what is queued for it — and return `Gone`.
///   - The end of the stream, or an error (a reset): return `Gone`.
/// - **A line for the client** (`conn.queue`): send it, and what else is
///   queued, with [`write_lines`](crate::writer::write_lines) (10.2) within
///   `limits.stall`. An error of kind `TimedOut` means the client is too
///   slow: return [`Leaving::TooSlow`]; any other error (a reset): `Gone`.
///   A closed queue means the chat has let go of this client (the server
///   is stopping, and its goodbye was the last line): return `Gone`.
/// - **`limits.idle` without a line from the client**: tell it
///   [`IDLE_TIMEOUT`](netlings_chat::protocol::IDLE_TIMEOUT) and return [`Leaving::Idle`]. Lines *to* the client do
///   not count: a client that only listens is idle too.
/// - **`conn.hang_up` is cancelled**: the chat found the client's queue
///   full (10.1) and let it go. Return `TooSlow` at once.
///
/// Hold the chat's lock only while you call it, never across an `.await`.
pub async fn serve_client(
    chat: &SharedChat,
    id: ClientId,
    conn: &mut Connection,
    limits: &Limits,
) -> Leaving {
    // One timer for the whole loop, pushed back by every line that comes
    // in (a new `sleep` in each round would be pushed back by lines going
    // out too).
    let mut idle = pin!(sleep(limits.idle));
    loop {
        tokio::select! {
            line = conn.lines.next() => match line {
                Some(Ok(line)) => {
                    idle.as_mut().reset(Instant::now() + limits.idle);
                    if lock(chat).handle(id, &line) {
                        return Leaving::Gone;
                    }
                }
                Some(Err(LineError::TooLong)) => {
                    lock(chat).tell(id, LINE_TOO_LONG);
                    return Leaving::Gone;
                }
                Some(Err(LineError::Io(_))) | None => return Leaving::Gone,
            },
            line = conn.queue.recv() => match line {
                Some(line) => {
                    match write_lines(&mut conn.out, line, &mut conn.queue, limits.stall).await {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => return Leaving::TooSlow,
                        Err(_) => return Leaving::Gone,
                    }
                }
                None => return Leaving::Gone,
            },
            () = &mut idle => {
                lock(chat).tell(id, IDLE_TIMEOUT);
                return Leaving::Idle;
            }
            () = conn.hang_up.cancelled() => return Leaving::TooSlow,
        }
    }
}
// ANCHOR_END: serve_client
