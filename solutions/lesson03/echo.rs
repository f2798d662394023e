//! The UDP echo server: every datagram goes back to whoever sent it — unless
//! the [`Dropper`] says to lose it, which simulates a lossy network.

use crate::wire::count;
use std::io;
use std::net::UdpSocket;

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
/// Forever: receive the next datagram on `socket` and send exactly its bytes
/// back, as one datagram, to the address it came from — unless
/// `dropper.should_drop()` says to lose it (simulated loss).
///
/// - Every datagram UDP can carry comes back whole: up to 65,507 bytes over
///   IPv4, 65,527 over IPv6. [`BUF_SIZE`] holds either.
/// - An empty datagram is a datagram like any other: echo it. UDP has no
///   connection, so nothing ever means "end of stream".
/// - Call `dropper.should_drop()` exactly once per datagram received, empty
///   ones included, so that a seed always loses the same datagrams.
/// - Log one line per datagram to stderr that names its sender and says
///   whether it was echoed or dropped: `127.0.0.1:50000: echoed 12 bytes`,
///   `127.0.0.1:50000: dropped 12 bytes (simulated loss)`.
/// - A failed receive or a failed send concerns one datagram or one peer
///   (on Windows, a peer that went away makes the next receive fail): log it
///   and carry on. No peer may stop the server for the others: `serve`
///   never returns.
pub fn serve(socket: &UdpSocket, dropper: &mut Dropper) -> io::Result<()> {
    // One buffer for the server's whole life: whatever peers send, the
    // server holds one datagram at a time. (On the heap: 64 KiB is a lot to
    // ask of a thread's stack for no gain.)
    let mut buf = vec![0u8; BUF_SIZE];
    loop {
        // One recv_from, one whole datagram, and the address to answer.
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            // A signal, or (on Windows) news that an earlier peer is gone:
            // about one datagram or one peer, never about the server.
            Err(e) => {
                eprintln!("receive failed: {e}");
                continue;
            }
        };
        let bytes = count(n, "byte", "bytes"); // "1 byte", "12 bytes", for the log
        // Draw for every datagram, empty ones included, so that a seed always
        // drops the same datagrams.
        if dropper.should_drop() {
            eprintln!("{peer}: dropped {bytes} (simulated loss)");
            continue;
        }
        // n may be 0: an empty datagram is echoed as an empty datagram.
        match socket.send_to(&buf[..n], peer) {
            Ok(_) => eprintln!("{peer}: echoed {bytes}"),
            Err(e) => eprintln!("{peer}: could not echo {bytes}: {e}"),
        }
    }
}
// ANCHOR_END: serve
