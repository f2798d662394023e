//! The command line of lesson 5. Run `cargo run -p lesson05 -- --help`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lesson05::client::Client;
use lesson05::message::{Request, Response};
use lesson05::{DEFAULT_ADDR, demo, server};

/// Lesson 5 — a key-value server over a binary protocol. With no command, a
/// narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GET, SET and DELETE requests, one client at a time.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Milliseconds a client may stay silent, or leave answers untaken, before it is sent away.
        #[arg(long, default_value_t = server::IDLE_TIMEOUT.as_millis() as u64,
              value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        idle_ms: u64,
    },
    /// Send one request to a server and print its answer.
    Client {
        /// The server's address, e.g. 127.0.0.1:7005.
        addr: String,
        #[command(subcommand)]
        request: Op,
    },
}

#[derive(Subcommand)]
enum Op {
    /// Print the value of KEY.
    Get { key: String },
    /// Store VALUE under KEY.
    Set { key: String, value: String },
    /// Remove KEY.
    Delete { key: String },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson05", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Server { addr, idle_ms }) => {
            // ANCHOR: server
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            server::serve(listener, Duration::from_millis(idle_ms))
                .context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Client { addr, request }) => {
            let (key, request) = match request {
                Op::Get { key } => (key.clone(), Request::Get { key: key.into() }),
                Op::Set { key, value } => (
                    key.clone(),
                    Request::Set {
                        key: key.into(),
                        value: value.into(),
                    },
                ),
                Op::Delete { key } => (key.clone(), Request::Delete { key: key.into() }),
            };
            let stream = TcpStream::connect(&addr)
                .with_context(|| format!("could not connect to {addr}"))?;
            let response = Client::new(stream)?
                .call(&request)
                .with_context(|| format!("the exchange with {addr} failed"))?;
            match response {
                Response::Ok => println!("OK"),
                Response::Value(value) => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&value)?;
                    out.write_all(b"\n")?;
                }
                Response::NotFound => bail!("key {key:?} not found"),
                Response::Error(message) => bail!("the server refused: {message}"),
            }
        }
    }
    Ok(())
}
