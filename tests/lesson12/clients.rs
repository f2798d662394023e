//! Lesson 12's server driven by real clients: curl, Python's `http.client`
//! and `urllib`, and headless Chromium — the programs people point at a web
//! server. Each test serves a directory it fills (`lesson12 serve DIR
//! 127.0.0.1:0`), runs one client against it, and checks both what the client
//! got and what the server's access log says it sent.
//!
//! A test whose client is not installed prints a notice and passes:
//! `scripts/install-tools.sh` installs curl and Chromium (CI runs it first).
//! Chromium runs with every flag that keeps it off the network, and only ever
//! opens 127.0.0.1 URLs.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, DEADLINE, Hint, Running, Server};

const BIN: &str = env!("CARGO_BIN_EXE_lesson12");

// The exercises these tests lean on most, named as in tests/lesson12.rs.
const EX12_3: Hint = Hint(
    "exercise 12.3, `read_request` and `keep_alive` in lessons/lesson12/src/connection.rs \
     — book §12.3",
);
const EX12_4: Hint = Hint("exercise 12.4, `resolve` in lessons/lesson12/src/files.rs — book §12.4");
const EX12_5: Hint =
    Hint("exercise 12.5, `parse_range` in lessons/lesson12/src/files.rs — book §12.5");

const HELLO: &str = "Hello from lesson 12!\n";

// ---- the server, its directory and its access log ---------------------------

/// A directory of its own for one test, removed when dropped: `site/` is
/// what the server serves; the clients keep their files beside it.
struct TempDir(support::TempDir);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = support::TempDir::new(test);
        fs::create_dir_all(dir.join("site")).expect("creating a temporary directory");
        TempDir(dir)
    }

    fn site(&self) -> PathBuf {
        self.0.join("site")
    }

    /// Writes `name` (in `site/`) with `contents`.
    fn serve(&self, name: &str, contents: impl AsRef<[u8]>) {
        fs::write(self.site().join(name), contents).expect("writing a file to serve");
    }
}

/// One line of the access log: `PEER "METHOD TARGET VERSION" STATUS BYTES`.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    peer: String,
    request: String,
    status: u16,
    bytes: u64,
}

impl Entry {
    fn parse(line: &str) -> Option<Entry> {
        let (peer, rest) = line.split_once(" \"")?;
        let (request, rest) = rest.rsplit_once("\" ")?;
        let (status, bytes) = rest.trim().split_once(' ')?;
        Some(Entry {
            peer: peer.to_string(),
            request: request.to_string(),
            status: status.parse().ok()?,
            bytes: bytes.parse().ok()?,
        })
    }
}

/// `lesson12 serve DIR 127.0.0.1:0` in a child process, killed when dropped
/// (tests/support's `Server`), and its access log: its stdout after the
/// `listening on` line.
struct Served {
    server: Server,
}

impl Served {
    fn start(dir: &Path, hint: Hint) -> Served {
        let dir = dir
            .to_str()
            .expect("a temporary directory with a UTF-8 name");
        Served {
            server: Server::start(BIN, &["serve", dir, "127.0.0.1:0"], hint),
        }
    }

    /// `http://127.0.0.1:PORT/path`
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.addr())
    }

    fn log(&self) -> Vec<String> {
        self.server.stdout().lines().map(str::to_string).collect()
    }

    /// The access log's lines that have its form.
    fn entries(&self) -> Vec<Entry> {
        self.log().iter().filter_map(|l| Entry::parse(l)).collect()
    }

    /// Waits until the access log has an entry for each of `requests`
    /// (`"GET /x HTTP/1.1"`), in that order, and returns those entries.
    /// The client may have its answer a moment before the line is written.
    fn wait_for(&self, requests: &[&str]) -> Vec<Entry> {
        let find = || {
            let entries = self.entries();
            let mut found = Vec::new();
            let mut from = 0;
            for request in requests {
                let at = entries[from..].iter().position(|e| e.request == *request)?;
                found.push(entries[from + at].clone());
                from += at + 1;
            }
            Some(found)
        };
        // Watching a log: there is nothing to wait on but the lines themselves.
        if support::wait_until(|| find().is_some()) {
            return find().unwrap_or_default();
        }
        self.fail(&format!(
            "Expected the access log to show, in this order: {requests:?}\n(each as a line \
             `PEER \"METHOD TARGET VERSION\" STATUS BYTES`), within {DEADLINE:?}."
        ))
    }

    /// Waits until the access log has a line that `wanted`, and returns it;
    /// `what` describes it for the failure message.
    fn wait_for_entry(&self, what: &str, wanted: impl Fn(&Entry) -> bool) -> Entry {
        let find = || self.entries().into_iter().find(|e| wanted(e));
        // Watching a log: there is nothing to wait on but the lines themselves.
        if support::wait_until(|| find().is_some())
            && let Some(entry) = find()
        {
            return entry;
        }
        self.fail(&format!(
            "Expected the access log to show {what} within {DEADLINE:?} (each line \
             `PEER \"METHOD TARGET VERSION\" STATUS BYTES`)."
        ))
    }

    /// Fails the test with `what`, the access log, the server's stderr and
    /// the exercise to revisit.
    fn fail(&self, what: &str) -> ! {
        let log = self.log();
        let log = if log.is_empty() {
            "    (nothing)".to_string()
        } else {
            let shown = log.len().saturating_sub(20);
            let mut lines: Vec<String> = log[shown..].iter().map(|l| format!("    {l}")).collect();
            if shown > 0 {
                lines.insert(0, format!("    … ({shown} earlier lines)"));
            }
            lines.join("\n")
        };
        self.server
            .fail(&format!("{what}\n\nThe server's access log:\n{log}"))
    }
}

// ---- the clients ------------------------------------------------------------

/// The path of the first of `names` found on `PATH`; `None`, after a notice
/// that `test` is skipped, when there is none.
fn find_tool(test: &str, names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        // Straight to stderr, past the test harness's output capture.
        let _ = writeln!(
            io::stderr(),
            "NOTICE: {test} skipped: {} not found (scripts/install-tools.sh installs it)",
            names.join(" or ")
        );
    }
    found
}

/// What a client run by [`run_client`] did.
struct Ran {
    /// `None` when it was still running at its time limit, and was killed.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: String,
    command: String,
}

impl Ran {
    fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The command, how it ended, and what it printed: for a failure message.
    fn describe(&self) -> String {
        let ended = match self.status {
            Some(status) if status.success() => "It exited successfully".to_string(),
            Some(status) => format!("It failed ({status})"),
            None => "It was still running at its time limit, and was killed".to_string(),
        };
        let indent = |text: &str| -> String {
            let text = text.trim_end();
            if text.is_empty() {
                return "    (nothing)".to_string();
            }
            let lines: Vec<&str> = text.lines().collect();
            let shown = lines.len().saturating_sub(30);
            let mut out: Vec<String> = lines[shown..].iter().map(|l| format!("    {l}")).collect();
            if shown > 0 {
                out.insert(0, format!("    … ({shown} earlier lines)"));
            }
            out.join("\n")
        };
        format!(
            "Ran: {}\n{ended}.\nIts stdout:\n{}\nIts stderr:\n{}",
            self.command,
            indent(&self.stdout()),
            indent(&self.stderr)
        )
    }
}

/// Runs `program args` to completion, or until `limit`, when it is killed.
fn run_client(program: &Path, args: &[&str], limit: Duration) -> Ran {
    support::quiet_panics();
    let command = format!("{} {}", program.display(), args.join(" "));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start `{command}`: {e}"));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut pipe = child.stdout.take().expect("stdout is piped");
    let sink = Arc::clone(&stdout);
    let (out_tx, out_done) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
        let _ = out_tx.send(());
    });
    let err_done = support::collect_in_background(
        child.stderr.take().expect("stderr is piped"),
        Arc::clone(&stderr),
    );
    let mut child = Running(child);
    let deadline = Instant::now() + limit;
    // Both pipes reach end of file when the client exits (and so has every
    // process it started, which inherited them).
    let finished = out_done.recv_timeout(limit).is_ok()
        && err_done
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok();
    let status = if finished {
        child.exit_within_deadline()
    } else {
        let _ = child.0.kill();
        None
    };
    drop(child);
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    Ran {
        status,
        stdout,
        stderr,
        command,
    }
}

/// `name: value` of the response header `name` in `head` (case-insensitive).
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, value) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

// ---- curl -------------------------------------------------------------------

fn curl(test: &str) -> Option<PathBuf> {
    find_tool(test, &["curl"])
}

/// Standard files for a test: `hello.txt` and `style.css`.
fn small_site(dir: &TempDir) {
    dir.serve("hello.txt", HELLO);
    dir.serve("style.css", STYLE);
}

#[test]
fn ex12_3_curl_sends_its_second_request_on_the_same_connection() {
    let test = "ex12_3_curl_sends_its_second_request_on_the_same_connection";
    let Some(curl) = curl(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_3);
    let (a, b) = (server.url("/hello.txt"), server.url("/style.css"));
    let ran = run_client(&curl, &["-sSv", "--max-time", "10", &a, &b], DEADLINE);
    if !ran.succeeded() || ran.stdout() != format!("{HELLO}{STYLE}") {
        server.fail(&format!(
            "curl asked for two files, one after the other; it should have printed both.\n{}",
            ran.describe()
        ));
    }
    let entries = server.wait_for(&["GET /hello.txt HTTP/1.1", "GET /style.css HTTP/1.1"]);
    if !ran.stderr.contains("Re-using existing connection") || entries[0].peer != entries[1].peer {
        server.fail(&format!(
            "curl asks for its second URL on the connection of the first when the server \
             keeps it open, and then says \"Re-using existing connection\". It did not: the \
             server closed the connection after the first answer (or made it unusable).\n\
             HTTP/1.1 keeps a connection open unless a side says `Connection: close`.\n\
             Peers in the log: {} and {}.\n{}",
            entries[0].peer,
            entries[1].peer,
            ran.describe()
        ));
    }
}

#[test]
fn ex12_3_curl_http_1_0_gets_its_answer_and_a_closed_connection() {
    let test = "ex12_3_curl_http_1_0_gets_its_answer_and_a_closed_connection";
    let Some(curl) = curl(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_3);
    let url = server.url("/hello.txt");
    let ran = run_client(
        &curl,
        &["-sSv", "--max-time", "10", "--http1.0", &url],
        DEADLINE,
    );
    if !ran.succeeded() || ran.stdout() != HELLO {
        server.fail(&format!(
            "curl --http1.0 should get hello.txt ({HELLO:?}).\n{}",
            ran.describe()
        ));
    }
    let entry = &server.wait_for(&["GET /hello.txt HTTP/1.0"])[0];
    if entry.status != 200 || entry.bytes != HELLO.len() as u64 {
        server.fail(&format!(
            "Expected the log to say 200 and {} bytes for curl's HTTP/1.0 request; it says \
             {entry:?}",
            HELLO.len()
        ));
    }
    if ran.stderr.contains("left intact") {
        server.fail(&format!(
            "An HTTP/1.0 client that does not ask for `Connection: keep-alive` expects the \
             server to close the connection after its answer, but curl says the server left \
             it open (\"left intact\").\n{}",
            ran.describe()
        ));
    }
    // Unless it asks for keep-alive: then the connection stays open for the next.
    let ran = run_client(
        &curl,
        &[
            "-sSv",
            "--max-time",
            "10",
            "--http1.0",
            "-H",
            "Connection: keep-alive",
            &url,
            &url,
        ],
        DEADLINE,
    );
    if !ran.succeeded() || !ran.stderr.contains("Re-using existing connection") {
        server.fail(&format!(
            "An HTTP/1.0 client that sends `Connection: keep-alive` asks the server to keep \
             the connection open: the answer should say `Connection: keep-alive` too, and curl \
             should send its second request on the same connection (\"Re-using existing \
             connection\").\n{}",
            ran.describe()
        ));
    }
}

#[test]
fn ex12_3_curl_head_gets_the_headers_and_no_body() {
    let test = "ex12_3_curl_head_gets_the_headers_and_no_body";
    let Some(curl) = curl(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_3);
    let url = server.url("/hello.txt");
    // Twice on one connection: a body sent after the first HEAD's headers
    // would be read as the start of the second answer.
    let ran = run_client(
        &curl,
        &["-sSv", "--max-time", "10", "-I", &url, &url],
        DEADLINE,
    );
    let out = ran.stdout();
    let heads: Vec<&str> = out.split("\r\n\r\n").filter(|h| !h.is_empty()).collect();
    let length = HELLO.len().to_string();
    let good = |head: &&str| {
        head.starts_with("HTTP/1.1 200")
            && header(head, "Content-Length") == Some(&length)
            && header(head, "Content-Type").is_some_and(|t| t.starts_with("text/plain"))
    };
    if !ran.succeeded() || heads.len() != 2 || !heads.iter().all(good) {
        server.fail(&format!(
            "`curl -I` sends HEAD: the answer is the head a GET would get — `HTTP/1.1 200`, \
             `Content-Length: {length}`, `Content-Type: text/plain…` — and no body at all.\n\
             curl sent two on one connection and should have printed two such heads.\n{}",
            ran.describe()
        ));
    }
    let entries = server.wait_for(&["HEAD /hello.txt HTTP/1.1", "HEAD /hello.txt HTTP/1.1"]);
    if entries.iter().any(|e| e.status != 200 || e.bytes != 0) {
        server.fail(&format!(
            "Expected the log to say 200 and 0 bytes (no body) for each HEAD; it says \
             {entries:?}"
        ));
    }
}

/// `len` bytes that no compressor or cache could fake: xorshift64* from a
/// fixed seed. Fast: a 100 MB file in a blink.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn ex12_5_curl_resumes_an_interrupted_download() {
    let test = "ex12_5_curl_resumes_an_interrupted_download";
    let Some(curl) = curl(test) else { return };
    const SIZE: usize = 100 * 1024 * 1024;
    let dir = TempDir::new(test);
    let original = pseudo_random_bytes(SIZE);
    dir.serve("big.bin", &original);
    let server = Served::start(&dir.site(), EX12_5);
    let url = server.url("/big.bin");
    let out = dir.0.join("big.bin.download");
    let out_arg = out.to_str().expect("a UTF-8 temporary path");

    // A download that is cut off: curl, slowed to 20 MB/s, is killed once a
    // few megabytes have arrived — as a dropped connection or Ctrl-C would.
    let slow = Command::new(&curl)
        .args(["-sS", "--limit-rate", "20M", "-o", out_arg, &url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting curl");
    let mut slow = Running(slow);
    let size = || fs::metadata(&out).map_or(0, |m| m.len() as usize);
    // Watching a file grow: nothing to wait on but its size.
    let arrived = support::wait_until(|| size() >= 4 * 1024 * 1024);
    let _ = slow.0.kill();
    let _ = slow.0.wait();
    let partial = size();
    if !arrived || partial >= SIZE {
        server.fail(&format!(
            "A 100 MB download with `curl --limit-rate 20M` should have received some \
             megabytes, and not all, within {DEADLINE:?}; {partial} bytes arrived."
        ));
    }

    let ran = run_client(
        &curl,
        &[
            "-sSv",
            "--max-time",
            "20",
            "-w",
            "%{local_port}",
            "-C",
            "-",
            "-o",
            out_arg,
            &url,
        ],
        Duration::from_secs(20),
    );
    let rest = (SIZE - partial) as u64;
    // The answer to this curl, found by its address (`-w` prints its port).
    let peer = format!("127.0.0.1:{}", ran.stdout().trim());
    let resumed = server.wait_for_entry(&format!("a line for {peer}, curl's"), |e| {
        e.peer == peer && e.request == "GET /big.bin HTTP/1.1"
    });
    if !ran.succeeded() || resumed.status != 206 || resumed.bytes != rest {
        server.fail(&format!(
            "`curl -C - -o FILE URL` resumes a download: FILE had {partial} bytes of \
             {SIZE}, so curl sent `Range: bytes={partial}-`. Expected `206 Partial Content` \
             with `Content-Range: bytes {partial}-{}/{SIZE}` and the {rest} bytes left; \
             the log says {resumed:?}.\n{}",
            SIZE - 1,
            ran.describe()
        ));
    }
    let got = fs::read(&out).unwrap_or_default();
    if got != original {
        server.fail(&format!(
            "The resumed download differs from the file served: {} (of {SIZE} bytes; the \
             first {partial} came before the interruption). `sha256sum` of both would \
             differ too.\n{}",
            support::first_difference(&original, &got),
            ran.describe()
        ));
    }
    // Linux tells how much memory the server ever held: a 100 MB file must
    // be streamed through a small buffer, never read whole.
    let peak = server.server.peak_memory();
    if let Some(peak) = peak
        && peak > 64 * 1024 * 1024
    {
        server.fail(&format!(
            "While it served a 100 MB file, the server's memory peaked at {} MB. Send a large \
             file in pieces from a small buffer rather than reading it whole — book §12.4.",
            peak / (1024 * 1024)
        ));
    }
}

// ---- Python: http.client and urllib -----------------------------------------

fn python(test: &str) -> Option<PathBuf> {
    find_tool(test, &["python3"])
}

/// Runs the Python `script` with `args` and checks that it printed
/// `expected`, line by line.
fn run_python(server: &Served, python: &Path, script: &str, args: &[&str], expected: &[&str]) {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    let ran = run_client(python, &all, DEADLINE);
    let out = ran.stdout();
    let got: Vec<&str> = out.lines().collect();
    if !ran.succeeded() || got != expected {
        let expected: String = expected.iter().map(|l| format!("    {l}\n")).collect();
        let ran = Ran {
            command: format!("python3 -c SCRIPT {}", args.join(" ")),
            ..ran
        };
        server.fail(&format!(
            "A Python script talked to the server:\n{}\nExpected it to print:\n{expected}{}",
            script
                .lines()
                .map(|l| format!("    | {l}\n"))
                .collect::<String>(),
            ran.describe()
        ));
    }
}

/// How Python prints `text` as bytes: `b'Hi\\n'` (for the ASCII text of these tests).
fn py_bytes(text: &str) -> String {
    let escaped: String = text
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '\\' | '\'' => format!("\\{c}"),
            c => c.to_string(),
        })
        .collect();
    format!("b'{escaped}'")
}

// The Python scripts and the page are shown in the book (§ Real clients), which
// includes them between their ANCHOR lines.
const HTTP_CLIENT: &str = r#"
# ANCHOR: http_client
import http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
ports = []
def ask(method, path, body=None, headers={}):
    c.request(method, path, body=body, headers=headers)
    ports.append(c.sock.getsockname()[1])
    r = c.getresponse()
    got = r.read()
    if path == "/api/echo":
        echo = json.loads(got)
        print(method, path, r.status, r.getheader("Content-Type"), echo["bytes"], echo["chunked"], repr(echo["body"]))
    else:
        print(method, path, r.status, r.getheader("Content-Length"), got)
ask("GET", "/hello.txt")
ask("GET", "/style.css")
ask("HEAD", "/hello.txt")
ask("POST", "/api/echo", b"ping", {"Content-Type": "text/plain"})
# A body of unknown length (an iterator): http.client sends it chunked.
ask("POST", "/api/echo", iter([b"chunked ", b"ping"]), {"Content-Type": "text/plain"})
print("requests on one connection:", len(ports) if len(set(ports)) == 1 else ports)
# ANCHOR_END: http_client
"#;

#[test]
fn ex12_3_python_http_client_sends_five_requests_on_one_connection() {
    let test = "ex12_3_python_http_client_sends_five_requests_on_one_connection";
    let Some(python) = python(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_3);
    let port = server.server.addr().port().to_string();
    run_python(
        &server,
        &python,
        HTTP_CLIENT,
        &[&port],
        &[
            &format!("GET /hello.txt 200 {} {}", HELLO.len(), py_bytes(HELLO)),
            &format!("GET /style.css 200 {} {}", STYLE.len(), py_bytes(STYLE)),
            &format!("HEAD /hello.txt 200 {} b''", HELLO.len()),
            "POST /api/echo 200 application/json 4 False 'ping'",
            "POST /api/echo 200 application/json 12 True 'chunked ping'",
            "requests on one connection: 5",
        ],
    );
}

const URLLIB: &str = r#"
# ANCHOR: urllib
import sys, urllib.request, urllib.error
base = sys.argv[1]
with urllib.request.urlopen(base + "/hello.txt", timeout=5) as r:
    print(r.status, r.headers["Content-Type"].split(";")[0], r.read())
try:
    urllib.request.urlopen(base + "/no-such-file.txt", timeout=5)
    print("no error for a missing file")
except urllib.error.HTTPError as e:
    print("HTTPError", e.code)
# ANCHOR_END: urllib
"#;

#[test]
fn ex12_4_python_urllib_gets_a_file_and_an_error_for_a_missing_one() {
    let test = "ex12_4_python_urllib_gets_a_file_and_an_error_for_a_missing_one";
    let Some(python) = python(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_4);
    run_python(
        &server,
        &python,
        URLLIB,
        &[&server.url("")],
        &[
            &format!("200 text/plain {}", py_bytes(HELLO)),
            "HTTPError 404",
        ],
    );
}

const URLLIB_RANGE: &str = r#"
# ANCHOR: urllib_range
import sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/hello.txt", headers={"Range": "bytes=6-9"})
with urllib.request.urlopen(request, timeout=5) as r:
    print(r.status, r.headers["Content-Range"], r.headers["Accept-Ranges"], r.read())
# ANCHOR_END: urllib_range
"#;

#[test]
fn ex12_5_python_urllib_gets_a_range() {
    let test = "ex12_5_python_urllib_gets_a_range";
    let Some(python) = python(test) else { return };
    let dir = TempDir::new(test);
    small_site(&dir);
    let server = Served::start(&dir.site(), EX12_5);
    run_python(
        &server,
        &python,
        URLLIB_RANGE,
        &[&server.url("")],
        &[&format!(
            "206 bytes 6-9/{} bytes {}",
            HELLO.len(),
            py_bytes(&HELLO[6..10])
        )],
    );
}

// ---- Chromium ---------------------------------------------------------------

const STYLE: &str = r#"/* ANCHOR: style_css */
body { background: #fffaf0; color: #222; font: 18px sans-serif; margin: 2em; }
h1 { color: #b7410e; }
/* ANCHOR_END: style_css */
"#;

const INDEX: &str = r#"<!-- ANCHOR: index_html -->
<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>Served by lesson 12</title>
<link rel=stylesheet href=style.css>
</head>
<body>
<h1>Served by lesson 12</h1>
<p>This page, its stylesheet and its image came from a server written from the bytes up.</p>
<img src=logo.png alt="lesson 12" width=96 height=96
     onload="document.getElementById('logo').textContent = 'logo.png: ' + this.naturalWidth + 'x' + this.naturalHeight + ' pixels'">
<p id=style></p>
<p id=logo>logo.png: not loaded</p>
<script>
document.getElementById('style').textContent = 'style.css: background ' + getComputedStyle(document.body).backgroundColor;
</script>
</body>
</html>
<!-- ANCHOR_END: index_html -->
"#;

/// Chromium's flags: headless, no sandbox (tests may run as root), and off
/// the network. The `--disable-*` flags alone still let it look up Google's
/// update hosts at start; the last two stop that: no name is resolved, and
/// anything not on loopback goes to a proxy where nothing listens.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-breakpad",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=127.0.0.1:9",
];

/// A PNG image, `size` pixels square: a warm diagonal gradient. Uncompressed
/// (stored deflate blocks), which PNG allows; a few kilobytes.
fn png(size: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..size {
        raw.push(0); // filter: none
        for x in 0..size {
            let t = ((x + y) * 255 / (2 * size - 2)) as u8;
            raw.extend_from_slice(&[0xb7, 0x41 + t / 2, 0x0e + t / 2]);
        }
    }
    // zlib: header, stored blocks of at most 65,535 bytes, Adler-32.
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());

    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = png.len();
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        let crc = crc32(&png[start..]);
        png.extend_from_slice(&crc.to_be_bytes());
    }
    png
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Whether this process runs under an address-space limit (`ulimit -v`).
fn address_space_limited() -> bool {
    std::fs::read_to_string("/proc/self/limits").is_ok_and(|limits| {
        limits
            .lines()
            .find(|l| l.starts_with("Max address space"))
            .is_some_and(|l| !l.contains("unlimited"))
    })
}

#[test]
fn ex12_4_chromium_loads_a_page_with_its_stylesheet_and_its_image() {
    let test = "ex12_4_chromium_loads_a_page_with_its_stylesheet_and_its_image";
    let Some(chromium) = find_tool(test, &["chromium", "chromium-browser"]) else {
        return;
    };
    if address_space_limited() {
        // `cargo xtask mutants` runs the tests under `ulimit -v`: Chromium
        // reserves more address space than that, and would fail to start.
        eprintln!("{test}: skipped, the address space is limited (ulimit -v)");
        return;
    }
    let dir = TempDir::new(test);
    dir.serve("index.html", INDEX);
    dir.serve("style.css", STYLE);
    dir.serve("logo.png", png(48));
    let server = Served::start(&dir.site(), EX12_4);
    let profile = format!(
        "--user-data-dir={}",
        dir.0.join("chromium-profile").display()
    );
    let url = server.url("/");
    let mut args = CHROMIUM_FLAGS.to_vec();
    args.extend([profile.as_str(), "--dump-dom", url.as_str()]);
    let mut ran = run_client(&chromium, &args, Duration::from_secs(20));
    // Chromium complains of each D-Bus service a container lacks: noise here.
    ran.stderr = ran
        .stderr
        .lines()
        .filter(|l| !l.contains(":ERROR:dbus/"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dom = ran.stdout();
    let expected = [
        "<h1>Served by lesson 12</h1>",
        "style.css: background rgb(255, 250, 240)",
        "logo.png: 48x48 pixels",
    ];
    let missing: Vec<&str> = expected.into_iter().filter(|e| !dom.contains(e)).collect();
    if !missing.is_empty() {
        server.fail(&format!(
            "Headless Chromium loaded http://{}/ (index.html), which links style.css and \
             shows logo.png. Its page (--dump-dom) should show {missing:?}.\n\
             A stylesheet counts only when it comes with `Content-Type: text/css`, an image \
             when its bytes arrive whole.\n{}",
            server.server.addr(),
            ran.describe()
        ));
    }
    for path in ["/", "/style.css", "/logo.png"] {
        let request = format!("GET {path} HTTP/1.1");
        server.wait_for_entry(&format!("`\"{request}\" 200`, Chromium's"), |e| {
            e.request == request && e.status == 200
        });
    }
}
