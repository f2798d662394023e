//! The command line of lesson 4. Run `cargo run -p lesson04 -- --help`.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson04::server::{DEFAULT_LIMITS, Limits};
use lesson04::{DEFAULT_ADDR, client, demo, server};

/// Lesson 4 — length-prefixed frames over TCP. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every frame back to its sender (4-byte big-endian length, then the
    /// payload); each client on its own thread.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Close any connection that announces a longer payload, in bytes.
        #[arg(long, default_value_t = DEFAULT_LIMITS.max_frame_len)]
        max_frame_len: usize,
        /// Serve at most this many clients at once; close any more at once.
        #[arg(long, default_value_t = DEFAULT_LIMITS.max_connections as u64,
              value_parser = clap::value_parser!(u64).range(1..=100_000))]
        max_connections: u64,
        /// Milliseconds a client may stay silent, or leave echoes unread, before it is sent away.
        #[arg(long, default_value_t = DEFAULT_LIMITS.idle.as_millis() as u64,
              value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        idle_ms: u64,
    },
    /// Send each line of standard input as a frame; print each reply frame as a line.
    Client {
        /// The server's address, e.g. 127.0.0.1:7004.
        addr: String,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson04", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server {
            addr,
            max_frame_len,
            max_connections,
            idle_ms,
        }) => {
            // ANCHOR: server
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            let limits = Limits {
                max_frame_len,
                max_connections: max_connections as usize,
                idle: Duration::from_millis(idle_ms),
            };
            server::serve(listener, limits).context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Client { addr }) => {
            let stream = TcpStream::connect(&addr)
                .with_context(|| format!("could not connect to {addr}"))?;
            client::exchange(&stream, io::stdin().lock(), io::stdout())
                .with_context(|| format!("the exchange with {addr} failed"))?;
        }
    }
    Ok(())
}
