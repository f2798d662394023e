//! The command line of lesson 8. Run `cargo run -p lesson08 -- --help`.

use std::net::TcpListener;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson08::DEFAULT_ADDR;
use lesson08::server::Server;
use netlings_chat::{LimitArgs, Limits};

/// Lesson 8 — a chat server with a thread per client. With no command, a
/// narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the chat: connect with `nc -C 127.0.0.1 7008` and type /help.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson08", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => {
            netlings_chat::demo::run("lesson08", 7008, cfg!(feature = "solution"), |listener| {
                let _ = Server::new(listener, Limits::default()).run();
            })?
        }
        Some(Command::Server { addr, limits }) => {
            // ANCHOR: server
            let files = netlings_chat::raise_open_file_limit()
                .context("could not read the limit on open files")?;
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            let mut limits = limits.limits();
            let allowed = lesson08::server::most_clients_the_system_allows();
            if let Some(most) = allowed.filter(|&most| limits.max_clients > most) {
                eprintln!(
                    "note: --max-clients {} lowered to {most}: two threads per client need \
                     more memory mappings than /proc/sys/vm/max_map_count allows",
                    limits.max_clients
                );
                limits.max_clients = most;
            }
            // A socket per client: say so if the limit is lower.
            let needed = limits.max_clients as u64 + 16;
            if files < needed {
                eprintln!(
                    "note: this process may open {files} files; {} clients need about {needed}",
                    limits.max_clients
                );
            }
            let server = Server::new(listener, limits);
            let stopper = server.stopper()?;
            netlings_chat::on_shutdown_signal(move || stopper.stop())?;
            server.run().context("the server stopped")?;
            // ANCHOR_END: server
        }
    }
    Ok(())
}
