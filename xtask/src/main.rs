//! `cargo xtask verify` checks the course; `cargo xtask progress` shows a
//! learner where they are. Both read the course from its files (see course.rs).

mod cargo;
mod course;
mod progress;
mod verify;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  progress   which exercises you have done, and what to do next
  verify     (maintainers, CI) check the whole course: solutions pass every test,
             every exercise's tests fail as shipped, each exercise has tests and a
             book section, and the book builds without warnings";

fn main() -> ExitCode {
    let root = course::root();
    let result = match std::env::args().nth(1).as_deref() {
        Some("progress") => progress::run(&root),
        Some("verify") => verify::run(&root),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            if let Some(command) = other {
                eprintln!("unknown command `{command}`\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
