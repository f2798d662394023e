//! `cargo run -p lesson07`: the whole lesson in one narrated run on loopback.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use crate::discover::discover;
use crate::responder::{Responder, worth_logging};
use crate::sockets::{DEFAULT_GROUP, LOOPBACK_BROADCAST, open_sender};
use crate::wire::{MAGIC, Message};

/// How long each discovery in the demo collects answers.
const WINDOW: Duration = Duration::from_millis(100);

/// Starts responders on free ports of loopback, discovers them and prints
/// each step. Nothing leaves loopback.
pub fn run() -> io::Result<()> {
    println!("lesson 7 — broadcast and multicast: service discovery, narrated");
    println!("(lines `NAME: ...` are the responders' own log, on stderr)\n");
    let lo = Ipv4Addr::LOCALHOST;
    let mut log = Log::default();

    println!("1. Three responders share one port of the group {DEFAULT_GROUP}");
    let alpha = Responder::open(SocketAddrV4::new(DEFAULT_GROUP, 0), lo, "alpha")?;
    let channel = alpha.channel;
    println!("[alpha] SO_REUSEADDR, bind({channel}), join {DEFAULT_GROUP} on {lo}, announce");
    let alpha = log.serve(alpha, 0);
    for (name, heard_by) in [("beta", 1), ("gamma", 2)] {
        let responder = Responder::open(channel, lo, name)?;
        println!("[{name}] the same port, allowed by SO_REUSEADDR, the same group; announce");
        // Those already there log the newcomer's announcement.
        log.serve(responder, heard_by);
    }

    println!("\n2. One query to the group, three answers");
    let asker = open_sender(lo)?;
    println!(
        "[discover] from {}, IP_MULTICAST_IF {lo}, loop on, TTL 1: query to {channel}",
        asker.local_addr()?
    );
    let found = discover(&asker, channel, WINDOW)?;
    log.wait(3);
    println!("{found}");
    println!("         every member of the group got one copy of the one datagram sent");

    println!("\n3. The same by broadcast, to {LOOPBACK_BROADCAST}");
    let delta = Responder::open(SocketAddrV4::new(LOOPBACK_BROADCAST, 0), lo, "delta")?;
    let broadcast = delta.channel;
    println!("[delta] bind({broadcast}): no group to join; SO_BROADCAST is for the sender");
    log.serve(delta, 0);
    let found = discover(&asker, broadcast, WINDOW)?;
    log.wait(1);
    println!("{found}");

    println!("\n4. Strangers on the port: ignored and counted, never answered");
    let stranger = open_sender(lo)?;
    let mut wrong_version = Message::query().encode();
    wrong_version[4] = 99;
    let datagrams: [(&str, Vec<u8>); 4] = [
        ("3 random bytes", vec![0xde, 0xad, 0x01]),
        ("a line of text", b"who is there?\n".to_vec()),
        ("our magic, version 99", wrong_version),
        ("our magic, cut short", MAGIC.to_vec()),
    ];
    println!(
        "[stranger] at {} sends to {channel}:",
        stranger.local_addr()?
    );
    for (n, (what, datagram)) in (1..).zip(&datagrams) {
        println!("[stranger] {what}");
        stranger.send_to(datagram, channel)?;
        if worth_logging(n) {
            log.wait(3);
        } else {
            println!(
                "         datagram {n} ignored: counted, not logged (the 1st, 2nd, 4th, 8th... are)"
            );
        }
    }
    println!("[stranger] then a real query");
    let found = discover(&stranger, channel, WINDOW)?;
    log.wait(3);
    println!("[stranger] {} answers", found.found.len());
    println!("[alpha] heard: {}", alpha.counts);

    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let run = format!("cargo run -p lesson07{features} --");
    println!("\nTry it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} announce --name alpha"), "in one terminal"),
        (format!("{run} announce --name beta"), "in another"),
        (format!("{run} discover"), "in a third"),
    ]);
    println!("And by broadcast:");
    println!("    {run} announce --name gamma --broadcast");
    println!("    {run} discover --broadcast");
    Ok(())
}

/// The demo's responders, and how many lines of log they should have
/// written by now: before it narrates the next step, the demo waits for
/// those lines, so that each appears under the step that caused it.
#[derive(Default)]
struct Log {
    responders: Vec<Arc<Responder>>,
    lines: u64,
    /// Set when the lines did not come (a `serve` that logs without
    /// `Responder::log`): then the demo stops waiting for them.
    gave_up: bool,
}

impl Log {
    /// Serves `responder` (exercise 7.2) on a background thread — which ends
    /// with the process — and waits until it has heard its own announcement
    /// and `heard_by` others have logged it.
    fn serve(&mut self, responder: Responder, heard_by: u64) -> Arc<Responder> {
        let responder = Arc::new(responder);
        let serving = Arc::clone(&responder);
        thread::spawn(move || serving.serve());
        self.responders.push(Arc::clone(&responder));
        // Its own announcement, looped back to it, shows that it is
        // receiving: a query sent now is answered at once.
        let counts = &responder.counts;
        wait_until(|| counts.announces.load(Ordering::Relaxed) > 0);
        self.wait(heard_by);
        responder
    }

    /// Waits until the responders have written `more` more lines of log.
    fn wait(&mut self, more: u64) {
        self.lines += more;
        if self.gave_up {
            return;
        }
        let written = || {
            let lines = self.responders.iter();
            lines
                .map(|r| r.counts.logged.load(Ordering::Relaxed))
                .sum::<u64>()
        };
        self.gave_up = !wait_until(|| written() >= self.lines);
    }
}

/// Waits, a second at most, until `condition` holds; whether it does.
fn wait_until(condition: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(1);
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}
