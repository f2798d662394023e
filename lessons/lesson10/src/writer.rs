//! Writing to a client: the lines its queue holds, several at a time, with
//! a deadline.

use std::io;
use std::time::Duration;

use netlings_chat::Line;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::Receiver;

use crate::lines::LinesOut;

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
    let _ = (out, first, queue, stall); // unused until you write the function
    todo!("exercise 10.2: write with a deadline — book §10.2")
}
// ANCHOR_END: write_lines
