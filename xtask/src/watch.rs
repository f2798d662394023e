//! `cargo xtask watch`: work through the course without leaving one screen.
//!
//! It finds the first exercise that is not done, runs that exercise's tests,
//! and shows a short result: passed, the first failure's message, or the
//! first compile error, trimmed to fit a screen. Every save of a `.rs` file
//! under `lessons/` runs them again; when they pass, it says so and moves on
//! to the next exercise. Keys: `h` the next hint, `r` run again, `n` skip to
//! the next exercise, `q` quit.
//!
//! It is a plain terminal program: it prints lines (and clears the screen
//! when stdout is a terminal), reads single keys when stdin is a terminal
//! (on Unix; elsewhere, or when stdin is a pipe, a key is a line: `h` Enter),
//! so it works the same over SSH. A compile error is something to show,
//! never a reason to stop.

use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{EventKind, RecursiveMode, Watcher};

use crate::cargo;
use crate::course::{self, Exercise, Lesson};

/// How long the files must stay quiet after a change before the tests run:
/// an editor's save is often several events (write, rename, chmod).
const SETTLE: Duration = Duration::from_millis(200);

/// How many lines of a failure or a compile error are shown.
const SCREEN: usize = 30;

enum Input {
    Key(char),
    Saved,
}

/// What one run of an exercise's tests found.
enum Outcome {
    Passed(usize),
    Failed { name: String, message: String },
    DoesNotCompile(String),
    NoTests,
}

pub fn run(root: &Path) -> Result<bool> {
    let lessons = course::lessons(root)?;
    let exercises: Vec<(&Lesson, &Exercise)> = lessons
        .iter()
        .flat_map(|l| l.exercises.iter().map(move |e| (l, e)))
        .collect();
    println!("netlings watch — finding your first unfinished exercise…");
    let Some(mut current) = first_unfinished(root, &lessons, &exercises)? else {
        println!("Every exercise is done. Well played!");
        return Ok(true);
    };

    let (events, inputs) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(saved_rust_files(events.clone()))
        .context("could not watch lessons/ for changes")?;
    watcher
        .watch(&root.join("lessons"), RecursiveMode::Recursive)
        .context("could not watch lessons/ for changes")?;
    let _terminal = keys::start(events)?;

    let mut run_now = true;
    loop {
        let (lesson, exercise) = exercises[current];
        if run_now {
            clear_screen();
            if still_todo(root, exercise) {
                introduce(exercise, "");
            } else {
                println!("running the tests of exercise {}…", exercise.id);
                let outcome = test(root, lesson, exercise)?;
                clear_screen();
                if let Outcome::Passed(n) = outcome {
                    println!(
                        "✓ exercise {} — {}: its {n} tests pass.",
                        exercise.id, exercise.title
                    );
                    current += 1;
                    if current == exercises.len() {
                        println!("\nThat was the last exercise of the course. Well played!");
                        return Ok(true);
                    }
                    let (_, next) = exercises[current];
                    // Written ahead of time? Then check it straight away.
                    if !still_todo(root, next) {
                        continue;
                    }
                    println!();
                    introduce(next, "Next: ");
                } else {
                    show(exercise, &outcome);
                }
            }
            print_keys();
        }
        run_now = false;
        match inputs.recv() {
            Ok(Input::Saved) => {
                settle(&inputs);
                run_now = true;
            }
            Ok(Input::Key('h')) => {
                println!();
                crate::hints::show(root, std::slice::from_ref(&exercise.id), "Pressing h again")?;
                print_keys();
            }
            Ok(Input::Key('r')) => run_now = true,
            Ok(Input::Key('n')) if current + 1 < exercises.len() => {
                current += 1;
                run_now = true;
            }
            Ok(Input::Key('n')) => println!("(that is the last exercise)"),
            Ok(Input::Key('q')) | Err(_) => return Ok(true),
            Ok(Input::Key(_)) => {}
        }
    }
}

/// The first exercise, in course order, whose todo!() is still there or
/// whose tests do not all pass. One `cargo test` per lesson, and only for
/// lessons with written exercises, like `progress`.
fn first_unfinished(
    root: &Path,
    lessons: &[Lesson],
    exercises: &[(&Lesson, &Exercise)],
) -> Result<Option<usize>> {
    for lesson in lessons {
        let written: Vec<&Exercise> = lesson
            .exercises
            .iter()
            .filter(|e| !still_todo(root, e))
            .collect();
        let run = if written.is_empty() {
            None
        } else {
            Some(cargo::test(root, &["-p", &lesson.name])?)
        };
        for exercise in &lesson.exercises {
            let done = run.as_ref().is_some_and(|run| {
                let mine: Vec<bool> = run.named(&exercise.test_prefix()).map(|(_, p)| p).collect();
                run.compiled
                    && !still_todo(root, exercise)
                    && !mine.is_empty()
                    && !mine.contains(&false)
            });
            if !done {
                let at = exercises.iter().position(|(_, e)| e.id == exercise.id);
                return Ok(at);
            }
        }
    }
    Ok(None)
}

/// Runs `cargo test -p lessonNN -- exN_k_` and reads what happened.
fn test(root: &Path, lesson: &Lesson, exercise: &Exercise) -> Result<Outcome> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["test", "-p", &lesson.name, "--", &exercise.test_prefix()])
        .env("RUST_BACKTRACE", "0")
        .output()
        .context("could not run cargo test")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    Ok(read_outcome(&stdout, &stderr))
}

fn read_outcome(stdout: &str, stderr: &str) -> Outcome {
    if !stdout.contains("test result:") {
        return Outcome::DoesNotCompile(first_error(stderr));
    }
    let passed = stdout
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with(" ... ok"))
        .count();
    let failed = stdout.lines().find_map(|l| {
        l.strip_prefix("test ")?
            .strip_suffix(" ... FAILED")
            .map(str::to_string)
    });
    match failed {
        Some(name) => {
            let message = failure_message(stdout, &name);
            Outcome::Failed { name, message }
        }
        None if passed == 0 => Outcome::NoTests,
        None => Outcome::Passed(passed),
    }
}

/// The lines of libtest's `---- NAME stdout ----` section.
fn failure_message(stdout: &str, name: &str) -> String {
    let header = format!("---- {name} stdout ----");
    let lines: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with("---- ") && *l != "failures:")
        // "thread 'ex1_1_…' panicked at tests/…:295:" says nothing the
        // harness's message does not.
        .filter(|l| !(l.starts_with("thread '") && l.contains("' panicked at ")))
        .collect();
    trim(&lines)
}

/// The first `error` block of cargo's output, with its source snippet.
fn first_error(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .skip_while(|l| !l.starts_with("error"))
        .take_while(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return trim(&stderr.lines().collect::<Vec<_>>());
    }
    trim(&lines)
}

fn trim(lines: &[&str]) -> String {
    let lines: Vec<&str> = lines
        .iter()
        .copied()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let mut text = lines
        .iter()
        .take(SCREEN)
        .copied()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > SCREEN {
        text.push_str(&format!(
            "\n… ({} more lines: run the command below to see all)",
            lines.len() - SCREEN
        ));
    }
    text.trim_end().to_string()
}

fn show(exercise: &Exercise, outcome: &Outcome) {
    let lesson = exercise
        .file
        .iter()
        .nth(1)
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let filter = exercise.test_prefix();
    match outcome {
        Outcome::Failed { name, message } => {
            println!(
                "✗ exercise {} — {}: {name} fails\n",
                exercise.id, exercise.title
            );
            println!("{message}");
        }
        Outcome::DoesNotCompile(error) => {
            println!(
                "✗ exercise {}: lesson {lesson} does not compile\n",
                exercise.id
            );
            println!("{error}");
        }
        Outcome::NoTests => println!(
            "? no test of exercise {} ran (were they renamed?)",
            exercise.id
        ),
        Outcome::Passed(_) => {}
    }
    println!("\n  your file   {}", exercise.file.display());
    println!(
        "  the tests   cargo test -p {lesson} -- {}",
        filter.trim_end_matches('_')
    );
}

fn introduce(exercise: &Exercise, prefix: &str) {
    println!("{prefix}exercise {} — {}", exercise.id, exercise.title);
    println!(
        "  write it in   {}  (its todo!() is still there)",
        exercise.file.display()
    );
    println!("  read          book §{}", exercise.id);
    println!("  save the file and its tests run here");
}

fn print_keys() {
    println!(
        "\n[h] hint  [r] run again  [n] next exercise  [q] quit   — watching lessons/ for saves"
    );
    let _ = io::stdout().flush();
}

fn clear_screen() {
    if io::stdout().is_terminal() {
        print!("\x1b[2J\x1b[H");
    }
}

fn still_todo(root: &Path, exercise: &Exercise) -> bool {
    std::fs::read_to_string(root.join(&exercise.file))
        .map(|text| text.contains(&exercise.todo_marker()))
        .unwrap_or(true)
}

/// Waits until no save has come for SETTLE, dropping the ones that did.
fn settle(inputs: &Receiver<Input>) {
    loop {
        match inputs.recv_timeout(SETTLE) {
            Ok(Input::Saved) => continue,
            // A key pressed while settling waits for the next prompt.
            Ok(Input::Key(_)) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                return;
            }
        }
    }
}

/// The watcher's callback: a change to a `.rs` file (not under a target
/// directory) becomes `Input::Saved`.
fn saved_rust_files(events: Sender<Input>) -> impl FnMut(notify::Result<notify::Event>) {
    move |event| {
        let Ok(event) = event else { return };
        let relevant = matches!(event.kind, EventKind::Create(_) | EventKind::Modify(_))
            && event.paths.iter().any(|p| {
                p.extension().is_some_and(|e| e == "rs")
                    && !p.components().any(|c| c.as_os_str() == "target")
            });
        if relevant {
            let _ = events.send(Input::Saved);
        }
    }
}

/// Reading keys. On a Unix terminal, single keys without echo (the terminal
/// is put back as it was on exit and on Ctrl-C); otherwise one key per line.
mod keys {
    use super::*;

    pub struct Terminal {
        #[cfg(unix)]
        saved: Option<nix::sys::termios::Termios>,
    }

    pub fn start(events: Sender<Input>) -> Result<Terminal> {
        let terminal = Terminal {
            #[cfg(unix)]
            saved: single_keys()?,
        };
        std::thread::spawn(move || {
            let mut byte = [0u8; 1];
            let mut stdin = io::stdin().lock();
            // End of input (a closed pipe) stops the keys, not the watching.
            while let Ok(1) = stdin.read(&mut byte) {
                let key = byte[0].to_ascii_lowercase() as char;
                if key.is_ascii_alphabetic() && events.send(Input::Key(key)).is_err() {
                    return;
                }
            }
        });
        Ok(terminal)
    }

    #[cfg(unix)]
    fn single_keys() -> Result<Option<nix::sys::termios::Termios>> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        if !io::stdin().is_terminal() {
            return Ok(None);
        }
        let saved = tcgetattr(io::stdin()).context("reading the terminal's settings")?;
        let mut raw = saved.clone();
        // Keys arrive one at a time and are not echoed; output, Ctrl-C and
        // everything else stay as they were.
        raw.local_flags
            .remove(LocalFlags::ICANON | LocalFlags::ECHO);
        tcsetattr(io::stdin(), SetArg::TCSANOW, &raw).context("setting the terminal")?;
        let restore = saved.clone();
        let _ = ctrlc::set_handler(move || {
            let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, &restore);
            std::process::exit(130);
        });
        Ok(Some(saved))
    }

    impl Drop for Terminal {
        fn drop(&mut self) {
            #[cfg(unix)]
            if let Some(saved) = &self.saved {
                use nix::sys::termios::{SetArg, tcsetattr};
                let _ = tcsetattr(io::stdin(), SetArg::TCSANOW, saved);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compile_error_is_its_first_block() {
        let stderr = "   Compiling lesson01 v0.1.0\nerror[E0425]: cannot find value `x`\n --> lessons/lesson01/src/echo.rs:3:5\n  |\n3 |     x\n  |     ^ not found\n\nerror: aborting\n";
        let Outcome::DoesNotCompile(error) = read_outcome("", stderr) else {
            panic!("a compile error")
        };
        assert!(error.starts_with("error[E0425]"), "{error}");
        assert!(error.ends_with("^ not found"), "{error}");
    }

    #[test]
    fn a_failure_is_the_first_failing_tests_message() {
        let stdout = "running 2 tests\ntest ex1_1_a ... ok\ntest ex1_1_b ... FAILED\n\nfailures:\n\n---- ex1_1_b stdout ----\nsent \"hi\", expected \"hi\" back\ngot nothing\n\nfailures:\n    ex1_1_b\n\ntest result: FAILED. 1 passed; 1 failed\n";
        let Outcome::Failed { name, message } = read_outcome(stdout, "") else {
            panic!("a failure")
        };
        assert_eq!(name, "ex1_1_b");
        assert_eq!(message, "sent \"hi\", expected \"hi\" back\ngot nothing");
    }

    #[test]
    fn all_passing_is_passed_and_none_run_is_no_tests() {
        let ok = "running 2 tests\ntest ex1_1_a ... ok\ntest ex1_1_b ... ok\n\ntest result: ok. 2 passed\n";
        assert!(matches!(read_outcome(ok, ""), Outcome::Passed(2)));
        let none = "running 0 tests\n\ntest result: ok. 0 passed; 0 failed\n";
        assert!(matches!(read_outcome(none, ""), Outcome::NoTests));
    }
}
