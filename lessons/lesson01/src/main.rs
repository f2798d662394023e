//! The command line of lesson 1. Run `cargo run -p lesson01 -- --help`.

use std::io;
use std::net::{TcpListener, TcpStream};

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson01::{DEFAULT_ADDR, client, demo, echo};

/// Lesson 1 — a TCP echo server and client. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Echo every client's bytes back to it, one client at a time.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
    },
    /// Send standard input to an echo server and print what comes back.
    Client {
        /// The server's address, e.g. 127.0.0.1:7001.
        addr: String,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson01", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server { addr }) => {
            // ANCHOR: server
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            echo::serve(listener).context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Client { addr }) => {
            let stream = TcpStream::connect(&addr)
                .with_context(|| format!("could not connect to {addr}"))?;
            client::round_trip(&stream, io::stdin(), io::stdout())
                .with_context(|| format!("the exchange with {addr} failed"))?;
        }
    }
    Ok(())
}
