//! `netlings-load`: the course's load generator. It plays many chat users
//! against one of Part III's servers (threads, mio, tokio) and measures what
//! they get: deliveries, losses and latency.
//!
//! ```text
//! netlings-load chat 127.0.0.1:7010 --clients 1000 --room-size 10 --rate 1 --duration 10
//! ```
//!
//! `--rate 0` connects the clients and keeps them idle for `--duration` (what
//! does an idle connection cost the server?); `--sleepers N` and
//! `--slowloris N` add hostile peers beside the measured clients (does one
//! that never reads, or a hundred that never finish a line, hurt the others?).
//!
//! `--protocol tokio-example` speaks instead the protocol of tokio's own
//! chat example (`examples/chat.rs` in tokio's repository), one room for
//! everyone, so that the same load can measure it beside lesson 10:
//!
//! ```text
//! netlings-load chat 127.0.0.1:6142 --protocol tokio-example --clients 1000 --room-size 1000 --rate 0.1 --duration 10 --warmup 1
//! ```
//!
//! How it is built, module by module:
//!
//! - [`config`]: the command line;
//! - [`open_files`]: enough file descriptors, checked before anything opens;
//! - [`scenario`]: the phases of a run — connect, send, wait, stop;
//! - [`client`]: one simulated user, a tokio task;
//! - [`hostile`]: peers that never read, or never finish a line;
//! - [`tokio_example`]: joining tokio's chat example, and reading its lines;
//! - [`connection`]: its socket, read as bounded lines;
//! - [`payload`]: the timestamped messages, and the server's lines;
//! - [`tally`]: the shared counts and latency histograms;
//! - [`report`]: the table, or the JSON for scripts.
//!
//! The report goes to stdout; the progress bar and diagnostics to stderr.

mod client;
mod config;
mod connection;
mod hostile;
mod open_files;
mod payload;
mod report;
mod scenario;
mod tally;
mod tokio_example;

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

/// Load generator for the netlings chat servers: many clients, a steady
/// rate, delivery and latency measured.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// N chat clients in rooms of K, each sending R messages a second.
    Chat(config::Config),
}

fn main() -> ExitCode {
    // Every timestamp counts from here.
    let origin = Instant::now();
    match run(origin) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of context on one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(origin: Instant) -> anyhow::Result<()> {
    let Command::Chat(config) = Cli::parse().command;
    // Before the runtime and before any connection: fail early and clearly.
    config.check().map_err(anyhow::Error::msg)?;
    open_files::ensure_enough(config.connections())?;

    // Several threads: ten thousand clients keep more than one core busy,
    // and the tool must not be what limits the measurement.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the tokio runtime")?;
    let json = config.json;
    let report = runtime.block_on(scenario::run(config, origin))?;

    if json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    if report.counts.joined == 0 {
        bail!("no client could join a room on {}", report.config.addr);
    }
    Ok(())
}
