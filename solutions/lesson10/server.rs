//! The server: accepts clients, spawns a task for each, and stops cleanly
//! when asked.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netlings_chat::Limits;
use netlings_chat::protocol::SERVER_FULL;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::chat::{Chat, SharedChat, lock};
use crate::client::{Connection, client_task};

/// How long a stopping server waits for its clients' tasks to send their
/// last lines, before it exits anyway (the promise is: within 2 s).
pub const GOODBYE_TIME: Duration = Duration::from_secs(1);

// ANCHOR: server
/// A chat server, ready to run.
pub struct Server {
    listener: TcpListener,
    limits: Limits,
    chat: SharedChat,
    /// Every task the server spawns, so that it can wait for them to end.
    tracker: TaskTracker,
    /// Cancelled when the server must stop: by Ctrl-C, say.
    stop: CancellationToken,
}

impl Server {
    pub fn new(listener: TcpListener, limits: Limits) -> Server {
        Server {
            listener,
            limits,
            chat: Arc::new(Mutex::new(Chat::new())),
            tracker: TaskTracker::new(),
            stop: CancellationToken::new(),
        }
    }

    /// The token that stops this server. Cancel it from anywhere: another
    /// task, or a thread such as the Ctrl-C handler.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Accepts clients until stopped; then says goodbye to every client and
    /// returns once their tasks are done (or [`GOODBYE_TIME`] has passed).
    pub async fn run(self) {
        loop {
            tokio::select! {
                // Looked at first: a server flooded with connections still stops.
                biased;
                () = self.stop.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((socket, _)) => self.start_client(socket),
                    // Logged once per burst. When trying again at once would
                    // fail again (out of file descriptors), pause — with a
                    // timer: a sleeping thread would stop every task on it.
                    Err(e) => {
                        if netlings_kit::accept_failure_logged(&e) {
                            tokio::time::sleep(netlings_kit::ACCEPT_PAUSE).await;
                        }
                    }
                },
            }
        }
        shut_down(&self.chat, &self.tracker, GOODBYE_TIME).await;
    }

    /// Joins a new client to the chat and spawns its task.
    fn start_client(&self, socket: TcpStream) {
        // Lines are gathered into batches already (10.2): Nagle's algorithm
        // would only hold a batch back until the previous one is acknowledged.
        let _ = socket.set_nodelay(true);
        let (outbox, queue) = mpsc::channel(self.limits.queue_lines);
        let hang_up = CancellationToken::new();
        let joined = {
            let mut chat = lock(&self.chat);
            (chat.len() < self.limits.max_clients).then(|| chat.join(outbox, hang_up.clone()))
        };
        match joined {
            Some(id) => {
                let conn = Connection::new(socket, queue, hang_up);
                let chat = Arc::clone(&self.chat);
                self.tracker.spawn(client_task(chat, id, conn, self.limits));
            }
            None => {
                self.tracker.spawn(refuse(socket));
            }
        }
    }
}
// ANCHOR_END: server

/// Tells a client that the server is full, and hangs up.
async fn refuse(socket: TcpStream) {
    let mut socket = socket;
    // A new socket's buffer is empty, so this is quick: unless the client is
    // hostile. One second at most.
    let _ = timeout(
        Duration::from_secs(1),
        socket.write_all(SERVER_FULL.as_bytes()),
    )
    .await;
}

// ANCHOR: shut_down
/// Exercise 10.4: stop within two seconds — book §10.4.
///
/// The accept loop has stopped (Ctrl-C or SIGTERM cancelled the server's
/// token). Say goodbye, and wait for the clients' tasks to finish:
///
/// - [`Chat::shut_down`](crate::chat::Chat::shut_down) queues the goodbye for every client and closes every
///   queue: each task then sends what is left in its queue and hangs up.
/// - Wait until every task of `tracker` has ended, but no longer than
///   `within` (the server passes [`GOODBYE_TIME`]): a client that does not
///   read must not keep the server from exiting. When you return, the
///   server's `run` returns, and the tasks still running are dropped with
///   the runtime.
pub async fn shut_down(chat: &SharedChat, tracker: &TaskTracker, within: Duration) {
    lock(chat).shut_down();
    // `wait` returns once the tracker is closed (no more tasks will come)
    // and empty; closing it is what makes the end possible.
    tracker.close();
    let _ = timeout(within, tracker.wait()).await;
}
// ANCHOR_END: shut_down
