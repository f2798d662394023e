//! The command line of lesson 4. Run `cargo run -p lesson04 -- --help`.

use std::io;
use std::net::{TcpListener, TcpStream};

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson04::framing::DEFAULT_MAX_FRAME_LEN;
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
        #[arg(long, default_value_t = DEFAULT_MAX_FRAME_LEN)]
        max_frame_len: usize,
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
        }) => {
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            server::serve(listener, max_frame_len).context("the server stopped")?;
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
