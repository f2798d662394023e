//! The programs `compare` runs — cargo, the servers, the load tool — each
//! with a deadline and killed on drop, and what Linux says about a running
//! server in `/proc/PID`.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// How long a server may take to print `listening on ADDR`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often a wait looks whether a child has exited. Polling (rather than
/// a blocking `wait`) is what lets every wait have a deadline.
const POLL: Duration = Duration::from_millis(20);

/// A child process with its output read line by line on threads (a child
/// whose pipe is full stops), killed and reaped when dropped, whatever
/// happened meanwhile.
pub struct Running {
    child: Child,
    what: String,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl Running {
    /// Starts `command` with its stdout and stderr piped to us.
    pub fn start(mut command: Command, what: &str) -> Result<Running> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {what}"))?;
        let stdout = lines_of(child.stdout.take().expect("piped"));
        let stderr = lines_of(child.stderr.take().expect("piped"));
        Ok(Running {
            child,
            what: what.to_string(),
            stdout,
            stderr,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status if it has exited (and it is reaped), without waiting.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The next line of stdout, waiting until `deadline`; `None` if the
    /// child closed its stdout or the deadline passed first.
    pub fn stdout_line(&self, deadline: Instant) -> Option<String> {
        next_line(&self.stdout, deadline)
    }

    /// Waits until a line of stderr contains `marker`, and returns it;
    /// `None` at the deadline or when stderr closes. Lines before it are
    /// dropped.
    pub fn stderr_line_with(&self, marker: &str, deadline: Instant) -> Option<String> {
        std::iter::from_fn(|| next_line(&self.stderr, deadline)).find(|l| l.contains(marker))
    }

    /// Waits for the child to exit, until `deadline`; then kills it.
    /// Returns its status, its stdout and its stderr.
    pub fn finish(mut self, deadline: Instant) -> Result<(ExitStatus, String, String)> {
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() >= deadline {
                let stderr = self.stderr_so_far();
                bail!("{} did not finish in time: killed\n{stderr}", self.what);
            }
            thread::sleep(POLL);
        };
        // The child is gone, so its pipes close and the readers finish;
        // the short bound is for a grandchild that kept a pipe open.
        let drain = Instant::now() + Duration::from_secs(2);
        let stdout = std::iter::from_fn(|| next_line(&self.stdout, drain)).collect::<Vec<_>>();
        let stderr = std::iter::from_fn(|| next_line(&self.stderr, drain)).collect::<Vec<_>>();
        Ok((status, stdout.join("\n"), stderr.join("\n")))
    }

    /// What the child printed on stderr so far (without waiting), for a
    /// report when something went wrong.
    pub fn stderr_so_far(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Both fail harmlessly if the child has already been reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A thread that sends each line `reader` gives until it closes.
fn lines_of(reader: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn next_line(lines: &Receiver<String>, deadline: Instant) -> Option<String> {
    // Timed out or closed: no line either way.
    let left = deadline.saturating_duration_since(Instant::now());
    lines.recv_timeout(left).ok()
}

/// Runs `cargo ARGS` in `root` and waits (until `deadline`) for it to
/// finish; `Err` with cargo's last lines if it fails.
pub fn cargo(root: &Path, args: &[&str], deadline: Instant) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut command = Command::new(cargo);
    command.current_dir(root).args(args);
    let what = format!("cargo {}", args.join(" "));
    let (status, _, stderr) = Running::start(command, &what)?.finish(deadline)?;
    if !status.success() {
        bail!("`{what}` failed:\n{}", last_lines(&stderr, 15));
    }
    Ok(())
}

/// The last `n` lines of `text`, for an error message that fits a screen.
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A lesson's server, started on a free port of 127.0.0.1; killed on drop.
pub struct Server {
    pub running: Running,
    /// Where it listens, from its first line: `listening on 127.0.0.1:PORT`.
    pub addr: String,
}

impl Server {
    /// Starts `BIN server 127.0.0.1:0 ARGS…` and reads its address.
    pub fn start(bin: &Path, args: &[&str]) -> Result<Server> {
        let mut command = Command::new(bin);
        command.args(["server", "127.0.0.1:0"]).args(args);
        let running = Running::start(command, &bin.display().to_string())?;
        let first = running.stdout_line(Instant::now() + START_TIMEOUT);
        let Some(addr) = first.as_deref().and_then(listening_addr) else {
            bail!(
                "{} did not print `listening on ADDR` within {} s (it printed {first:?})\n{}",
                bin.display(),
                START_TIMEOUT.as_secs(),
                running.stderr_so_far()
            );
        };
        // Loopback only: a server that says it listens elsewhere is not
        // one we send load to.
        if !(addr.starts_with("127.") || addr.starts_with("[::1]")) {
            bail!("{} listens on {addr}, not on loopback", bin.display());
        }
        Ok(Server { running, addr })
    }

    pub fn pid(&self) -> u32 {
        self.running.pid()
    }

    /// If the server has exited: how (a signal, a status) and its last words
    /// on stderr — a server that dies under load is a finding, not a bug here.
    pub fn exit_report(&mut self) -> Option<String> {
        let status = self.running.exited()?;
        let said = self.running.stderr_so_far();
        Some(format!(
            "the server exited ({status}): {}",
            last_words(&said)
        ))
    }

    /// The server's resident memory now, in KiB.
    pub fn rss_kib(&self) -> Result<u64> {
        self.status_field("VmRSS")
    }

    /// The most resident memory the server has had, in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        self.status_field("VmHWM")
    }

    /// How many threads the server has now.
    pub fn threads(&self) -> Result<u64> {
        self.status_field("Threads")
    }

    /// CPU time the server has used, user and system, in clock ticks.
    pub fn cpu_ticks(&self) -> Result<u64> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        cpu_ticks(&stat).with_context(|| format!("no utime and stime in {path}"))
    }

    fn status_field(&self, field: &str) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        status_number(&status, field).with_context(|| format!("no {field} in {path}"))
    }
}

/// The last three lines of a dying server's stderr that say something, on
/// one line: a panic is a line saying where, then what, then how it ended;
/// Rust's advice on backtraces says nothing about this one.
fn last_words(stderr: &str) -> String {
    let said: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
        .collect();
    match said.len() {
        0 => "nothing on stderr".to_string(),
        n => said[n.saturating_sub(3)..].join(" / "),
    }
}

/// `listening on 127.0.0.1:41234` → `127.0.0.1:41234`.
fn listening_addr(line: &str) -> Option<String> {
    let addr = line.trim().strip_prefix("listening on ")?;
    (!addr.is_empty()).then(|| addr.to_string())
}

/// The number of a `/proc/PID/status` line: `VmHWM:   57284 kB` → 57284
/// (the kB unit of memory fields is KiB), `Threads:  12` → 12.
pub fn status_number(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime from `/proc/PID/stat`: fields 14 and 15, in clock ticks
/// (`sysconf(_SC_CLK_TCK)`, 100 a second on Linux). Field 2, the command
/// name in parentheses, may itself hold spaces and parentheses, so the
/// fields are counted from the last `)`: the one after it is field 3.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_numbers_of_proc_status() {
        let status = "Name:\tlesson08\nVmPeak:\t  900000 kB\nVmHWM:\t   57284 kB\n\
                      VmRSS:\t   51200 kB\nThreads:\t1730\n";
        assert_eq!(status_number(status, "VmHWM"), Some(57284));
        assert_eq!(status_number(status, "VmRSS"), Some(51200));
        assert_eq!(status_number(status, "Threads"), Some(1730));
        // A prefix of another field's name is not that field.
        assert_eq!(status_number(status, "Vm"), None);
        assert_eq!(status_number(status, "VmSwap"), None);
    }

    #[test]
    fn reads_cpu_time_after_a_strange_command_name() {
        // Fields 14 and 15 (utime 250, stime 40), after a name with a
        // space and a parenthesis of its own.
        let stat = "4242 (a) b) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 40 0 0 20 0 12 0 \
                    99 1000000 5000 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(290));
        assert_eq!(cpu_ticks("4242 (x) S 1"), None);
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn a_dying_servers_last_words_skip_the_backtrace_advice() {
        let stderr = "note: this process may open 20000 files\n\
                      thread 'writer 8184' panicked at stack_overflow.rs:240:13:\n\
                      failed to set up alternative stack guard page: Cannot allocate memory\n\
                      note: run with `NETLINGS_BACKTRACE=1` to see a backtrace\n\
                      fatal runtime error: failed to initiate panic, error 5, aborting\n";
        assert_eq!(
            last_words(stderr),
            "thread 'writer 8184' panicked at stack_overflow.rs:240:13: / failed to set up \
             alternative stack guard page: Cannot allocate memory / fatal runtime error: \
             failed to initiate panic, error 5, aborting"
        );
        assert_eq!(last_words("\n"), "nothing on stderr");
    }

    #[test]
    fn reads_the_address_a_server_announces() {
        assert_eq!(
            listening_addr("listening on 127.0.0.1:41234\n").as_deref(),
            Some("127.0.0.1:41234")
        );
        assert_eq!(
            listening_addr("listening on [::1]:7").as_deref(),
            Some("[::1]:7")
        );
        assert_eq!(listening_addr("note: few files"), None);
        assert_eq!(listening_addr("listening on "), None);
    }
}
