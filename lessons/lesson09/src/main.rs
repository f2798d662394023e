//! The command line of lesson 9. Run `cargo run -p lesson09 -- --help`.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson09::DEFAULT_ADDR;
use lesson09::server::Server;
use netlings_chat::{LimitArgs, Limits};

/// Lesson 9 — a chat server as an event loop: one thread, every client.
/// With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the chat: connect with `nc -C 127.0.0.1 7009` and type /help.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Wait for a client that never comes, twice: in a busy loop of
    /// non-blocking accepts, then in Poll; print the CPU time each used.
    Busy {
        /// How long each wait lasts, in seconds.
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson09", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => {
            netlings_chat::demo::run("lesson09", 7009, cfg!(feature = "solution"), |listener| {
                match Server::new(listener, Limits::default()) {
                    Ok(server) => {
                        let _ = server.run();
                    }
                    Err(e) => eprintln!("could not start the event loop: {e}"),
                }
            })?
        }
        Some(Command::Server { addr, limits }) => {
            // ANCHOR: server
            let files = netlings_chat::raise_open_file_limit()
                .context("could not read the limit on open files")?;
            let listener =
                TcpListener::bind(&addr).with_context(|| format!("could not bind {addr}"))?;
            netlings_kit::announce_listening(listener.local_addr()?);
            let limits = limits.limits();
            // A socket per client: say so if the limit is lower.
            let needed = limits.max_clients as u64 + 16;
            if files < needed {
                eprintln!(
                    "note: this process may open {files} files; {} clients need about {needed}",
                    limits.max_clients
                );
            }
            let server = Server::new(listener, limits).context("could not start the event loop")?;
            let stopper = server.stopper();
            netlings_chat::on_shutdown_signal(move || stopper.stop())?;
            server.run().context("the server stopped")?;
            // ANCHOR_END: server
        }
        Some(Command::Busy { secs }) => {
            if !(0.01..=60.0).contains(&secs) {
                anyhow::bail!("give --secs from 0.01 to 60");
            }
            lesson09::busy::compare(Duration::from_secs_f64(secs))
                .context("the comparison failed")?;
        }
    }
    Ok(())
}
