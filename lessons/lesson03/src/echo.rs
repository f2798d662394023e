//! The UDP echo server: every datagram goes back to whoever sent it — unless
//! the [`Dropper`] says to lose it, which simulates a lossy network.

use std::io;
use std::net::UdpSocket;

use crate::wire::count;

/// The server's receive buffer: 64 KiB, more than any UDP payload (65,507
/// bytes over IPv4, 65,527 over IPv6), so no datagram is ever cut short.
pub const BUF_SIZE: usize = 64 * 1024;

// ANCHOR: dropper
/// Decides which datagrams to "lose", reproducibly.
///
/// Each call to [`Dropper::should_drop`] draws the next number from a small
/// pseudo-random generator (SplitMix64) and says "drop" with probability
/// `rate`. The same `seed` gives the same decisions in the same order, so a
/// test — or you, rerunning a command — sees the same datagrams go missing.
#[derive(Clone, Debug)]
pub struct Dropper {
    rate: f64,
    state: u64,
}

impl Dropper {
    /// A dropper that loses each datagram with probability `rate` (0 to 1).
    pub fn new(rate: f64, seed: u64) -> Dropper {
        Dropper { rate, state: seed }
    }

    /// A dropper that never drops anything: a perfect network.
    pub fn never() -> Dropper {
        Dropper::new(0.0, 0)
    }

    /// Whether to drop the next datagram. Call it exactly once per datagram.
    pub fn should_drop(&mut self) -> bool {
        // SplitMix64: add a constant, then scramble the bits. Small, fast and
        // good enough to simulate loss; not for anything secret.
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits, as a fraction in [0, 1).
        let uniform = (z >> 11) as f64 / (1u64 << 53) as f64;
        uniform < self.rate
    }
}
// ANCHOR_END: dropper

// ANCHOR: serve
/// Exercise 3.1: the echo server — book §3.1.
///
/// Forever: receive one datagram on `socket` into a buffer of [`BUF_SIZE`]
/// bytes and send exactly those bytes back to the address it came from —
/// unless `dropper.should_drop()` says to lose it. Call `should_drop` once for
/// every datagram you receive, so that a seed always drops the same ones.
///
/// - `socket.recv_from(&mut buf)` waits for a datagram and returns
///   `Ok((n, peer))`: the datagram is `buf[..n]`, its sender is `peer`. One
///   call, one whole datagram: never half of one, never two glued together.
/// - `n == 0` is an empty datagram, a perfectly good message — not "end of
///   stream" as in TCP. UDP has no connection, so it has no end. Echo it.
/// - `socket.send_to(&buf[..n], peer)` sends one datagram back.
/// - Log each datagram to stderr with `eprintln!`, e.g.
///   `127.0.0.1:50000: echoed 12 bytes` or `...: dropped 12 bytes (simulated loss)`;
///   `count(n, "byte", "bytes")`, given in `wire.rs`, says "1 byte" or "12 bytes".
/// - Errors concern one datagram or one peer, never the server: on Windows, a
///   peer that went away makes the *next* `recv_from` fail with
///   `ConnectionReset`. Log every error and carry on: a `?` here would let
///   any client stop the server for everyone. `serve` never returns.
pub fn serve(socket: &UdpSocket, dropper: &mut Dropper) -> io::Result<()> {
    todo!("exercise 3.1: the echo server — book §3.1")
}
// ANCHOR_END: serve
