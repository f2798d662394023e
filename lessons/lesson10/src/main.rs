//! The command line of lesson 10. Run `cargo run -p lesson10 -- --help`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use lesson10::DEFAULT_ADDR;
use lesson10::server::Server;
use netlings_chat::{LimitArgs, Limits};
use tokio::runtime::Runtime;

/// Lesson 10 — a chat server with tokio tasks. With no command, a narrated
/// demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the chat: connect with `nc -C 127.0.0.1 7010` and type /help.
    Server {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson10", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => {
            netlings_chat::demo::run("lesson10", 7010, cfg!(feature = "solution"), |listener| {
                // The demo's server runs on a thread of the demo's, with a
                // runtime of its own.
                let Ok(runtime) = runtime() else { return };
                runtime.block_on(async {
                    if let Ok(listener) = to_tokio(listener) {
                        Server::new(listener, Limits::default()).run().await;
                    }
                });
            })?
        }
        Some(Command::Server { addr, limits }) => {
            // ANCHOR: server
            let files = netlings_chat::raise_open_file_limit()
                .context("could not read the limit on open files")?;
            let listener = std::net::TcpListener::bind(&addr)
                .with_context(|| format!("could not bind {addr}"))?;
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
            let runtime = runtime().context("could not start tokio's runtime")?;
            runtime.block_on(async {
                let server = Server::new(to_tokio(listener)?, limits);
                // Ctrl-C and SIGTERM cancel the server's token, from a thread
                // of their own; the accept loop sees it and stops.
                let stop = server.stop_token();
                netlings_chat::on_shutdown_signal(move || stop.cancel())?;
                server.run().await;
                anyhow::Ok(())
            })?;
            // Dropping the runtime drops the tasks still running (a client
            // that does not read), and with them their sockets.
            drop(runtime);
            // ANCHOR_END: server
        }
    }
    Ok(())
}

/// Tokio's runtime: a thread per core, each running tasks in turn, with
/// the sockets' readiness (epoll on Linux) and the timers (`enable_all`).
fn runtime() -> std::io::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
}

/// The listener, handed over to tokio (which needs it non-blocking).
fn to_tokio(listener: std::net::TcpListener) -> std::io::Result<tokio::net::TcpListener> {
    listener.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(listener)
}
