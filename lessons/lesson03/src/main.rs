//! The command line of lesson 3. Run `cargo run -p lesson03 -- --help`.

use std::io;
use std::net::{ToSocketAddrs, UdpSocket};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lesson03::echo::{self, Dropper};
use lesson03::ping::{self, Options};
use lesson03::{DEFAULT_ADDR, demo};

/// Lesson 3 — a UDP echo server and a ping. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every datagram back to its sender; optionally lose some on purpose.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Drop each datagram with this probability (0 to 1) instead of echoing it.
        #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
        drop_rate: f64,
        /// Seed of the drop decisions: the same seed drops the same datagrams.
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
    },
    /// Send numbered probes to an echo server; print round-trip times and loss.
    Ping {
        /// The echo server's address, e.g. 127.0.0.1:7003.
        addr: String,
        /// How many probes to send.
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u32).range(1..))]
        count: u32,
        /// How long to wait for each reply, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(1..))]
        timeout: u64,
        /// How many times to resend a probe that got no reply.
        #[arg(long, value_name = "R", default_value_t = 3)]
        retries: u32,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson03", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server {
            addr,
            drop_rate,
            seed,
        }) => {
            // ANCHOR: server
            let socket =
                UdpSocket::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(socket.local_addr()?);
            if drop_rate > 0.0 {
                eprintln!("dropping datagrams with probability {drop_rate} (seed {seed})");
            }
            echo::serve(&socket, &mut Dropper::new(drop_rate, seed))
                .context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Ping {
            addr,
            count,
            timeout,
            retries,
        }) => {
            // ANCHOR: ping
            // A name may resolve to several addresses; ping the first.
            let server = addr
                .to_socket_addrs()
                .with_context(|| format!("could not resolve {addr}"))?
                .next()
                .with_context(|| format!("{addr} resolved to no address"))?;
            let options = Options {
                count,
                timeout: Duration::from_millis(timeout),
                retries,
            };
            let stats = ping::run(server, &options, &mut io::stdout())
                .with_context(|| format!("ping {addr} failed"))?;
            if stats.received == 0 {
                bail!("no reply from {addr}: is an echo server running there?");
            }
            // ANCHOR_END: ping
        }
    }
    Ok(())
}

/// Parses a probability for `--drop-rate`.
fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a probability between 0 and 1")),
    }
}
