//! The run, phase by phase: connect a batch at a time, send for the
//! configured time, wait for the last deliveries, stop, report.
//!
//! Every phase has a deadline. A server that dies shows up as disconnected
//! clients and ends the run early; one that stalls shows up as timeouts and
//! lost deliveries; either way the tool reports and exits.
//!
//! When the connecting is over, one line on stderr says so:
//! `netlings-load: 1000 of 1000 clients joined in 0.81 s; sending for 10 s`
//! (`idling` at `--rate 0`). A script that measures the server while the
//! clients are all connected (`cargo xtask compare` reads its memory) waits
//! for the ` joined in ` of that line.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until, timeout, timeout_at};

use crate::client::{self, JOIN_TIMEOUT, Phase, Shared};
use crate::config::Config;
use crate::connection::WRITE_TIMEOUT;
use crate::hostile;
use crate::report::Report;
use crate::tally::{Counts, Tally};

/// How long to wait, after the sending, for deliveries still on their way.
const STRAGGLERS: Duration = Duration::from_secs(2);

/// How long the clients get to close their connections at the end.
const SHUTDOWN: Duration = Duration::from_secs(2);

/// How often the progress bar and the end conditions are looked at.
/// Reading a few counters this often costs nothing next to the traffic, and
/// spares the clients from notifying anyone.
const TICK: Duration = Duration::from_millis(10);

/// Runs the load described by `config` (the tool's clock started at
/// `origin`) and returns what it measured.
pub async fn run(config: Config, origin: std::time::Instant) -> anyhow::Result<Report> {
    let addr = resolve(&config.addr).await?;
    let shared = Arc::new(Shared {
        addr,
        tally: Tally::new(origin, config.rooms()),
        config,
        seed: std::hash::RandomState::new(),
        sleepers: hostile::Count::default(),
        slowloris: hostile::Count::default(),
    });
    let tally = &shared.tally;
    let (phase, phase_rx) = watch::channel(Phase::Joining);
    let mut clients = JoinSet::new();
    let bar = progress_bar(u64::from(shared.config.clients), "connecting");

    // 0. The hostile peers first, so that they are there all along.
    hostile::start(&shared, &phase_rx, &mut clients).await;

    // 1. Connect and join, a batch at a time.
    let connecting = Instant::now();
    let mut note = connect(&shared, &phase_rx, &mut clients, &bar).await;
    let connect_secs = connecting.elapsed().as_secs_f64();
    bar.suspend(|| {
        eprintln!(
            "netlings-load: {}",
            joined(&shared.config, tally, connect_secs)
        )
    });

    // 2. Send: warm-up, then the measured duration.
    let start = Instant::now();
    let measured_from = start + shared.config.warmup;
    let end = measured_from + shared.config.duration;
    let mut stopped_at = start;
    if tally.counts().joined > 0 {
        tally.measure_from(measured_from.into_std());
        let _ = phase.send(Phase::Sending { start, end });
        bar.set_length((end - start).as_millis() as u64);
        bar.set_position(0);
        bar.set_prefix("sending");
        let cut_short = send(tally, start, end, &bar).await;
        stopped_at = Instant::now().min(end);
        note = note.or(cut_short);

        // 3. Let the last messages leave and arrive.
        bar.set_prefix("finishing");
        let last_send = Instant::now() + WRITE_TIMEOUT + Duration::from_secs(1);
        wait_until(last_send, &bar, || tally.counts().senders == 0).await;
        let stragglers = Instant::now() + STRAGGLERS;
        wait_until(stragglers, &bar, || {
            let c = tally.counts();
            c.received >= c.expected || c.connected == 0
        })
        .await;
    } else {
        note = note.or(Some("no client could join".into()));
    }

    // 4. Stop every client, and wait (briefly) for them to close.
    let _ = phase.send(Phase::Stopping);
    let closed = timeout(SHUTDOWN, async {
        while clients.join_next().await.is_some() {}
    });
    if closed.await.is_err() {
        clients.abort_all();
    }
    bar.finish_and_clear();

    let send_secs = stopped_at
        .saturating_duration_since(measured_from)
        .as_secs_f64();
    let config = &shared.config;
    Ok(Report {
        sleepers: shared.sleepers.outcome(config.sleepers),
        slowloris: shared.slowloris.outcome(config.slowloris),
        counts: tally.counts(),
        failures: tally.failures(),
        connect_secs,
        latency: tally.latency(),
        errors: tally.errors(),
        send_secs,
        elapsed_secs: origin.elapsed().as_secs_f64(),
        note,
        config: shared.config.clone(),
    })
}

/// The server's address; the first one if the name has several.
async fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(addr)
        .await
        .with_context(|| format!("could not resolve {addr}"))?
        .next()
        .with_context(|| format!("{addr} has no address"))
}

/// Opens the connections a batch at a time: each batch's clients all join
/// (or fail) before the next batch connects, so the server's lobby, which
/// tells every member about every arrival, never holds thousands.
///
/// Returns why it stopped early, if it did.
async fn connect(
    shared: &Arc<Shared>,
    phase: &watch::Receiver<Phase>,
    clients: &mut JoinSet<()>,
    bar: &ProgressBar,
) -> Option<String> {
    let config = &shared.config;
    let (joined_tx, mut joined) = mpsc::unbounded_channel();
    let mut first = 0;
    let (mut joined_so_far, mut failed_so_far) = (0, 0);
    while first < config.clients {
        let batch = first..config.clients.min(first.saturating_add(config.batch));
        for id in batch.clone() {
            let client = client::run(id, shared.clone(), joined_tx.clone(), phase.clone());
            clients.spawn(client);
        }
        // Every client answers within JOIN_TIMEOUT; the margin is for a
        // tool so busy that its timers fire late.
        let deadline = Instant::now() + JOIN_TIMEOUT + Duration::from_secs(2);
        let (mut answers, mut joins) = (0, 0);
        while answers < batch.len() {
            match timeout_at(deadline, joined.recv()).await {
                Ok(Some(ok)) => {
                    answers += 1;
                    joins += usize::from(ok);
                    bar.inc(1);
                    if ok {
                        joined_so_far += 1;
                    } else {
                        failed_so_far += 1;
                    }
                    bar.set_message(format!("{joined_so_far} joined, {failed_so_far} failed"));
                }
                Ok(None) | Err(_) => break,
            }
        }
        first = batch.end;
        // A whole batch failing means the server is gone, full or stuck:
        // trying the rest would only take longer to say the same.
        if joins == 0 {
            let untried = config.clients - first;
            if untried > 0 {
                shared
                    .tally
                    .connect_failed("not tried (a whole batch failed)", u64::from(untried));
            }
            let why = format!("stopped connecting after clients {batch:?} all failed");
            bar.suspend(|| eprintln!("netlings-load: {why}"));
            return Some(why);
        }
    }
    None
}

/// Watches the sending phase until `end`; returns early, with the reason,
/// if every client has been disconnected.
async fn send(tally: &Tally, start: Instant, end: Instant, bar: &ProgressBar) -> Option<String> {
    let mut tick = interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = sleep_until(end) => return None,
            _ = tick.tick() => {
                let counts = tally.counts();
                bar.set_position(start.elapsed().as_millis() as u64);
                bar.set_message(progress(&counts));
                if counts.connected == 0 {
                    let at = start.elapsed().as_secs_f64();
                    return Some(format!("every client was disconnected after {at:.2} s of sending"));
                }
            }
        }
    }
}

/// Waits until `done()` or `deadline`, whichever comes first.
async fn wait_until(deadline: Instant, bar: &ProgressBar, mut done: impl FnMut() -> bool) {
    let mut tick = interval(TICK);
    while !done() && Instant::now() < deadline {
        tick.tick().await;
        bar.tick();
    }
}

/// The line that ends the connecting (see the module's doc).
fn joined(config: &Config, tally: &Tally, connect_secs: f64) -> String {
    let doing = if config.interval().is_some() {
        "sending"
    } else {
        "idling"
    };
    format!(
        "{} of {} clients joined in {connect_secs:.2} s; {doing} for {} s",
        tally.counts().joined,
        config.clients,
        config.duration.as_secs_f64()
    )
}

fn progress(counts: &Counts) -> String {
    format!(
        "{} connected, sent {}, received {} of {}",
        counts.connected, counts.sent, counts.received, counts.expected
    )
}

/// A bar on stderr; indicatif hides it by itself when stderr is not a
/// terminal, so a script's logs stay clean. `wide_msg` cuts the message to
/// the terminal's width, so the line never wraps.
fn progress_bar(length: u64, prefix: &'static str) -> ProgressBar {
    let style = ProgressStyle::with_template("{prefix:>10} [{bar:20}] {wide_msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    ProgressBar::new(length)
        .with_style(style)
        .with_prefix(prefix)
}
