//! Running a lesson's tests and reading which of them passed.
//!
//! `cargo test` prints its "Running <binary>" lines on stderr and the tests'
//! results on stdout, so from the outside the two cannot be matched up. We
//! build the test binaries with `cargo test --no-run`, ask cargo where they
//! are, and run each one ourselves: then every result belongs to one binary,
//! and two lessons may both have a test called `given_server_…`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The outcome of building and running some packages' tests.
pub struct TestRun {
    /// Did cargo build everything (false: a compile error)?
    pub compiled: bool,
    /// `lesson01: ex1_2_serves_clients_one_after_another` → passed?
    pub results: BTreeMap<String, bool>,
    /// What cargo and the tests printed, for a report when something is off.
    pub output: String,
}

impl TestRun {
    /// The results of the tests whose name (after `binary: `) starts with `prefix`.
    pub fn named<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, bool)> + 'a {
        self.results.iter().filter_map(move |(key, passed)| {
            let name = key.split_once(": ").map_or(key.as_str(), |(_, n)| n);
            name.starts_with(prefix).then_some((key.as_str(), *passed))
        })
    }
}

/// Builds the tests selected by `args` (e.g. `-p lesson01`, `--features
/// solution`) and runs every test binary, collecting each test's result.
pub fn test(root: &Path, args: &[&str]) -> std::io::Result<TestRun> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let build = Command::new(cargo)
        .current_dir(root)
        .args([
            "test",
            "--no-run",
            "--message-format",
            "json-render-diagnostics",
        ])
        .args(args)
        .output()?;
    let mut output = String::from_utf8_lossy(&build.stderr).into_owned();
    let mut results = BTreeMap::new();
    if !build.status.success() {
        return Ok(TestRun {
            compiled: false,
            results,
            output,
        });
    }

    for (name, executable, dir) in test_binaries(&String::from_utf8_lossy(&build.stdout)) {
        let run = Command::new(&executable)
            .current_dir(&dir)
            .env("RUST_BACKTRACE", "0")
            .output()?;
        let stdout = String::from_utf8_lossy(&run.stdout);
        output.push_str(&stdout);
        output.push_str(&String::from_utf8_lossy(&run.stderr));
        for line in stdout.lines() {
            // `test ex1_2_serves_clients_one_after_another ... ok`
            let Some((test, outcome)) = line
                .strip_prefix("test ")
                .and_then(|r| r.split_once(" ... "))
            else {
                continue;
            };
            let test = test.rsplit("::").next().unwrap_or(test);
            let passed = match outcome.trim() {
                "ok" => true,
                "FAILED" => false,
                _ => continue,
            };
            results.insert(format!("{name}: {test}"), passed);
        }
    }
    Ok(TestRun {
        compiled: true,
        results,
        output,
    })
}

/// From cargo's JSON messages: (target name, test executable, package dir)
/// for every test binary it built.
pub fn test_binaries(messages: &str) -> Vec<(String, PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for message in messages.lines() {
        if !message.contains(r#""reason":"compiler-artifact""#)
            || !message.contains(r#""test":true"#)
        {
            continue;
        }
        let (Some(executable), Some(manifest)) = (
            string_field(message, "executable"),
            string_field(message, "manifest_path"),
        ) else {
            continue;
        };
        let name = string_field(message, "name").unwrap_or_default();
        let dir = Path::new(&manifest)
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        found.push((name, PathBuf::from(executable), dir));
    }
    found
}

/// The first `"key":"value"` in a JSON line. Enough for cargo's messages,
/// whose paths and names contain no escaped quotes; saves a JSON dependency.
fn string_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = start + json[start..].find('"')?;
    Some(json[start..end].replace("\\\\", "\\"))
}
