//! The harness every lesson's tests use: start a lesson's program, talk to it
//! over real sockets, and when something goes wrong, say so in words a learner
//! can act on.
//!
//! Three promises, so that no test can hang or flake:
//! - servers bind port 0, and the test reads the real address from the
//!   `listening on ADDR` line;
//! - every wait has a deadline ([`DEADLINE`]); nothing sleeps to synchronise;
//! - a child process is killed and reaped when its [`Server`] guard drops,
//!   even when the test panics.
//!
//! And one for the learner's screen: a failing test shows its message, not a
//! stack backtrace (see [`quiet_panics`]).

// Each lesson's test file includes this module and uses a different part of it.
#![allow(dead_code)]

pub mod chat;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single wait may last before the test gives up and explains.
/// Generous, because a loaded CI machine is slow; a passing test never waits
/// this long.
pub const DEADLINE: Duration = Duration::from_secs(5);

/// Where to look when a test fails: "exercise 1.1 — book §1.1, in lessons/…".
#[derive(Clone, Copy, Debug)]
pub struct Hint(pub &'static str);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Makes panics print their message and location only: no backtrace, and no
/// advice to set `RUST_BACKTRACE`, which the course's `.cargo/config.toml`
/// turns off (`NETLINGS_BACKTRACE=1` shows backtraces). Every entry point of
/// the harness calls it, so a test's failure is reported this way.
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if hold(info) {
                return;
            }
            let message =
                netlings_kit::panic_message(info).unwrap_or("(a panic without a message)");
            // Where the harness itself failed a test is of no interest to a
            // learner; where their code panicked is.
            match info.location() {
                Some(l) if !l.file().contains("support") => {
                    let thread = thread::current();
                    let name = thread.name().unwrap_or("<unnamed>");
                    eprintln!(
                        "thread '{name}' panicked at {}:{}:\n{message}",
                        l.file(),
                        l.line()
                    );
                    if !netlings_kit::backtrace_wanted() {
                        eprintln!("(NETLINGS_BACKTRACE=1 shows how the program got there)");
                    }
                }
                _ => eprintln!("{message}"),
            }
            if netlings_kit::backtrace_wanted() {
                eprintln!("{}", std::backtrace::Backtrace::force_capture());
            }
        }));
    });
}

thread_local! {
    /// `Some` while [`property`] runs on this thread: the first panic it
    /// meets (its message and place), held back rather than printed, with
    /// the others.
    static HELD: std::cell::RefCell<Option<Option<(String, String)>>> =
        const { std::cell::RefCell::new(None) };
}

/// Holds back `info` if a property is running on this thread; true if it did.
fn hold(info: &std::panic::PanicHookInfo<'_>) -> bool {
    HELD.with(|held| match &mut *held.borrow_mut() {
        None => false,
        Some(first) => {
            if first.is_none() {
                let message = netlings_kit::panic_message(info).unwrap_or("(no message)");
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                *first = Some((message.to_string(), place));
            }
            true
        }
    })
}

/// Runs a property test (a `proptest!` call) so that a panic in the
/// exercise is shown once, not once for every input proptest tries while it
/// looks for the smallest failing one — which buries the message under
/// hundreds of copies. A `todo!()` is reported as itself.
pub fn property(hint: Hint, test: impl FnOnce()) {
    quiet_panics();
    HELD.with(|held| *held.borrow_mut() = Some(None));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(test));
    let first = HELD.with(|held| held.borrow_mut().take().flatten());
    let Err(payload) = result else {
        return;
    };
    let failure = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    match first {
        Some((first, place)) if first.starts_with("not yet implemented") => {
            panic!(
                "\n\nIt panicked{place}:\n{first}\n\nRevisit: {hint}{}\n",
                stuck(hint)
            )
        }
        // The exercise panicked on some input; proptest then reported that.
        Some((first, place)) if first != failure => panic!(
            "\n\nIt panicked{place}, on the first input that failed:\n{first}\n\n\
             {failure}\n\nRevisit: {hint}{}\n",
            stuck(hint)
        ),
        // No panic in the exercise: proptest's own report says it all. (A
        // new panic rather than resume_unwind, which would not print it.)
        _ => panic!("{failure}"),
    }
}

/// Starts `binary server 127.0.0.1:0 extra...` — a lesson's server on a port
/// the OS picks — and waits for its `listening on` line.
pub fn server(binary: &str, hint: Hint, extra: &[&str]) -> Server {
    let mut args = vec!["server", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(binary, &args, hint)
}

/// A lesson's program running as a server in a child process.
///
/// Dropping it kills and reaps the process.
pub struct Server {
    // In a Mutex so that a test can hold several connections (each borrows
    // the server) and still ask whether the process is alive.
    child: Mutex<Child>,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    // Signals when the server's stderr reached end of file (the server exited).
    stderr_done: Mutex<mpsc::Receiver<()>>,
    // What it printed on stdout after its `listening on` line, read as it
    // comes by a thread of ours: a server that logs a lot never blocks on a
    // full pipe, and a test can read the log.
    stdout: Arc<Mutex<String>>,
    hint: Hint,
}

impl Server {
    /// Starts `binary` (use `env!("CARGO_BIN_EXE_lessonNN")`) with `args` and
    /// waits until it prints `listening on ADDR`.
    ///
    /// `hint` names what to revisit if this server misbehaves in this test.
    pub fn start(binary: &str, args: &[&str], hint: Hint) -> Server {
        Server::spawn(Command::new(binary).args(args), hint)
    }

    /// Like [`Server::start`], for a command the test built itself (one that
    /// runs in a lab host, say).
    pub fn start_command(command: &mut Command, hint: Hint) -> Server {
        Server::spawn(command, hint)
    }

    /// Like [`Server::start`], with the process allowed at most `files` open
    /// file descriptors (its soft `RLIMIT_NOFILE`, set by the shell's
    /// `ulimit -Sn` before the program starts): 0, 1 and 2 are the standard
    /// streams, so `files` = 4 leaves room for the listener and nothing else.
    #[cfg(unix)]
    pub fn start_with_file_limit(binary: &str, args: &[&str], files: u32, hint: Hint) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -Sn {files} && exec \"$0\" \"$@\""))
            .arg(binary)
            .args(args);
        Server::spawn(&mut command, hint)
    }

    /// Like [`Server::start_with_file_limit`], with the hard limit set too
    /// (`ulimit -n`), for a program that raises its soft limit at start.
    #[cfg(unix)]
    pub fn start_with_hard_file_limit(
        binary: &str,
        args: &[&str],
        files: u32,
        hint: Hint,
    ) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(binary)
            .args(args);
        Server::spawn(&mut command, hint)
    }

    fn spawn(command: &mut Command, hint: Hint) -> Server {
        quiet_panics();
        let description = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {description}: {e}"));

        let stderr = Arc::new(Mutex::new(String::new()));
        let child_stderr = child.stderr.take().expect("stderr is piped");
        let done_rx = collect_in_background(child_stderr, Arc::clone(&stderr));

        // Read the first line of stdout on a thread, so that we can give up
        // after DEADLINE if the server never prints it.
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let result = stdout.read_line(&mut line).map(|_| line);
            let _ = tx.send((result, stdout));
        });

        let mut server = Server {
            child: Mutex::new(child),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            stderr,
            stderr_done: Mutex::new(done_rx),
            stdout: Arc::new(Mutex::new(String::new())),
            hint,
        };
        let command = description;
        let (line, stdout) = match rx.recv_timeout(DEADLINE) {
            Ok((Ok(line), stdout)) => (line, stdout),
            Ok((Err(e), _)) => {
                server.fail(&format!("reading the stdout of `{command}` failed: {e}"))
            }
            Err(_) => server.fail(&format!(
                "`{command}` printed nothing on stdout within {DEADLINE:?}; \
                 a server's first line must be `listening on ADDR`"
            )),
        };
        // Keep what the reader took beyond the first line, then the rest.
        server
            .stdout
            .lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(stdout.buffer()));
        let sink = Arc::clone(&server.stdout);
        let rest = stdout.into_inner();
        thread::spawn(move || collect(rest, &sink));
        let Some(addr) = line.trim_end().strip_prefix("listening on ") else {
            server.fail(&format!(
                "`{command}` should first print `listening on ADDR`, but printed {line:?}"
            ));
        };
        server.addr = addr.parse().unwrap_or_else(|e| {
            server.fail(&format!("`listening on {addr}`: not an address: {e}"))
        });
        server
    }

    /// The address the server really bound.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Everything the server has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Everything the server has written to stdout after its `listening on`
    /// line so far.
    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    /// Waits until the server's stdout (after `listening on`) contains
    /// `text`; `false` if it does not within [`DEADLINE`].
    pub fn wait_for_stdout(&self, text: &str) -> bool {
        wait_until(|| self.stdout().contains(text))
    }

    /// Waits for the process to exit by itself: its status, or `None` if it
    /// is still running after [`DEADLINE`].
    pub fn wait_for_exit(&self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let status = self.child.lock().unwrap().try_wait().ok().flatten();
            if status.is_some() || Instant::now() >= deadline {
                return status;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        matches!(self.child.lock().unwrap().try_wait(), Ok(None))
    }

    /// Waits until the server's stderr contains `text`; `false` if it does not
    /// within [`DEADLINE`] (or the server exited without writing it).
    pub fn wait_for_stderr(&self, text: &str) -> bool {
        wait_until(|| self.stderr().contains(text) || !self.is_running()) && {
            if !self.is_running() {
                // Its last words may still be on their way through the pipe.
                let _ = self.stderr_done.lock().unwrap().recv_timeout(DEADLINE);
            }
            self.stderr().contains(text)
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// Raises the server's limit of open files to `files` while it runs, with
    /// `prlimit` (Linux's util-linux). `false` where that is not possible.
    pub fn raise_file_limit(&self, files: u32) -> bool {
        Command::new("prlimit")
            .args([
                "--pid",
                &self.pid().to_string(),
                &format!("--nofile={files}:"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// How much memory the server's process holds (its resident set), on
    /// Linux; `None` elsewhere.
    pub fn memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// The most memory the server's process has held so far (its peak
    /// resident set), on Linux; `None` elsewhere.
    pub fn peak_memory(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// How much CPU time the server has used so far, on Linux (`None`
    /// elsewhere). A server that is waiting uses next to none; one that spins
    /// in a loop uses as much as it is given.
    pub fn cpu_time(&self) -> Option<Duration> {
        let pid = self.child.lock().unwrap().id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which is in parentheses and may hold
        // spaces): state is the 3rd field of the line, utime the 14th, stime the 15th.
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // Linux reports in clock ticks of 1/100 s (USER_HZ) on every platform it runs on.
        Some(Duration::from_millis(ticks * 10))
    }

    /// Connects to the server; every read and write on the result times out
    /// after [`DEADLINE`].
    pub fn connect(&self) -> Conn<'_> {
        let stream = match TcpStream::connect_timeout(&self.addr, DEADLINE) {
            Ok(stream) => stream,
            Err(e) => self.fail(&format!("could not connect to {}: {e}", self.addr)),
        };
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_write_timeout(Some(DEADLINE)).unwrap();
        Conn {
            stream,
            server: self,
        }
    }

    /// Fails the test with `what` went wrong, the server's stderr, and the hint.
    pub fn fail(&self, what: &str) -> ! {
        quiet_panics();
        // If the server has just died (say, at a todo!()), its last words may
        // still be in the pipe: wait briefly for its stderr to reach the end.
        let exited = self
            .stderr_done
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_millis(300))
            .is_ok();
        let state = match self.child.lock().unwrap().try_wait() {
            Ok(Some(status)) => format!("The server has exited ({status})."),
            // Its stderr closed, so it is on its way out.
            _ if exited => "The server has closed its stderr: it is exiting.".to_string(),
            _ => "The server is still running.".to_string(),
        };
        panic!(
            "{}",
            report(&format!("{what}\n\n{state}"), &self.stderr(), self.hint)
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// The message of a failed test: what happened, the program's stderr, the hint.
pub fn report(what: &str, stderr: &str, hint: Hint) -> String {
    let shown = if stderr.trim().is_empty() {
        "    (nothing)\n".to_string()
    } else {
        shown_log(stderr)
    };
    // The kit's panic hook names the exercise the program stopped at; it may
    // not be the one this test is about (a server test needs the server's
    // exercises too), so say so plainly.
    let stopped_at = stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("exercise ") && l.contains(" — book §"));
    let revisit = match stopped_at {
        Some(exercise)
            if !hint
                .0
                .contains(exercise.split(':').next().unwrap_or(exercise)) =>
        {
            format!(
                "the program stopped at an unfinished exercise this test also needs:\n    \
                 {exercise}\nWrite that one first; then this test checks {hint}"
            )
        }
        _ => format!("{hint}{}", stuck(hint)),
    };
    // A long log would push the explanation off the screen: it comes again
    // after the log.
    let again = if stderr.lines().count() > LOG_HEAD + LOG_TAIL {
        format!("\n{what}\n")
    } else {
        String::new()
    };
    format!("\n\n{what}\n\nThe server's stderr:\n{shown}{again}\nRevisit: {revisit}\n")
}

/// For the exercise a hint names ("exercise 1.2, …"), where its hints are.
fn stuck(hint: Hint) -> String {
    let id = hint
        .0
        .strip_prefix("exercise ")
        .and_then(|rest| rest.split([',', ' ']).next());
    match id {
        Some(id) => format!("\n(Stuck? `cargo xtask hint {id}` gives a hint.)"),
        None => String::new(),
    }
}

/// How much of a long log a failure shows: its first and its last lines.
const LOG_HEAD: usize = 15;
const LOG_TAIL: usize = 10;

/// A log, indented, with the middle of a long one left out.
fn shown_log(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    let indent = |ls: &[&str]| -> String { ls.iter().map(|l| format!("    {l}\n")).collect() };
    if lines.len() <= LOG_HEAD + LOG_TAIL {
        return indent(&lines);
    }
    format!(
        "{}    … ({} lines left out) …\n{}",
        indent(&lines[..LOG_HEAD]),
        lines.len() - LOG_HEAD - LOG_TAIL,
        indent(&lines[lines.len() - LOG_TAIL..])
    )
}

/// Reads `from` (a child's stdout or stderr) into `into` on a thread of its
/// own, as it comes; the receiver hears when it reached end of file (the
/// program closed it, or exited).
pub fn collect_in_background(
    from: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> mpsc::Receiver<()> {
    let (done_tx, done_rx) = mpsc::channel();
    thread::spawn(move || {
        collect(from, &into);
        let _ = done_tx.send(());
    });
    done_rx
}

/// Sends `signal` (`"-STOP"`, `"-CONT"`, `"-KILL"`…) to process `pid`, with
/// the `kill` command: how a test freezes, wakes or kills a program of its own.
pub fn signal(pid: u32, signal: &str) {
    let ok = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {signal} {pid} failed");
}

fn collect(mut from: impl Read, into: &Mutex<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        into.lock()
            .unwrap()
            .push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// A connection to a [`Server`]: the operations tests need, each with a
/// deadline and a failure message that shows what was sent and received.
pub struct Conn<'a> {
    pub stream: TcpStream,
    server: &'a Server,
}

impl Conn<'_> {
    /// Sends all of `bytes`.
    pub fn send(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            self.server.fail(&format!(
                "sending {} to the server failed: {e}",
                show(bytes)
            ));
        }
    }

    /// Half-closes the connection: the server will read end of stream.
    pub fn finish_sending(&mut self) {
        if let Err(e) = self.stream.shutdown(std::net::Shutdown::Write) {
            self.server.fail(&format!("shutdown(Write) failed: {e}"));
        }
    }

    /// Reads exactly `expected.len()` bytes and checks they equal `expected`.
    /// `sent` describes what the test sent, for the failure message.
    pub fn expect(&mut self, sent: &[u8], expected: &[u8]) {
        let got = self.read_up_to(expected.len());
        if got != expected {
            self.server.fail(&format!(
                "Sent:     {}\nExpected: {}\nGot:      {}{}",
                show(sent),
                show(expected),
                show(&got),
                if got.len() < expected.len() {
                    "  (then nothing more before the deadline or end of stream)"
                } else {
                    ""
                }
            ));
        }
    }

    /// Reads until `n` bytes arrived, end of stream, or the deadline passed.
    pub fn read_up_to(&mut self, n: usize) -> Vec<u8> {
        match self.try_read_up_to(n) {
            Ok(got) | Err(got) => got,
        }
    }

    /// Like [`Conn::read_up_to`], but tells how it ended: `Ok` with what
    /// came when `n` bytes arrived or the stream ended (a reset too), `Err`
    /// with what came when the server fell silent until the deadline.
    pub fn try_read_up_to(&mut self, n: usize) -> Result<Vec<u8>, Vec<u8>> {
        let deadline = Instant::now() + DEADLINE;
        let mut got = vec![0u8; n];
        let mut filled = 0;
        let mut silent = false;
        while filled < n {
            if Instant::now() >= deadline {
                silent = true;
                break;
            }
            match self.stream.read(&mut got[filled..]) {
                Ok(0) => break,
                Ok(k) => filled += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    silent = true;
                    break;
                }
                Err(_) => break,
            }
        }
        got.truncate(filled);
        if silent { Err(got) } else { Ok(got) }
    }

    /// Reads one line (up to and including `\n`), or fails the test.
    pub fn read_line(&mut self) -> String {
        self.try_read_line()
            .unwrap_or_else(|why| self.server.fail(&format!("Expected a line; got {why}")))
    }

    /// Reads one line, or says what came instead.
    fn try_read_line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            match self.stream.read(&mut byte) {
                Ok(0) => {
                    return Err(format!(
                        "{} and then end of stream: the server closed the connection",
                        show(&line)
                    ));
                }
                Ok(_) => {
                    line.push(byte[0]);
                    if byte[0] == b'\n' {
                        return Ok(String::from_utf8_lossy(&line).into_owned());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(format!("{} and then an error: {e}", show(&line))),
            }
        }
        Err(format!(
            "{} and then nothing more for {DEADLINE:?}",
            show(&line)
        ))
    }

    /// Sends `line` and checks that the server answers with `expected` (both
    /// without the trailing newline).
    pub fn expect_answer(&mut self, line: &str, expected: &str) {
        self.send(format!("{line}\n").as_bytes());
        let got = match self.try_read_line() {
            Ok(got) => format!("{:?}", got.trim_end_matches(['\r', '\n'])),
            Err(why) => why,
        };
        if got != format!("{expected:?}") {
            self.server.fail(&format!(
                "Sent:     {line:?}\nExpected: {expected:?}\nGot:      {got}"
            ));
        }
    }

    /// Reads until the server closes the connection; fails if it does not
    /// within the deadline. Returns what arrived before the close.
    pub fn expect_close(&mut self, why: &str) -> Vec<u8> {
        let deadline = Instant::now() + DEADLINE;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                // A reset is a close too (the server closed with unread data).
                Ok(0) => return got,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.server.fail(&format!(
            "the server should have closed the connection ({why}), but it stayed open \
             for {DEADLINE:?}; it sent: {}",
            show(&got)
        ))
    }
}

/// Shows bytes readably: as a string when they are short text, else by size
/// and first bytes.
pub fn show(bytes: &[u8]) -> String {
    // Called while a failing assertion builds its message, before Rust
    // reports the panic: the report is then the harness's own.
    quiet_panics();
    match std::str::from_utf8(bytes) {
        Ok(s) if bytes.len() <= 200 => format!("{s:?}"),
        _ if bytes.len() <= 64 => format!("{bytes:02x?}"),
        _ => format!("{} bytes starting {:02x?}", bytes.len(), &bytes[..32]),
    }
}

/// Bytes in hex, as `xxd` shows them — `4e 4c 01 02` — for binary protocols,
/// where [`show`] would print escapes; long runs are cut after 48 bytes.
pub fn hex(bytes: &[u8]) -> String {
    quiet_panics();
    if bytes.is_empty() {
        return "(no bytes)".to_string();
    }
    let shown: Vec<String> = bytes.iter().take(48).map(|b| format!("{b:02x}")).collect();
    let more = if bytes.len() > 48 {
        format!(" … ({} bytes)", bytes.len())
    } else {
        String::new()
    };
    format!("{}{more}", shown.join(" "))
}

/// Bytes that are not text: every value 0..=255, repeated, with a twist so
/// that no 256-byte block equals the next.
pub fn binary_bytes(len: usize) -> Vec<u8> {
    // Called while a failing assertion builds its message, before Rust
    // reports the panic: the report is then the harness's own.
    quiet_panics();
    (0..len)
        .map(|i| (i as u8).wrapping_add((i / 256) as u8))
        .collect()
}

/// Runs `f` on a thread and waits at most [`DEADLINE`] for it; fails with
/// `what` if it takes longer (the thread is left behind; the test is over).
pub fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    quiet_panics();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no result within {DEADLINE:?}"),
        // The thread panicked: its message is printed above this one.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked (see above)"),
    }
}

/// A directory of the test's own under the system's temporary directory,
/// removed with everything in it when this guard drops (even when the test
/// fails on the way).
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    /// A new, empty directory whose name says which test made it:
    /// `netlings-NAME-PID-N`.
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("netlings-{name}-{}-{n}", std::process::id()));
        // Left by an earlier process with the same id, perhaps.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("could not create {}: {e}", path.display()));
        TempDir(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }

    /// The directory as a program's argument.
    pub fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temporary directory")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed and reaped when this guard drops, even
/// when the test fails on the way.
pub struct Running(pub Child);

impl Running {
    /// Waits at most [`DEADLINE`] for the process to exit; `None` if it is
    /// still running then.
    pub fn exit_within_deadline(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            match self.0.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    // A process gives no other signal of its end that we could wait on with a deadline.
                    thread::sleep(Duration::from_millis(5));
                }
                _ => return None,
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a program run to completion by [`run`] did.
pub struct Finished {
    /// `None` when the program was killed at the deadline.
    pub status: Option<std::process::ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// How long it was given.
    pub deadline: Duration,
}

impl Finished {
    /// How the program ended, in words: "It exited successfully", "It failed
    /// (exit status: 1)", "It was still running after 5s, and was killed".
    pub fn how_it_ended(&self) -> String {
        match self.status {
            Some(status) if status.success() => "It exited successfully".to_string(),
            Some(status) => format!("It failed ({status})"),
            None => format!(
                "It was still running after {:?}, and was killed",
                self.deadline
            ),
        }
    }
}

/// Runs a lesson's narrated demo (`cargo run -p lessonNN`, no arguments) and
/// checks that it runs to the end and prints each of `expected`. The demo
/// uses every exercise in order, so when it fails, its stderr or its last
/// step names the place. Returns what it did, for more checks.
pub fn assert_demo_runs(binary: &str, expected: &[&str]) -> Finished {
    let finished = run(binary, &[], Vec::new());
    let stdout = String::from_utf8_lossy(&finished.stdout).into_owned();
    let missing: Vec<&&str> = expected.iter().filter(|e| !stdout.contains(**e)).collect();
    if finished.status.is_some_and(|s| s.success()) && missing.is_empty() {
        return finished;
    }
    let stopped_at = finished
        .stderr
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("exercise ") && l.contains(" — book §"));
    let revisit = match stopped_at {
        Some(exercise) => format!("{exercise} — the demo stopped there: write it first"),
        None => "the demo uses the lesson's exercises in order; the last step it printed \
                 shows how far it got, and the other failing tests say which exercise is \
                 wrong"
            .to_string(),
    };
    panic!(
        "\n\nThe narrated demo (`cargo run` with no arguments) should run to the end.\n\
         {}; missing from its output: {missing:?}.\n\nIts stdout:\n{}\nIts stderr:\n{}\n\
         Revisit: {revisit}\n",
        finished.how_it_ended(),
        shown_log(&stdout),
        shown_log(&finished.stderr)
    )
}

/// Runs `binary args` with `stdin` as its standard input, to completion or
/// until [`DEADLINE`], when it is killed. Unlike a plain `output()`, this
/// cannot hang when the program stops reading its input: stdin is written on
/// its own thread.
pub fn run(binary: &str, args: &[&str], stdin: Vec<u8>) -> Finished {
    run_command(Command::new(binary).args(args), stdin, DEADLINE)
}

/// Like [`run`], for a command built by the test (in a lab host, say), and
/// killed after `deadline` rather than [`DEADLINE`] — for a program whose
/// whole point is to wait (a client waiting for a long job).
pub fn run_command(command: &mut Command, stdin: Vec<u8>, deadline: Duration) -> Finished {
    quiet_panics();
    let description = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {description}: {e}"));

    let mut child_stdin = child.stdin.take().expect("stdin is piped");
    // Errors are expected when the program exits without reading everything.
    thread::spawn(move || child_stdin.write_all(&stdin));
    let stderr = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&stderr);
    let child_stderr = child.stderr.take().expect("stderr is piped");
    let stderr_reader = thread::spawn(move || collect(child_stderr, &sink));
    let mut child_stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut out = Vec::new();
        let _ = child_stdout.read_to_end(&mut out);
        let _ = tx.send(out);
    });

    // stdout reaches end of file when the program exits (or closes it).
    let (stdout, killed) = match rx.recv_timeout(deadline) {
        Ok(out) => (out, false),
        Err(_) => {
            let _ = child.kill();
            (rx.recv().unwrap_or_default(), true)
        }
    };
    let status = child.wait().expect("waiting for the child");
    let _ = stderr_reader.join();
    let stderr = stderr.lock().unwrap().clone();
    Finished {
        status: if killed { None } else { Some(status) },
        stdout,
        stderr,
        deadline,
    }
}

/// An address on loopback where nothing listens: a port the OS just gave us,
/// freed again. (Another program could grab it in between; on a test machine
/// that is vanishingly rare.)
pub fn closed_tcp_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("local_addr").to_string()
}

/// Runs `binary args` to completion and checks that it fails and that its
/// stderr says each of `expected` — how the given `main.rs` of every lesson
/// turns an OS error into a sentence.
pub fn assert_fails_saying(binary: &str, args: &[&str], expected: &[&str]) {
    let finished = run(binary, args, Vec::new());
    let command = format!("{binary} {}", args.join(" "));
    let failed = finished.status.is_some_and(|s| !s.success());
    let missing: Vec<&&str> = expected
        .iter()
        .filter(|e| !finished.stderr.contains(**e))
        .collect();
    assert!(
        failed && missing.is_empty(),
        "`{command}` should fail and say {expected:?} on stderr.\n\
         It ended with {:?}; missing from stderr: {missing:?}.\nIts stderr:\n{}",
        finished.status,
        finished.stderr
    );
}

/// Checks that a server announced the port it really bound, not port 0.
pub fn assert_real_port(server: &Server) {
    if server.addr().port() == 0 {
        server.fail("the server printed port 0; after binding port 0, print local_addr()");
    }
}

/// A test builds on an earlier exercise: checks that it works, and if not,
/// fails at once with a message that names *that* exercise, rather than
/// letting this test fail in a way that blames the wrong one.
///
/// `works` runs on a thread within [`DEADLINE`]; it returns `Err(why)` when
/// the earlier exercise misbehaves (a `todo!()` or another panic counts too).
pub fn needs(earlier: Hint, works: impl FnOnce() -> Result<(), String> + Send + 'static) {
    quiet_panics();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(works());
    });
    let why = match rx.recv_timeout(DEADLINE) {
        Ok(Ok(())) => return,
        Ok(Err(why)) => why,
        Err(mpsc::RecvTimeoutError::Timeout) => format!("it did not return within {DEADLINE:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            "it panicked (its message is above this one)".to_string()
        }
    };
    panic!(
        "\n\nThis test builds on an earlier exercise that does not work yet: {why}\n\n\
         Revisit: {earlier} — its own tests say more. This test checks a later exercise; \
         it can pass once that one is done.{}\n",
        stuck(earlier)
    )
}

/// Waits until `condition()` holds; `false` if it does not within [`DEADLINE`].
/// For what can only be watched, such as a log; everything that can be waited
/// for (a reply, a close) is waited for directly.
pub fn wait_until(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + DEADLINE;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(5));
    }
    condition()
}

/// Where `got` first differs from `expected`, in words: "first difference at
/// byte 12", "300 bytes missing at the end", …
pub fn first_difference(expected: &[u8], got: &[u8]) -> String {
    // Called while a failing assertion builds its message, before Rust
    // reports the panic: the report is then the harness's own.
    quiet_panics();
    match expected.iter().zip(got).position(|(a, b)| a != b) {
        Some(i) => format!("first difference at byte {i}"),
        None if got.len() < expected.len() => {
            format!("{} bytes missing at the end", expected.len() - got.len())
        }
        None if got.len() > expected.len() => {
            format!("{} extra bytes at the end", got.len() - expected.len())
        }
        None => "identical".to_string(),
    }
}

/// Whether this machine has IPv6 loopback (`::1`); some containers do not.
/// Tests of IPv6 print a notice and pass where it is missing.
pub fn ipv6_loopback(test: &str) -> bool {
    let available = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !available {
        // Straight to stderr, past the test harness's output capture.
        let _ = writeln!(
            io::stderr(),
            "NOTICE: {test} skipped: no IPv6 loopback (::1) here"
        );
    }
    available
}

/// `"python3"` if it is installed; otherwise `None`, after a notice that
/// `test` is skipped (written past the test harness's capture, so that it
/// shows even when the test passes).
pub fn python3(test: &str) -> Option<&'static str> {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        let _ = writeln!(
            io::stderr(),
            "NOTICE: {test} skipped: python3 is not installed"
        );
    }
    found.then_some("python3")
}

/// `n` clients that connect and leave at once, alternately with a clean close
/// and with a reset (SO_LINGER 0), some after sending a few bytes: the churn a
/// busy or hostile network brings. Returns how many connected; a server that
/// survives it serves the next client as usual.
///
/// After every 50, `served()` should talk to the server as a normal client
/// does: that lets a server that serves one client at a time catch up, rather
/// than letting its listen backlog overflow (the kernel then drops new
/// connection attempts, and each retries only after a second).
pub fn churn(addr: SocketAddr, n: usize, mut served: impl FnMut()) -> usize {
    let mut connected = 0;
    for i in 0..n {
        if i % 50 == 49 {
            served();
        }
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, DEADLINE) else {
            continue;
        };
        connected += 1;
        if i % 3 == 1 {
            let _ = stream.write_all(b"half a mess");
        }
        if i % 2 == 0 {
            let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        }
    }
    connected
}

/// Checks how a server behaves while it is out of file descriptors (start it
/// with [`Server::start_with_file_limit`] so that it has none left for a
/// client, and connect one that waits in the backlog): for half a second, it
/// must stay up, use next to no CPU, and log the problem once or twice — not
/// exit, spin in its accept loop, or flood its log.
#[cfg(unix)]
pub fn assert_calm_when_out_of_files(server: &Server, accept_loop: &str) {
    assert_calm_when_out_of_files_advising(
        server,
        &format!(
            "{accept_loop} should pass each accept error to netlings_kit::accept_failed, which \
             logs once per burst and pauses 100 ms before the next try (§1.2)."
        ),
    );
}

/// [`assert_calm_when_out_of_files`] for a server that must not block, such
/// as an event loop: `advice` says what its accept path should do instead.
#[cfg(unix)]
pub fn assert_calm_when_out_of_files_advising(server: &Server, advice: &str) {
    let cpu_before = server.cpu_time();
    // An observation window, not synchronisation: how does the server spend
    // half a second in which every accept fails?
    thread::sleep(Duration::from_millis(500));
    let cpu = server
        .cpu_time()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let log = server.stderr();
    let failures = log.matches("accept failed").count();
    if !server.is_running() {
        server.fail(&format!(
            "While it was out of file descriptors, the server exited. An accept error must \
             not stop the server: {advice}"
        ));
    }
    if cpu.is_some_and(|cpu| cpu > Duration::from_millis(100)) || failures > 3 {
        let cpu = cpu.map_or("(unknown)".to_string(), |cpu| {
            format!("{} ms", cpu.as_millis())
        });
        server.fail(&format!(
            "Out of file descriptors, every accept fails at once (\"Too many open files\"), \
             and the connection stays in the backlog. In 500 ms the server used {cpu} of CPU \
             and logged {failures} accept failures.\nExpected: next to no CPU and a line of \
             log. {advice}"
        ));
    }
    if !log.contains("accept failed") {
        server.fail(&format!(
            "Out of file descriptors, every accept fails, but the server logged nothing about \
             it. {advice}"
        ));
    }
}

/// Checks of the given `main.rs` that every lesson shares.
pub mod given {
    use super::*;

    /// `BINARY server 127.0.0.1:0` announces the port it really bound, not 0.
    pub fn server_prints_the_address_it_really_bound(binary: &str) {
        let server = server(binary, Hint("the given `main.rs` of this lesson"), &[]);
        assert_real_port(&server);
    }

    /// `BINARY server ADDR`, where another socket holds `taken`, fails with a
    /// sentence that names the address and says `why` ("in use").
    pub fn server_explains_a_port_that_is_in_use(binary: &str, taken: SocketAddr, why: &str) {
        let addr = taken.to_string();
        assert_fails_saying(
            binary,
            &["server", &addr],
            &[&format!("could not bind {addr}"), why],
        );
    }

    /// `BINARY client ADDR extra...`, where nothing listens, fails with a
    /// sentence that names the address and says `why` ("refused").
    pub fn client_explains_that_nothing_is_listening(binary: &str, extra: &[&str], why: &str) {
        let addr = closed_tcp_addr();
        let mut args = vec!["client", addr.as_str()];
        args.extend_from_slice(extra);
        assert_fails_saying(
            binary,
            &args,
            &[&format!("could not connect to {addr}"), why],
        );
    }
}
