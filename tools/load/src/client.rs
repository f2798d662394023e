//! One simulated chat user: a task that connects, joins its room, then
//! sends at a steady rate while it reads everything the room says.
//!
//! A client is one task with one socket and a small buffer, so ten thousand
//! of them cost the tool a few megabytes. Reading and sending happen in the
//! same task with `tokio::select!`: whichever is ready first — a line from
//! the server, the next send time, a new phase of the run — is handled, and
//! the loop waits again.

use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout};

use crate::config::{Config, Protocol, room_name};
use crate::connection::{Connection, describe};
use crate::hostile;
use crate::payload::{Incoming, Payload};
use crate::tally::Tally;
use crate::tokio_example;

/// How long connecting, the welcome and joining may take, together.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);

/// What every client shares (behind an `Arc`).
#[derive(Debug)]
pub struct Shared {
    pub addr: SocketAddr,
    pub config: Config,
    pub tally: Tally,
    /// Randomly seeded once per run: gives each client its random phase.
    pub seed: std::hash::RandomState,
    /// What became of the hostile peers (`--sleepers`, `--slowloris`).
    pub sleepers: hostile::Count,
    pub slowloris: hostile::Count,
}

/// Where the run is; the orchestrator announces each change to every
/// client through a `watch` channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Clients connect and join, a batch at a time; nobody sends yet.
    Joining,
    /// Everyone who could join has: send from `start` until `end`.
    Sending { start: Instant, end: Instant },
    /// Close the connection.
    Stopping,
}

/// Runs client number `id` until the run stops or the connection fails.
/// Tells `joined` whether it got into its room (once, within
/// [`JOIN_TIMEOUT`]).
pub async fn run(
    id: u32,
    shared: Arc<Shared>,
    joined: mpsc::UnboundedSender<bool>,
    phase: watch::Receiver<Phase>,
) {
    let tally = &shared.tally;
    let room = shared.config.room_of(id);
    let joining = async {
        match shared.config.protocol {
            Protocol::Netlings => join(shared.addr, room).await,
            Protocol::TokioExample => tokio_example::join(shared.addr, id).await,
        }
    };
    let connection = match timeout(JOIN_TIMEOUT, joining).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(why)) => return failed(tally, &why, &joined),
        Err(_) => return failed(tally, "timed out", &joined),
    };
    tally.joined(room);
    let _ = joined.send(true);

    let mut client = Client {
        id,
        room,
        shared: &shared,
        connection,
        interval: shared.config.interval(),
        send_until: None,
        done_sending: false,
        seq: 0,
        line: Vec::with_capacity(32),
    };
    if let Err(what) = client.chat(phase).await {
        tally.error(&what);
    }
    client.done_sending();
    tally.left(room);
}

fn failed(tally: &Tally, why: &str, joined: &mpsc::UnboundedSender<bool>) {
    tally.connect_failed(why, 1);
    let _ = joined.send(false);
}

/// Opens a connection to the server. The error is the reason, as the
/// report shows it.
pub async fn connect(addr: SocketAddr) -> Result<Connection, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| describe(&e))?;
    // Our lines are small and we time them: do not let Nagle's algorithm
    // hold one back while an earlier one is unacknowledged.
    stream.set_nodelay(true).map_err(|e| describe(&e))?;
    Ok(Connection::new(stream))
}

/// Connects, reads the welcome, joins room `room` and waits for the
/// server's confirmation (the course's protocol; for tokio's example, see
/// `tokio_example::join`).
async fn join(addr: SocketAddr, room: u32) -> Result<Connection, String> {
    let mut connection = connect(addr).await?;

    let room = room_name(room);
    let confirmation = format!("you joined {room} (");
    let mut welcomed = false;
    loop {
        let line = match connection.read_line().await {
            Ok(Some(line)) => line,
            Ok(None) => return Err("closed before joining".into()),
            Err(e) => return Err(describe(&e)),
        };
        match Incoming::classify(line) {
            // `! server full`, or the server did not like our `/join`.
            Incoming::Error(error) => return Err(error.to_string()),
            Incoming::Notice(notice) if notice.starts_with(&confirmation) => return Ok(connection),
            // The first line is the welcome: answer it with our `/join`.
            // Later ones are news from the lobby (`* guest9 joined lobby`).
            _ if !welcomed => {
                welcomed = true;
                let join = format!("/join {room}\n");
                connection
                    .send(join.as_bytes())
                    .await
                    .map_err(|e| describe(&e))?;
            }
            _ => {}
        }
    }
}

/// A joined client, while the run lasts.
struct Client<'a> {
    id: u32,
    room: u32,
    shared: &'a Shared,
    connection: Connection,
    /// Between two messages; `None` at `--rate 0`, when clients only idle.
    interval: Option<Duration>,
    /// Until when this client sends: set when the sending phase begins,
    /// cleared after its last message.
    send_until: Option<Instant>,
    /// Whether the tally knows it will send nothing more.
    done_sending: bool,
    seq: u32,
    /// The line being sent, kept to reuse its allocation.
    line: Vec<u8>,
}

impl Client<'_> {
    /// Reads and sends until the run stops (`Ok`) or the connection fails
    /// (`Err` with what went wrong).
    async fn chat(&mut self, mut phase: watch::Receiver<Phase>) -> Result<(), String> {
        // One timer, moved to each next send time. It starts far away and
        // is only polled while sending.
        let next_send = sleep_until(Instant::now() + Duration::from_secs(86_400));
        tokio::pin!(next_send);
        loop {
            tokio::select! {
                changed = phase.changed() => {
                    // An error means the orchestrator is gone: stop too.
                    if changed.is_err() {
                        return Ok(());
                    }
                    match *phase.borrow_and_update() {
                        Phase::Joining => {}
                        Phase::Sending { start, end } => {
                            let first = self.interval.map(|i| start + self.random_phase(i));
                            match first {
                                Some(first) if first < end => {
                                    self.send_until = Some(end);
                                    next_send.as_mut().reset(first);
                                }
                                // Its first message would come after the
                                // end, or it only idles (--rate 0).
                                _ => self.done_sending(),
                            }
                        }
                        Phase::Stopping => return Ok(()),
                    }
                }
                read = self.connection.read_more() => match read {
                    Ok(0) => return Err("disconnected".into()),
                    Ok(_) => self.handle_lines()?,
                    Err(e) => return Err(describe(&e)),
                },
                () = &mut next_send, if self.send_until.is_some() => {
                    self.send().await?;
                    // Keep to the schedule; if this task fell behind (the
                    // tool itself is overloaded), send the next one now
                    // rather than a burst of catch-up messages. (Only a
                    // client with an interval ever sets `send_until`.)
                    let interval = self.interval.unwrap_or_default();
                    let next = (next_send.deadline() + interval).max(Instant::now());
                    if self.send_until.is_some_and(|end| next < end) {
                        next_send.as_mut().reset(next);
                    } else {
                        self.done_sending();
                    }
                }
            }
        }
    }

    /// Where in its interval this client sends: random, so that clients
    /// that joined at the same moment do not all send at the same moment.
    fn random_phase(&self, interval: Duration) -> Duration {
        let random = self.shared.seed.hash_one(self.id);
        // The top 53 bits make a uniform f64 in [0, 1).
        let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
        interval.mul_f64(fraction)
    }

    /// Stops sending, and tells the tally once (every joined client is
    /// counted as a sender until it does).
    fn done_sending(&mut self) {
        self.send_until = None;
        if !self.done_sending {
            self.done_sending = true;
            self.shared.tally.done_sending();
        }
    }

    async fn send(&mut self) -> Result<(), String> {
        let tally = &self.shared.tally;
        let payload = Payload {
            client: self.id,
            seq: self.seq,
            sent_at: tally.now(),
        };
        self.seq = self.seq.wrapping_add(1);
        // Count it before it leaves: a fast receiver must never see more
        // deliveries than were expected.
        if tally.is_measured(payload.sent_at) {
            tally.sent(self.room);
        }
        self.line.clear();
        payload.encode(&mut self.line);
        self.connection
            .send(&self.line)
            .await
            .map_err(|e| describe(&e))
    }

    /// Handles every complete line read so far.
    fn handle_lines(&mut self) -> Result<(), String> {
        let config = &self.shared.config;
        let tally = &self.shared.tally;
        while let Some(line) = self.connection.next_line().map_err(|e| describe(&e))? {
            let incoming = match config.protocol {
                Protocol::Netlings => Incoming::classify(line),
                Protocol::TokioExample => tokio_example::classify(line),
            };
            match incoming {
                // Others joining and leaving; nothing to measure.
                Incoming::Notice(_) => {}
                // `! too slow` and the like; the close that follows is
                // counted as a disconnection.
                Incoming::Error(error) => tally.error(&format!("! {error}")),
                Incoming::Message { text, .. } => match Payload::parse(text) {
                    Some(m) if m.client != self.id && config.room_of(m.client) == self.room => {
                        if tally.is_measured(m.sent_at) {
                            tally.received(self.id, tally.now().saturating_sub(m.sent_at));
                        }
                    }
                    // Our own message echoed, another room's, or not ours.
                    _ => tally.error("unexpected message"),
                },
                Incoming::Other(_) => tally.error("unexpected line"),
            }
        }
        Ok(())
    }
}
