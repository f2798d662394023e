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
/// Return a UDP socket for talking to `server`, and to nobody else: bound to
/// the unspecified address of `server`'s family (`0.0.0.0` for an IPv4
/// server, `::` for an IPv6 one) and port 0, then connected to `server`.
///
/// - Its `peer_addr()` is `server`: `send` and `recv` need no address, and
///   the kernel discards datagrams from anyone else.
/// - Connecting sends nothing: UDP has no handshake.
/// - Because it is connected, the ICMP "port unreachable" that a host sends
///   back when nothing listens on `server`'s port reaches the socket, as an
///   error on a later receive: `ConnectionRefused` on Linux and macOS,
///   `ConnectionReset` on Windows. ([`run`] turns it into "nothing is
///   listening on ADDR".)
/// - A failure to bind or to connect is returned.
pub fn connect(server: SocketAddr) -> io::Result<UdpSocket> {
    // Port 0: any free port. The unspecified address lets the kernel pick the
    // source address from its routes when we connect.
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)?;
    // Nothing is sent: connect only sets the default peer and the filter.
    socket.connect(server)?;
    Ok(socket)
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
/// Send probe number `seq` on `socket` (connected to the server, as by
/// [`connect`]) and wait up to `timeout` for its reply; while none comes,
/// send it again, at most `retries` more times. Return the [`Outcome`].
///
/// - Each copy is `Probe { seq, sent_us: clock.now_us() }`, encoded: the same
///   `seq` every time, and the time of that very send.
/// - The reply is a datagram of exactly [`PROBE_LEN`] bytes that decodes to
///   a probe with this `seq` — the reply to any of its copies. Its round-trip
///   time is `clock.since(reply.sent_us)`: the reply carries the send time of
///   the copy it answers.
/// - Anything else that arrives counts in `ignored`, and the wait goes on:
///   garbage, datagrams of another size (a longer one too: Linux and macOS
///   cut a datagram to your buffer without a word), replies with another
///   `seq` (late or duplicated replies to earlier probes).
/// - The wait for each copy ends `timeout` after that copy was sent, however
///   many datagrams arrive meanwhile: a trickle of junk must not postpone a
///   retransmission. `wire::timed_out` recognises a receive whose time ran
///   out.
/// - A receive that fails on Windows because the datagram was too long for
///   the buffer (`wire::truncated`) is ignored like junk; an `Interrupted`
///   one is retried. Any other error ends the probe: return it — above all
///   the refusal of §3.2, which no retransmission can cure.
/// - No reply after the last copy: return the outcome with `rtt: None`.
pub fn probe(
    socket: &UdpSocket,
    clock: &Clock,
    seq: u32,
    timeout: Duration,
    retries: u32,
) -> io::Result<Outcome> {
    let mut outcome = Outcome {
        seq,
        ..Outcome::default()
    };
    // One byte more than a probe, so that a longer datagram cannot pass for one.
    let mut buf = [0u8; PROBE_LEN + 1];
    for _try in 0..=retries {
        let bytes = Probe {
            seq,
            sent_us: clock.now_us(),
        }
        .encode();
        socket.send(&bytes)?;
        outcome.sent += 1;

        // The deadline is for this whole try, however many datagrams arrive.
        let deadline = Instant::now() + timeout;
        loop {
            let time_left = deadline.saturating_duration_since(Instant::now());
            if time_left.is_zero() {
                break; // time is up: retransmit, or give up after the last try
            }
            socket.set_read_timeout(Some(time_left))?;
            match socket.recv(&mut buf) {
                Ok(n) => match Probe::decode(&buf[..n]) {
                    // The reply says when its copy was sent: that is the RTT,
                    // even if it answers an earlier try than the last one.
                    Some(reply) if reply.seq == seq => {
                        outcome.rtt = Some(clock.since(reply.sent_us));
                        return Ok(outcome);
                    }
                    // A late or duplicate reply to an earlier probe, or garbage.
                    _ => outcome.ignored += 1,
                },
                Err(e) if wire::timed_out(&e) => break,
                Err(e) if wire::truncated(&e) => outcome.ignored += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ConnectionRefused and the like: retrying will not help.
                Err(e) => return Err(e),
            }
        }
    }
    Ok(outcome)
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
    /// - An outcome with a round-trip time is one more probe `received` —
    ///   one, however many datagrams it took. An outcome without one adds no
    ///   more: all its datagrams were lost.
    /// - Its round-trip time adds to `rtt_total` and updates `rtt_min` and
    ///   `rtt_max`. Until the first reply they are `None`; the first time is
    ///   both the minimum and the maximum.
    pub fn add(&mut self, outcome: &Outcome) {
        self.probes += 1;
        self.sent += outcome.sent;
        self.ignored += outcome.ignored;
        // A probe without a reply adds to `sent` but not to `received`: that
        // difference is the loss.
        if let Some(rtt) = outcome.rtt {
            self.received += 1;
            self.rtt_min = Some(self.rtt_min.map_or(rtt, |min| min.min(rtt)));
            self.rtt_max = Some(self.rtt_max.map_or(rtt, |max| max.max(rtt)));
            self.rtt_total += rtt;
        }
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
