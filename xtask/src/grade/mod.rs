//! `cargo xtask grade`: per-exercise scores from the course's own tests.
//!
//! # How a student's work is graded
//!
//! The *reference* is the checkout this xtask runs from: its tests, harness
//! (`tests/support`), kit, solutions, manifests and lock file are the only
//! ones ever used. A student's checkout contributes nothing but the files
//! that hold exercises (`lessons/lessonNN/src/<module>.rs`, one for each
//! module of `solutions/lessonNN/`): they are copied into a scratch copy of
//! the reference (see scratch.rs), which is restored before every student,
//! so a student who edits `tests/` or `solutions/` gains nothing. Each
//! lesson is built (`cargo test --no-run -p lessonNN`) and its test binary
//! run once, each within its time limit.
//!
//! # The scoring rule (the one place it is written; README and the
//! # instructors' appendix repeat it)
//!
//! Every exercise is worth [`POINTS_PER_EXERCISE`] points, shared evenly
//! between its tests (`exN_k_…`): an exercise with 6 tests, 4 of them
//! passing, scores 6.67. Scores are rounded to two decimals, and a total
//! is the sum of the rounded scores. Why per test rather than all or
//! nothing: the tests of an exercise check separate behaviours (the common
//! case, then split reads, limits, hostile peers), so a student who has
//! the common case but misses a limit has done most of the work, and the
//! score says so; an instructor who wants all or nothing reads the
//! `passed`/`failed` counts in the JSON. Tests named `given_…` check code
//! the course gives: they count for nothing, but a failing one is
//! reported. An ignored test counts for nothing.
//!
//! A lesson scores 0 when it does not compile (the reason is the compiler's
//! first error), when its tests run longer than the time limit (120 s; the
//! tests that finished keep their result, the others run again one at a time
//! for at most 20 s each, within a second such limit, and those that still do
//! not finish score 0, "timed out": one hanging test costs only itself) or
//! its build longer than its own (600 s: a loaded machine must not fail an
//! honest student), or when the test binary crashes (the tests that had not
//! reported run again alone; those that still crash it score 0). A lesson whose exercise files are exactly as shipped
//! is not built: every one of its exercise tests fails on the shipped
//! exercises (`cargo xtask verify` checks this), so it scores 0, "not
//! started".
//!
//! # Processes
//!
//! A test binary runs in a process group of its own, which is killed when
//! it ends or runs out of time, with everything its tests started. Forking
//! without end is bounded by a limit on tasks: on Linux, when we may create
//! a control group (as root, or with a delegated cgroup), the binary runs in
//! a fresh one with `pids.max` = [`scratch::MAX_TASKS`], which binds root
//! too, and every process left in it is killed at the end; otherwise
//! `ulimit -u` (RLIMIT_NPROC) is set, which binds every user but root.
//! Either way the time limit ends the run. Student code runs with your
//! privileges: grade untrusted work in a container or as an unprivileged
//! user (Gradescope and GitHub Actions do so).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::course::{self, Lesson};
use crate::scratch::{self, Scratch, limited, stop};

mod cgroup;
mod class;
mod formats;
mod platforms;
mod progress;
mod results;
mod run;

use cgroup::*;
use class::*;
use formats::*;
use platforms::*;
use progress::*;
use results::*;
use run::*;

/// What one exercise is worth; see the module documentation.
pub const POINTS_PER_EXERCISE: f64 = 10.0;

/// The default time limit for running one lesson's tests (the solutions'
/// take a few seconds).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// The time limit for building one lesson. A student's code cannot make a
/// build run for long (const evaluation is bounded); a loaded machine can,
/// and must not fail an honest student, hence a limit of its own.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// How long a test may run alone, when the lesson's run was cut short.
const TEST_ALONE: Duration = Duration::from_secs(20);

/// A failure message is cut to this many lines.
const MESSAGE_LINES: usize = 40;

/// The version of the JSON report's schema (see `json_report`).
const SCHEMA: &str = "netlings-grade/1";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Format {
    Table,
    Json,
    Junit,
    Gradescope,
    /// The result of one step of the GitHub Classroom workflow.
    Classroom,
}

struct Options {
    lessons: Vec<u32>,
    format: Format,
    output: Option<PathBuf>,
    solutions: bool,
    student: Option<PathBuf>,
    repos: Vec<PathBuf>,
    jobs: usize,
    timeout: Duration,
    build_timeout: Duration,
    out: PathBuf,
    verbose: bool,
    bundle: Option<PathBuf>,
    workflow: bool,
}

fn parse_args(args: &[String]) -> Result<Options> {
    let default_jobs = std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1);
    let mut options = Options {
        lessons: Vec::new(),
        format: Format::Table,
        output: None,
        solutions: false,
        student: None,
        repos: Vec::new(),
        jobs: default_jobs,
        timeout: DEFAULT_TIMEOUT,
        build_timeout: BUILD_TIMEOUT,
        out: PathBuf::from("grades"),
        verbose: false,
        bundle: None,
        workflow: false,
    };
    let mut args = args.iter().peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match arg.as_str() {
            "--lesson" | "--lessons" => {
                for n in value(arg)?.split(',') {
                    let n = n.trim().trim_start_matches("lesson");
                    options
                        .lessons
                        .push(n.parse().with_context(|| format!("not a lesson: {n:?}"))?);
                }
            }
            "--format" => {
                options.format = match value(arg)?.as_str() {
                    "table" => Format::Table,
                    "json" => Format::Json,
                    "junit" => Format::Junit,
                    "gradescope" => Format::Gradescope,
                    "classroom" => Format::Classroom,
                    other => bail!(
                        "unknown format {other:?}: table, json, junit, gradescope or classroom"
                    ),
                }
            }
            "--output" | "-o" => options.output = Some(PathBuf::from(value(arg)?)),
            "--solutions" => options.solutions = true,
            "--student" => options.student = Some(PathBuf::from(value(arg)?)),
            "--repos" => {
                while let Some(next) = args.next_if(|a| !a.starts_with("--")) {
                    options.repos.push(PathBuf::from(next));
                }
                if options.repos.is_empty() {
                    bail!(
                        "--repos needs checkouts, directories of checkouts or a file listing them"
                    );
                }
            }
            "--jobs" | "-j" => {
                options.jobs = value(arg)?.parse::<usize>().context("--jobs N")?.max(1);
            }
            "--timeout" => {
                let seconds: f64 = value(arg)?.parse().context("--timeout SECONDS")?;
                options.timeout = Duration::from_secs_f64(seconds.max(1.0));
            }
            "--build-timeout" => {
                let seconds: f64 = value(arg)?.parse().context("--build-timeout SECONDS")?;
                options.build_timeout = Duration::from_secs_f64(seconds.max(1.0));
            }
            "--out" => options.out = PathBuf::from(value(arg)?),
            "--verbose" | "-v" => options.verbose = true,
            "--gradescope-bundle" => options.bundle = Some(PathBuf::from(value(arg)?)),
            "--classroom-workflow" => options.workflow = true,
            other => bail!("unknown argument {other:?} (see cargo xtask help)"),
        }
    }
    Ok(options)
}

/// `cargo xtask grade ...`
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let options = parse_args(args)?;
    stop_all_on_interrupt();
    let lessons = selected_lessons(root, &options.lessons)?;
    if let Some(zip) = &options.bundle {
        gradescope_bundle(root, &lessons, &options, zip)?;
        return Ok(true);
    }
    if options.workflow {
        emit(&options.output, &classroom_workflow(&lessons))?;
        return Ok(true);
    }
    if !options.repos.is_empty() {
        return grade_class(root, &lessons, &options);
    }

    let (student, name) = match &options.student {
        Some(dir) => {
            let checkout = find_checkout(dir)?;
            (Some(checkout), student_name(dir))
        }
        None => {
            warn_if_course_edited(root);
            let name = if options.solutions {
                "the solutions".to_string()
            } else {
                "this checkout".to_string()
            };
            (None, name)
        }
    };
    let progress = Progress::new(lessons.len() as u64);
    let slot = Slot::new(
        root,
        0,
        &lessons,
        options.solutions,
        (options.timeout, options.build_timeout),
        &progress,
    )?;
    let report = slot.grade(
        &name,
        student.as_deref(),
        &lessons,
        options.solutions,
        &progress,
    )?;
    progress.finish();
    let text = render(&report, options.format, options.verbose);
    emit(&options.output, &text)?;
    if options.output.is_some() || options.format != Format::Table {
        // The table too, for whoever watches (a CI log, say), on stderr
        // when stdout already carries the report.
        let table = render(&report, Format::Table, options.verbose);
        if options.output.is_some() {
            print!("{table}");
        } else {
            eprint!("{table}");
        }
    }
    Ok(report.score() >= report.max_score())
}

fn emit(output: &Option<PathBuf>, text: &str) -> Result<()> {
    match output {
        Some(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)?;
            }
            fs::write(path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn selected_lessons(root: &Path, wanted: &[u32]) -> Result<Vec<Lesson>> {
    let all = course::lessons(root)?;
    for n in wanted {
        if !all.iter().any(|l| l.number == *n) {
            bail!(
                "there is no lesson {n} in {}",
                root.join("lessons").display()
            );
        }
    }
    Ok(all
        .into_iter()
        .filter(|l| !l.exercises.is_empty())
        .filter(|l| wanted.is_empty() || wanted.contains(&l.number))
        .collect())
}

/// When grading the checkout itself, its tests are the student's own: say so
/// if they differ from the last commit.
fn warn_if_course_edited(root: &Path) {
    let Ok(out) = Command::new("git")
        .current_dir(root)
        .args(["status", "--porcelain", "--"])
        .args(scratch::COURSE.iter().filter(|e| **e != "lessons"))
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let changed = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !changed.trim().is_empty() {
        eprintln!(
            "note: this checkout's tests, solutions or manifests differ from its last commit,\n\
             and a grade of this checkout uses them. To grade against the course as published,\n\
             run from a clean checkout of it with --student DIR.\n{changed}"
        );
    }
}

/// The checkout in `dir`: `dir` itself if it has `lessons/`, else the one
/// directory below it (up to three levels: an unpacked zip, say) that has.
pub fn find_checkout(dir: &Path) -> Result<PathBuf> {
    let mut level = vec![dir.to_path_buf()];
    for _ in 0..4 {
        let mut found: Vec<PathBuf> = level
            .iter()
            .filter(|d| d.join("lessons").is_dir())
            .cloned()
            .collect();
        if found.len() == 1 {
            return Ok(found.remove(0));
        }
        if found.len() > 1 {
            bail!(
                "{} holds several checkouts; give one of them",
                dir.display()
            );
        }
        let mut next = Vec::new();
        for d in &level {
            let Ok(entries) = fs::read_dir(d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if path.is_dir() && name != "target" && name != ".git" {
                    next.push(path);
                }
            }
        }
        next.sort();
        level = next;
    }
    bail!(
        "{} has no lessons/ directory (nor any directory below it)",
        dir.display()
    )
}

fn student_name(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test(name: &str, outcome: Outcome) -> TestResult {
        TestResult {
            name: name.to_string(),
            outcome,
            message: String::new(),
        }
    }

    #[test]
    fn an_exercise_shares_its_points_between_its_tests() {
        use Outcome::*;
        let tests = [
            test("ex1_1_a", Passed),
            test("ex1_1_b", Passed),
            test("ex1_1_c", Failed),
            test("ex1_1_d", Ignored),
        ];
        assert_eq!(exercise_score(&tests), 6.67);
        assert_eq!(exercise_score(&tests[..2]), 10.0);
        assert_eq!(exercise_score(&[test("ex1_1_a", NotRun)]), 0.0);
        assert_eq!(exercise_score(&[]), 0.0);
        assert_eq!(points(6.666), "6.67");
        assert_eq!(points(10.0), "10");
        assert_eq!(points(0.5), "0.5");
    }

    #[test]
    fn given_tests_count_for_nothing_and_others_go_to_their_exercise() {
        let lesson = Lesson {
            name: "lesson01".to_string(),
            number: 1,
            exercises: vec![
                course::Exercise {
                    id: "1.1".to_string(),
                    title: "one".to_string(),
                    file: PathBuf::from("lessons/lesson01/src/echo.rs"),
                    solution: PathBuf::from("solutions/lesson01/echo.rs"),
                },
                course::Exercise {
                    id: "1.10".to_string(),
                    title: "ten".to_string(),
                    file: PathBuf::from("lessons/lesson01/src/echo.rs"),
                    solution: PathBuf::from("solutions/lesson01/echo.rs"),
                },
            ],
        };
        let results = vec![
            test("ex1_1_works", Outcome::Passed),
            test("ex1_10_works", Outcome::Failed),
            test("given_server_prints", Outcome::Failed),
        ];
        let report = lesson_from_results(&lesson, results, Status::Graded, None, 1.0);
        assert_eq!(report.exercises[0].score, 10.0);
        assert_eq!(report.exercises[0].tests.len(), 1);
        assert_eq!(report.exercises[1].score, 0.0);
        assert_eq!(report.given.len(), 1);
        assert_eq!(report.score(), 10.0);
        assert_eq!(report.max_score(), 20.0);
    }

    #[test]
    fn reads_results_and_failure_messages_from_libtest() {
        let out = "\nrunning 3 tests\ntest ex1_1_a ... ok\ntest ex1_1_b ... FAILED\n\
                   test ex1_2_c ... ignored, needs root\n\nfailures:\n\n\
                   ---- ex1_1_b stdout ----\n\x1b[31mexpected hello\x1b[0m\ngot nothing\n\n\
                   note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n\n\n\
                   failures:\n    ex1_1_b\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored\n";
        let lines: Vec<String> = out.lines().map(str::to_string).collect();
        let results = parse_results(&lines);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0].outcome, Outcome::Passed);
        assert_eq!(results[1].outcome, Outcome::Failed);
        assert_eq!(results[1].message, "expected hello\ngot nothing");
        assert_eq!(results[2].outcome, Outcome::Ignored);
    }

    #[test]
    fn long_messages_are_cut() {
        let lines: Vec<String> = (0..100).map(|i| format!("line {i}")).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let message = trim_message(&lines);
        assert_eq!(message.lines().count(), MESSAGE_LINES + 1);
        assert!(message.ends_with("(60 more lines)"));
    }

    #[test]
    fn the_first_compiler_error_names_the_students_file() {
        let stderr = "warning: unused variable: `x`\n --> /s/course/lessons/lesson01/src/echo.rs:3:9\n\n\
                      error[E0308]: mismatched types\n --> /s/course/lessons/lesson01/src/echo.rs:9:5\n  |\n\
                      9 |     1\n  |     ^ expected `()`\n\nerror: aborting due to 1 previous error\n";
        let error = first_error(stderr, Path::new("/s/course"));
        assert!(
            error.starts_with(
                "error[E0308]: mismatched types\n --> lessons/lesson01/src/echo.rs:9:5"
            )
        );
        assert!(!error.contains("aborting"));
    }

    #[test]
    fn xml_text_is_escaped_and_cleaned() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'>\u{1b}[0m\u{0}\tok"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;[0m\tok"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("alice"), "alice");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=cmd()"), "'=cmd()");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn json_text_is_escaped() {
        let report = Report {
            student: "a \"quoted\"\nname\u{1}".to_string(),
            lessons: Vec::new(),
            seconds: 0.0,
        };
        let text = render(&report, Format::Json, false);
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["student"], "a \"quoted\"\nname\u{1}");
        assert_eq!(back["schema"], SCHEMA);
    }

    #[test]
    fn timestamps_are_iso_8601() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_032_716);
        assert_eq!(iso_time(at), "2026-11-30T09:58:36");
        assert_eq!(iso_time(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00");
    }

    #[test]
    fn a_zip_has_its_entries_and_a_valid_checksum() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        let zip = zip_stored(&[("a.txt".to_string(), b"hello".to_vec(), 0o644)]);
        assert_eq!(&zip[..4], b"PK\x03\x04");
        assert_eq!(&zip[zip.len() - 22..zip.len() - 18], b"PK\x05\x06");
    }

    #[test]
    fn a_slot_belongs_to_one_process_at_a_time() {
        let dir = std::env::temp_dir().join(format!("netlings-slots-{}", std::process::id()));
        let (first, lock) = SlotLock::claim(&dir, 0).unwrap();
        let (second, _other) = SlotLock::claim(&dir, 0).unwrap();
        assert_eq!((first, second), (0, 1), "slot 0 is held by this process");
        drop(lock);
        assert_eq!(
            SlotLock::claim(&dir, 0).unwrap().0,
            0,
            "slot 0 is free again"
        );
        // A lock left by a process that is gone is taken over.
        fs::write(dir.join("slot-5.lock"), "4294967").unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(SlotLock::claim(&dir, 5).unwrap().0, 5);
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_committed_classroom_workflow_is_up_to_date() {
        let root = course::root();
        let lessons = selected_lessons(&root, &[]).unwrap();
        let committed =
            fs::read_to_string(root.join(".github/workflows/classroom.yml")).unwrap_or_default();
        assert!(
            committed == classroom_workflow(&lessons),
            ".github/workflows/classroom.yml is not what the lessons call for: run\n  \
             cargo xtask grade --classroom-workflow --output .github/workflows/classroom.yml"
        );
    }
}
