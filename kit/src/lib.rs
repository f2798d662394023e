//! Helpers that every lesson's command line (`src/main.rs`) shares.
//!
//! Nothing here is part of an exercise: it is the plumbing that makes every
//! lesson behave the same way for the learner, so each `main.rs` stays short,
//! and the server code that lessons share but do not teach: the accept loop
//! ([`accept`]) and a write deadline for a whole reply ([`WriteWithin`]).

mod accept;
mod write_within;

pub use accept::{ACCEPT_PAUSE, accept, accept_failed, accept_failure_logged};
pub use write_within::WriteWithin;

use std::io::Write;
use std::net::SocketAddr;
use std::panic;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

/// Runs a lesson's command line: installs [`install_exercise_hook`], runs
/// `run`, and prints an error as one plain sentence — `error: could not bind
/// 127.0.0.1:7001: Address already in use (os error 98)` — without the
/// backtrace that returning an error from `main` would add when
/// `RUST_BACKTRACE` is set.
pub fn main(lesson: &'static str, run: fn() -> anyhow::Result<()>) -> ExitCode {
    install_exercise_hook(lesson);
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the whole chain of context on one line.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `listening on <addr>` as the first line on stdout and flushes it.
///
/// Every server in the course does this, with the address it really bound:
/// after binding `127.0.0.1:0` the operating system picks a free port, and
/// this line is how a person, a script or a test learns which one. The flush
/// matters: when stdout is a pipe rather than a terminal, Rust buffers it, and
/// a test waiting for this line would otherwise wait forever.
pub fn announce_listening(addr: SocketAddr) {
    let mut out = std::io::stdout().lock();
    // If stdout is closed there is nobody to tell; the server still works.
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Prints a demo's "try it yourself" commands, each with its comment (if
/// any), the comments lined up.
pub fn print_commands(commands: &[(String, &str)]) {
    let width = commands
        .iter()
        .filter(|(_, comment)| !comment.is_empty())
        .map(|(command, _)| command.len())
        .max()
        .unwrap_or(0);
    for (command, comment) in commands {
        if comment.is_empty() {
            println!("    {command}");
        } else {
            println!("    {command:<width$}   # {comment}");
        }
    }
}

/// Turns the panic of an unfinished exercise into a short note for the learner.
///
/// Exercises start as `todo!("exercise 1.1: ... — book §1.1")`. When the
/// program reaches one, the default panic message is accurate but unfriendly.
/// This hook prints which exercise to write, where, and how to check it, then
/// ends the whole process — also when the `todo!()` ran on a server thread,
/// so a demo does not hang waiting for a thread that died.
///
/// Other panics get Rust's usual report, without the backtrace: the course's
/// `.cargo/config.toml` turns `RUST_BACKTRACE` off, so that test failures
/// stay short, and `NETLINGS_BACKTRACE=1` turns backtraces back on.
///
/// When two threads reach an exercise at once (a demo's server and client),
/// only the first reports; the other waits for the process to end, so the two
/// notes never interleave.
pub fn install_exercise_hook(lesson: &'static str) {
    static REPORTED: AtomicBool = AtomicBool::new(false);
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = panic_message(info).unwrap_or("");
        let Some(exercise) = message.strip_prefix("not yet implemented: ") else {
            if backtrace_wanted() {
                default_hook(info);
                eprintln!("{}", std::backtrace::Backtrace::force_capture());
            } else {
                report_panic(info, message);
            }
            return;
        };
        if REPORTED.swap(true, Ordering::SeqCst) {
            // Another thread is already reporting and about to exit.
            loop {
                thread::park();
            }
        }
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "the lesson's src/ folder".to_string());
        // "exercise 1.1: echo one connection — book §1.1" → "1.1"
        let id = exercise
            .strip_prefix("exercise ")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or("");
        let filter = format!("ex{}", id.replace('.', "_"));
        // Hold stdout while we write, so that another thread's output (a demo
        // narrates from two) cannot land in the middle of this note.
        let mut out = std::io::stdout().lock();
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "\nThis lesson is not finished yet — the program reached an exercise:\n\n    \
             {exercise}\n\nWrite it where the todo!() is: {place}\n\
             Then check it with: cargo test -p {lesson} -- {filter}\n\
             Stuck? `cargo xtask hint {id}` gives a hint.\n\
             (To see the finished program: add `--features solution` to the cargo command.)"
        );
        drop(err);
        std::process::exit(101);
    }));
}

/// The message a panic was raised with, if it has one (a `panic!` with
/// arguments carries a `String`, one without a `&str`).
pub fn panic_message<'a>(info: &'a panic::PanicHookInfo<'_>) -> Option<&'a str> {
    let payload = info.payload();
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
}

/// Whether the learner asked for backtraces: `NETLINGS_BACKTRACE=1`.
pub fn backtrace_wanted() -> bool {
    std::env::var_os("NETLINGS_BACKTRACE").is_some_and(|v| v != "0")
}

/// Rust's report of a panic, with the course's own hint about backtraces
/// (Rust's would suggest `RUST_BACKTRACE=1`, which the course turns off).
fn report_panic(info: &panic::PanicHookInfo<'_>, message: &str) {
    let thread = thread::current();
    let name = thread.name().unwrap_or("<unnamed>");
    let place = info
        .location()
        .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    eprintln!(
        "\nthread '{name}' panicked{place}:\n{message}\n\
         note: run with `NETLINGS_BACKTRACE=1` to see a backtrace"
    );
}
