//! Helpers that every lesson's command line (`src/main.rs`) shares.
//!
//! Nothing here is part of an exercise: it is the plumbing that makes every
//! lesson behave the same way for the learner, so each `main.rs` stays short.

use std::io::Write;
use std::net::SocketAddr;
use std::panic;

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

/// Turns the panic of an unfinished exercise into a short note for the learner.
///
/// Exercises start as `todo!("exercise 1.1: ... — book §1.1")`. When the
/// program reaches one, the default panic message is accurate but unfriendly.
/// This hook prints which exercise to write, where, and how to check it, then
/// ends the whole process — also when the `todo!()` ran on a server thread,
/// so a demo does not hang waiting for a thread that died. Other panics keep
/// Rust's usual report.
pub fn install_exercise_hook(lesson: &'static str) {
    let default_hook = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        let Some(exercise) = message.strip_prefix("not yet implemented: ") else {
            default_hook(info);
            return;
        };
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_else(|| "the lesson's src/ folder".to_string());
        eprintln!();
        eprintln!("This lesson is not finished yet — the program reached an exercise:");
        eprintln!();
        eprintln!("    {exercise}");
        eprintln!();
        eprintln!("Write it where the todo!() is: {place}");
        eprintln!("Then check it with: cargo test -p {lesson}");
        eprintln!("(To see the finished program: add `--features solution` to the cargo command.)");
        std::process::exit(101);
    }));
}
