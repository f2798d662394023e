//! The counts every client adds to while the load runs: who is in which
//! room, messages sent, deliveries expected and received, latencies, and
//! what went wrong.
//!
//! Ten thousand clients on several threads update it at once, so it is made
//! of atomics and a few sharded locks rather than one big `Mutex`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;

/// Latencies go to one of this many histograms, picked by the receiving
/// client's number, so that threads rarely wait for each other's lock.
const SHARDS: usize = 16;

/// The longest latency told apart from longer ones: an hour, in µs.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// How many different error lines are counted apart; a server that sends a
/// million different ones cannot make the report grow without bound.
const MAX_KINDS: usize = 32;

#[derive(Debug)]
pub struct Tally {
    /// The clock every timestamp counts from: when the tool started.
    origin: Instant,
    /// For each room, how many of its clients are connected and joined.
    members: Vec<AtomicU32>,
    /// Clients that joined, ever, and connected now.
    joined: AtomicU32,
    connected: AtomicU32,
    /// Joined clients that have not finished their sending yet.
    senders: AtomicU32,
    /// Messages sent at or after this time (µs) count; earlier ones are the
    /// warm-up. Nothing counts until the sending starts.
    measured_from: AtomicU64,
    sent: AtomicU64,
    expected: AtomicU64,
    received: AtomicU64,
    latencies: Vec<Mutex<Histogram<u64>>>,
    /// Why connections failed, and what went wrong after joining.
    failures: Kinds,
    errors: Kinds,
}

/// A snapshot of the counters, for the progress bar and the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub joined: u32,
    pub connected: u32,
    pub senders: u32,
    pub sent: u64,
    pub expected: u64,
    pub received: u64,
}

/// Delivery latency, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl Tally {
    pub fn new(origin: Instant, rooms: u32) -> Tally {
        let histogram = || {
            let histogram =
                Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid histogram bounds");
            Mutex::new(histogram)
        };
        Tally {
            origin,
            members: (0..rooms).map(|_| AtomicU32::new(0)).collect(),
            joined: AtomicU32::new(0),
            connected: AtomicU32::new(0),
            senders: AtomicU32::new(0),
            measured_from: AtomicU64::new(u64::MAX),
            sent: AtomicU64::new(0),
            expected: AtomicU64::new(0),
            received: AtomicU64::new(0),
            latencies: (0..SHARDS).map(|_| histogram()).collect(),
            failures: Kinds::default(),
            errors: Kinds::default(),
        }
    }

    /// Microseconds from the tool's start to `at`.
    pub fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.origin).as_micros() as u64
    }

    /// Microseconds from the tool's start to now.
    pub fn now(&self) -> u64 {
        self.micros(Instant::now())
    }

    /// Messages sent from `at` on are measured.
    pub fn measure_from(&self, at: Instant) {
        self.measured_from.store(self.micros(at), Relaxed);
    }

    pub fn is_measured(&self, sent_at: u64) -> bool {
        sent_at >= self.measured_from.load(Relaxed)
    }

    /// A client joined `room`: from now on it receives the room's messages,
    /// and it has messages to send.
    pub fn joined(&self, room: u32) {
        self.members[room as usize].fetch_add(1, Relaxed);
        self.joined.fetch_add(1, Relaxed);
        self.connected.fetch_add(1, Relaxed);
        self.senders.fetch_add(1, Relaxed);
    }

    /// A joined client left `room` (disconnected, or the run is over).
    pub fn left(&self, room: u32) {
        self.members[room as usize].fetch_sub(1, Relaxed);
        self.connected.fetch_sub(1, Relaxed);
    }

    /// A joined client will send nothing more.
    pub fn done_sending(&self) {
        self.senders.fetch_sub(1, Relaxed);
    }

    /// A member of `room` sends a measured message: every *other* member
    /// connected now should receive it.
    pub fn sent(&self, room: u32) {
        let members = self.members[room as usize].load(Relaxed);
        self.sent.fetch_add(1, Relaxed);
        self.expected
            .fetch_add(u64::from(members.saturating_sub(1)), Relaxed);
    }

    /// Client `receiver` got a measured message, `latency` µs after it left.
    pub fn received(&self, receiver: u32, latency: u64) {
        self.received.fetch_add(1, Relaxed);
        let shard = &self.latencies[receiver as usize % SHARDS];
        lock(shard).saturating_record(latency);
    }

    /// A connection failed before joining, for `why` (`refused`, …).
    pub fn connect_failed(&self, why: &str, clients: u64) {
        self.failures.add(why, clients);
    }

    /// Something went wrong after joining: a disconnection, an error line.
    pub fn error(&self, what: &str) {
        self.errors.add(what, 1);
    }

    pub fn counts(&self) -> Counts {
        Counts {
            joined: self.joined.load(Relaxed),
            connected: self.connected.load(Relaxed),
            senders: self.senders.load(Relaxed),
            sent: self.sent.load(Relaxed),
            expected: self.expected.load(Relaxed),
            received: self.received.load(Relaxed),
        }
    }

    /// The latencies of every measured delivery; `None` if there was none.
    pub fn latency(&self) -> Option<Latency> {
        let mut all = lock(&self.latencies[0]).clone();
        for shard in &self.latencies[1..] {
            all.add(&*lock(shard)).expect("shards have the same bounds");
        }
        (!all.is_empty()).then(|| Latency {
            p50: all.value_at_quantile(0.50),
            p99: all.value_at_quantile(0.99),
            max: all.max(),
            mean: all.mean(),
        })
    }

    pub fn failures(&self) -> BTreeMap<String, u64> {
        self.failures.snapshot()
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.snapshot()
    }
}

/// Counts by kind: rare events (failures, errors), so one lock is enough.
#[derive(Debug, Default)]
struct Kinds(Mutex<BTreeMap<String, u64>>);

impl Kinds {
    fn add(&self, kind: &str, n: u64) {
        let mut kinds = lock(&self.0);
        let kind = if kinds.len() < MAX_KINDS || kinds.contains_key(kind) {
            kind
        } else {
            "other"
        };
        *kinds.entry(kind.to_string()).or_default() += n;
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        lock(&self.0).clone()
    }
}

/// Locks `mutex`, even if a thread panicked while holding it: a count is
/// still a count, and the report is worth more than a second panic.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_message_is_expected_by_the_other_members_connected_when_it_left() {
        let tally = Tally::new(Instant::now(), 2);
        for _ in 0..3 {
            tally.joined(0);
        }
        tally.joined(1);
        tally.sent(0); // two others in room 0
        tally.sent(1); // alone in room 1: nobody to tell
        tally.left(0);
        tally.sent(0); // one other left
        let counts = tally.counts();
        assert_eq!((counts.sent, counts.expected), (3, 3));
        assert_eq!((counts.joined, counts.connected, counts.senders), (4, 3, 4));
        tally.done_sending();
        assert_eq!(tally.counts().senders, 3);
    }

    #[test]
    fn warm_up_messages_do_not_count() {
        let origin = Instant::now();
        let tally = Tally::new(origin, 1);
        assert!(
            !tally.is_measured(0),
            "nothing counts before sending starts"
        );
        tally.measure_from(origin + std::time::Duration::from_micros(500));
        assert!(!tally.is_measured(499));
        assert!(tally.is_measured(500));
    }

    #[test]
    fn percentiles_come_from_every_shard() {
        let tally = Tally::new(Instant::now(), 1);
        assert_eq!(tally.latency(), None);
        // 1 … 1000 ms, spread over every receiver and so every shard.
        for (receiver, ms) in (1..=1000u64).enumerate() {
            tally.received(receiver as u32, ms * 1000);
        }
        let latency = tally.latency().unwrap();
        let near = |got: u64, want: u64| got.abs_diff(want) <= want / 1000;
        assert!(near(latency.p50, 500_000), "{latency:?}");
        assert!(near(latency.p99, 990_000), "{latency:?}");
        assert!(near(latency.max, 1_000_000), "{latency:?}");
        assert!((latency.mean - 500_500.0).abs() < 1000.0, "{latency:?}");
        assert_eq!(tally.counts().received, 1000);
    }

    #[test]
    fn error_kinds_are_bounded() {
        let tally = Tally::new(Instant::now(), 1);
        for i in 0..100 {
            tally.error(&format!("! strange {i}"));
        }
        tally.error("! strange 0");
        let errors = tally.errors();
        assert_eq!(errors.len(), MAX_KINDS + 1);
        assert_eq!(errors["! strange 0"], 2);
        assert_eq!(errors["other"], 100 - MAX_KINDS as u64);
        assert_eq!(errors.values().sum::<u64>(), 101);
    }
}
