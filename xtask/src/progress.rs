//! `cargo xtask progress`: a table of every exercise, and what to do next.
//!
//! An exercise whose `todo!()` is still in your file is "not started"; the
//! tests of a lesson are only run once you have started one of its exercises,
//! so on a fresh clone this is instant.

use std::fs;
use std::path::Path;

use anyhow::Result;

use crate::cargo;
use crate::course::{self, Exercise};

enum Status {
    NotStarted,
    Done,
    /// The todo!() is gone, but `failed` of `total` tests fail.
    Failing {
        failed: usize,
        total: usize,
    },
    /// Written, with failing tests, while an earlier exercise of the lesson
    /// is not done: its tests build on that one, so they cannot pass yet.
    Waiting {
        on: String,
    },
    /// The lesson does not compile, so its tests cannot run.
    DoesNotCompile,
    /// No test of this exercise ran (the tests were renamed or filtered).
    NoTests,
}

pub fn run(root: &Path) -> Result<bool> {
    println!("netlings — your progress\n");
    let mut next: Option<(String, &Exercise, &str)> = None;
    let lessons = course::lessons(root)?;
    let (mut done, mut total) = (0, 0);
    // The title column is as wide as the longest title (counted in chars:
    // titles have em dashes).
    let width = lessons
        .iter()
        .flat_map(|l| &l.exercises)
        .map(|e| e.title.chars().count())
        .max()
        .unwrap_or(0);

    for lesson in &lessons {
        let started: Vec<bool> = lesson
            .exercises
            .iter()
            .map(|e| !still_todo(root, e))
            .collect();
        let run = if started.contains(&true) {
            eprintln!(
                "  (running `cargo test -p {}` to check your work…)",
                lesson.name
            );
            Some(cargo::test(root, &["-p", &lesson.name])?)
        } else {
            None
        };

        // The first exercise of this lesson that is not done, if any.
        let mut first_unfinished: Option<&str> = None;
        for (i, exercise) in lesson.exercises.iter().enumerate() {
            let status = match &run {
                _ if !started[i] => Status::NotStarted,
                Some(run) if !run.compiled => Status::DoesNotCompile,
                Some(run) => {
                    let prefix = exercise.test_prefix();
                    let mine: Vec<bool> = run.named(&prefix).map(|(_, passed)| passed).collect();
                    let failed = mine.iter().filter(|passed| !**passed).count();
                    match (mine.len(), failed) {
                        (0, _) => Status::NoTests,
                        (_, 0) => Status::Done,
                        (total, failed) => Status::Failing { failed, total },
                    }
                }
                None => Status::NotStarted,
            };
            let status = match (status, first_unfinished) {
                (Status::Failing { .. }, Some(earlier)) => Status::Waiting {
                    on: earlier.to_string(),
                },
                (status, _) => status,
            };
            if !matches!(status, Status::Done) && first_unfinished.is_none() {
                first_unfinished = Some(&exercise.id);
            }
            let label = match &status {
                Status::Done => "✓ done".to_string(),
                Status::NotStarted => "· not started".to_string(),
                Status::Failing { failed, total } => {
                    format!("✗ written, {failed} of {total} tests failing")
                }
                Status::Waiting { on } => format!("✗ written; its tests need {on} first"),
                Status::DoesNotCompile => "✗ the lesson does not compile".to_string(),
                Status::NoTests => "? no tests ran".to_string(),
            };
            let lesson_column = if i == 0 { lesson.name.as_str() } else { "" };
            println!(
                "  {lesson_column:<9} {:<5} {:<width$} {label}",
                exercise.id, exercise.title
            );
            total += 1;
            if matches!(status, Status::Done) {
                done += 1;
            } else if next.is_none() {
                next = Some((lesson.name.clone(), exercise, advice(&status)));
            }
        }
        println!();
    }

    println!("{done} of {total} exercises done.");
    match next {
        Some((lesson, exercise, advice)) => {
            println!("\nNext: exercise {} — {}", exercise.id, exercise.title);
            println!("  write it in   {}", exercise.file.display());
            println!(
                "  read          book §{} (mdbook serve book --open)",
                exercise.id
            );
            let filter = exercise.test_prefix();
            println!(
                "  {advice}cargo test -p {lesson} -- {}",
                filter.trim_end_matches('_')
            );
            println!("  stuck?        cargo xtask hint {}", exercise.id);
        }
        None => println!("\nEvery exercise is done. Well played!"),
    }
    Ok(true)
}

fn still_todo(root: &Path, exercise: &Exercise) -> bool {
    fs::read_to_string(root.join(&exercise.file))
        .map(|text| text.contains(&exercise.todo_marker()))
        .unwrap_or(true)
}

fn advice(status: &Status) -> &'static str {
    match status {
        Status::DoesNotCompile => "see errors    ",
        Status::Failing { .. } => "see failures  ",
        _ => "then check    ",
    }
}
