//! Running one lesson of one student in a slot: its scratch copy of the
//! course, the build, the test binary within its limits, and reading what
//! the tests reported.

use super::*;

/// One place where students are graded one after another: a scratch copy
/// of the reference with its own target directory (dependencies compiled
/// once per slot), and a control group for its test binaries if we may
/// make one.
pub(super) struct Slot<'a> {
    root: &'a Path,
    n: usize,
    scratch: Scratch,
    timeout: Duration,
    build_timeout: Duration,
    _lock: SlotLock,
}

/// A slot belongs to one grading process at a time: `slot-N.lock` holds its
/// process id, and a lock whose process is gone is taken over.
pub(super) struct SlotLock(PathBuf);

impl SlotLock {
    /// The first slot from `n` on that no running process holds.
    pub(super) fn claim(dir: &Path, n: usize) -> Result<(usize, SlotLock)> {
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
    pub(super) fn new(
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
    pub(super) fn grade(
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

    pub(super) fn grade_lesson(
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
    pub(super) fn run_tests(
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

pub(super) fn cargo(scratch: &Scratch) -> Command {
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
pub(super) struct Finished {
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
pub(super) static RUNNING: Mutex<Vec<u32>> = Mutex::new(Vec::new());

pub(super) fn started(child: &std::process::Child) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(child.id());
}

pub(super) fn ended(child: &std::process::Child) {
    RUNNING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|id| *id != child.id());
}

/// On Ctrl-C or SIGTERM: kill every process group grading started, then exit.
pub(super) fn stop_all_on_interrupt() {
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
pub(super) fn run_until(mut command: Command, deadline: Instant, log: &Path) -> Result<Finished> {
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

pub(super) fn strip_ansi(line: &str) -> String {
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
