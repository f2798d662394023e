//! `cargo xtask mutants`: do the tests catch the mistakes students make?
//!
//! `mutants/lessonNN.md` records, for every exercise, wrong solutions that a
//! real student writes: each is a small edit of the reference solution,
//! written as a diff. This command applies each one to a scratch copy of the
//! course, runs the lesson's tests against it — the tests of the mutant's own
//! exercise first, then the rest — and fails unless every mutant is caught.
//!
//! The format, one section per mutant:
//!
//! ````text
//! ## 1.1 write instead of write_all, its result ignored
//!
//! Why a student writes it, and what goes wrong.
//!
//! ```diff echo.rs
//!          let n = stream.read(&mut buf)?;        (context: kept)
//! -        stream.write_all(&buf[..n])?;          (removed)
//! +        let _ = stream.write(&buf[..n]);       (added)
//! ```
//! ````
//!
//! The lines of a diff block (context and removed) must appear exactly once
//! in `solutions/lessonNN/FILE`. A section with a line starting `Only on `
//! (say, "Only on Windows: …") describes a mistake that no test on this
//! platform can see; it is listed, not run, and not counted.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::course::{self, Lesson};
use crate::scratch::{Scratch, limited, stop};

/// One recorded wrong solution.
pub struct Mutant {
    /// The exercise it is a wrong solution of: `1.1`.
    pub exercise: String,
    /// What the student did: `write instead of write_all`.
    pub title: String,
    /// The prose under the heading: why a student writes it, what goes wrong.
    pub why: String,
    /// The edits, each in one file of `solutions/lessonNN/`.
    pub edits: Vec<Edit>,
    /// `Some(reason)` when no test on this platform can see the mistake.
    pub only_on: Option<String>,
}

/// Replace `old` (which must occur once) by `new` in `file`.
pub struct Edit {
    pub file: String,
    pub old: String,
    pub new: String,
}

/// The mutants recorded for `lesson`, in the order of its file.
pub fn of_lesson(root: &Path, lesson: &str) -> Result<Vec<Mutant>> {
    from_file(&root.join("mutants").join(format!("{lesson}.md")))
}

/// The mutants in one file of the format above; none if it does not exist.
fn from_file(path: &Path) -> Result<Vec<Mutant>> {
    let Ok(text) = fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    parse(&text).with_context(|| format!("reading {}", path.display()))
}

fn parse(text: &str) -> Result<Vec<Mutant>> {
    let mut mutants: Vec<Mutant> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix("## ") {
            let (exercise, title) = heading.split_once(' ').unwrap_or((heading, ""));
            mutants.push(Mutant {
                exercise: exercise.to_string(),
                title: title.trim().to_string(),
                why: String::new(),
                edits: Vec::new(),
                only_on: None,
            });
            continue;
        }
        let Some(mutant) = mutants.last_mut() else {
            continue;
        };
        if line.starts_with("Only on ") {
            mutant.only_on = Some(line.to_string());
        } else if mutant.edits.is_empty() && !line.starts_with("```") {
            // Prose before the first diff: one paragraph, however wrapped.
            let line = line.trim();
            if !line.is_empty() {
                if !mutant.why.is_empty() {
                    mutant.why.push(' ');
                }
                mutant.why.push_str(line);
            }
        } else if let Some(file) = line.strip_prefix("```diff ") {
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for line in lines.by_ref() {
                if line.starts_with("```") {
                    break;
                }
                match line.split_at_checked(1) {
                    Some(("-", rest)) => old.push(rest),
                    Some(("+", rest)) => new.push(rest),
                    Some((" ", rest)) => {
                        old.push(rest);
                        new.push(rest);
                    }
                    // An empty line: editors strip the space of empty context.
                    None => {
                        old.push("");
                        new.push("");
                    }
                    Some(_) => bail!(
                        "mutant {} {:?}: a diff line must start with '-', '+' or ' ': {line:?}",
                        mutant.exercise,
                        mutant.title
                    ),
                }
            }
            // Blank lines that end the block are layout, not context.
            while old.last() == Some(&"") && new.last() == Some(&"") {
                old.pop();
                new.pop();
            }
            mutant.edits.push(Edit {
                file: file.trim().to_string(),
                old: old.join("\n"),
                new: new.join("\n"),
            });
        }
    }
    Ok(mutants)
}

impl Mutant {
    /// The solution files of `lesson`, with this mutant's edits made.
    /// Fails if an edit no longer fits the solution.
    pub fn apply(&self, root: &Path, lesson: &str) -> Result<Vec<(PathBuf, String)>> {
        if self.edits.is_empty() {
            bail!(
                "mutant {} {:?} has no ```diff block",
                self.exercise,
                self.title
            );
        }
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        for edit in &self.edits {
            let path = Path::new("solutions").join(lesson).join(&edit.file);
            let text = match files.iter().position(|(p, _)| *p == path) {
                Some(i) => files.remove(i).1,
                None => fs::read_to_string(root.join(&path))
                    .with_context(|| format!("reading {}", path.display()))?,
            };
            let found = text.matches(&edit.old).count();
            if found != 1 {
                bail!(
                    "mutant {} {:?}: its diff should match {} exactly once, but matches {found} \
                     times (has the solution changed?)",
                    self.exercise,
                    self.title,
                    path.display()
                );
            }
            files.push((path, text.replacen(&edit.old, &edit.new, 1)));
        }
        Ok(files)
    }
}

/// `cargo xtask mutants [lessonNN | N.k]...`
/// `--from DIR` reads the mutants from `DIR/lessonNN.md` instead: for a set of
/// wrong solutions kept apart from the course, to measure how well tests that
/// were never tuned to them catch them.
///
/// The lessons are shared out between [`WORKERS`] workers, each with a
/// scratch copy of its own: while one waits for a test's deadline, the other
/// builds.
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let (from, args): (Option<PathBuf>, Vec<String>) = match args {
        [flag, dir, rest @ ..] if flag == "--from" => (Some(PathBuf::from(dir)), rest.to_vec()),
        _ => (None, args.to_vec()),
    };
    let args = &args[..];
    let wanted = |lesson: &Lesson, mutant: &Mutant| {
        args.is_empty()
            || args
                .iter()
                .any(|a| *a == lesson.name || *a == mutant.exercise)
    };
    let mut work: Vec<(Lesson, Vec<Mutant>)> = Vec::new();
    for lesson in course::lessons(root)? {
        let recorded = match &from {
            Some(dir) => from_file(&dir.join(format!("{}.md", lesson.name)))?,
            None => of_lesson(root, &lesson.name)?,
        };
        let mutants: Vec<Mutant> = recorded
            .into_iter()
            .filter(|m| wanted(&lesson, m))
            .collect();
        if !mutants.is_empty() {
            println!("{}: {} mutants", lesson.name, mutants.len());
            work.push((lesson, mutants));
        }
    }
    // One scratch copy per selection and worker, so that two runs for
    // different lessons (say, by two maintainers at once) do not trip over
    // each other.
    let label = match (&from, args.is_empty()) {
        (Some(_), _) => format!("from-{}", args.join("+")),
        (None, true) => "all".to_string(),
        (None, false) => args.join("+"),
    };
    let shares = share_out(&work, WORKERS);
    let steps = crate::steps::Steps::new(work.iter().map(|(_, m)| m.len() as u64).sum(), "mutants");
    let tally = std::sync::Mutex::new(Tally::default());
    std::thread::scope(|s| -> Result<()> {
        let mut workers = Vec::new();
        for (n, share) in shares
            .iter()
            .enumerate()
            .filter(|(_, share)| !share.is_empty())
        {
            let scratch = Scratch::for_mutants(root, &format!("{label}/{n}"))?;
            let tally = &tally;
            let steps = &steps;
            workers.push(s.spawn(move || {
                for &(lesson, mutant) in share {
                    steps.working_on(&format!("{} {}", mutant.exercise, mutant.title));
                    let line = try_one(&scratch, root, lesson, mutant, tally);
                    // One line at a time, whole, whichever worker finishes it.
                    steps.finished(&line);
                }
            }));
        }
        for worker in workers {
            worker.join().expect("a mutants worker panicked");
        }
        Ok(())
    })?;
    drop(steps);
    // A test binary killed at its first failure left its lab, if it had one.
    if netlings_lab::unavailable().is_none() {
        let _ = netlings_lab::remove_orphans();
    }
    let tally = tally.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "\nmutants: {} caught, {} survived, {} broken, {} not counted (platform-specific)",
        tally.caught,
        tally.survived.len(),
        tally.broken.len(),
        tally.uncounted
    );
    Ok(tally.survived.is_empty() && tally.broken.is_empty())
}

/// How many mutants run at once.
const WORKERS: usize = 2;

/// What the mutants came to.
#[derive(Default)]
struct Tally {
    caught: usize,
    survived: Vec<String>,
    broken: Vec<String>,
    uncounted: usize,
}

/// Shares whole lessons out between `n` workers, the largest first to the
/// least loaded, so that each worker builds only its own lessons.
fn share_out(work: &[(Lesson, Vec<Mutant>)], n: usize) -> Vec<Vec<(&Lesson, &Mutant)>> {
    let mut order: Vec<&(Lesson, Vec<Mutant>)> = work.iter().collect();
    order.sort_by_key(|(_, mutants)| std::cmp::Reverse(mutants.len()));
    let mut shares: Vec<Vec<(&Lesson, &Mutant)>> = vec![Vec::new(); n.max(1)];
    for (lesson, mutants) in order {
        let least = shares
            .iter_mut()
            .min_by_key(|share| share.len())
            .expect("at least one share");
        least.extend(mutants.iter().map(|m| (lesson, m)));
    }
    shares
}

/// Runs one mutant, adds it to the tally, and returns its line of the report.
fn try_one(
    scratch: &Scratch,
    root: &Path,
    lesson: &Lesson,
    mutant: &Mutant,
    tally: &std::sync::Mutex<Tally>,
) -> String {
    let label = format!("{} {}", mutant.exercise, mutant.title);
    if let Some(reason) = &mutant.only_on {
        tally.lock().unwrap_or_else(|e| e.into_inner()).uncounted += 1;
        return format!("  · {label}: not run. {reason}");
    }
    let start = Instant::now();
    let verdict = scratch.try_mutant(root, lesson, mutant);
    let took = start.elapsed().as_secs_f64();
    let mut tally = tally.lock().unwrap_or_else(|e| e.into_inner());
    match verdict {
        Ok(Verdict::Caught(test)) => {
            tally.caught += 1;
            format!("  ✓ {label}: caught by {test} ({took:.1} s)")
        }
        Ok(Verdict::Survived) => {
            tally.survived.push(label.clone());
            format!("  ✗ {label}: SURVIVED — every test passes with this mistake")
        }
        Ok(Verdict::Hung) => {
            tally.survived.push(label.clone());
            format!(
                "  ✗ {label}: the tests did not finish within {} s — a test waits or loops \
                 without a bound on this mistake",
                TEST_TIMEOUT.as_secs()
            )
        }
        Err(e) => {
            tally.broken.push(label.clone());
            format!("  ✗ {label}: {e:#}")
        }
    }
}

/// How a mutant fared.
enum Verdict {
    /// A test failed: the one named.
    Caught(String),
    Survived,
    /// The test binary had to be killed.
    Hung,
}

/// How long one run of a lesson's tests may take before it is killed.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Scratch {
    /// A copy of the course for mutants, under `target/mutants/LABEL`.
    fn for_mutants(root: &Path, label: &str) -> Result<Scratch> {
        Scratch::new(root, &root.join("target").join("mutants").join(label))
    }

    fn try_mutant(&self, root: &Path, lesson: &Lesson, mutant: &Mutant) -> Result<Verdict> {
        let files = mutant.apply(root, &lesson.name)?;
        for (path, text) in &files {
            fs::write(self.dir.join(path), text)?;
        }
        let verdict = self.test(lesson, mutant);
        // Put the real solution back for the next mutant, whatever happened.
        for (path, _) in &files {
            fs::copy(root.join(path), self.dir.join(path))?;
        }
        verdict
    }

    fn test(&self, lesson: &Lesson, mutant: &Mutant) -> Result<Verdict> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let build = Command::new(cargo)
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", &self.target)
            .args([
                "test",
                "--no-run",
                "--message-format",
                "json-render-diagnostics",
            ])
            .args(["-p", &lesson.name, "--features", "solution", "--quiet"])
            .output()?;
        if !build.status.success() {
            bail!(
                "does not compile — a mutant must be a program a student could run:\n{}",
                String::from_utf8_lossy(&build.stderr)
            );
        }
        let messages = String::from_utf8_lossy(&build.stdout);
        let Some((_, binary, dir)) = crate::cargo::test_binaries(&messages)
            .into_iter()
            .find(|(name, _, _)| *name == lesson.name)
        else {
            bail!("cargo built no test binary named {}", lesson.name);
        };
        // The exercise's own tests first: they should catch it, and fast.
        let own = format!("ex{}_", mutant.exercise.replace('.', "_"));
        for filter in [Some(own.as_str()), None] {
            match run_tests(&binary, &dir, filter)? {
                Some(Verdict::Survived) | None => continue,
                Some(verdict) => return Ok(verdict),
            }
        }
        Ok(Verdict::Survived)
    }
}

/// Runs a test binary (only the tests whose names contain `filter`); returns
/// the verdict, with the first failing test's name when one failed. Stops
/// the binary at the first failure: one is enough to catch a mutant.
fn run_tests(binary: &Path, dir: &Path, filter: Option<&str>) -> Result<Option<Verdict>> {
    let mut command = limited(binary, None);
    command
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(filter) = filter {
        command.arg(filter);
    }
    // Its own process group, so that stopping it stops the servers its tests
    // started too: a test binary killed mid-test never reaps its children.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn()?;
    let stdout = child.stdout.take().expect("piped");
    // Results arrive line by line on a thread; this one keeps the time.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + TEST_TIMEOUT;
    let mut ran = false;
    let verdict = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let Some((name, outcome)) = line
                    .strip_prefix("test ")
                    .and_then(|rest| rest.split_once(" ... "))
                else {
                    continue;
                };
                ran = true;
                if outcome.trim() == "FAILED" {
                    break Some(Verdict::Caught(name.to_string()));
                }
            }
            // The binary has finished without a FAILED line: every test it
            // ran passed — unless the binary itself crashed (an abort, a stack
            // overflow), which fails the tests as surely.
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait()?;
                if !status.success() {
                    break Some(Verdict::Caught(format!(
                        "a crash of the test binary ({status})"
                    )));
                }
                break ran.then_some(Verdict::Survived);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => break Some(Verdict::Hung),
        }
    };
    stop(&mut child);
    Ok(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mutants_and_their_diffs() {
        let text = "# Lesson 1\n\nintro\n\n## 1.1 write, not write_all\n\nWhy.\n\n\
                    ```diff echo.rs\n         let n = 1;\n-        a();\n+        b();\n\n```\n\n\
                    ## 1.2 only elsewhere\n\nOnly on Windows: because.\n\n```diff echo.rs\n-x\n+y\n```\n";
        let mutants = parse(text).unwrap();
        assert_eq!(mutants.len(), 2);
        assert_eq!(mutants[0].exercise, "1.1");
        assert_eq!(mutants[0].title, "write, not write_all");
        assert_eq!(mutants[0].edits[0].file, "echo.rs");
        assert_eq!(mutants[0].edits[0].old, "        let n = 1;\n        a();");
        assert_eq!(mutants[0].edits[0].new, "        let n = 1;\n        b();");
        assert!(mutants[0].only_on.is_none());
        assert_eq!(
            mutants[1].only_on.as_deref(),
            Some("Only on Windows: because.")
        );
    }
}
