//! The command line of lesson 12. Run `cargo run -p lesson12 -- --help`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson12::server::{self, Site};
use lesson12::{Config, DEFAULT_ADDR, demo, files};

/// Lesson 12 — HTTP/1.1 from scratch: a static-file web server. With no
/// command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the files under DIR: try `curl -v http://127.0.0.1:7012/`.
    Serve {
        /// The directory to serve; nothing outside it can be read.
        dir: PathBuf,
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// No access log on stdout (only the `listening on` line).
        #[arg(long)]
        quiet: bool,
        /// How long a request's head may take from its first byte to its last.
        #[arg(long, value_name = "MS", default_value_t = 10_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        header_timeout_ms: u64,
        /// How long a connection may stay silent between requests.
        #[arg(long, value_name = "MS", default_value_t = 30_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        idle_timeout_ms: u64,
        /// The largest request body, in bytes (larger: 413).
        #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
        max_body: usize,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson12", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Serve {
            dir,
            addr,
            quiet,
            header_timeout_ms,
            idle_timeout_ms,
            max_body,
        }) => {
            // ANCHOR: serve
            let root = files::canonical_root(&dir)
                .with_context(|| format!("cannot serve {}", dir.display()))?;
            let config = Config {
                header_timeout: Duration::from_millis(header_timeout_ms),
                idle_timeout: Duration::from_millis(idle_timeout_ms),
                max_body,
                quiet,
                ..Config::default()
            };
            let listener = std::net::TcpListener::bind(&addr)
                .with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            listener.set_nonblocking(true)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("could not start tokio's runtime")?;
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                server::run(listener, Site::new(root, config)).await;
                anyhow::Ok(())
            })?;
            // ANCHOR_END: serve
        }
    }
    Ok(())
}
