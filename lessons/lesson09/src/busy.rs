//! The problem this lesson solves, with a number (`lesson09 busy`).
//!
//! A non-blocking socket never makes you wait: `accept` on a listener with
//! nobody in its backlog fails at once with `WouldBlock`. A server that
//! serves many sockets from one thread could try each of them in turn, for
//! ever — and burn a whole core doing so while nothing happens. `Poll`
//! (epoll on Linux, kqueue on macOS) asks the kernel instead to wake the
//! thread when one of its sockets is ready, and sleeps until then.

use std::io;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

// ANCHOR: compare
/// Waits `wait` for a client that never comes, twice — in a busy loop of
/// non-blocking `accept` calls, then in `Poll` — and prints how many calls
/// and how much CPU time each wait took.
pub fn compare(wait: Duration) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    println!(
        "Nobody will connect to {}: we wait {:.1} s for a client, twice.\n",
        listener.local_addr()?,
        wait.as_secs_f64()
    );

    // 1. Ask again and again.
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut calls = 0u64;
    while start.elapsed() < wait {
        match listener.accept() {
            // Someone connected after all: not part of the experiment.
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        calls += 1;
    }
    report("busy loop, accept()", calls, start.elapsed(), cpu);

    // 2. Ask the kernel to wake us up when there is something to accept.
    let mut listener = mio::net::TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)?;
    let mut events = Events::with_capacity(16);
    let (start, cpu) = (Instant::now(), cpu_time());
    let mut calls = 0u64;
    while let Some(left) = wait.checked_sub(start.elapsed()) {
        poll.poll(&mut events, Some(left))?;
        calls += 1;
    }
    report("Poll::poll()", calls, start.elapsed(), cpu);
    Ok(())
}
// ANCHOR_END: compare

/// Prints one line of the comparison.
fn report(what: &str, calls: u64, wall: Duration, cpu_before: Option<Duration>) {
    let calls = format!(
        "{} call{}",
        grouped(calls),
        if calls == 1 { "" } else { "s" }
    );
    let cpu = match (cpu_time(), cpu_before) {
        (Some(after), Some(before)) => {
            let cpu = after.saturating_sub(before).as_secs_f64();
            let share = 100.0 * cpu / wall.as_secs_f64().max(1e-9);
            format!("{cpu:.3} s of CPU time ({share:.0}% of a core)")
        }
        _ => "CPU time not measured on this platform".to_string(),
    };
    println!(
        "{what:<20} {calls:>16} in {:.3} s: {cpu}",
        wall.as_secs_f64()
    );
}

/// 12345678 → "12,345,678".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The CPU time this thread has used so far, on Linux; `None` elsewhere.
fn cpu_time() -> Option<Duration> {
    // In nanoseconds, where the kernel keeps scheduler statistics…
    if let Ok(text) = std::fs::read_to_string("/proc/thread-self/schedstat")
        && let Some(Ok(ns)) = text.split_whitespace().next().map(str::parse::<u64>)
        && ns > 0
    {
        return Some(Duration::from_nanos(ns));
    }
    // …and in clock ticks of 10 ms (user time, then system time) everywhere.
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
