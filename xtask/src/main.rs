//! The course's own commands. Learners: `progress` and `hint`. Instructors:
//! `grade`. Maintainers and CI: `verify` and `mutants`. mdBook: `book-preprocessor`. All of them
//! read the course from its files (see course.rs). Part III's `compare`
//! measures its three servers under load (see compare.rs).

mod book;
mod cargo;
mod compare;
mod course;
mod grade;
mod hints;
mod lab;
mod mutants;
mod progress;
mod reset;
mod scratch;
mod steps;
mod stub;
mod verify;
mod watch;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

for learners:
  progress          which exercises you have done, and what to do next
  hint N.k          the next hint for exercise N.k: first the idea, then the calls
                    that help, last nearly the code (`hint N.k 2` shows hint 2 again)
  watch             run the tests of your first unfinished exercise on every save, and
                    move on when they pass; keys: h hint, r run again, n next, q quit
  reset N.k         put back the todo!() of exercise N.k (only its function; your code
                    is saved in target/netlings-reset/); `reset lessonNN` for a
                    whole lesson; asks first, or --yes
  compare           Part III's servers (threads, mio, tokio) under the same load on
                    this machine: tables, and CSV files and plots in book/src/compare/;
                    [--lessons 8,9,10] [--clients 10,100,1000,10000] [--duration S]
                    [--idle-clients N] [--hostile] [--quick] (a short smoke run)
  lab up|exec|down  a virtual LAN of three hosts (Linux network namespaces on one
                    bridge, 198.18.0.0/24) for lesson 7 and later; needs root:
                    `cargo build -p xtask && sudo target/debug/xtask lab up`

for instructors:
  grade             score every exercise with the course's own tests (10 points an
                    exercise, shared between its tests); exits 0 on full marks
                    [--lesson N[,M]] [--format table|json|junit|gradescope|classroom]
                    [--output FILE] [--verbose] (failure messages in the table)
                    [--solutions] (grade the reference solutions)
                    [--student DIR] (a student's checkout, graded against this one:
                    only its exercise files are used) [--timeout S] (for a
                    lesson's tests, 120) [--build-timeout S] (for its build, 600)
  grade --repos DIR|LIST...  a whole class: each a checkout, a directory of them or
                    a file listing them; [--jobs N] [--out DIR] (default grades/):
                    grades.csv and a report per student
  grade --gradescope-bundle OUT.zip [--lesson N]  Gradescope's autograder
  grade --classroom-workflow [--output FILE]     GitHub Classroom's workflow

for maintainers and CI:
  verify [lessonNN] check the whole course (or one lesson, without the book): solutions pass every test, every
                    exercise's tests fail as shipped, the shipped exercises are the
                    solutions with stubs, each exercise has tests, hints, mutants and a
                    book section, and the book builds without warnings
  mutants [WHICH]   run every recorded wrong solution (mutants/lessonNN.md) against the
                    tests and fail unless each is caught; WHICH: lessonNN or N.k;
                    `--from DIR` reads DIR/lessonNN.md instead (a held-back set)
  stub FILE         print solutions/lessonNN/FILE with its exercises stubbed: the
                    learner's copy, apart from imports (for writing a new lesson)";

fn main() -> ExitCode {
    let root = course::root();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    let result = match args.first().map(String::as_str) {
        Some("progress") => progress::run(&root),
        Some("hint") => hints::run(&root, rest),
        Some("reset") => reset::run(&root, rest),
        Some("watch") => watch::run(&root),
        Some("verify") => verify::run(&root, rest),
        Some("grade") => grade::run(&root, rest),
        Some("mutants") => mutants::run(&root, rest),
        Some("book-preprocessor") => book::run(&root, rest),
        Some("stub") => stub::run(&root, rest),
        Some("compare") => compare::run(&root, rest),
        Some("lab") => lab::run(rest),
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
