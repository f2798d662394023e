//! Given code: what a ping probe looks like on the wire, the clock it carries,
//! and two small helpers that hide how operating systems differ.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

/// The largest payload one UDP datagram can carry over IPv4: the IPv4 total
/// length field is 16 bits (at most 65,535 bytes), minus 20 bytes of IP header
/// and 8 bytes of UDP header. A larger `send` fails with "message too long".
pub const MAX_PAYLOAD: usize = 65_535 - 20 - 8;

// ANCHOR: probe
/// How many bytes a probe (and its echo) has on the wire.
pub const PROBE_LEN: usize = 12;

/// One ping probe: a sequence number and the time it was sent.
///
/// On the wire it is 12 bytes, both numbers in network byte order (big-endian):
///
/// ```text
///  0       4                      12
///  +-------+-----------------------+
///  |  seq  |        sent_us        |
///  +-------+-----------------------+
///    u32            u64
/// ```
///
/// The echo server sends the same bytes back, so the reply tells which probe
/// it answers and when that probe left: the round-trip time is "now minus
/// `sent_us`", whichever copy of a retransmitted probe came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Counts probes from 1; a retransmission repeats its probe's number.
    pub seq: u32,
    /// When this copy was sent, in microseconds on the sender's [`Clock`].
    pub sent_us: u64,
}

impl Probe {
    /// The probe's 12 bytes, ready for `send`.
    pub fn encode(&self) -> [u8; PROBE_LEN] {
        let mut bytes = [0u8; PROBE_LEN];
        bytes[..4].copy_from_slice(&self.seq.to_be_bytes());
        bytes[4..].copy_from_slice(&self.sent_us.to_be_bytes());
        bytes
    }

    /// Reads a probe from a received datagram: `None` unless it is exactly
    /// [`PROBE_LEN`] bytes long. Any 12 bytes make *some* probe; whether it is
    /// the one you are waiting for is for the caller to check.
    pub fn decode(datagram: &[u8]) -> Option<Probe> {
        let bytes: &[u8; PROBE_LEN] = datagram.try_into().ok()?;
        let (seq, sent_us) = bytes.split_at(4);
        Some(Probe {
            seq: u32::from_be_bytes(seq.try_into().ok()?),
            sent_us: u64::from_be_bytes(sent_us.try_into().ok()?),
        })
    }
}
// ANCHOR_END: probe

// ANCHOR: clock
/// A clock that fits in a probe: microseconds since the clock was made.
///
/// `Instant` cannot be sent over a network, but a number of microseconds since
/// an `Instant` of our own can, and only we ever read it back.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// Starts a clock at zero.
    pub fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// Microseconds since the clock started.
    pub fn now_us(&self) -> u64 {
        // u64 microseconds last 584,000 years; the conversion cannot fail sooner.
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// How long ago `sent_us` was. A time from the future (a confused or lying
    /// peer) gives zero rather than a panic.
    pub fn since(&self, sent_us: u64) -> Duration {
        Duration::from_micros(self.now_us().saturating_sub(sent_us))
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::new()
    }
}
// ANCHOR_END: clock

// ANCHOR: helpers
/// Whether `error` means "the read timeout passed and nothing arrived".
///
/// With `set_read_timeout`, Unix reports that as `WouldBlock` (EAGAIN) and
/// Windows as `TimedOut`; a program that checks only one of them works on
/// only one kind of system.
pub fn timed_out(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Whether `error` means "a datagram arrived that was larger than your buffer".
///
/// Linux and macOS cut such a datagram to the buffer's size and say nothing
/// (the rest is gone); Windows fills the buffer too but returns the error
/// WSAEMSGSIZE (10040). Either way the datagram is not the one you wanted.
pub fn truncated(error: &io::Error) -> bool {
    cfg!(windows) && error.raw_os_error() == Some(10040)
}
// ANCHOR_END: helpers

/// A number and the word it counts, for messages: `count(1, "byte", "bytes")`
/// is "1 byte", `count(12, "byte", "bytes")` is "12 bytes". Works for any
/// unsigned integer type.
pub fn count<N>(n: N, one: &str, many: &str) -> String
where
    N: fmt::Display + PartialEq + From<u8>,
{
    let word = if n == N::from(1) { one } else { many };
    format!("{n} {word}")
}
