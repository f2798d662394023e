//! The command line of lesson 6. Run `cargo run -p lesson06 -- --help`.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson06::{DEFAULT_ADDR, demo, experiments, inspect, listener, server};

/// Lesson 6 — socket options with socket2. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// A line echo server whose connections carry the options you ask for.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Set TCP_NODELAY on every connection.
        #[arg(long)]
        nodelay: bool,
        /// End every connection with a reset (SO_LINGER 0) instead of a FIN.
        #[arg(long)]
        linger0: bool,
        /// Turn keepalive on, first probe after SECS idle seconds.
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
        keepalive: Option<u64>,
        /// Listen on [::]:PORT (PORT from ADDR) for IPv6 and IPv4 clients.
        #[arg(long, conflicts_with = "reuse_port")]
        dual_stack: bool,
        /// Set SO_REUSEPORT, so that several servers can share the port (Unix).
        #[arg(long)]
        reuse_port: bool,
    },
    /// Connect to ADDR and print the socket's options as the kernel reports them.
    Inspect {
        /// The server's address, e.g. 127.0.0.1:7006.
        addr: String,
    },
    /// Restart a server while its last connection is in TIME_WAIT.
    TimeWait,
    /// Time write-write-read rounds with TCP_NODELAY off and on.
    Nodelay {
        /// How many rounds of each.
        #[arg(long, value_name = "N", default_value_t = demo::NODELAY_ROUNDS,
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        rounds: u32,
    },
    /// What a client's read returns after a normal close and after SO_LINGER 0.
    Linger,
    /// One [::] listener with IPV6_V6ONLY off: an IPv4 and an IPv6 client.
    DualStack,
    /// Ask for buffer sizes; print what the kernel reports.
    Buffers {
        /// A size to ask for, in bytes (repeat the flag for several).
        #[arg(long, value_name = "BYTES", default_values_t = [100_000])]
        ask: Vec<usize>,
    },
    /// Keepalive's idle time, interval and probe count, before and after.
    Keepalive,
    /// Several listeners share a port with SO_REUSEPORT (Unix); count who accepts.
    ReusePort {
        /// How many listeners.
        #[arg(long, value_name = "N", default_value_t = 4,
              value_parser = clap::value_parser!(u64).range(1..=64))]
        listeners: u64,
        /// How many connections.
        #[arg(long, value_name = "N", default_value_t = 1000,
              value_parser = clap::value_parser!(u64).range(1..=10_000))]
        connections: u64,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson06", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server {
            addr,
            nodelay,
            linger0,
            keepalive,
            dual_stack,
            reuse_port,
        }) => {
            // ANCHOR: server
            let at = resolve(&addr)?;
            let listener = if dual_stack {
                listener::dual_stack(at.port())
            } else if reuse_port {
                experiments::reuse_port_listener(at)
            } else {
                listener::listener(at)
            }
            .with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            let options = server::Options {
                nodelay,
                linger0,
                keepalive: keepalive.map(Duration::from_secs),
                quiet: false,
            };
            server::serve(listener, options).context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Inspect { addr }) => {
            let at = resolve(&addr)?;
            inspect::run(at, &mut io::stdout())
                .with_context(|| format!("could not connect to {addr}"))?;
        }
        Some(Command::TimeWait) => experiments::time_wait()?,
        Some(Command::Nodelay { rounds }) => experiments::nodelay(rounds)?,
        Some(Command::Linger) => experiments::linger()?,
        Some(Command::DualStack) => experiments::dual_stack()?,
        Some(Command::Buffers { ask }) => experiments::buffers(&ask)?,
        Some(Command::Keepalive) => experiments::keepalive()?,
        Some(Command::ReusePort {
            listeners,
            connections,
        }) => experiments::reuse_port(listeners as usize, connections as usize)?,
    }
    Ok(())
}

/// The first address `addr` resolves to.
fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("could not resolve {addr}"))?
        .next()
        .with_context(|| format!("{addr} resolved to no address"))
}
