//! The coordinator's network side (given): the accept loop, a task per
//! connection, and the clock that expires leases. Every decision is made by
//! `Coordinator` (coordinator.rs), under one lock that is never held across
//! an `.await`.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::{Instant, interval, timeout};
use tokio_util::sync::CancellationToken;

use crate::coordinator::{Coordinator, plural};
use crate::events::event;
use crate::lease::{TaskId, WorkerId};
use crate::log::{self, LogWriter, Record};
use crate::wire::{Incoming, Outgoing, Reply, Request, Spec, split};

/// What `lesson11 coordinator` was asked for.
#[derive(Clone, Debug)]
pub struct Config {
    pub data: PathBuf,
    pub lease: Duration,
    pub max_queued: usize,
}

// ANCHOR: limits
/// The most connections served at once; more are closed on arrival. With
/// frames of at most 1 MiB, that bounds what peers can make the coordinator
/// buffer.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a write to a peer may take, whole, before the peer is dropped
/// as not reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
// ANCHOR_END: limits

/// What every connection's task shares.
struct Shared {
    state: Mutex<Coordinator>,
    log: LogWriter,
    lease: Duration,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Coordinator> {
        // A panic while holding the lock (a bug) may have left the state
        // half-changed: a job counted done but never logged, a lease lost.
        // Serving on with it would be serving wrong answers. Stop instead:
        // restarted, the coordinator rebuilds a sound state from its log.
        self.state.lock().unwrap_or_else(|_| {
            event("a panic left the coordinator's state half-changed: stopping; restart me");
            std::process::exit(70)
        })
    }
}

/// Opens the log in `config.data`, rebuilds the state from it, and returns
/// a coordinator ready to serve.
pub struct Server {
    shared: Arc<Shared>,
    /// What recovery found, told once the server listens: its first line
    /// is `listening on ADDR`.
    notes: Vec<String>,
}

impl Server {
    pub fn open(config: &Config) -> io::Result<Server> {
        let (log, records, cut) = log::open(&config.data)?;
        let mut notes = Vec::new();
        if cut > 0 {
            notes.push(format!(
                "log: cut {cut} bytes of torn or corrupted tail off {}",
                config.data.join(log::LOG_FILE).display()
            ));
        }
        let mut state = Coordinator::new(config.lease, config.max_queued, log.clone());
        if !records.is_empty() {
            let (jobs, results, queued) = state.replay(records);
            notes.push(format!(
                "recovered {} and {} from the log; {} queued again",
                plural(jobs, "job"),
                plural(results, "result"),
                plural(queued, "task")
            ));
        }
        Ok(Server {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                log,
                lease: config.lease,
            }),
            notes,
        })
    }

    // ANCHOR: run
    /// Serves forever: accepts connections, and expires leases on a clock
    /// ticking ten times per lease.
    pub async fn run(self, listener: TcpListener) {
        for note in self.notes {
            event(note);
        }
        let shared = self.shared;
        let clock = Arc::clone(&shared);
        tokio::spawn(async move {
            let mut tick = interval((clock.lease / 10).max(Duration::from_millis(5)));
            loop {
                tick.tick().await;
                clock.lock().expire(Instant::now().into_std());
            }
        });
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Logged once per burst. When trying again at once would
                // fail again (out of file descriptors), pause — with a
                // timer: a sleeping thread would stop every task on it.
                Err(e) => {
                    if netlings_kit::accept_failure_logged(&e) {
                        tokio::time::sleep(netlings_kit::ACCEPT_PAUSE).await;
                    }
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                event(format!("{peer}: too many connections, closing it"));
                continue;
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                if let Err(why) = serve_peer(&shared, stream, peer).await {
                    event(format!("{peer}: closed: {why}"));
                }
                drop(permit);
            });
        }
    }
    // ANCHOR_END: run
}

/// One connection: a worker (its first message is a hello) or a client
/// (submit, query, status — any number, one at a time).
async fn serve_peer(shared: &Shared, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (mut from, mut to) = split(stream);
    let mut first = true;
    loop {
        // A peer has a lease's time to say something: a silent one is
        // closed, and takes nothing with it.
        let request = match timeout(shared.lease, from.request()).await {
            Err(_) if first => return Err(io::Error::other("said nothing for a lease")),
            Err(_) => return Ok(()), // an idle client
            Ok(request) => request?,
        };
        let Some(request) = request else {
            return Ok(());
        };
        match request {
            Request::Hello { slots } if first => {
                return serve_worker(shared, from, to, peer, slots).await;
            }
            Request::Submit { tasks, spec } => {
                let reply = submit(shared, tasks, spec).await;
                write(&mut to, &reply).await?;
            }
            Request::Query { job, wait } => query(shared, &mut from, &mut to, job, wait).await?,
            Request::Status => {
                let text = shared.lock().status();
                write(&mut to, &Reply::Status { text }).await?;
            }
            other => return Err(io::Error::other(format!("unexpected {other:?}"))),
        }
        first = false;
    }
}

/// Writes a whole reply within [`WRITE_TIMEOUT`].
async fn write(to: &mut Outgoing, reply: &Reply) -> io::Result<()> {
    match timeout(WRITE_TIMEOUT, to.reply(reply)).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "not reading")),
    }
}

// ANCHOR: submit
/// A job: check it, make room for it, write it to the log and sync, and
/// only then acknowledge it and queue its tasks.
async fn submit(shared: &Shared, tasks: u32, spec: Spec) -> Reply {
    let id = match shared.lock().reserve(tasks) {
        Ok(id) => id,
        Err(reason) => {
            event(format!("submit refused: {reason}"));
            return Reply::Refused { reason };
        }
    };
    let record = Record::Job {
        id,
        tasks,
        spec: spec.clone(),
    };
    if let Err(e) = shared.log.append_synced(record).await {
        shared.lock().unreserve(tasks);
        return Reply::Refused {
            reason: format!("could not write the log: {e}"),
        };
    }
    let kind = match spec {
        Spec::Words { .. } => "words",
        Spec::Sleep { .. } => "sleep",
        Spec::Crash { .. } => "crash",
    };
    event(format!(
        "job {id} accepted: {}",
        plural(tasks as usize, &format!("{kind} task"))
    ));
    let mut state = shared.lock();
    state.add_job(id, tasks, spec);
    state.dispatch(Instant::now().into_std());
    Reply::Accepted { job: id }
}
// ANCHOR_END: submit

/// How a job is doing — with `wait`, once it is finished. A client that
/// leaves while it waits ends the wait.
async fn query(
    shared: &Shared,
    from: &mut Incoming,
    to: &mut Outgoing,
    job: u64,
    wait: bool,
) -> io::Result<()> {
    let mut changed = shared.lock().subscribe();
    loop {
        let progress = shared.lock().progress(job);
        let reply = match progress {
            None => Reply::Refused {
                reason: format!("no job {job}"),
            },
            Some(p) if !wait || p.finished() => Reply::Progress(p),
            Some(_) => {
                tokio::select! {
                    _ = changed.changed() => continue,
                    // Anything from a waiting client (it should send
                    // nothing) or its leaving ends the wait.
                    _ = from.frame() => return Ok(()),
                }
            }
        };
        return write(to, &reply).await;
    }
}

// ANCHOR: serve_worker
/// A worker's connection: its replies go through a queue to a writer task;
/// its messages come here. When it ends, for whatever reason, everything the
/// worker held goes back to the queue.
async fn serve_worker(
    shared: &Shared,
    mut from: Incoming,
    mut to: Outgoing,
    peer: SocketAddr,
    slots: u32,
) -> io::Result<()> {
    let lease_ms = shared.lease.as_millis().min(u32::MAX as u128) as u32;
    write(&mut to, &Reply::Welcome { lease_ms }).await?;
    // Room for every lease it may hold, and then some.
    let (queue, mut replies) = mpsc::channel::<Reply>(slots as usize + 4);
    let hang_up = CancellationToken::new();
    let id = shared
        .lock()
        .add_worker(peer, slots, queue, hang_up.clone());
    let writer_hang_up = hang_up.clone();
    let writer = tokio::spawn(async move {
        while let Some(reply) = replies.recv().await {
            if write(&mut to, &reply).await.is_err() {
                writer_hang_up.cancel();
                return;
            }
        }
    });
    let why = tokio::select! {
        why = worker_messages(shared, &mut from, id) => why,
        _ = hang_up.cancelled() => "closed by the coordinator".to_string(),
    };
    writer.abort();
    shared
        .lock()
        .remove_worker(id, &why, Instant::now().into_std());
    Ok(())
}

/// Reads a worker's messages until it leaves; returns why it left.
async fn worker_messages(shared: &Shared, from: &mut Incoming, id: WorkerId) -> String {
    loop {
        // The lease's expiry is what notices a silent worker; this is a
        // backstop for one that holds no task.
        let request = match timeout(2 * shared.lease, from.request()).await {
            Err(_) => return "silent for two leases".to_string(),
            Ok(Ok(None)) => return "connection closed (EOF)".to_string(),
            Ok(Err(e)) => return format!("{e}"),
            Ok(Ok(Some(request))) => request,
        };
        let now = Instant::now().into_std();
        let mut state = shared.lock();
        state.heard_from(id, now);
        let outcome = match request {
            Request::Heartbeat => Ok(()),
            Request::Ready { slots } => state.ready(id, slots).map(|()| state.dispatch(now)),
            Request::Done { job, index, value } => state
                .on_result(id, TaskId { job, index }, value)
                .map(|_| ()),
            other => Err(format!("unexpected {other:?} from a worker")),
        };
        if let Err(why) = outcome {
            return format!("protocol error: {why}");
        }
    }
}
// ANCHOR_END: serve_worker
