//! `cargo xtask verify`: the course's own check, run by CI.
//!
//! 1. The structure: every exercise has its `todo!()` in the learner's copy, a
//!    solution, tests named after it, hints, at least three recorded mutants
//!    and a book section; every test and `todo!()` belongs to an exercise; the
//!    learner's file is the solution with its exercises stubbed (stub.rs);
//!    every `{{#include}}` anchor exists, and every `file.rs:LINE` the book
//!    quotes from a learner's file is the line of a `todo!()`.
//! 2. With the solutions, every test passes.
//! 3. On the shipped exercises, every exercise's tests fail — otherwise the
//!    tests would not check the exercise at all.
//! 4. The book builds without a warning.

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};

use crate::course::{self, Lesson};
use crate::{cargo, hints, mutants, stub};

/// Each exercise has at least this many hints (the idea, the calls, nearly the
/// code) and this many recorded wrong solutions.
const MIN_HINTS: usize = 3;
const MIN_MUTANTS: usize = 3;

/// Collects problems instead of stopping at the first, so one run shows them all.
struct Report {
    checks: usize,
    problems: Vec<String>,
}

impl Report {
    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok {
            let problem = problem();
            println!("  ✗ {problem}");
            self.problems.push(problem);
        }
    }
}

/// `cargo xtask verify [lessonNN]`: the whole course, or one lesson (its
/// structure and tests only: the book is built for the whole course).
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let mut report = Report {
        checks: 0,
        problems: Vec::new(),
    };
    let only = args.first();
    let lessons: Vec<Lesson> = course::lessons(root)?
        .into_iter()
        .filter(|l| only.is_none_or(|name| *name == l.name))
        .collect();
    if lessons.is_empty() {
        anyhow::bail!("no lesson called {}", only.map_or("", |s| s.as_str()));
    }
    let packages: Vec<&str> = match only {
        Some(name) => vec!["-p", name],
        None => vec!["--workspace"],
    };

    println!("1. structure: exercises, solutions, tests and book sections");
    for lesson in &lessons {
        structure(root, lesson, &mut report)?;
    }
    includes(root, only, &mut report)?;
    quoted_lines(root, only, &mut report)?;

    println!(
        "2. with the solutions, every test passes (cargo test {} --features solution)",
        packages.join(" ")
    );
    let steps = crate::steps::Steps::new(1, "");
    steps.working_on("building and running every test: minutes the first time");
    let run = cargo::test(root, &[&packages[..], &["--features", "solution"]].concat())?;
    drop(steps);
    report.check(run.compiled, || {
        format!(
            "the workspace does not compile with the solutions:\n{}",
            run.output
        )
    });
    for (name, _) in run.results.iter().filter(|(_, passed)| !**passed) {
        report.check(false, || format!("`{name}` fails with the solutions"));
    }
    report.check(!run.results.is_empty(), || "no test ran".to_string());
    println!("  {} tests ran", run.results.len());

    println!("3. on the shipped exercises, every exercise's tests fail");
    let steps = crate::steps::Steps::new(lessons.len() as u64, "lessons");
    for lesson in &lessons {
        steps.working_on(&format!("cargo test -p {}", lesson.name));
        let run = cargo::test(root, &["-p", &lesson.name])?;
        report.check(run.compiled, || {
            format!(
                "{} does not compile as shipped:\n{}",
                lesson.name, run.output
            )
        });
        let exercise_tests: Vec<(&str, bool)> = run
            .named("ex")
            .filter(|(key, _)| course::is_exercise_test(key.rsplit(": ").next().unwrap_or(key)))
            .collect();
        for (name, _) in exercise_tests.iter().filter(|(_, passed)| *passed) {
            report.check(false, || {
                format!("`{name}` passes without the exercise being done")
            });
        }
        let failing = exercise_tests.iter().filter(|(_, passed)| !passed).count();
        steps.finished(&format!(
            "  {}: {failing} exercise tests fail as they should",
            lesson.name
        ));
    }
    drop(steps);

    if only.is_none() {
        println!("4. the book builds without warnings (mdbook build book)");
        book(root, &mut report)?;
    }

    let failed = report.problems.len();
    if failed == 0 {
        println!("\nverify: everything holds.");
    } else {
        println!("\nverify: {failed} problem(s), listed above with ✗.");
    }
    // A closing line in the form CI reads: N passed, N failed.
    println!("checks: {} passed, {failed} failed", report.checks - failed);
    Ok(failed == 0)
}

fn structure(root: &Path, lesson: &Lesson, report: &mut Report) -> Result<()> {
    let name = &lesson.name;
    let count = lesson.exercises.len();
    report.check((2..=5).contains(&count), || {
        format!("{name} has {count} exercises (from solutions/{name}/); a lesson has two to five")
    });

    let tests_path = format!("tests/{name}.rs");
    let tests = fs::read_to_string(root.join(&tests_path)).unwrap_or_default();
    let test_names = course::test_names(&tests);
    let book_path = format!("book/src/{name}.md");
    let book = fs::read_to_string(root.join(&book_path)).unwrap_or_default();
    let lib =
        fs::read_to_string(root.join(format!("lessons/{name}/src/lib.rs"))).unwrap_or_default();
    let todos = course::todos(root, name)?;
    let hints = hints::of_lesson(root, name)?;
    let mutants = mutants::of_lesson(root, name)?;

    for exercise in &lesson.exercises {
        let id = &exercise.id;
        let in_file = fs::read_to_string(root.join(&exercise.file)).unwrap_or_default();
        report.check(in_file.contains(&exercise.todo_marker()), || {
            format!(
                "exercise {id}: no `todo!(\"exercise {id}: …\")` in {}",
                exercise.file.display()
            )
        });
        let solution = fs::read_to_string(root.join(&exercise.solution)).unwrap_or_default();
        report.check(!solution.contains("todo!("), || {
            format!("{} still has a todo!()", exercise.solution.display())
        });
        let swap = format!("path = \"../../../{}\"", exercise.solution.display());
        report.check(lib.contains(&swap), || {
            format!(
                "lessons/{name}/src/lib.rs does not swap in {} (missing `{swap}`)",
                exercise.solution.display()
            )
        });
        let prefix = exercise.test_prefix();
        report.check(test_names.iter().any(|t| t.starts_with(&prefix)), || {
            format!("exercise {id}: no test named `{prefix}…` in {tests_path}")
        });
        report.check(
            book.lines().any(|l| l.starts_with(&format!("## {id} "))),
            || format!("exercise {id}: no section `## {id} …` in {book_path}"),
        );
        let hint_count = hints.get(id).map_or(0, Vec::len);
        report.check(hint_count >= MIN_HINTS, || {
            format!(
                "exercise {id}: {hint_count} hints in hints/{name}.md; it needs {MIN_HINTS} \
                 (`### ` headings under `## {id} …`)"
            )
        });
        let counted = mutants
            .iter()
            .filter(|m| &m.exercise == id && m.only_on.is_none())
            .count();
        report.check(counted >= MIN_MUTANTS, || {
            format!(
                "exercise {id}: {counted} recorded mutants in mutants/{name}.md; it needs \
                 {MIN_MUTANTS} (`## {id} …` sections)"
            )
        });
    }
    for mutant in &mutants {
        let known = lesson.exercises.iter().any(|e| e.id == mutant.exercise);
        report.check(known, || {
            format!(
                "mutants/{name}.md: `## {} {}` names no exercise of {name}",
                mutant.exercise, mutant.title
            )
        });
        let applies = mutant.apply(root, name);
        report.check(applies.is_ok(), || {
            format!("mutants/{name}.md: {:#}", applies.err().unwrap())
        });
    }
    shipped_is_stubbed_solution(root, lesson, report)?;
    for (id, file) in &todos {
        report.check(lesson.exercises.iter().any(|e| &e.id == id), || {
            format!(
                "{}: todo!(\"exercise {id}: …\") has no solution with `/// Exercise {id}: … — book §{id}.`",
                file.display()
            )
        });
    }
    for test in test_names.iter().filter(|t| t.starts_with("ex")) {
        report.check(
            lesson
                .exercises
                .iter()
                .any(|e| test.starts_with(&e.test_prefix())),
            || format!("{tests_path}: `{test}` is named after no exercise of {name}"),
        );
    }
    println!(
        "  {name}: {count} exercises, {} exercise tests",
        test_names.len()
    );
    Ok(())
}

/// Each learner's file that has a solution is that solution with its
/// exercises stubbed, apart from the imports (the given code needs fewer).
fn shipped_is_stubbed_solution(root: &Path, lesson: &Lesson, report: &mut Report) -> Result<()> {
    let mut files: Vec<_> = lesson
        .exercises
        .iter()
        .map(|e| (&e.file, &e.solution))
        .collect();
    files.dedup();
    for (file, solution) in files {
        let shipped = fs::read_to_string(root.join(file)).unwrap_or_default();
        let expected = stub::stub(&fs::read_to_string(root.join(solution))?)?;
        let difference = stub::first_difference(
            &stub::without_imports(&shipped),
            &stub::without_imports(&expected),
        );
        report.check(difference.is_none(), || {
            let (line, got, wanted) = difference.clone().unwrap_or_default();
            format!(
                "{} is not {} with its exercises stubbed; apart from imports, the first \
                 difference is at line {line}:\n      it has:    {got:?}\n      expected:  {wanted:?}",
                file.display(),
                solution.display()
            )
        });
    }
    Ok(())
}

/// Transcripts in the book quote where the program stopped, as
/// `lessons/lessonNN/src/M.rs:LINE`: that line must still be the `todo!()`.
fn quoted_lines(root: &Path, only: Option<&String>, report: &mut Report) -> Result<()> {
    for page in book_pages(root, only)? {
        let text = fs::read_to_string(&page)?;
        let name = page
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for piece in text.split("lessons/lesson").skip(1) {
            let quoted: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | ':'))
                .collect();
            let Some((file, line)) = quoted.rsplit_once(':') else {
                continue;
            };
            let Ok(line) = line.parse::<usize>() else {
                continue;
            };
            let path = format!("lessons/lesson{file}");
            let content = fs::read_to_string(root.join(&path)).unwrap_or_default();
            let at = content.lines().nth(line.saturating_sub(1)).unwrap_or("");
            report.check(at.contains("todo!(\"exercise "), || {
                format!(
                    "{name} quotes {path}:{line}, but that line is not a todo!() (it is {at:?})"
                )
            });
        }
    }
    Ok(())
}

/// The book's pages; only `lessonNN.md` when `only` names a lesson.
fn book_pages(root: &Path, only: Option<&String>) -> Result<Vec<std::path::PathBuf>> {
    let mut pages = Vec::new();
    for entry in fs::read_dir(root.join("book/src")).context("reading book/src")? {
        let path = entry?.path();
        let wanted = only.is_none_or(|name| path.file_stem().is_some_and(|s| s == name.as_str()));
        if path.extension().is_some_and(|e| e == "md") && wanted {
            pages.push(path);
        }
    }
    Ok(pages)
}

/// Every `{{#include path:anchor}}` in the book names a file that exists and,
/// when it names an anchor, one that the file really has.
fn includes(root: &Path, only: Option<&String>, report: &mut Report) -> Result<()> {
    let src = root.join("book/src");
    for path in book_pages(root, only)? {
        let text = fs::read_to_string(&path)?;
        let page = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        for piece in text.split("{{#include ").skip(1) {
            let Some((target, _)) = piece.split_once("}}") else {
                continue;
            };
            let (file, anchor) = match target.trim().split_once(':') {
                Some((file, anchor)) if !anchor.chars().all(|c| c.is_ascii_digit() || c == ':') => {
                    (file, Some(anchor))
                }
                Some((file, _)) => (file, None),
                None => (target.trim(), None),
            };
            let included = fs::read_to_string(src.join(file));
            report.check(included.is_ok(), || {
                format!("{page}: {{{{#include {file}}}}}: no such file")
            });
            if let (Ok(content), Some(anchor)) = (included, anchor) {
                report.check(content.contains(&format!("ANCHOR: {anchor}\n")), || {
                    format!("{page}: {file} has no `// ANCHOR: {anchor}`")
                });
            }
        }
    }
    Ok(())
}

fn book(root: &Path, report: &mut Report) -> Result<()> {
    let out = std::env::temp_dir().join("netlings-verify-book");
    let output = Command::new("mdbook")
        .current_dir(root)
        .args(["build", "book", "-d"])
        .arg(&out)
        .output();
    let Ok(output) = output else {
        report.check(false, || {
            "mdbook is not installed: cargo install mdbook --version 0.5.4 --locked".to_string()
        });
        return Ok(());
    };
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    report.check(output.status.success(), || {
        format!("mdbook build failed:\n{log}")
    });
    for line in log
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
    {
        report.check(false, || format!("mdbook: {}", line.trim()));
    }
    Ok(())
}
