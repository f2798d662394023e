//! Writing to a client: the lines its queue holds, several at a time, with
//! a deadline.

use std::io;
use std::time::Duration;

use futures_util::SinkExt;
use netlings_chat::Line;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::Receiver;
use tokio::time::timeout;

use crate::lines::{BATCH_BYTES, LinesOut};

// ANCHOR: write_lines
/// Exercise 10.2: write with a deadline — book §10.2.
///
/// Send `first`, and after it every line already waiting in `queue`, to
/// `out`; then flush, so that they leave together — in one system call
/// when they fit, rather than one per line.
///
/// - Take only what is already queued: never wait for more (the next line
///   may come in an hour). And stop once you have about
///   [`BATCH_BYTES`](crate::lines::BATCH_BYTES), so that a batch stays small
///   whatever the rate.
/// - The whole batch — every line fed, and the flush — must be done within
///   `stall`. If it is not, the client is not reading: return an error of
///   kind `TimedOut`. Return any error of the writer as it is.
pub async fn write_lines<W: AsyncWrite + Unpin>(
    out: &mut LinesOut<W>,
    first: Line,
    queue: &mut Receiver<Line>,
    stall: Duration,
) -> io::Result<()> {
    let batch = async {
        let mut bytes = first.len();
        // `feed` only appends to the buffer of `out`…
        out.feed(first).await?;
        while bytes < BATCH_BYTES {
            // Empty (or closed): the batch is what we have.
            let Ok(line) = queue.try_recv() else { break };
            bytes += line.len();
            out.feed(line).await?;
        }
        // …and `flush` writes it, however many calls that takes.
        out.flush().await
    };
    match timeout(stall, batch).await {
        Ok(written) => written,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client took nothing for {stall:?}"),
        )),
    }
}
// ANCHOR_END: write_lines
