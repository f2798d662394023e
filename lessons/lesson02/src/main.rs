//! The command line of lesson 2. Run `cargo run -p lesson02 -- --help`.

use std::io;
use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson02::{DEFAULT_ADDR, client, demo, errors, server};

/// Lesson 2 — a line-protocol server and its client. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Answer PING, ECHO, UPPER and QUIT, a line for a line, one client at a time.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Milliseconds a client may stay silent, or take to read a reply, before it is sent away.
        #[arg(long, default_value_t = server::IDLE_TIMEOUT.as_millis() as u64,
              value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        idle_ms: u64,
    },
    /// Send standard input to a server line by line and print its replies.
    Client {
        /// The server's address: 127.0.0.1:7002, or a name such as localhost:7002.
        addr: String,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson02", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server { addr, idle_ms }) => {
            // ANCHOR: server
            // explain turns AddrInUse into "another program has that port".
            let listener = TcpListener::bind(&addr)
                .map_err(|e| anyhow::anyhow!(errors::explain(&e)))
                .with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            server::serve(listener, Duration::from_millis(idle_ms))
                .context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Client { addr }) => {
            // ANCHOR: client
            let stream = client::connect_any(addr.as_str(), client::CONNECT_TIMEOUT)
                .with_context(|| format!("could not connect to {addr}"))?;
            eprintln!(
                "connected to {}; type PING, ECHO text, UPPER text or QUIT (Ctrl-D to finish)",
                stream.peer_addr()?
            );
            client::chat(stream, io::stdin(), io::stdout())
                .with_context(|| format!("the conversation with {addr} failed"))?;
            // ANCHOR_END: client
        }
    }
    Ok(())
}
