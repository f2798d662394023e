//! The command line of lesson 11. Run `cargo run -p lesson11 -- --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use lesson11::DEFAULT_ADDR;
use lesson11::client::{self, Refusal};
use lesson11::server::{Config, Server};
use lesson11::task::BUILT_IN_TEXT;
use lesson11::wire::{MAX_FRAME, MAX_SLOTS, MAX_TASKS, Request, Spec};

/// Lesson 11 — a distributed task queue. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the coordinator: it queues tasks, leases them to workers, and
    /// logs every job and result in --data.
    Coordinator {
        /// Address to listen on; port 0 lets the OS pick a free port.
        #[arg(default_value = DEFAULT_ADDR)]
        addr: String,
        /// Directory of the log (created if missing; read back if not).
        #[arg(long)]
        data: PathBuf,
        /// How long a lease lasts without a heartbeat, in milliseconds.
        #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
        lease_ms: u64,
        /// The most unfinished tasks; a submit beyond it is refused.
        #[arg(long, default_value_t = 100_000)]
        max_queued: usize,
    },
    /// Run a worker: pull tasks from the coordinator at COORD and run them.
    Worker {
        /// The coordinator's address, e.g. 127.0.0.1:7011.
        coord: String,
        /// How many tasks to run at once.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_SLOTS as i64))]
        slots: u32,
        /// How often to send a heartbeat (default: a third of the lease).
        #[arg(long)]
        heartbeat_ms: Option<u64>,
    },
    /// Submit a job; prints its id once the coordinator has logged it.
    Submit {
        /// The coordinator's address, e.g. 127.0.0.1:7011.
        coord: String,
        /// How many tasks.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=MAX_TASKS as i64))]
        tasks: u32,
        /// What each task does.
        #[arg(long, value_enum, default_value_t = Kind::Words)]
        kind: Kind,
        /// words: the text to count (default: a built-in text).
        #[arg(long)]
        text: Option<PathBuf>,
        /// How long each task takes, in milliseconds [default: 100 for sleep
        /// and crash, 0 for words].
        #[arg(long)]
        ms: Option<u32>,
        /// crash: on how many of a task's first attempts the worker crashes.
        #[arg(long, default_value_t = 1)]
        crashes: u32,
    },
    /// Wait for a job: exit 0 if all its tasks are done, 1 if some failed,
    /// 2 on timeout.
    Wait {
        /// The coordinator's address, e.g. 127.0.0.1:7011.
        coord: String,
        /// The job's id, as `submit` printed it.
        job: u64,
        /// Give up (exit 2) after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout_s: u64,
    },
    /// Show the coordinator's workers, queue and jobs.
    Status {
        /// The coordinator's address, e.g. 127.0.0.1:7011.
        coord: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Count the words of a chunk of the text.
    Words,
    /// Sleep --ms milliseconds.
    Sleep,
    /// Crash the worker mid-task on the first --crashes attempts.
    Crash,
}

fn main() -> ExitCode {
    netlings_kit::install_exercise_hook("lesson11");
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    let command = Cli::parse().command;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start tokio's runtime")?;
    let Some(command) = command else {
        runtime.block_on(lesson11::demo::run())?;
        return Ok(ExitCode::SUCCESS);
    };
    runtime.block_on(async {
        match command {
            Command::Coordinator {
                addr,
                data,
                lease_ms,
                max_queued,
            } => {
                let config = Config {
                    data: data.clone(),
                    lease: Duration::from_millis(lease_ms),
                    max_queued,
                };
                // The log first: a coordinator that cannot recover must
                // not announce that it listens.
                let server = Server::open(&config)
                    .with_context(|| format!("could not open the log in {}", data.display()))?;
                let listener = tokio::net::TcpListener::bind(&addr)
                    .await
                    .with_context(|| format!("could not bind {addr}"))?;
                netlings_kit::announce_listening(listener.local_addr()?);
                server.run(listener).await;
                Ok(ExitCode::SUCCESS)
            }
            Command::Worker {
                coord,
                slots,
                heartbeat_ms,
            } => {
                let heartbeat = heartbeat_ms.map(|ms| Duration::from_millis(ms.max(1)));
                lesson11::worker::run(&coord, slots, heartbeat).await;
                Ok(ExitCode::SUCCESS)
            }
            Command::Submit {
                coord,
                tasks,
                kind,
                text,
                ms,
                crashes,
            } => {
                let spec = match kind {
                    Kind::Words => {
                        let text = match text {
                            None => BUILT_IN_TEXT.to_string(),
                            Some(path) => std::fs::read_to_string(&path)
                                .with_context(|| format!("could not read {}", path.display()))?,
                        };
                        if text.len() > MAX_FRAME - 64 {
                            bail!(
                                "the text has {} bytes; a job's text must fit in a frame ({} bytes)",
                                text.len(),
                                MAX_FRAME - 64
                            );
                        }
                        Spec::Words {
                            text,
                            ms: ms.unwrap_or(0),
                        }
                    }
                    Kind::Sleep => Spec::Sleep {
                        ms: ms.unwrap_or(100),
                    },
                    Kind::Crash => Spec::Crash {
                        ms: ms.unwrap_or(100),
                        crashes,
                    },
                };
                match client::submit(&coord, &Request::Submit { tasks, spec }).await {
                    Ok(job) => {
                        println!("{job}");
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(Refusal::Refused(reason)) => bail!("the coordinator refused the job: {reason}"),
                    Err(Refusal::Io(e)) => Err(e).with_context(|| format!("could not submit to {coord}")),
                }
            }
            Command::Wait {
                coord,
                job,
                timeout_s,
            } => match client::wait(&coord, job, Duration::from_secs(timeout_s)).await {
                Ok(Some(p)) => {
                    println!(
                        "job {}: {} tasks, {} done, {} failed, {} retried",
                        p.job, p.tasks, p.done, p.failed, p.retried
                    );
                    println!("result: {}", p.result);
                    Ok(ExitCode::from(u8::from(p.failed > 0)))
                }
                Ok(None) => {
                    eprintln!("job {job}: not finished after {timeout_s} s");
                    Ok(ExitCode::from(2))
                }
                Err(Refusal::Refused(reason)) => bail!("{reason}"),
                Err(Refusal::Io(e)) => Err(e).with_context(|| format!("could not wait on {coord}")),
            },
            Command::Status { coord } => {
                let text = client::status(&coord)
                    .await
                    .with_context(|| format!("could not ask {coord}"))?;
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
