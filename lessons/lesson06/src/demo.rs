//! `cargo run -p lesson06`: every experiment of the lesson, in order, each
//! printing its number. All of it on loopback; a few seconds in all.

use std::io;

use crate::experiments;

/// How many rounds of the Nagle experiment the demo runs: with Nagle on,
/// about 40 ms each on Linux, so about a second.
pub const NODELAY_ROUNDS: u32 = 20;

/// Runs the experiments one after another and prints what each shows.
pub fn run() -> io::Result<()> {
    println!("lesson 6 — socket options, made visible\n");

    println!("1. TIME_WAIT and SO_REUSEADDR (§6.1)");
    experiments::time_wait()?;

    println!("\n2. One listener for IPv4 and IPv6: IPV6_V6ONLY off (§6.2)");
    experiments::dual_stack()?;

    println!("\n3. SO_LINGER 0: a reset, not an end of file (§6.3)");
    experiments::linger()?;

    println!("\n4. Nagle's algorithm, delayed ACKs and TCP_NODELAY (§6.4)");
    experiments::nodelay(NODELAY_ROUNDS)?;

    println!("\n5. Buffer sizes: asked, and what the kernel reports");
    experiments::buffers(&[1, 100_000, 10_000_000])?;

    println!("\n6. Keepalive: idle time, interval, probes");
    experiments::keepalive()?;

    println!("\n7. SO_REUSEPORT: four listeners, one port, 1,000 connections");
    experiments::reuse_port(4, 1000)?;

    println!("\n8. inspect: a client socket as the kernel reports it");
    experiments::inspect()?;

    // The same build as this demo: with `--features solution`, the reference
    // solutions, so that copying these commands does not stop at a todo!().
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let run = format!("cargo run -p lesson06{features} --");
    println!("\nTry it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} server --nodelay"), "in one terminal"),
        (format!("{run} inspect 127.0.0.1:7006"), "in another"),
        ("nc 127.0.0.1 7006".into(), "type a line: it comes back"),
        (format!("{run} nodelay --rounds 50"), ""),
        (format!("{run} time-wait"), ""),
    ]);
    Ok(())
}
