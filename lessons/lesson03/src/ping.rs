//! The ping client: numbered probes over a connected UDP socket, with a
//! timeout, retransmissions, and statistics at the end, like ping(8).

use std::fmt;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::wire::{self, Clock, PROBE_LEN, Probe, count};

// ANCHOR: connect
/// Exercise 3.2: a connected UDP socket — book §3.2.
///
/// Make a UDP socket for talking to `server`, and to nobody else.
///
/// - `UdpSocket::bind(addr)` with port 0 gives the socket a free port. Bind
///   the same address family as `server` — the unspecified address
///   `Ipv4Addr::UNSPECIFIED` (0.0.0.0) or `Ipv6Addr::UNSPECIFIED` (::), port 0;
///   `server.is_ipv4()` tells which. An IPv4 socket cannot reach an IPv6 address.
/// - `socket.connect(server)` sends nothing — UDP has no handshake. It records
///   the peer: from then on `send` and `recv` need no address, and the kernel
///   discards datagrams from anyone else.
/// - It also lets the kernel tell you when nothing is listening. The ICMP "port
///   unreachable" that comes back then becomes an error of kind
///   `ConnectionRefused` on your next `recv` (or `send`); [`run`] turns it into
///   "nothing is listening on ADDR". An unconnected socket never hears of it
///   and would wait for every timeout.
pub fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
    todo!("exercise 3.2: a connected UDP socket — book §3.2")
}
// ANCHOR_END: connect

// ANCHOR: outcome
/// What happened to one probe: filled in by [`probe`], added up by [`Stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// The probe's sequence number.
    pub seq: u32,
    /// How many datagrams were sent for it: 1, plus one per retransmission.
    pub sent: u32,
    /// The round-trip time of the reply, or `None` if every try timed out.
    pub rtt: Option<Duration>,
    /// Datagrams that arrived while waiting but were not this probe's reply:
    /// late or duplicate replies to earlier probes, and garbage.
    pub ignored: u32,
}
// ANCHOR_END: outcome

// ANCHOR: probe_fn
/// Exercise 3.3: one probe, with a timeout and retransmissions — book §3.3.
///
/// Send probe number `seq` on `socket` (connected: see [`connect`]) and wait
/// up to `timeout` for its reply. If none comes, send it again — at most
/// `retries` more times — and wait again. Return an [`Outcome`] that says how
/// many datagrams you sent, the round-trip time if a reply came, and how many
/// datagrams you ignored.
///
/// - Each try: `Probe { seq, sent_us: clock.now_us() }.encode()`, then
///   `socket.send(&bytes)`. A retransmission is a new datagram with the *same*
///   `seq` and a new send time.
/// - The round-trip time is `clock.since(reply.sent_us)`: the reply carries
///   the send time of the copy it answers, so you need not remember which copy
///   that was.
/// - Receive with `socket.recv(&mut buf)` into a buffer one byte larger than
///   [`PROBE_LEN`]: a datagram longer than `PROBE_LEN` then shows up as
///   `n > PROBE_LEN` instead of being silently cut to a plausible 12 bytes.
///   `Probe::decode(&buf[..n])` returns `None` for anything that is not 12 bytes.
/// - Accept only a reply whose `seq` is the one you are waiting for. Anything
///   else — garbage, a late reply or a duplicate of an earlier probe's reply —
///   is counted in `ignored`, and you keep waiting.
/// - Wait with `socket.set_read_timeout(Some(time_left))` before each `recv`,
///   where `time_left` is what remains of this try's `timeout` — not a fresh
///   `timeout` each time, or a trickle of garbage would make you wait forever.
///   `Some(Duration::ZERO)` is an error: when no time is left, stop waiting.
/// - `recv` fails when the time is up: [`wire::timed_out`] recognises that
///   error (its kind differs between Unix and Windows). Time up means: retransmit,
///   or give up after the last try.
/// - [`wire::truncated`] errors (Windows' way of saying "too long") and
///   `Interrupted` are ignored like garbage; any other error — above all
///   `ConnectionRefused`, see §3.2 — ends the probe: return it.
pub fn probe(
    socket: &UdpSocket,
    clock: &Clock,
    seq: u32,
    timeout: Duration,
    retries: u32,
) -> io::Result<Outcome> {
    todo!("exercise 3.3: one probe, with a timeout and retransmissions — book §3.3")
}
// ANCHOR_END: probe_fn

// ANCHOR: stats
/// Everything ping reports at the end, added up from each probe's [`Outcome`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// How many probes (sequence numbers) were sent.
    pub probes: u32,
    /// How many datagrams were sent, retransmissions included.
    pub sent: u32,
    /// How many probes got a reply: at most one per probe, however many
    /// copies of the reply arrived.
    pub received: u32,
    /// How many datagrams were ignored (late, duplicate or garbage).
    pub ignored: u32,
    /// The shortest and longest round-trip time, and the sum of all of them;
    /// `None` and zero until the first reply.
    pub rtt_min: Option<Duration>,
    pub rtt_max: Option<Duration>,
    pub rtt_total: Duration,
}
// ANCHOR_END: stats

impl Stats {
    // ANCHOR: add
    /// Exercise 3.4: statistics, like ping(8) — book §3.4.
    ///
    /// Add one probe's `outcome` to the totals.
    ///
    /// - Every outcome is one more probe; its `sent` and `ignored` add to the
    ///   totals of the same name.
    /// - Only an outcome with a round-trip time counts as `received`, once.
    ///   A reply that came twice is still one reply; [`probe`] has already set
    ///   the second copy aside as `ignored`. Counting it again would report
    ///   "11 received" for 10 probes, and a negative loss.
    /// - Its round-trip time updates `rtt_min` and `rtt_max` (`None` means
    ///   "no reply yet", so the first time is both), and adds to `rtt_total`,
    ///   from which [`Stats::rtt_avg`] computes the average.
    pub fn add(&mut self, outcome: &Outcome) {
        todo!("exercise 3.4: statistics, like ping(8) — book §3.4")
    }
    // ANCHOR_END: add
}

// ANCHOR: stats_given
impl Stats {
    /// The share of datagrams sent that got no reply, in percent:
    /// `(sent - received) / sent`. A probe answered on its third try lost two
    /// datagrams; that is the loss the network showed us.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        let lost = self.sent.saturating_sub(self.received);
        100.0 * f64::from(lost) / f64::from(self.sent)
    }

    /// The average round-trip time, or `None` if nothing was received.
    pub fn rtt_avg(&self) -> Option<Duration> {
        (self.received > 0).then(|| self.rtt_total / self.received)
    }
}

/// The summary, in the spirit of ping(8):
///
/// ```text
/// 10 sent, 8 received, 20.0% loss (8 probes, 2 retransmissions, 0 ignored)
/// rtt min/avg/max = 0.061/0.087/0.132 ms
/// ```
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} sent, {} received, {:.1}% loss ({}, {}, {} ignored)",
            self.sent,
            self.received,
            self.loss_percent(),
            count(self.probes, "probe", "probes"),
            count(
                self.sent.saturating_sub(self.probes),
                "retransmission",
                "retransmissions"
            ),
            self.ignored
        )?;
        if let (Some(min), Some(avg), Some(max)) = (self.rtt_min, self.rtt_avg(), self.rtt_max) {
            write!(
                f,
                "\nrtt min/avg/max = {}/{}/{} ms",
                millis(min),
                millis(avg),
                millis(max)
            )?;
        }
        Ok(())
    }
}

/// A duration in milliseconds with three decimals: "0.087".
pub fn millis(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1000.0)
}
// ANCHOR_END: stats_given

// ANCHOR: run
/// How `ping` behaves: the command line's `--count`, `--timeout` and `--retries`.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How many probes to send.
    pub count: u32,
    /// How long to wait for each reply.
    pub timeout: Duration,
    /// How many times to resend a probe that got no reply.
    pub retries: u32,
}

/// The whole ping: connect, send `count` probes one after another, print a
/// line for each, then the statistics. Lines go to `out`.
pub fn run(server: SocketAddr, options: &Options, out: &mut dyn Write) -> io::Result<Stats> {
    let socket = connect(server)?;
    writeln!(
        out,
        "PING {server}: {} of {PROBE_LEN} bytes, timeout {} ms, {}",
        count(options.count, "probe", "probes"),
        options.timeout.as_millis(),
        count(options.retries, "retry", "retries")
    )?;
    let clock = Clock::new();
    let mut stats = Stats::default();
    for seq in 1..=options.count {
        let outcome = probe(&socket, &clock, seq, options.timeout, options.retries)
            .map_err(|e| explain(e, server))?;
        match outcome.rtt {
            Some(rtt) => writeln!(
                out,
                "{PROBE_LEN} bytes from {server}: seq={seq} time={} ms{}",
                millis(rtt),
                match outcome.sent {
                    0 | 1 => String::new(),
                    sent => format!(" (sent {sent} times)"),
                }
            )?,
            None => writeln!(
                out,
                "seq={seq}: no reply ({}, {} ms each)",
                count(outcome.sent, "try", "tries"),
                options.timeout.as_millis()
            )?,
        }
        stats.add(&outcome);
    }
    writeln!(out, "\n--- {server} ping statistics ---\n{stats}")?;
    Ok(stats)
}

/// Says what a refused connection means for UDP. Windows may report the ICMP
/// message as `ConnectionReset` rather than `ConnectionRefused`.
fn explain(error: io::Error, server: SocketAddr) -> io::Error {
    match error.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => io::Error::new(
            error.kind(),
            format!("nothing is listening on {server} (an ICMP port unreachable came back)"),
        ),
        _ => error,
    }
}
// ANCHOR_END: run
