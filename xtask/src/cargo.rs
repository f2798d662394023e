//! Running `cargo test` and reading which tests passed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The outcome of one `cargo test` run.
pub struct TestRun {
    /// Did cargo build everything (false: a compile error)?
    pub compiled: bool,
    /// Test name (without its module path) → passed?
    pub results: BTreeMap<String, bool>,
    /// Everything cargo and the tests printed, for the report when it matters.
    pub output: String,
}

/// Runs `cargo test <args> --no-fail-fast` in `root` and collects each test's result.
pub fn test(root: &Path, args: &[&str]) -> std::io::Result<TestRun> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(root)
        .arg("test")
        .args(args)
        .args(["--no-fail-fast", "--color", "never"])
        .env("RUST_BACKTRACE", "0")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut results = BTreeMap::new();
    for line in stdout.lines() {
        // `test ex1_2_serves_clients_one_after_another ... ok`
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, outcome)) = rest.split_once(" ... ") else {
            continue;
        };
        let name = name.rsplit("::").next().unwrap_or(name).to_string();
        match outcome.trim() {
            "ok" => results.insert(name, true),
            "FAILED" => results.insert(name, false),
            _ => None,
        };
    }
    let compiled = !stderr.contains("error: could not compile");
    Ok(TestRun {
        compiled,
        results,
        output: format!("{stdout}\n{stderr}"),
    })
}
