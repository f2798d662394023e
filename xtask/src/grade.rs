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

// ---------------------------------------------------------------------------
// Results

/// One student's grade.
#[derive(Clone, Debug)]
pub struct Report {
    pub student: String,
    pub lessons: Vec<LessonReport>,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct LessonReport {
    pub name: String,
    pub status: Status,
    /// Why the lesson scored 0, or what went wrong in it.
    pub reason: Option<String>,
    pub seconds: f64,
    pub exercises: Vec<ExerciseReport>,
    /// The `given_` tests: reported, worth nothing.
    pub given: Vec<TestResult>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Status {
    Graded,
    NotStarted,
    DoesNotCompile,
    TimedOut,
    Crashed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Graded => "graded",
            Status::NotStarted => "not_started",
            Status::DoesNotCompile => "does_not_compile",
            Status::TimedOut => "timed_out",
            Status::Crashed => "crashed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExerciseReport {
    pub id: String,
    pub title: String,
    pub score: f64,
    pub max_score: f64,
    pub tests: Vec<TestResult>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// The harness's failure message (trimmed), or why the test did not run.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed,
    /// It never reported: the run timed out or crashed first.
    NotRun,
    Ignored,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NotRun => "not_run",
            Outcome::Ignored => "ignored",
        }
    }
}

impl Report {
    pub fn score(&self) -> f64 {
        round2(self.lessons.iter().map(LessonReport::score).sum())
    }
    pub fn max_score(&self) -> f64 {
        self.lessons.iter().map(LessonReport::max_score).sum()
    }
}

impl LessonReport {
    pub fn score(&self) -> f64 {
        round2(self.exercises.iter().map(|e| e.score).sum())
    }
    pub fn max_score(&self) -> f64 {
        self.exercises.iter().map(|e| e.max_score).sum()
    }
}

/// The score of an exercise whose counted tests are `tests`: see the rule.
pub fn exercise_score(tests: &[TestResult]) -> f64 {
    let counted: Vec<&TestResult> = tests
        .iter()
        .filter(|t| t.outcome != Outcome::Ignored)
        .collect();
    if counted.is_empty() {
        return 0.0;
    }
    let passed = counted
        .iter()
        .filter(|t| t.outcome == Outcome::Passed)
        .count();
    round2(POINTS_PER_EXERCISE * passed as f64 / counted.len() as f64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `6.67`, `10`, `0`.
pub fn points(x: f64) -> String {
    let s = format!("{:.2}", round2(x));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A lesson where every exercise scores 0 for one `reason`.
fn zero_lesson(lesson: &Lesson, status: Status, reason: &str, seconds: f64) -> LessonReport {
    LessonReport {
        name: lesson.name.clone(),
        status,
        reason: Some(reason.to_string()),
        seconds,
        exercises: lesson
            .exercises
            .iter()
            .map(|e| ExerciseReport {
                id: e.id.clone(),
                title: e.title.clone(),
                score: 0.0,
                max_score: POINTS_PER_EXERCISE,
                tests: Vec::new(),
            })
            .collect(),
        given: Vec::new(),
    }
}

/// Shares the results of a lesson's test binary out between its exercises.
fn lesson_from_results(
    lesson: &Lesson,
    results: Vec<TestResult>,
    status: Status,
    reason: Option<String>,
    seconds: f64,
) -> LessonReport {
    let mut exercises: Vec<ExerciseReport> = lesson
        .exercises
        .iter()
        .map(|e| ExerciseReport {
            id: e.id.clone(),
            title: e.title.clone(),
            score: 0.0,
            max_score: POINTS_PER_EXERCISE,
            tests: Vec::new(),
        })
        .collect();
    let mut given = Vec::new();
    for result in results {
        let short = result.name.rsplit("::").next().unwrap_or(&result.name);
        if short.starts_with("given_") {
            given.push(result);
        } else if let Some(exercise) = lesson
            .exercises
            .iter()
            .position(|e| short.starts_with(&e.test_prefix()))
        {
            exercises[exercise].tests.push(result);
        }
    }
    for exercise in &mut exercises {
        exercise.score = exercise_score(&exercise.tests);
    }
    LessonReport {
        name: lesson.name.clone(),
        status,
        reason,
        seconds,
        exercises,
        given,
    }
}

// ---------------------------------------------------------------------------
// Running a lesson

/// One place where students are graded one after another: a scratch copy
/// of the reference with its own target directory (dependencies compiled
/// once per slot), and a control group for its test binaries if we may
/// make one.
struct Slot<'a> {
    root: &'a Path,
    n: usize,
    scratch: Scratch,
    timeout: Duration,
    build_timeout: Duration,
    _lock: SlotLock,
}

/// A slot belongs to one grading process at a time: `slot-N.lock` holds its
/// process id, and a lock whose process is gone is taken over.
struct SlotLock(PathBuf);

impl SlotLock {
    /// The first slot from `n` on that no running process holds.
    fn claim(dir: &Path, n: usize) -> Result<(usize, SlotLock)> {
        fs::create_dir_all(dir)?;
        for i in n..n + 64 {
            let path = dir.join(format!("slot-{i}.lock"));
            for _ in 0..2 {
                match fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)
                {
                    Ok(mut file) => {
                        std::io::Write::write_all(
                            &mut file,
                            std::process::id().to_string().as_bytes(),
                        )?;
                        return Ok((i, SlotLock(path)));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                        let holder = fs::read_to_string(&path).unwrap_or_default();
                        let alive = cfg!(target_os = "linux")
                            && Path::new("/proc").join(holder.trim()).exists()
                            && !holder.trim().is_empty();
                        let stale = cfg!(target_os = "linux") && !alive;
                        if !stale {
                            break;
                        }
                        let _ = fs::remove_file(&path);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        bail!("no free grading slot in {} (64 in use?)", dir.display())
    }
}

impl Drop for SlotLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl<'a> Slot<'a> {
    fn new(
        root: &'a Path,
        n: usize,
        lessons: &[Lesson],
        solutions: bool,
        (timeout, build_timeout): (Duration, Duration),
        progress: &Progress,
    ) -> Result<Slot<'a>> {
        let (n, lock) = SlotLock::claim(&root.join("target").join("grade"), n)?;
        let base = root.join("target").join("grade").join(format!("slot-{n}"));
        let scratch = Scratch::reuse(root, &base)?;
        // Build each selected lesson once as the reference has it, so that
        // a student's lesson compiles only its own crate, within its limit.
        // One lesson at a time, as a student's is built: cargo unifies the
        // features of the packages it builds together.
        for lesson in lessons {
            progress.note(&format!(
                "slot {n}: building {} once, for its dependencies",
                lesson.name
            ));
            let mut command = cargo(&scratch);
            command.args(["test", "--no-run", "--quiet", "-p", &lesson.name]);
            if solutions {
                command.args(["--features", "solution"]);
            }
            let out = command.stdout(Stdio::null()).output()?;
            if !out.status.success() {
                bail!(
                    "the reference course does not build in {}:\n{}",
                    scratch.dir.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(Slot {
            root,
            n,
            scratch,
            timeout,
            build_timeout,
            _lock: lock,
        })
    }

    /// Grades the exercise files of `student` (None: the solutions, or
    /// the reference checkout itself).
    fn grade(
        &self,
        name: &str,
        student: Option<&Path>,
        lessons: &[Lesson],
        solutions: bool,
        progress: &Progress,
    ) -> Result<Report> {
        let start = Instant::now();
        // Whatever the last student's tests wrote into the copy goes.
        self.scratch.sync(self.root)?;
        let mut reports = Vec::new();
        for lesson in lessons {
            progress.step(name, &lesson.name);
            let report = self.grade_lesson(student, lesson, solutions)?;
            progress.done(name, &report);
            reports.push(report);
        }
        Ok(Report {
            student: name.to_string(),
            lessons: reports,
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    fn grade_lesson(
        &self,
        student: Option<&Path>,
        lesson: &Lesson,
        solutions: bool,
    ) -> Result<LessonReport> {
        let start = Instant::now();
        let mut modules: Vec<&Path> = lesson.exercises.iter().map(|e| e.file.as_path()).collect();
        modules.sort();
        modules.dedup();
        let mut missing = Vec::new();
        let mut as_shipped = true;
        for module in &modules {
            let shipped = fs::read(self.root.join(module))?;
            let theirs = match student {
                Some(dir) => match fs::read(dir.join(module)) {
                    Ok(bytes) => bytes,
                    Err(_) => {
                        missing.push(module.display().to_string());
                        shipped.clone()
                    }
                },
                None => shipped.clone(),
            };
            as_shipped &= theirs == shipped;
            scratch::write_if_changed(&self.scratch.dir.join(module), &theirs)?;
        }
        let missing_note = (!missing.is_empty()).then(|| {
            format!(
                "missing from the checkout, graded as shipped: {}",
                missing.join(", ")
            )
        });
        if student.is_some() && as_shipped && !solutions {
            let reason = missing_note
                .unwrap_or_else(|| "not started: the exercise files are as shipped".to_string());
            return Ok(zero_lesson(lesson, Status::NotStarted, &reason, 0.0));
        }
        let seconds = || start.elapsed().as_secs_f64();

        // Build.
        let mut command = cargo(&self.scratch);
        command.args([
            "test",
            "--no-run",
            "--message-format",
            "json-render-diagnostics",
            "-p",
            &lesson.name,
        ]);
        if solutions {
            command.args(["--features", "solution"]);
        }
        let build = run_until(
            command,
            start + self.build_timeout,
            &self.scratch.target.join("grade-build"),
        )?;
        if build.timed_out {
            return Ok(zero_lesson(
                lesson,
                Status::TimedOut,
                &format!(
                    "timed out: building took longer than the limit ({} s)",
                    self.build_timeout.as_secs()
                ),
                seconds(),
            ));
        }
        if !build.success {
            let error = first_error(&build.stderr, &self.scratch.dir);
            return Ok(zero_lesson(
                lesson,
                Status::DoesNotCompile,
                &format!("does not compile: {error}"),
                seconds(),
            ));
        }
        let Some((_, binary, dir)) = crate::cargo::test_binaries(&build.stdout)
            .into_iter()
            .find(|(name, _, _)| *name == lesson.name)
        else {
            bail!("cargo built no test binary named {}", lesson.name);
        };

        // The tests there are, so that one that never reports still counts.
        let mut list = limited(&binary, None);
        list.args(["--list"]).current_dir(&dir);
        let listed = run_until(
            list,
            Instant::now() + Duration::from_secs(30),
            &self.scratch.target.join("grade-list"),
        )?;
        let names: Vec<String> = listed
            .stdout
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .map(str::to_string)
            .collect();

        let deadline = Instant::now() + self.timeout;
        let run = self.run_tests(&binary, &dir, deadline, &lesson.name, None)?;
        let mut results = parse_results(&run.lines);
        let crashed = !run.success && !run.lines.iter().any(|l| l.starts_with("test result:"));
        if run.timed_out || crashed {
            // One test that hangs (or crashes the binary) must not cost the
            // others: each test that did not report runs again alone, for
            // at most [`TEST_ALONE`], within a second time limit.
            let second = Instant::now() + self.timeout;
            let pending: Vec<String> = names
                .iter()
                .filter(|n| !results.iter().any(|r| r.name == **n))
                .cloned()
                .collect();
            for name in &pending {
                let now = Instant::now();
                if now >= second {
                    break;
                }
                let alone = self.run_tests(
                    &binary,
                    &dir,
                    (now + TEST_ALONE).min(second),
                    &lesson.name,
                    Some(name.as_str()),
                )?;
                let mut result = parse_results(&alone.lines);
                result.retain(|r| r.name == *name);
                match result.pop() {
                    Some(result) => results.push(result),
                    None => results.push(TestResult {
                        name: name.clone(),
                        outcome: Outcome::NotRun,
                        message: if alone.timed_out {
                            format!(
                                "timed out: this test did not finish, even run alone for {} s",
                                TEST_ALONE.as_secs()
                            )
                        } else {
                            format!(
                                "this test crashed the test binary ({}): an abort or a stack \
                                 overflow in the code under test?",
                                alone.status
                            )
                        },
                    }),
                }
            }
        }
        let mut unfinished: Vec<&str> = results
            .iter()
            .filter(|r| r.outcome == Outcome::NotRun)
            .map(|r| r.name.as_str())
            .collect();
        let count = unfinished.len();
        if count > 5 {
            unfinished.truncate(5);
            unfinished.push("…");
        }
        let untried = names
            .iter()
            .filter(|n| !results.iter().any(|r| r.name == **n))
            .count();
        let untried = if untried > 0 {
            format!("; {untried} more could not be run again within the second limit")
        } else {
            String::new()
        };
        let (status, why_not_run) = if run.timed_out {
            (
                Status::TimedOut,
                format!(
                    "timed out: the tests took longer than the limit ({} s); {} of them did not \
                     finish even run alone: {}{untried}",
                    self.timeout.as_secs(),
                    count,
                    unfinished.join(", ")
                ),
            )
        } else if crashed {
            (
                Status::Crashed,
                format!(
                    "the test binary crashed ({}): an abort or a stack overflow in the code \
                     under test? Run alone, {} tests still crashed it: {}{untried}",
                    run.status,
                    count,
                    unfinished.join(", ")
                ),
            )
        } else {
            (Status::Graded, "did not run".to_string())
        };
        for name in names {
            if !results.iter().any(|r| r.name == name) {
                results.push(TestResult {
                    name,
                    outcome: Outcome::NotRun,
                    message: why_not_run.clone(),
                });
            }
        }
        let reason = match status {
            Status::Graded => missing_note,
            _ => Some(why_not_run.clone()),
        };
        Ok(lesson_from_results(
            lesson,
            results,
            status,
            reason,
            seconds(),
        ))
    }

    /// Runs a test binary until it ends or `deadline`, collecting its stdout
    /// line by line (so that the results of a run cut short still count).
    fn run_tests(
        &self,
        binary: &Path,
        dir: &Path,
        deadline: Instant,
        label: &str,
        only: Option<&str>,
    ) -> Result<Finished> {
        // A control group of its own for this run, if we may make one.
        let cgroup = Cgroup::new(&format!("{}-{label}", self.n));
        let mut command = limited(binary, Some(cgroup.as_ref().map(|c| c.dir.as_path())));
        command
            .current_dir(dir)
            .args(["--color", "never"])
            .args(only.map(|name| [name, "--exact"]).into_iter().flatten())
            .env("RUST_BACKTRACE", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn()?;
        started(&child);
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let mut exited: Option<(Instant, std::process::ExitStatus)> = None;
        let mut timed_out = false;
        loop {
            let now = Instant::now();
            if now >= deadline {
                timed_out = exited.is_none();
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            match rx.recv_timeout(wait) {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            // A process the tests started may hold stdout open after the
            // binary has exited: give it a second, then stop waiting.
            match exited {
                None => {
                    if let Some(status) = child.try_wait()? {
                        exited = Some((Instant::now(), status));
                    }
                }
                Some((at, _)) if at.elapsed() > Duration::from_secs(1) => break,
                Some(_) => {}
            }
        }
        stop(&mut child);
        ended(&child);
        if let Some(cgroup) = &cgroup {
            cgroup.kill_all();
            if std::env::var_os("NETLINGS_GRADE_PEAK").is_some() {
                eprintln!("(tasks at most: {label}: {:?})", cgroup.peak());
            }
        }
        while let Ok(line) = rx.try_recv() {
            lines.push(line);
        }
        let status = match exited {
            Some((_, status)) => status,
            None => child.wait()?,
        };
        Ok(Finished {
            success: status.success() && !timed_out,
            timed_out,
            status: status.to_string(),
            stdout: String::new(),
            stderr: String::new(),
            lines,
        })
    }
}

fn cargo(scratch: &Scratch) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command
        .current_dir(&scratch.dir)
        .env("CARGO_TARGET_DIR", &scratch.target)
        .env("CARGO_TERM_COLOR", "never")
        .env("RUST_BACKTRACE", "0");
    command
}

/// How a command that ran under a deadline ended.
struct Finished {
    success: bool,
    timed_out: bool,
    status: String,
    stdout: String,
    stderr: String,
    lines: Vec<String>,
}

/// The process groups and control groups of what grading runs now, so that
/// an interrupted `grade` (Ctrl-C, a CI job cancelled) stops them too: they
/// are in groups of their own, which a terminal's signal does not reach.
static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

fn started(child: &std::process::Child) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id());
}

fn ended(child: &std::process::Child) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|id| *id != child.id());
}

/// On Ctrl-C or SIGTERM: kill every process group grading started, then exit.
fn stop_all_on_interrupt() {
    let _ = ctrlc::set_handler(|| {
        let groups = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for id in groups {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{id}")])
                .stderr(Stdio::null())
                .status();
        }
        eprintln!("\ngrade: interrupted; stopped the tests it had started");
        std::process::exit(130);
    });
}

/// Runs `command` in a process group of its own, its output into files
/// next to `log` (so no pipe fills up), and kills the group at `deadline`.
fn run_until(mut command: Command, deadline: Instant, log: &Path) -> Result<Finished> {
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)?;
    }
    let out_path = log.with_extension("out");
    let err_path = log.with_extension("err");
    command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path)?)
        .stderr(fs::File::create(&err_path)?);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    started(&child);
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait()? {
            break (Some(status), false);
        }
        if Instant::now() >= deadline {
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    stop(&mut child);
    ended(&child);
    let read = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap_or_default()).into_owned();
    Ok(Finished {
        success: status.is_some_and(|s| s.success()),
        timed_out,
        status: status.map(|s| s.to_string()).unwrap_or_default(),
        stdout: read(&out_path),
        stderr: read(&err_path),
        lines: Vec::new(),
    })
}

/// The compiler's first error in cargo's stderr, with the scratch copy's
/// path taken out so that it names the student's file.
pub fn first_error(stderr: &str, scratch: &Path) -> String {
    let prefix = format!("{}/", scratch.display());
    let lines: Vec<&str> = stderr.lines().collect();
    let Some(start) = lines
        .iter()
        .position(|l| l.starts_with("error[") || l.starts_with("error:"))
    else {
        let tail = lines.len().saturating_sub(10);
        return lines[tail..].join("\n").replace(&prefix, "");
    };
    let block: Vec<&str> = lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .take(20)
        .copied()
        .collect();
    block.join("\n").replace(&prefix, "")
}

/// The results in a libtest run's stdout: `test NAME ... ok|FAILED|ignored`,
/// then each failure's captured output between `---- NAME stdout ----`
/// and the next such line or the closing `failures:` list.
pub fn parse_results(lines: &[String]) -> Vec<TestResult> {
    let mut results: Vec<TestResult> = Vec::new();
    for line in lines {
        let Some((name, outcome)) = line
            .strip_prefix("test ")
            .and_then(|r| r.split_once(" ... "))
        else {
            continue;
        };
        let outcome = match outcome.trim() {
            "ok" => Outcome::Passed,
            "FAILED" => Outcome::Failed,
            o if o.starts_with("ignored") => Outcome::Ignored,
            _ => continue,
        };
        results.push(TestResult {
            name: name.to_string(),
            outcome,
            message: String::new(),
        });
    }
    let mut messages: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in lines {
        if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|r| r.strip_suffix(" stdout ----"))
        {
            current = Some(name.to_string());
            messages.entry(name.to_string()).or_default();
            continue;
        }
        if line == "failures:" || line.starts_with("test result:") {
            current = None;
            continue;
        }
        if let Some(name) = &current {
            messages.entry(name.clone()).or_default().push(line);
        }
    }
    for result in &mut results {
        if result.outcome == Outcome::Failed {
            result.message = match messages.get(&result.name) {
                Some(lines) => trim_message(lines),
                None => "failed (its output was lost: the run was cut short)".to_string(),
            };
        }
    }
    results
}

/// A failure message: no escape sequences, no backtrace note, no blank
/// lines at either end, at most [`MESSAGE_LINES`] lines.
pub fn trim_message(lines: &[&str]) -> String {
    let mut kept: Vec<String> = lines
        .iter()
        .map(|l| strip_ansi(l))
        .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    let first = kept.iter().position(|l| !l.trim().is_empty()).unwrap_or(0);
    let kept = &kept[first..];
    if kept.len() > MESSAGE_LINES {
        let mut out = kept[..MESSAGE_LINES].join("\n");
        let _ = write!(out, "\n… ({} more lines)", kept.len() - MESSAGE_LINES);
        out
    } else {
        kept.join("\n")
    }
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.clone().next() == Some('[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A control group that bounds how many tasks a test binary may have, on
/// Linux where we may create one (cgroup v1's `pids` hierarchy, or v2 with
/// the `pids` controller enabled at the root).
struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    fn new(label: &str) -> Option<Cgroup> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let v2 = Path::new("/sys/fs/cgroup");
        let parent = if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
            PathBuf::from("/sys/fs/cgroup/pids")
        } else if fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
        {
            v2.to_path_buf()
        } else {
            return None;
        };
        // Those of a grade that was killed outright are empty: remove them.
        for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("netlings-grade-")
                .and_then(|r| r.split('-').next())
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = fs::remove_dir(entry.path());
            }
        }
        let dir = parent.join(format!("netlings-grade-{}-{label}", std::process::id()));
        fs::create_dir_all(&dir).ok()?;
        if fs::write(dir.join("pids.max"), scratch::MAX_TASKS.to_string()).is_err() {
            let _ = fs::remove_dir(&dir);
            return None;
        }
        Some(Cgroup { dir })
    }

    fn members(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Kills every process in the group, until none is left (a process
    /// forking as we kill is bounded by `pids.max`).
    fn kill_all(&self) {
        for _ in 0..100 {
            let members = self.members();
            if members.is_empty() {
                return;
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&members)
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The most tasks the group has had at once (cgroup v2 and recent v1).
    fn peak(&self) -> Option<u64> {
        fs::read_to_string(self.dir.join("pids.peak"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        let _ = fs::remove_dir(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// Progress

/// What grading shows while it works: a progress bar on a terminal, plain
/// lines on stderr otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    count: Mutex<u64>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} lessons graded  {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            total,
            count: Mutex::new(0),
        }
    }

    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_string()),
            None => eprintln!("grade: {text}"),
        }
    }

    fn step(&self, student: &str, lesson: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{student}: {lesson}"));
        }
    }

    fn done(&self, student: &str, report: &LessonReport) {
        let n = {
            let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
            *count += 1;
            *count
        };
        let line = format!(
            "[{n}/{}] {student} {}: {} / {} ({:.1} s){}",
            self.total,
            report.name,
            points(report.score()),
            points(report.max_score()),
            report.seconds,
            match (&report.status, &report.reason) {
                (Status::Graded, None) => String::new(),
                (_, Some(reason)) => format!(" — {}", reason.lines().next().unwrap_or("")),
                (status, None) => format!(" — {}", status.as_str()),
            }
        );
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

// ---------------------------------------------------------------------------
// A whole class

fn grade_class(root: &Path, lessons: &[Lesson], options: &Options) -> Result<bool> {
    let students = class_list(&options.repos)?;
    if students.is_empty() {
        bail!("no checkouts found in {:?}", options.repos);
    }
    let jobs = options.jobs.min(students.len());
    eprintln!(
        "grade: {} students, {} lessons, {jobs} at a time; limits per lesson: {} s to build, \
         {} s to test",
        students.len(),
        lessons.len(),
        options.build_timeout.as_secs(),
        options.timeout.as_secs()
    );
    let start = Instant::now();
    let progress = Progress::new((students.len() * lessons.len()) as u64);
    let queue = Mutex::new(students.iter().enumerate().collect::<Vec<_>>().into_iter());
    let reports: Mutex<Vec<(usize, Report)>> = Mutex::new(Vec::new());
    // Slot 0 is built first, so that the others start from its build.
    let first = Slot::new(
        root,
        0,
        lessons,
        false,
        (options.timeout, options.build_timeout),
        &progress,
    )?;
    std::thread::scope(|s| -> Result<()> {
        let mut workers = Vec::new();
        let mut first = Some(first);
        for n in 0..jobs {
            let slot = match first.take() {
                Some(slot) => slot,
                None => Slot::new(
                    root,
                    n,
                    lessons,
                    false,
                    (options.timeout, options.build_timeout),
                    &progress,
                )?,
            };
            let (queue, reports, progress) = (&queue, &reports, &progress);
            workers.push(s.spawn(move || -> Result<()> {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((i, (name, dir))) = next else {
                        return Ok(());
                    };
                    let report = match find_checkout(dir) {
                        Ok(checkout) => {
                            slot.grade(name, Some(&checkout), lessons, false, progress)?
                        }
                        Err(e) => Report {
                            student: name.clone(),
                            lessons: lessons
                                .iter()
                                .map(|l| zero_lesson(l, Status::NotStarted, &format!("{e:#}"), 0.0))
                                .collect(),
                            seconds: 0.0,
                        },
                    };
                    reports
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, report));
                }
            }));
        }
        for worker in workers {
            worker.join().expect("a grading worker panicked")?;
        }
        Ok(())
    })?;
    progress.finish();
    let mut reports = reports.into_inner().unwrap_or_else(|e| e.into_inner());
    reports.sort_by_key(|(i, _)| *i);
    let reports: Vec<Report> = reports.into_iter().map(|(_, r)| r).collect();

    fs::create_dir_all(&options.out)?;
    let csv = class_csv(lessons, &reports);
    fs::write(options.out.join("grades.csv"), &csv)?;
    for report in &reports {
        let file = safe_file_name(&report.student);
        fs::write(
            options.out.join(format!("{file}.txt")),
            render(report, Format::Table, true),
        )?;
        fs::write(
            options.out.join(format!("{file}.json")),
            render(report, Format::Json, false),
        )?;
        if options.format != Format::Table && options.format != Format::Json {
            let ext = match options.format {
                Format::Junit => "junit.xml",
                _ => "results.json",
            };
            fs::write(
                options.out.join(format!("{file}.{ext}")),
                render(report, options.format, false),
            )?;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let busy: f64 = reports.iter().map(|r| r.seconds).sum();
    println!("{:<24} {:>8} {:>8}  notes", "student", "score", "of");
    for report in &reports {
        let notes: Vec<String> = report
            .lessons
            .iter()
            .filter(|l| !matches!(l.status, Status::Graded | Status::NotStarted))
            .map(|l| format!("{} {}", l.name, l.status.as_str().replace('_', " ")))
            .collect();
        println!(
            "{:<24} {:>8} {:>8}  {}",
            report.student,
            points(report.score()),
            points(report.max_score()),
            notes.join(", ")
        );
    }
    println!(
        "\n{} students in {wall:.1} s with {jobs} jobs: {:.1} s per student of wall time, \
         {:.1} s of grading each.\nWrote {} and a report per student (.txt, .json) in {}.",
        reports.len(),
        wall / reports.len() as f64,
        busy / reports.len() as f64,
        options.out.join("grades.csv").display(),
        options.out.display()
    );
    Ok(true)
}

/// The students: each argument is a checkout, a directory of checkouts, or
/// a file listing checkouts (one a line; `#` starts a comment). A student
/// is named after the checkout's directory.
fn class_list(args: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut dirs = Vec::new();
    for arg in args {
        if arg.is_file() {
            let text = fs::read_to_string(arg)?;
            let base = arg.parent().unwrap_or(Path::new("."));
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    dirs.push(base.join(line));
                }
            }
        } else if arg.join("lessons").is_dir() {
            dirs.push(arg.clone());
        } else if arg.is_dir() {
            let mut inside: Vec<PathBuf> = fs::read_dir(arg)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            inside.sort();
            dirs.extend(inside);
        } else {
            bail!("{}: no such checkout, directory or list", arg.display());
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    Ok(dirs
        .into_iter()
        .map(|dir| {
            let mut name = student_name(&dir);
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            if *count > 1 {
                name = format!("{name}-{count}");
            }
            (name, dir)
        })
        .collect())
}

fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

// ---------------------------------------------------------------------------
// Formats

fn render(report: &Report, format: Format, verbose: bool) -> String {
    match format {
        Format::Table => table(report, verbose),
        Format::Json => pretty(&json_report(report)),
        Format::Junit => junit(report, SystemTime::now()),
        Format::Gradescope => pretty(&gradescope(report)),
        Format::Classroom => pretty(&classroom(report)),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

fn table(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "netlings — grade of {}\n", report.student);
    let width = report
        .lessons
        .iter()
        .flat_map(|l| &l.exercises)
        .map(|e| e.title.chars().count())
        .max()
        .unwrap_or(0);
    for lesson in &report.lessons {
        for (i, exercise) in lesson.exercises.iter().enumerate() {
            let failing: Vec<&TestResult> = exercise
                .tests
                .iter()
                .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
                .collect();
            let note = if failing.is_empty() {
                String::new()
            } else {
                format!(
                    "{} of {} tests failing",
                    failing.len(),
                    exercise
                        .tests
                        .iter()
                        .filter(|t| t.outcome != Outcome::Ignored)
                        .count()
                )
            };
            let column = if i == 0 { lesson.name.as_str() } else { "" };
            let _ = writeln!(
                out,
                "  {column:<9} {:<5} {:<width$} {:>6} / {:<3} {note}",
                exercise.id,
                exercise.title,
                points(exercise.score),
                points(exercise.max_score),
            );
        }
        if let Some(reason) = &lesson.reason {
            for line in reason.lines().take(if verbose { 20 } else { 3 }) {
                let _ = writeln!(out, "  {:<9} │ {line}", "");
            }
        }
        let failing_given: Vec<&str> = lesson
            .given
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .map(|t| t.name.as_str())
            .collect();
        if !failing_given.is_empty() {
            let _ = writeln!(
                out,
                "  {:<9} │ given code's tests failing (worth nothing, but look): {}",
                "",
                failing_given.join(", ")
            );
        }
        if verbose {
            for test in lesson
                .exercises
                .iter()
                .flat_map(|e| &e.tests)
                .chain(&lesson.given)
                .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
            {
                let _ = writeln!(out, "\n    ✗ {}", test.name);
                for line in test.message.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "\ntotal: {} / {}  ({:.1} s)",
        points(report.score()),
        points(report.max_score()),
        report.seconds
    );
    out
}

fn test_json(test: &TestResult) -> Value {
    json!({
        "name": test.name,
        "outcome": test.outcome.as_str(),
        "message": test.message,
    })
}

/// The JSON report, schema `netlings-grade/1`:
///
/// ```text
/// { "schema": "netlings-grade/1", "student": str, "score": num, "max_score": num,
///   "seconds": num, "points_per_exercise": num,
///   "lessons": [ { "lesson": "lesson03", "status": "graded" | "not_started" |
///       "does_not_compile" | "timed_out" | "crashed", "reason": str | null,
///       "score": num, "max_score": num, "seconds": num,
///       "exercises": [ { "id": "3.1", "title": str, "score": num, "max_score": num,
///           "passed": int, "failed": int,
///           "tests": [ { "name": str, "outcome": "passed" | "failed" | "not_run" |
///               "ignored", "message": str } ] } ],
///       "given_tests": [ same as tests ] } ] }
/// ```
///
/// Fields are only ever added, under the same schema name; a change of
/// meaning gets a new name.
fn json_report(report: &Report) -> Value {
    json!({
        "schema": SCHEMA,
        "student": report.student,
        "score": report.score(),
        "max_score": report.max_score(),
        "seconds": round2(report.seconds),
        "points_per_exercise": POINTS_PER_EXERCISE,
        "lessons": report.lessons.iter().map(|lesson| json!({
            "lesson": lesson.name,
            "status": lesson.status.as_str(),
            "reason": lesson.reason,
            "score": lesson.score(),
            "max_score": lesson.max_score(),
            "seconds": round2(lesson.seconds),
            "exercises": lesson.exercises.iter().map(|e| json!({
                "id": e.id,
                "title": e.title,
                "score": e.score,
                "max_score": e.max_score,
                "passed": e.tests.iter().filter(|t| t.outcome == Outcome::Passed).count(),
                "failed": e.tests.iter()
                    .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun)).count(),
                "tests": e.tests.iter().map(test_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "given_tests": lesson.given.iter().map(test_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// What an exercise's entry shows a student: each test, and the messages of
/// those that failed; or why the whole lesson scored 0.
fn exercise_output(lesson: &LessonReport, exercise: &ExerciseReport) -> String {
    let mut out = String::new();
    if let Some(reason) = &lesson.reason {
        let _ = writeln!(out, "{}: {reason}\n", lesson.name);
    }
    for test in &exercise.tests {
        let mark = match test.outcome {
            Outcome::Passed => "✓",
            Outcome::Ignored => "·",
            _ => "✗",
        };
        let _ = writeln!(out, "{mark} {}", test.name);
    }
    for test in exercise
        .tests
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
    {
        let _ = writeln!(out, "\n---- {} ----\n{}", test.name, test.message);
    }
    out
}

/// Gradescope's `results.json`: one test per exercise (name, number, score,
/// max_score, status, output), the total as `score`.
fn gradescope(report: &Report) -> Value {
    let mut tests = Vec::new();
    let mut notes = Vec::new();
    for lesson in &report.lessons {
        if let Some(reason) = &lesson.reason {
            notes.push(format!("{}: {}", lesson.name, reason));
        }
        for exercise in &lesson.exercises {
            tests.push(json!({
                "name": format!("Exercise {}: {}", exercise.id, exercise.title),
                "number": exercise.id,
                "score": exercise.score,
                "max_score": exercise.max_score,
                "status": if exercise.score >= exercise.max_score { "passed" } else { "failed" },
                "output": exercise_output(lesson, exercise),
            }));
        }
    }
    json!({
        "score": report.score(),
        "execution_time": report.seconds.round() as u64,
        "output": if notes.is_empty() {
            format!("{} / {} points", points(report.score()), points(report.max_score()))
        } else {
            format!("{} / {} points\n\n{}", points(report.score()),
                points(report.max_score()), notes.join("\n\n"))
        },
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// The result of one lesson's step in the GitHub Classroom workflow, as the
/// autograding reporter reads it (base64 in the step's `result` output):
/// `max_score`, and a test per exercise with its `score`.
fn classroom(report: &Report) -> Value {
    let mut tests = Vec::new();
    for lesson in &report.lessons {
        for exercise in &lesson.exercises {
            let done = exercise.score >= exercise.max_score;
            tests.push(json!({
                "name": format!("{} {}", exercise.id, exercise.title),
                "status": if done { "pass" } else { "fail" },
                "score": exercise.score,
                "message": if done { String::new() } else { exercise_output(lesson, exercise) },
                "test_code": format!("cargo xtask grade --lesson {}", lesson.name),
                "filename": "",
                "line_no": 0,
                "duration": 0,
            }));
        }
    }
    let full = report.score() >= report.max_score();
    json!({
        "version": 1,
        "status": if full { "pass" } else { "fail" },
        "max_score": report.max_score(),
        "tests": tests,
    })
}

/// Text for XML: escaped, and without the characters XML 1.0 forbids.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-30T09:58:36`, UTC: the timestamp JUnit's schema wants.
fn iso_time(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// JUnit XML: a `testsuite` per lesson, a `testcase` per test (or one per
/// exercise when the lesson did not build), as Ant writes it — which is what
/// GitLab, Jenkins and GitHub's test reporters read.
fn junit(report: &Report, at: SystemTime) -> String {
    let timestamp = iso_time(at);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, lesson) in report.lessons.iter().enumerate() {
        let mut cases = String::new();
        let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
        let mut case = |classname: &str, name: &str, outcome: Outcome, message: &str| {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
                xml_escape(classname),
                xml_escape(name)
            );
            let first = message.lines().next().unwrap_or("");
            let body = match outcome {
                Outcome::Passed => None,
                Outcome::Ignored => {
                    skipped += 1;
                    Some("<skipped/>".to_string())
                }
                Outcome::Failed => {
                    failures += 1;
                    Some(format!(
                        "<failure type=\"failed\" message=\"{}\">{}</failure>",
                        xml_escape(first),
                        xml_escape(message)
                    ))
                }
                Outcome::NotRun => {
                    errors += 1;
                    Some(format!(
                        "<error type=\"not_run\" message=\"{}\">{}</error>",
                        xml_escape(first),
                        xml_escape(message)
                    ))
                }
            };
            match body {
                None => cases.push_str("/>\n"),
                Some(body) => {
                    let _ = writeln!(cases, ">\n      {body}\n    </testcase>");
                }
            }
        };
        for exercise in &lesson.exercises {
            let classname = format!("{}.exercise_{}", lesson.name, exercise.id.replace('.', "_"));
            if exercise.tests.is_empty() {
                // The lesson did not build or was not started: the exercise
                // as one failed case, with the reason.
                let reason = lesson.reason.as_deref().unwrap_or("no tests ran");
                case(
                    &classname,
                    &format!("exercise {}", exercise.id),
                    Outcome::Failed,
                    reason,
                );
            }
            for test in &exercise.tests {
                case(&classname, &test.name, test.outcome, &test.message);
            }
        }
        for test in &lesson.given {
            case(
                &format!("{}.given", lesson.name),
                &test.name,
                test.outcome,
                &test.message,
            );
        }
        let mut properties = format!(
            "      <property name=\"score\" value=\"{}\"/>\n      <property name=\"max_score\" value=\"{}\"/>\n      <property name=\"status\" value=\"{}\"/>\n",
            points(lesson.score()),
            points(lesson.max_score()),
            lesson.status.as_str()
        );
        for exercise in &lesson.exercises {
            let _ = writeln!(
                properties,
                "      <property name=\"score {}\" value=\"{}\"/>",
                exercise.id,
                points(exercise.score)
            );
        }
        let _ = write!(
            out,
            "  <testsuite name=\"{}\" package=\"netlings\" id=\"{id}\" timestamp=\"{timestamp}\" \
             hostname=\"localhost\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
             skipped=\"{skipped}\" time=\"{:.3}\">\n    <properties>\n{properties}    </properties>\n\
             {cases}    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>\n",
            xml_escape(&lesson.name),
            lesson.seconds,
            xml_escape(&format!(
                "{}: {} / {} points{}",
                report.student,
                points(lesson.score()),
                points(lesson.max_score()),
                lesson
                    .reason
                    .as_deref()
                    .map(|r| format!("\n{r}"))
                    .unwrap_or_default()
            )),
        );
    }
    out.push_str("</testsuites>\n");
    out
}

/// The class's CSV: a row per student, a column per exercise, the total,
/// and a note of the lessons that did not build, timed out or crashed.
pub fn class_csv(lessons: &[Lesson], reports: &[Report]) -> String {
    let mut out = String::from("student");
    for exercise in lessons.iter().flat_map(|l| &l.exercises) {
        let _ = write!(out, ",{}", exercise.id);
    }
    out.push_str(",total,max,notes\n");
    for report in reports {
        out.push_str(&csv_field(&report.student));
        for exercise in lessons.iter().flat_map(|l| &l.exercises) {
            let score = report
                .lessons
                .iter()
                .flat_map(|l| &l.exercises)
                .find(|e| e.id == exercise.id)
                .map_or(0.0, |e| e.score);
            let _ = write!(out, ",{}", points(score));
        }
        let notes: Vec<String> = report
            .lessons
            .iter()
            .filter(|l| !matches!(l.status, Status::Graded | Status::NotStarted))
            .map(|l| {
                format!(
                    "{}: {}",
                    l.name,
                    l.reason
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            ",{},{},{}",
            points(report.score()),
            points(report.max_score()),
            csv_field(&notes.join("; "))
        );
    }
    out
}

/// A CSV field (RFC 4180), and never a formula when a spreadsheet opens it.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

// ---------------------------------------------------------------------------
// Platforms

/// `.github/workflows/classroom.yml`: a step per lesson, each graded against
/// a reference checkout of the course, reported to GitHub Classroom by its
/// autograding reporter.
fn classroom_workflow(lessons: &[Lesson]) -> String {
    let mut out = String::from(
        "# GitHub Classroom autograding for netlings: a step per lesson, each worth 10 points\n\
         # per exercise (see `cargo xtask grade` and book/src/appendix-instructors.md).\n\
         # Generated by `cargo xtask grade --classroom-workflow`; regenerate it when a lesson\n\
         # is added.\n\
         #\n\
         # The student's exercises are graded against a reference checkout of the course, so a\n\
         # student who edits tests/ gains nothing. Set the repository (or organization)\n\
         # variable NETLINGS_REFERENCE to owner/name of your copy of the course (and\n\
         # NETLINGS_REFERENCE_REF to a branch or tag; NETLINGS_REFERENCE_TOKEN as a secret if it\n\
         # is private). Without it the student's own repository is the reference.\n\
         name: Autograding Tests\n\
         'on':\n\
         - push\n\
         - repository_dispatch\n\
         - workflow_dispatch\n\
         permissions:\n\
         \x20 checks: write\n\
         \x20 actions: read\n\
         \x20 contents: read\n\
         jobs:\n\
         \x20 run-autograding-tests:\n\
         \x20   runs-on: ubuntu-latest\n\
         \x20   if: github.actor != 'github-classroom[bot]'\n\
         \x20   env:\n\
         \x20     CARGO_TERM_COLOR: never\n\
         \x20   steps:\n\
         \x20   - name: Check out the student's work\n\
         \x20     uses: actions/checkout@v4\n\
         \x20     with:\n\
         \x20       path: student\n\
         \x20   - name: Check out the course (the reference)\n\
         \x20     uses: actions/checkout@v4\n\
         \x20     with:\n\
         \x20       repository: ${{ vars.NETLINGS_REFERENCE || github.repository }}\n\
         \x20       ref: ${{ vars.NETLINGS_REFERENCE_REF || '' }}\n\
         \x20       token: ${{ secrets.NETLINGS_REFERENCE_TOKEN || github.token }}\n\
         \x20       path: reference\n\
         \x20   - name: Build the grader and the course (once, for every lesson's step)\n\
         \x20     working-directory: reference\n\
         \x20     run: |\n\
         \x20       rustup toolchain install stable --profile minimal\n\
         \x20       cargo build --locked --quiet -p xtask\n\
         \x20       cargo xtask grade --student . >/dev/null || true\n",
    );
    let mut ids = Vec::new();
    for lesson in lessons {
        let max = POINTS_PER_EXERCISE * lesson.exercises.len() as f64;
        let minutes = 15;
        let _ = write!(
            out,
            "\x20   - name: {name} ({max} points)\n\
             \x20     id: {name}\n\
             \x20     working-directory: reference\n\
             \x20     timeout-minutes: {minutes}\n\
             \x20     run: |\n\
             \x20       cargo xtask grade --student ../student --lesson {n} --format classroom --output ../{name}.json || true\n\
             \x20       echo \"result=$(base64 -w0 < ../{name}.json)\" >> \"$GITHUB_OUTPUT\"\n",
            name = lesson.name,
            max = points(max),
            n = lesson.number,
        );
        ids.push(lesson.name.clone());
    }
    out.push_str(
        "\x20   - name: Autograding Reporter\n\
         \x20     uses: classroom-resources/autograding-grading-reporter@v1\n\
         \x20     env:\n",
    );
    for id in &ids {
        let _ = writeln!(
            out,
            "\x20       {}_RESULTS: \"${{{{ steps.{id}.outputs.result }}}}\"",
            id.to_uppercase()
        );
    }
    let _ = write!(
        out,
        "\x20     with:\n\x20       runners: {}\n",
        ids.join(",")
    );
    out
}

/// The Gradescope autograder: `setup.sh` and `run_autograder` at the root
/// of a zip, with the course (the reference) in `netlings/`.
fn gradescope_bundle(root: &Path, lessons: &[Lesson], options: &Options, zip: &Path) -> Result<()> {
    let toolchain = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(1)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "stable".to_string());
    let lesson_args = if options.lessons.is_empty() {
        String::new()
    } else {
        format!(
            " --lesson {}",
            lessons
                .iter()
                .map(|l| l.number.to_string())
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let timeout = options.timeout.as_secs();
    let setup = format!(
        "#!/usr/bin/env bash\n\
         # Gradescope runs this once, as root, when it builds the autograder's image.\n\
         # Made by `cargo xtask grade --gradescope-bundle`. AUTOGRADER_ROOT lets you try it\n\
         # outside Gradescope.\n\
         set -euo pipefail\n\
         ROOT=\"${{AUTOGRADER_ROOT:-/autograder}}\"\n\
         if ! command -v cargo >/dev/null && [ ! -x \"$HOME/.cargo/bin/cargo\" ]; then\n\
         \x20 apt-get install -y --no-install-recommends curl ca-certificates build-essential\n\
         \x20 curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |\n\
         \x20   sh -s -- -y --profile minimal --default-toolchain {toolchain}\n\
         fi\n\
         export PATH=\"$HOME/.cargo/bin:$PATH\"\n\
         cd \"$ROOT/source/netlings\"\n\
         cargo build --locked --quiet -p xtask\n\
         # Grade the solutions once: compiles every dependency now rather than for each\n\
         # submission, and checks that the course passes its own tests on this image.\n\
         cargo xtask grade --solutions{lesson_args} --timeout {timeout} ||\n\
         \x20 echo \"WARNING: the solutions did not get full marks on this image (see above)\"\n\
         # And the exercises as shipped (a quick build, no tests run), so that a submission\n\
         # compiles only its own lessons.\n\
         cargo xtask grade --student .{lesson_args} >/dev/null || true\n"
    );
    let run = format!(
        "#!/usr/bin/env bash\n\
         # Gradescope runs this for each submission: grades /autograder/submission against\n\
         # the course in /autograder/source/netlings and writes results/results.json.\n\
         set -uo pipefail\n\
         ROOT=\"${{AUTOGRADER_ROOT:-/autograder}}\"\n\
         export PATH=\"$HOME/.cargo/bin:$PATH\"\n\
         mkdir -p \"$ROOT/results\"\n\
         rm -f \"$ROOT/results/results.json\"\n\
         cd \"$ROOT/source/netlings\"\n\
         cargo xtask grade --student \"$ROOT/submission\"{lesson_args} --timeout {timeout} \\\n\
         \x20 --format gradescope --output \"$ROOT/results/results.json\"\n\
         if [ ! -s \"$ROOT/results/results.json\" ]; then\n\
         \x20 cat > \"$ROOT/results/results.json\" <<'EOF'\n\
         {{\"score\": 0, \"output\": \"The grader could not grade this submission: it should hold the course's lessons/ directory (a zip of your checkout, or the repository). Ask your instructor.\", \"tests\": []}}\n\
         EOF\n\
         fi\n\
         exit 0\n"
    );
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        ("setup.sh".to_string(), setup.into_bytes(), 0o755),
        ("run_autograder".to_string(), run.into_bytes(), 0o755),
    ];
    for entry in scratch::COURSE {
        collect_files(root, Path::new(entry), &mut files)?;
    }
    let bytes = zip_stored(&files);
    if let Some(parent) = zip.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)?;
    }
    fs::write(zip, bytes).with_context(|| format!("writing {}", zip.display()))?;
    println!(
        "wrote {} ({} files): upload it as the autograder of a Gradescope programming \
         assignment; it grades {}.",
        zip.display(),
        files.len(),
        if lesson_args.is_empty() {
            "every lesson".to_string()
        } else {
            format!("lesson(s){}", lesson_args.trim_start_matches(" --lesson"))
        }
    );
    Ok(())
}

fn collect_files(root: &Path, rel: &Path, files: &mut Vec<(String, Vec<u8>, u32)>) -> Result<()> {
    let path = root.join(rel);
    if path.is_dir() {
        let mut entries: Vec<_> = fs::read_dir(&path)?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            if entry.file_name() != "target" {
                collect_files(root, &rel.join(entry.file_name()), files)?;
            }
        }
    } else if path.is_file() {
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            fs::metadata(&path)?.permissions().mode() & 0o777
        };
        #[cfg(not(unix))]
        let mode = 0o644;
        let name = Path::new("netlings").join(rel);
        files.push((
            name.to_string_lossy().replace('\\', "/"),
            fs::read(&path)?,
            mode,
        ));
    }
    Ok(())
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of `files` (name, contents, Unix mode), stored without
/// compression: small enough, and no dependency.
pub fn zip_stored(files: &[(String, Vec<u8>, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, mode) in files {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let size = data.len() as u32;
        let name_bytes = name.as_bytes();
        // Local file header.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0x0800u16.to_le_bytes()); // flags: UTF-8 names
        out.extend_from_slice(&0u16.to_le_bytes()); // stored
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x0021u16.to_le_bytes()); // date: 1980-01-01
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name_bytes);
        out.extend_from_slice(data);
        // Its central directory entry.
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&(3u16 << 8 | 20).to_le_bytes()); // made by: Unix
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&0x0800u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x0021u16.to_le_bytes());
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&size.to_le_bytes());
        central.extend_from_slice(&(name_bytes.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attributes
        central.extend_from_slice(&((0o100_000 | mode) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name_bytes);
    }
    let central_offset = out.len() as u32;
    let count = files.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
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
