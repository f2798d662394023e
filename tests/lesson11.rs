//! Lesson 11 — a distributed task queue. Run with `cargo test -p lesson11`.
//!
//! Tests named `ex11_k_...` check exercise 11.k; `given_...` check given
//! code. Exercise 11.1 and 11.5 are checked directly (they are pure); 11.2
//! against a coordinator played by the test; 11.3 against the real
//! coordinator with workers played by the test; 11.4 and 11.5 with real
//! workers too. A test of a later exercise first checks the earlier ones it
//! builds on, and says so if one of them is not done yet.

#[path = "lesson11/crash.rs"]
mod crash;
#[path = "lesson11/lab.rs"]
mod lab;

mod support;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use lesson11::coordinator::{Coordinator, Job};
use lesson11::lease::{Leases, Lost, TaskId, WorkerId};
use lesson11::log::{self, Record, Scan};
use lesson11::task::BUILT_IN_TEXT;
use lesson11::wire::{Reply, Request, Spec, frame};
use proptest::prelude::*;
use support::{DEADLINE, Hint, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_lesson11");

const EX11_1: Hint = Hint(
    "exercise 11.1, `Leases::grant` and `Leases::expire` in lessons/lesson11/src/lease.rs — book §11.1",
);
const EX11_2: Hint = Hint("exercise 11.2, `serve` in lessons/lesson11/src/worker.rs — book §11.2");
const EX11_3: Hint = Hint(
    "exercise 11.3, `Coordinator::dispatch` in lessons/lesson11/src/coordinator.rs — book §11.3",
);
const EX11_4: Hint = Hint(
    "exercise 11.4, `Job::record` and `Coordinator::on_result` in \
     lessons/lesson11/src/coordinator.rs — book §11.4",
);
const EX11_5: Hint = Hint("exercise 11.5, `scan` in lessons/lesson11/src/log.rs — book §11.5");
const GIVEN: Hint = Hint(
    "the given code of lessons/lesson11/src/server.rs — but first the exercises: \
     the coordinator uses them all",
);

/// Short leases and heartbeats keep the tests fast.
const LEASE_MS: &str = "300";
const HEARTBEAT_MS: &str = "50";

fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Helpers: processes, directories, fake peers.

/// A directory of its own for a test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "netlings-l11-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        TempDir(path)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn arg(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A lesson11 process whose stdout and stderr are collected as it runs;
/// killed and reaped when dropped.
struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    what: String,
    hint: Hint,
}

impl Proc {
    fn spawn(args: &[&str], hint: Hint) -> Proc {
        support::quiet_panics();
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {BIN}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        support::collect_in_background(child.stdout.take().unwrap(), Arc::clone(&out));
        support::collect_in_background(child.stderr.take().unwrap(), Arc::clone(&err));
        Proc {
            child,
            out,
            err,
            what: format!("lesson11 {}", args.join(" ")),
            hint,
        }
    }

    fn stdout(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits until its stdout contains `text`.
    fn saw(&self, text: &str) -> bool {
        wait_until(|| self.stdout().contains(text))
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        support::signal(self.pid(), signal);
    }

    /// Kills it at once (SIGKILL: no cleanup at all) and reaps it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            // A process gives no other sign of its end to wait on with a deadline.
            thread::sleep(Duration::from_millis(5));
        }
        None
    }

    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}",
            support::report(
                &format!(
                    "{what}\n\n`{}` printed on stdout:\n{}",
                    self.what,
                    indent(&self.stdout())
                ),
                &self.stderr(),
                self.hint
            )
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn indent(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let shown = if lines.len() > 30 {
        &lines[lines.len() - 30..]
    } else {
        &lines[..]
    };
    shown.iter().map(|l| format!("    {l}\n")).collect()
}

/// A coordinator on a free port with its log in `dir`.
struct Coord {
    proc: Proc,
    addr: String,
}

impl Coord {
    fn start(dir: &TempDir, extra: &[&str], hint: Hint) -> Coord {
        let mut args = vec!["coordinator", "127.0.0.1:0", "--data", dir.arg()];
        if !extra.contains(&"--lease-ms") {
            args.extend_from_slice(&["--lease-ms", LEASE_MS]);
        }
        args.extend_from_slice(extra);
        let proc = Proc::spawn(&args, hint);
        if !wait_until(|| proc.stdout().contains('\n')) {
            proc.fail("the coordinator printed no `listening on ADDR` line");
        }
        let out = proc.stdout();
        let first = out.lines().next().unwrap_or("");
        let Some(addr) = first.strip_prefix("listening on ") else {
            proc.fail(&format!(
                "the coordinator's first line should be `listening on ADDR`, not {first:?}"
            ));
        };
        let addr = addr.to_string();
        Coord { proc, addr }
    }

    fn worker(&self, slots: u32, hint: Hint) -> Proc {
        let slots = slots.to_string();
        Proc::spawn(
            &[
                "worker",
                &self.addr,
                "--slots",
                &slots,
                "--heartbeat-ms",
                HEARTBEAT_MS,
            ],
            hint,
        )
    }

    fn status(&self) -> String {
        let done = support::run(BIN, &["status", &self.addr], Vec::new());
        String::from_utf8_lossy(&done.stdout).into_owned()
    }

    /// Waits until `status` shows `text`; fails the test if it does not.
    fn await_status(&self, text: &str, why: &str) {
        let mut last = String::new();
        if !wait_until(|| {
            last = self.status();
            last.contains(text)
        }) {
            self.proc.fail(&format!(
                "{why}: `status` should show {text:?}, but showed:\n{}",
                indent(&last)
            ));
        }
    }

    /// Submits a job; its id.
    fn submit(&self, args: &[&str]) -> u64 {
        let mut all = vec!["submit", self.addr.as_str()];
        all.extend_from_slice(args);
        let done = support::run(BIN, &all, Vec::new());
        let out = String::from_utf8_lossy(&done.stdout).into_owned();
        match (done.status, out.trim().parse::<u64>()) {
            (Some(s), Ok(job)) if s.success() && out.lines().count() == 1 => job,
            _ => self.proc.fail(&format!(
                "`lesson11 {}` should print a job id, alone, and exit 0. {}; it printed {out:?} \
                 and on stderr:\n{}",
                all.join(" "),
                done.how_it_ended(),
                indent(&done.stderr)
            )),
        }
    }

    /// Waits for a job: (exit code, stdout).
    fn wait(&self, job: u64) -> (Option<i32>, String) {
        let job = job.to_string();
        let done = support::run(
            BIN,
            &["wait", &self.addr, &job, "--timeout-s", "4"],
            Vec::new(),
        );
        (
            done.status.and_then(|s| s.code()),
            String::from_utf8_lossy(&done.stdout).into_owned(),
        )
    }

    /// Waits for a job and checks `wait`'s two lines.
    fn expect_wait(&self, job: u64, line: &str, result: u64, why: &str) {
        let (code, out) = self.wait(job);
        let expected = format!("{line}\nresult: {result}\n");
        if out != expected || code != Some(0) {
            self.proc.fail(&format!(
                "{why}.\n`lesson11 wait {} {job}` should print\n{}and exit 0; it printed\n{}\
                 and exited with {code:?}",
                self.addr,
                indent(&expected),
                indent(&out)
            ));
        }
    }
}

/// A peer played by the test, over a plain blocking socket.
struct Peer {
    stream: TcpStream,
}

impl Peer {
    fn connect(addr: &str) -> Peer {
        let stream = TcpStream::connect(addr).expect("connecting to the coordinator");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_write_timeout(Some(DEADLINE)).unwrap();
        Peer { stream }
    }

    fn send(&mut self, request: &Request) {
        let _ = self.stream.write_all(&frame(&request.encode()));
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// The next reply; `Err` says why there is none.
    fn reply(&mut self) -> Result<Reply, String> {
        match read_frame(&mut self.stream) {
            Ok(Some(body)) => Reply::decode(&body).map_err(|e| format!("a bad reply: {e}")),
            Ok(None) => Err("the coordinator closed the connection".to_string()),
            Err(e) => Err(format!("no reply: {e}")),
        }
    }

    /// Whether the coordinator closes the connection (within the deadline).
    fn closed(&mut self) -> bool {
        let deadline = Instant::now() + DEADLINE;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        false
    }

    /// A worker played by the test: hello, welcome.
    fn worker(coord: &Coord, slots: u32) -> Peer {
        let mut peer = Peer::connect(&coord.addr);
        peer.send(&Request::Hello { slots });
        match peer.reply() {
            Ok(Reply::Welcome { .. }) => peer,
            other => coord.proc.fail(&format!(
                "a worker sent Hello {{ slots: {slots} }}; expected a Welcome, got {other:?}"
            )),
        }
    }

    /// The next lease (heartbeating meanwhile is not needed: the tests
    /// that use this have long leases or quick checks).
    fn lease(&mut self, coord: &Coord, why: &str) -> (u64, u32, u32) {
        match self.reply() {
            Ok(Reply::Lease {
                job,
                index,
                attempt,
                ..
            }) => (job, index, attempt),
            other => coord
                .proc
                .fail(&format!("{why}: expected a Lease, got {other:?}")),
        }
    }
}

/// Reads one frame: `None` at a clean end of stream.
fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > lesson11::wire::MAX_FRAME {
        return Err(io::Error::other(format!("a frame of {len} bytes")));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

/// The line `wait` prints first.
fn wait_line(job: u64, tasks: u32, done: u32, failed: u32, retried: u32) -> String {
    format!("job {job}: {tasks} tasks, {done} done, {failed} failed, {retried} retried")
}

fn t0() -> Instant {
    Instant::now()
}

fn task(index: u32) -> TaskId {
    TaskId { job: 1, index }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------
// Checks of earlier exercises, for the tests of later ones.

fn leases_work() -> Result<(), String> {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    leases.push(task(0));
    let granted = leases.grant(WorkerId(1), now);
    let expired = leases.expire(now + ms(100));
    if granted == Some((task(0), 1)) && expired.len() == 1 && leases.queue_len() == 1 {
        Ok(())
    } else {
        Err(format!(
            "granting a queued task gave {granted:?}, and expiring it gave {expired:?}"
        ))
    }
}

fn needs_11_1() {
    support::needs(EX11_1, leases_work);
}

/// Exercise 11.2: a worker given a words task reports its count.
fn worker_works() -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    let worker = Proc::spawn(&["worker", &addr, "--heartbeat-ms", "1000"], EX11_2);
    let stream = accept_within(&listener, &worker);
    let mut fake = FakeCoordinator { stream, worker };
    let _hello = fake.next();
    fake.send(&Reply::Welcome { lease_ms: 3000 });
    fake.send(&Reply::Lease {
        job: 1,
        index: 0,
        attempt: 1,
        spec: Spec::Words {
            text: "a b".to_string(),
            ms: 0,
        },
    });
    let mut beats = 0;
    for _ in 0..10 {
        match fake.next_skipping_heartbeats(&mut beats) {
            Some(Request::Done { value: 2, .. }) => return Ok(()),
            Some(Request::Ready { .. }) => {}
            other => {
                return Err(format!(
                    "a worker given a words task of 2 words sent {other:?}"
                ));
            }
        }
    }
    Err("a worker given a words task sent Ready after Ready, and no result".to_string())
}

fn needs_11_2() {
    support::needs(EX11_2, worker_works);
}

/// Exercise 11.3: a worker that asked for a task gets one.
fn dispatch_works() -> Result<(), String> {
    let dir = TempDir::new("needs-dispatch");
    let (log, _, _) = log::open(dir.path()).map_err(|e| e.to_string())?;
    lesson11::events::silence();
    let mut state = Coordinator::new(ms(1000), 100, log);
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let id = state.add_worker(addr, 2, tx, Default::default());
    state.ready(id, 1)?;
    state.add_job(1, 3, Spec::Sleep { ms: 1 });
    state.dispatch(t0());
    let mut sent = Vec::new();
    while let Ok(reply) = rx.try_recv() {
        sent.push(reply);
    }
    match &sent[..] {
        [
            Reply::Lease {
                job: 1, index: 0, ..
            },
        ] => Ok(()),
        _ => Err(format!(
            "a worker asked for 1 task, 3 were queued, and dispatch() sent it {sent:?}"
        )),
    }
}

fn needs_11_3() {
    support::needs(EX11_3, dispatch_works);
}

fn record_works() -> Result<(), String> {
    let mut job = Job::new(1, 2, Spec::Sleep { ms: 0 });
    let (a, b) = (job.record(0, 5), job.record(0, 5));
    if a && !b && job.sum == 5 && job.done == 1 {
        Ok(())
    } else {
        Err("Job::record does not count each task once".to_string())
    }
}

// ---------------------------------------------------------------------------
// 11.1 lease bookkeeping

#[test]
fn ex11_1_grant_leases_the_front_task_with_an_attempt_number() {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    for i in 0..3 {
        leases.push(task(i));
    }
    let got = [
        leases.grant(WorkerId(1), now),
        leases.grant(WorkerId(2), now),
        leases.grant(WorkerId(1), now),
        leases.grant(WorkerId(1), now),
    ];
    let expected = [
        Some((task(0), 1)),
        Some((task(1), 1)),
        Some((task(2), 1)),
        None,
    ];
    assert!(
        got == expected,
        "\nThree tasks queued, then grant() four times.\nExpected: {expected:?}\nGot:      \
         {got:?}\nRevisit: {EX11_1}\n"
    );
    let holders = [0, 1, 2].map(|i| leases.holder(task(i)));
    assert!(
        holders == [Some(WorkerId(1)), Some(WorkerId(2)), Some(WorkerId(1))]
            && leases.queue_len() == 0
            && leases.held_len() == 3,
        "\nAfter granting all three tasks, each should be held by the worker it went to, and \
         none queued. holders: {holders:?}, queued: {}, held: {}\nRevisit: {EX11_1}\n",
        leases.queue_len(),
        leases.held_len()
    );
}

#[test]
fn ex11_1_a_lease_lasts_until_its_deadline_and_expires_once() {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    leases.push(task(0));
    leases.push(task(1));
    let _ = leases.grant(WorkerId(7), now);
    let early = leases.expire(now + ms(99));
    assert!(
        early.is_empty() && leases.holder(task(0)) == Some(WorkerId(7)),
        "\nA lease of 100 ms, granted at t: at t+99 ms, expire() should end nothing; it \
         returned {early:?}\nRevisit: {EX11_1}\n"
    );
    let due = leases.expire(now + ms(100));
    let expected = vec![Lost {
        task: task(0),
        worker: WorkerId(7),
        requeued: true,
    }];
    assert!(
        due == expected,
        "\nA lease of 100 ms, granted at t: at t+100 ms it is due.\nexpire() returned \
         {due:?}\nexpected {expected:?}\nRevisit: {EX11_1}\n"
    );
    let queued: Vec<TaskId> = leases.queued().collect();
    assert!(
        queued == vec![task(0), task(1)] && leases.holder(task(0)).is_none(),
        "\nAn expired task goes back to the front of the queue (it has waited longest) and \
         nobody holds it. Queue: {queued:?}, holder: {:?}\nRevisit: {EX11_1}\n",
        leases.holder(task(0))
    );
    let again = leases.expire(now + ms(500));
    assert!(
        again.is_empty() && leases.queue_len() == 2,
        "\nA task that already expired must not expire again: a second expire() returned \
         {again:?} and the queue holds {} tasks (expected 2)\nRevisit: {EX11_1}\n",
        leases.queue_len()
    );
    let regrant = leases.grant(WorkerId(8), now + ms(500));
    assert!(
        regrant == Some((task(0), 2)),
        "\nThe expired task, granted again, is its second attempt: expected \
         Some(({:?}, 2)), got {regrant:?}\nRevisit: {EX11_1}\n",
        task(0)
    );
}

#[test]
fn ex11_1_a_renewed_lease_does_not_expire() {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    leases.push(task(0));
    let _ = leases.grant(WorkerId(1), now);
    leases.renew(WorkerId(1), now + ms(80));
    let kept = leases.expire(now + ms(150));
    let lost = leases.expire(now + ms(180));
    assert!(
        kept.is_empty() && lost.len() == 1,
        "\nGranted at t, renewed at t+80 ms (a heartbeat): the deadline moves to t+180 ms.\n\
         expire(t+150) returned {kept:?} (expected nothing), expire(t+180) returned {lost:?} \
         (expected the task)\nRevisit: {EX11_1} — compare each lease's own deadline with now\n"
    );
}

#[test]
fn ex11_1_a_task_is_given_up_after_its_last_attempt() {
    let now = t0();
    let mut leases = Leases::new(ms(10), 3);
    leases.push(task(0));
    let mut seen = Vec::new();
    for round in 0..4u64 {
        let at = now + ms(round * 100);
        let granted = leases.grant(WorkerId(1), at);
        let lost = leases.expire(at + ms(10));
        seen.push((granted, lost));
    }
    let attempts: Vec<Option<u32>> = seen.iter().map(|(g, _)| g.map(|(_, a)| a)).collect();
    let requeued: Vec<Vec<bool>> = seen
        .iter()
        .map(|(_, l)| l.iter().map(|l| l.requeued).collect())
        .collect();
    assert!(
        attempts == vec![Some(1), Some(2), Some(3), None]
            && requeued == vec![vec![true], vec![true], vec![false], vec![]],
        "\nWith at most 3 attempts, a task that expires three times is given up: not queued \
         again.\nattempt numbers granted: {attempts:?} (expected [Some(1), Some(2), Some(3), \
         None])\nrequeued at each expiry: {requeued:?} (expected [[true], [true], [false], \
         []])\nRevisit: {EX11_1}\n"
    );
}

#[test]
fn ex11_1_expire_ends_only_the_leases_that_are_due() {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    leases.push(task(0));
    leases.push(task(1));
    let _ = leases.grant(WorkerId(1), now);
    let _ = leases.grant(WorkerId(1), now + ms(50));
    let lost = leases.expire(now + ms(100));
    let expected = vec![Lost {
        task: task(0),
        worker: WorkerId(1),
        requeued: true,
    }];
    assert!(
        lost == expected && leases.holder(task(1)) == Some(WorkerId(1)),
        "\nOne worker holds two leases of 100 ms, granted at t and at t+50 ms. At t+100 ms only \
         the first is due: expire() should return {expected:?} and leave {:?} with worker 1.\n\
         It returned {lost:?}, and {:?} is held by {:?}\nRevisit: {EX11_1} — end the leases \
         that are due, not everything their worker holds\n",
        task(1),
        task(1),
        leases.holder(task(1))
    );
}

#[test]
fn ex11_1_expire_reports_in_task_order() {
    let now = t0();
    let mut leases = Leases::new(ms(100), 5);
    for index in 0..8 {
        leases.push(task(index));
    }
    for worker in 0..8 {
        let _ = leases.grant(WorkerId(10 - worker), now);
    }
    let lost: Vec<TaskId> = leases
        .expire(now + ms(100))
        .iter()
        .map(|l| l.task)
        .collect();
    let expected: Vec<TaskId> = (0..8).map(task).collect();
    assert!(
        lost == expected,
        "\nEight leases due at once: expire() should return them sorted (by task), so that a \
         run can be replayed. It returned the tasks {lost:?}\nRevisit: {EX11_1} — a HashMap \
         iterates in no particular order: sort what you collected\n"
    );
}

/// What the property test does to the leases.
#[derive(Clone, Debug)]
enum Op {
    Push,
    Grant(u8),
    Renew(u8),
    Complete(u8, u8),
    Release(u8),
    Expire(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Push),
        (0..3u8).prop_map(Op::Grant),
        (0..3u8).prop_map(Op::Renew),
        (0..12u8, 0..3u8).prop_map(|(t, w)| Op::Complete(t, w)),
        (0..3u8).prop_map(Op::Release),
        (0..150u16).prop_map(Op::Expire),
    ]
}

#[test]
fn ex11_1_property_never_leased_twice_and_expired_tasks_return_once() {
    support::property(EX11_1, || {
        proptest!(proptest_config(), |(ops in prop::collection::vec(op(), 1..60))| {
            let start = t0();
            let mut now = start;
            let mut leases = Leases::new(ms(100), 4);
            let mut pushed = 0u32;
            let mut finished = 0usize; // completed or given up
            for op in &ops {
                match *op {
                    Op::Push => {
                        leases.push(task(pushed));
                        pushed += 1;
                    }
                    Op::Grant(w) => {
                        let before = leases.queue_len();
                        if let Some((t, attempt)) = leases.grant(WorkerId(w.into()), now) {
                            prop_assert!(
                                leases.holder(t) == Some(WorkerId(w.into()))
                                    && leases.queue_len() + 1 == before
                                    && attempt >= 1,
                                "\ngrant() returned {t:?} (attempt {attempt}); it should then \
                                 be held by worker {w} and the queue one shorter\n\
                                 Revisit: {EX11_1}\n"
                            );
                        } else {
                            prop_assert!(before == 0, "\ngrant() returned None with {before} \
                                tasks queued\nRevisit: {EX11_1}\n");
                        }
                    }
                    Op::Renew(w) => leases.renew(WorkerId(w.into()), now),
                    Op::Complete(t, w) => {
                        if leases.complete(task(t.into()), WorkerId(w.into())) {
                            finished += 1;
                        }
                    }
                    Op::Release(w) => {
                        finished += leases
                            .release(WorkerId(w.into()))
                            .iter()
                            .filter(|l| !l.requeued)
                            .count();
                    }
                    Op::Expire(step) => {
                        now += ms(step.into());
                        let held_before = leases.held_len();
                        let lost = leases.expire(now);
                        let mut tasks: Vec<TaskId> = lost.iter().map(|l| l.task).collect();
                        tasks.sort();
                        tasks.dedup();
                        prop_assert!(
                            tasks.len() == lost.len() && leases.held_len() + lost.len() == held_before,
                            "\nexpire() returned {lost:?}: each expired task once, and each \
                             no longer held\nRevisit: {EX11_1}\n"
                        );
                        for l in &lost {
                            if let Some(h) = leases.held(l.task) {
                                prop_assert!(false, "\n{:?} expired but is still held: {h:?}\n\
                                    Revisit: {EX11_1}\n", l.task);
                            }
                        }
                        finished += lost.iter().filter(|l| !l.requeued).count();
                        let live = (0..pushed).filter_map(|i| leases.held(task(i)));
                        for h in live {
                            prop_assert!(h.deadline > now, "\na lease due at {:?} survived \
                                expire() at {:?}\nRevisit: {EX11_1}\n",
                                h.deadline - start, now - start);
                        }
                    }
                }
                // Every task is in exactly one place.
                let mut queued: Vec<TaskId> = leases.queued().collect();
                let n = queued.len();
                queued.sort();
                queued.dedup();
                prop_assert!(
                    queued.len() == n,
                    "\nafter {op:?}, a task is in the queue twice: {:?}\nRevisit: {EX11_1}\n",
                    leases.queued().collect::<Vec<_>>()
                );
                for t in &queued {
                    prop_assert!(
                        leases.holder(*t).is_none(),
                        "\nafter {op:?}, {t:?} is both queued and leased to {:?}: it could be \
                         leased twice at once\nRevisit: {EX11_1}\n",
                        leases.holder(*t)
                    );
                }
                prop_assert!(
                    n + leases.held_len() + finished == pushed as usize,
                    "\nafter {op:?}: {pushed} tasks pushed, but {n} queued + {} held + \
                     {finished} finished: a task was lost or duplicated\nRevisit: {EX11_1}\n",
                    leases.held_len()
                );
            }
        });
    });
}

// ---------------------------------------------------------------------------
// 11.2 the worker loop, against a coordinator played by the test

/// A coordinator played by the test, and the worker process connected to it.
struct FakeCoordinator {
    stream: TcpStream,
    worker: Proc,
}

impl FakeCoordinator {
    /// Starts a worker (`extra` flags) and accepts its connection; reads its
    /// hello and sends a welcome with `lease_ms`.
    fn start(slots: u32, extra: &[&str], lease_ms: u32) -> FakeCoordinator {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let slots_arg = slots.to_string();
        let mut args = vec!["worker", addr.as_str(), "--slots", &slots_arg];
        args.extend_from_slice(extra);
        let worker = Proc::spawn(&args, EX11_2);
        let stream = accept_within(&listener, &worker);
        let mut fake = FakeCoordinator { stream, worker };
        match fake.next() {
            Some(Request::Hello { slots: s }) if s == slots => {}
            other => fake.worker.fail(&format!(
                "a worker started with --slots {slots} should first send Hello {{ slots: \
                 {slots} }}; it sent {other:?}"
            )),
        }
        fake.send(&Reply::Welcome { lease_ms });
        fake
    }

    fn send(&mut self, reply: &Reply) {
        let _ = self.stream.write_all(&frame(&reply.encode()));
    }

    /// The worker's next message; `None` if it closed or sent nothing.
    fn next(&mut self) -> Option<Request> {
        let body = read_frame(&mut self.stream).ok()??;
        Request::decode(&body).ok()
    }

    /// Whether the worker closes the connection within the deadline
    /// (whatever it sends meanwhile); what it sent before.
    fn closes(&mut self) -> (bool, Vec<Request>) {
        let deadline = Instant::now() + DEADLINE;
        let mut sent = Vec::new();
        while Instant::now() < deadline {
            match read_frame(&mut self.stream) {
                Ok(None) => return (true, sent),
                Ok(Some(body)) => {
                    if let Ok(request) = Request::decode(&body)
                        && request != Request::Heartbeat
                    {
                        sent.push(request);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return (true, sent),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return (false, sent),
            }
        }
        (false, sent)
    }

    /// The next message that is not a heartbeat (counting those).
    fn next_skipping_heartbeats(&mut self, beats: &mut usize) -> Option<Request> {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            match self.next()? {
                Request::Heartbeat => *beats += 1,
                other => return Some(other),
            }
        }
        None
    }
}

fn accept_within(listener: &TcpListener, worker: &Proc) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + DEADLINE;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                return stream;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                // Polling accept, for want of accept with a timeout in std.
                thread::sleep(ms(5));
            }
            Err(e) => worker.fail(&format!("the worker did not connect: {e}")),
        }
    }
}

#[test]
fn ex11_2_the_worker_asks_for_its_slots_and_reports_each_result() {
    let mut fake = FakeCoordinator::start(2, &["--heartbeat-ms", "1000"], 3000);
    let mut beats = 0;
    match fake.next_skipping_heartbeats(&mut beats) {
        Some(Request::Ready { slots: 2 }) => {}
        other => fake.worker.fail(&format!(
            "after the welcome, a worker with 2 slots should ask for 2 tasks: Ready {{ slots: \
             2 }}; it sent {other:?}"
        )),
    }
    fake.send(&Reply::Lease {
        job: 4,
        index: 9,
        attempt: 1,
        spec: Spec::Words {
            text: "three little words".to_string(),
            ms: 0,
        },
    });
    let done = fake.next_skipping_heartbeats(&mut beats);
    let ready = fake.next_skipping_heartbeats(&mut beats);
    let expected = (
        Some(Request::Done {
            job: 4,
            index: 9,
            value: 3,
        }),
        Some(Request::Ready { slots: 1 }),
    );
    if (done.clone(), ready.clone()) != expected {
        fake.worker.fail(&format!(
            "Sent a lease of task 9 of job 4: count the words of \"three little words\".\n\
             Expected: {expected:?}\nGot:      {:?}",
            (done, ready)
        ));
    }
}

#[test]
fn ex11_2_heartbeats_keep_coming_while_a_task_runs() {
    let mut fake = FakeCoordinator::start(1, &["--heartbeat-ms", "20"], 3000);
    let mut beats = 0;
    let _ready = fake.next_skipping_heartbeats(&mut beats);
    fake.send(&Reply::Lease {
        job: 1,
        index: 0,
        attempt: 1,
        spec: Spec::Sleep { ms: 60_000 },
    });
    // A task of a minute: the heartbeats must go on meanwhile.
    let mut got = Vec::new();
    let mut heartbeats = 0;
    let deadline = Instant::now() + DEADLINE;
    while heartbeats < 3 && Instant::now() < deadline {
        match fake.next() {
            Some(Request::Heartbeat) => heartbeats += 1,
            other => {
                got.push(other.clone());
                if other.is_none() {
                    break;
                }
            }
        }
    }
    if heartbeats < 3 {
        fake.worker.fail(&format!(
            "While a task of 60 s runs, a worker started with --heartbeat-ms 20 should send a \
             heartbeat every 20 ms; after the lease it sent {heartbeats} heartbeats, then \
             {got:?}. Run the task beside the loop (a JoinSet), not inside it."
        ));
    }
}

#[test]
fn ex11_2_tasks_run_side_by_side() {
    let mut fake = FakeCoordinator::start(2, &["--heartbeat-ms", "1000"], 3000);
    let mut beats = 0;
    let _ready = fake.next_skipping_heartbeats(&mut beats);
    fake.send(&Reply::Lease {
        job: 1,
        index: 0,
        attempt: 1,
        spec: Spec::Sleep { ms: 60_000 },
    });
    fake.send(&Reply::Lease {
        job: 1,
        index: 1,
        attempt: 1,
        spec: Spec::Words {
            text: "a b".to_string(),
            ms: 0,
        },
    });
    let done = fake.next_skipping_heartbeats(&mut beats);
    let expected = Request::Done {
        job: 1,
        index: 1,
        value: 2,
    };
    if done.as_ref() != Some(&expected) {
        fake.worker.fail(&format!(
            "A worker with 2 slots got a task of a minute, then a words task: the second \
             should finish at once, beside the first.\nExpected: {expected:?}\nGot:      \
             {done:?}"
        ));
    }
}

#[test]
fn ex11_2_the_default_heartbeat_follows_the_lease() {
    // No --heartbeat-ms: a third of the 60 ms lease the welcome announces.
    let mut fake = FakeCoordinator::start(1, &[], 60);
    let mut beats = 0;
    let _ready = fake.next_skipping_heartbeats(&mut beats);
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while beats < 3 && Instant::now() < deadline {
        match fake.next() {
            Some(Request::Heartbeat) => beats += 1,
            other => {
                got.push(other.clone());
                if other.is_none() {
                    break;
                }
            }
        }
    }
    if beats < 3 {
        fake.worker.fail(&format!(
            "With a lease of 60 ms, an idle worker should send a heartbeat every 20 ms; it \
             sent {beats}, then {got:?}"
        ));
    }
}

#[test]
fn ex11_2_more_leases_than_slots_close_the_connection() {
    let mut fake = FakeCoordinator::start(1, &["--heartbeat-ms", "50"], 3000);
    let mut beats = 0;
    let ready = fake.next_skipping_heartbeats(&mut beats);
    if ready != Some(Request::Ready { slots: 1 }) {
        fake.worker.fail(&format!(
            "after the welcome, a worker with 1 slot should ask for 1 task: Ready {{ slots: 1 \
             }}; it sent {ready:?}"
        ));
    }
    for index in 0..2 {
        fake.send(&Reply::Lease {
            job: 1,
            index,
            attempt: 1,
            spec: Spec::Sleep { ms: 60_000 },
        });
    }
    let (closed, sent) = fake.closes();
    if !closed {
        fake.worker.fail(&format!(
            "A worker with 1 slot was sent 2 leases at once: the coordinator is broken (or \
             not a coordinator), and the worker should end the connection (an error from \
             serve). It kept it open, sending {sent:?} besides heartbeats"
        ));
    }
}

#[test]
fn ex11_2_an_unexpected_message_closes_the_connection() {
    let mut fake = FakeCoordinator::start(1, &["--heartbeat-ms", "50"], 3000);
    let mut beats = 0;
    let ready = fake.next_skipping_heartbeats(&mut beats);
    if ready != Some(Request::Ready { slots: 1 }) {
        fake.worker.fail(&format!(
            "after the welcome, a worker with 1 slot should ask for 1 task: Ready {{ slots: 1 \
             }}; it sent {ready:?}"
        ));
    }
    fake.send(&Reply::Welcome { lease_ms: 3000 });
    let (closed, sent) = fake.closes();
    if !closed {
        fake.worker.fail(&format!(
            "After the welcome, a worker got a second Welcome (a coordinator only ever sends \
             Lease then): the worker should end the connection (an error from serve). It \
             kept it open, sending {sent:?} besides heartbeats"
        ));
    }
}

#[test]
fn ex11_2_heartbeats_keep_their_pace_while_tasks_come_and_go() {
    let mut fake = FakeCoordinator::start(1, &["--heartbeat-ms", "60"], 3000);
    let mut beats = 0;
    let _ready = fake.next_skipping_heartbeats(&mut beats);
    // Short tasks, one after the other, for well over three heartbeats:
    // something happens every 20 ms, yet a heartbeat is due every 60 ms.
    let mut finished = 0;
    let mut heartbeats = 0;
    let mut got = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while heartbeats < 3 && Instant::now() < deadline {
        fake.send(&Reply::Lease {
            job: 1,
            index: finished,
            attempt: 1,
            spec: Spec::Sleep { ms: 20 },
        });
        loop {
            match fake.next() {
                Some(Request::Heartbeat) => heartbeats += 1,
                Some(Request::Ready { .. }) => break,
                Some(Request::Done { .. }) => finished += 1,
                other => {
                    got.push(other);
                    break;
                }
            }
        }
        if !got.is_empty() {
            break;
        }
    }
    if heartbeats < 3 {
        fake.worker.fail(&format!(
            "A worker started with --heartbeat-ms 60 ran {finished} tasks of 20 ms, one after \
             the other, and sent {heartbeats} heartbeats meanwhile (then {got:?}): a heartbeat \
             is due every 60 ms whatever else happens. A fresh sleep() in select! starts over \
             at every message; a tokio::time::interval keeps its pace\n"
        ));
    }
}

#[test]
fn ex11_2_a_crash_task_crashes_the_worker_on_its_first_attempts() {
    let mut fake = FakeCoordinator::start(1, &["--heartbeat-ms", "1000"], 3000);
    let mut beats = 0;
    let _ready = fake.next_skipping_heartbeats(&mut beats);
    fake.send(&Reply::Lease {
        job: 1,
        index: 0,
        attempt: 1,
        spec: Spec::Crash { ms: 20, crashes: 1 },
    });
    let status = fake.worker.exit_status();
    if status.and_then(|s| s.code()) != Some(lesson11::task::CRASH_EXIT) {
        fake.worker.fail(&format!(
            "A crash task on its first attempt (--crashes 1) should make the worker exit with \
             status {}; it ended with {status:?}",
            lesson11::task::CRASH_EXIT
        ));
    }
}

#[test]
fn given_a_worker_reconnects_when_the_coordinator_goes_away() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let worker = Proc::spawn(&["worker", &addr], EX11_2);
    let first = accept_within(&listener, &worker);
    drop(first);
    let mut second = accept_within(&listener, &worker);
    match read_frame(&mut second) {
        Ok(Some(body)) if Request::decode(&body).ok() == Some(Request::Hello { slots: 1 }) => {}
        other => worker.fail(&format!(
            "after the coordinator closed, the worker should connect again and say Hello; it \
             sent {other:?}"
        )),
    }
}

// ---------------------------------------------------------------------------
// 11.3 pull-based dispatch, with workers played by the test

#[test]
fn ex11_3_a_worker_gets_as_many_tasks_as_it_asks_for() {
    needs_11_1();
    let dir = TempDir::new("pull");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_3);
    let mut w = Peer::worker(&coord, 3);
    w.send(&Request::Ready { slots: 1 });
    let job = coord.submit(&["--tasks", "5", "--kind", "sleep"]);
    let first = w.lease(&coord, "a worker that asked for 1 task");
    coord.await_status(
        "4 queued, 1 leased",
        "a worker that asked for 1 task (Ready { slots: 1 }) gets 1; the other 4 wait",
    );
    w.send(&Request::Ready { slots: 2 });
    let more = [
        w.lease(&coord, "the worker then asked for 2 more"),
        w.lease(&coord, "the worker then asked for 2 more"),
    ];
    coord.await_status(
        "2 queued, 3 leased",
        "after Ready { slots: 2 }, two more tasks go to the worker, no more",
    );
    let mut indexes: Vec<u32> = [first, more[0], more[1]].iter().map(|l| l.1).collect();
    indexes.sort();
    if first.0 != job || indexes != [0, 1, 2] {
        coord.proc.fail(&format!(
            "the leases should be tasks 0, 1 and 2 of job {job}, in queue order; got \
             {first:?} then {more:?}"
        ));
    }
}

#[test]
fn ex11_3_credit_waits_for_tasks() {
    needs_11_1();
    let dir = TempDir::new("credit");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_3);
    let mut w = Peer::worker(&coord, 2);
    w.send(&Request::Ready { slots: 2 });
    coord.await_status("workers: 1", "a worker connected");
    // Nothing queued yet: the request waits; the job's tasks then go to it.
    let _job = coord.submit(&["--tasks", "3", "--kind", "sleep"]);
    let _ = w.lease(&coord, "a worker asked for 2 tasks before any job came");
    let _ = w.lease(&coord, "a worker asked for 2 tasks before any job came");
    coord.await_status(
        "1 queued, 2 leased",
        "a worker that asked for 2 tasks before the job came gets 2 when it comes",
    );
}

#[test]
fn ex11_3_the_worker_with_more_free_slots_gets_more() {
    needs_11_1();
    let dir = TempDir::new("share");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_3);
    let mut slow = Peer::worker(&coord, 1);
    slow.send(&Request::Ready { slots: 1 });
    let mut fast = Peer::worker(&coord, 4);
    fast.send(&Request::Ready { slots: 4 });
    coord.await_status("workers: 2", "two workers connected");
    let _job = coord.submit(&["--tasks", "10", "--kind", "sleep"]);
    coord.await_status(
        "5 queued, 5 leased",
        "workers asking for 1 and 4 tasks get 5 of the 10 tasks",
    );
    let status = coord.status();
    if !(status.contains("1 slot, 1 in hand") && status.contains("4 slots, 4 in hand")) {
        coord.proc.fail(&format!(
            "the worker that asked for 1 should hold 1 task, the one that asked for 4 should \
             hold 4; status shows:\n{}",
            indent(&status)
        ));
    }
}

#[test]
fn ex11_3_a_burst_is_spread_over_the_workers() {
    needs_11_1();
    let dir = TempDir::new("spread");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_3);
    let mut a = Peer::worker(&coord, 3);
    a.send(&Request::Ready { slots: 3 });
    let mut b = Peer::worker(&coord, 3);
    b.send(&Request::Ready { slots: 3 });
    coord.await_status("workers: 2", "two workers connected");
    let _job = coord.submit(&["--tasks", "2", "--kind", "sleep"]);
    coord.await_status(
        "0 queued, 2 leased",
        "two tasks submitted to two willing workers",
    );
    let status = coord.status();
    if status.matches("3 slots, 1 in hand").count() != 2 {
        coord.proc.fail(&format!(
            "two workers asked for 3 tasks each, then 2 tasks came: one each (go round the \
             workers, a task at a time), not both to the first. Status shows:\n{}",
            indent(&status)
        ));
    }
}

// ---------------------------------------------------------------------------
// 11.4 results exactly once

#[test]
fn ex11_4_record_counts_each_task_once() {
    let mut job = Job::new(3, 3, Spec::Sleep { ms: 0 });
    let got = [
        job.record(0, 5),
        job.record(2, 7),
        job.record(0, 5),
        job.record(0, 100),
        job.record(3, 1),
    ];
    let expected = [true, true, false, false, false];
    let p = job.progress();
    assert!(
        got == expected && p.done == 2 && p.result == 12,
        "\nA job of 3 tasks: record(0, 5), record(2, 7), record(0, 5) again, record(0, 100), \
         record(3, 1) (no such task).\nExpected returns {expected:?}, 2 done, result 12.\n\
         Got returns {got:?}, {} done, result {}\nRevisit: {EX11_4}\n",
        p.done,
        p.result
    );
}

#[test]
fn ex11_4_record_wraps_a_sum_past_u64_max() {
    let mut job = Job::new(3, 2, Spec::Sleep { ms: 0 });
    // Values come from workers: a broken or hostile one can send anything,
    // and the coordinator must not panic on it.
    let got = std::panic::catch_unwind(move || {
        let got = [job.record(0, u64::MAX), job.record(1, u64::MAX)];
        (got, job.progress())
    });
    let expected = u64::MAX.wrapping_add(u64::MAX);
    match got {
        Ok(([true, true], p)) if p.done == 2 && p.result == expected => {}
        Ok((got, p)) => panic!(
            "\nA job of 2 tasks: record(0, u64::MAX), record(1, u64::MAX). Expected returns \
             [true, true], 2 done, result {expected} (the sum wraps around). Got returns \
             {got:?}, {} done, result {}\nRevisit: {EX11_4}\n",
            p.done, p.result
        ),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("");
            if message.starts_with("not yet implemented") {
                std::panic::resume_unwind(panic);
            }
            panic!(
                "\nA job of 2 tasks: record(0, u64::MAX), record(1, u64::MAX) panicked (attempt \
             to add with overflow?). A worker's value is untrusted: add it with wrapping_add, \
             as the doc comment says, so that it never panics the coordinator\nRevisit: \
             {EX11_4}\n"
            )
        }
    }
}

/// Everything in the log of `dir` once what `log` was asked to write is
/// on disk.
fn logged(dir: &TempDir, log: &log::LogWriter) -> Vec<Record> {
    let marker = Record::Job {
        id: 999,
        tasks: 1,
        spec: Spec::Sleep { ms: 0 },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(log.append_synced(marker.clone()))
        .expect("writing the log");
    let bytes = std::fs::read(dir.path().join(log::LOG_FILE)).expect("reading the log");
    let mut records = log::scan(&bytes).records;
    assert_eq!(records.pop(), Some(marker), "the log ends with the marker");
    records
}

#[test]
fn ex11_4_only_a_lease_holder_s_result_is_recorded_and_logged() {
    needs_11_1();
    let dir = TempDir::new("liar");
    let (log, _, _) = log::open(dir.path()).expect("opening a log");
    lesson11::events::silence();
    let mut state = Coordinator::new(ms(5000), 100, log.clone());
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let honest = state.add_worker(addr, 1, tx.clone(), Default::default());
    let liar = state.add_worker(addr, 1, tx, Default::default());
    state.add_job(1, 2, Spec::Sleep { ms: 0 });
    let _ = state.leases.grant(honest, t0());
    let held = TaskId { job: 1, index: 0 };
    let queued = TaskId { job: 1, index: 1 };
    let missing = TaskId { job: 9, index: 0 };
    let got = [
        state.on_result(liar, held, 1000),
        state.on_result(liar, queued, 1000),
        state.on_result(honest, missing, 1000),
    ];
    for (what, got) in [
        "a task another worker holds",
        "a task still queued",
        "job 9, which          does not exist",
    ]
    .iter()
    .zip(&got)
    {
        assert!(
            got.is_err(),
            "\nA worker reported a result for {what}: on_result should return Err (the \
             server then closes that worker); it returned {got:?}\nRevisit: {EX11_4}\n"
        );
    }
    let p = state.progress(1).unwrap();
    assert!(
        p.done == 0 && p.result == 0,
        "\nThree bogus results of 1000 were refused, yet job 1 shows {} done, result {}\n\
         Revisit: {EX11_4} — check the lease before recording anything\n",
        p.done,
        p.result
    );
    let fine = state.on_result(honest, held, 5);
    let records = logged(&dir, &log);
    let expected = vec![Record::Result {
        job: 1,
        index: 0,
        value: 5,
    }];
    assert!(
        fine == Ok(true) && records == expected,
        "\nAfter three bogus results (refused) and the holder's result 5 for task 0 (on_result \
         returned {fine:?}, expected Ok(true)), the log should hold that one result: \
         {expected:?}\nIt holds {records:?}\nRevisit: {EX11_4} — what is in the log counts \
         again after a restart: append a result only once the lease check passed\n"
    );
}

/// A worker played by the test that does what it is told.
fn finish(w: &mut Peer, coord: &Coord, value: u64) -> (u64, u32) {
    let (job, index, _) = w.lease(coord, "a worker asked for a task");
    w.send(&Request::Done { job, index, value });
    (job, index)
}

#[test]
fn ex11_4_a_duplicate_report_counts_once_and_the_worker_stays() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("dup");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_4);
    let mut w = Peer::worker(&coord, 1);
    w.send(&Request::Ready { slots: 1 });
    let job = coord.submit(&["--tasks", "2", "--kind", "sleep"]);
    let (_, index) = finish(&mut w, &coord, 7);
    // The same result again, as a retried task or a confused worker sends it.
    w.send(&Request::Done {
        job,
        index,
        value: 7,
    });
    w.send(&Request::Ready { slots: 1 });
    match w.reply() {
        Ok(Reply::Lease {
            job: j, index: i, ..
        }) => w.send(&Request::Done {
            job: j,
            index: i,
            value: 5,
        }),
        other => coord.proc.fail(&format!(
            "A worker reported task {index} twice — the second time a duplicate, to ignore — \
             then asked for another task: it should get task {}; got {other:?}",
            1 - index
        )),
    }
    coord.expect_wait(
        job,
        &wait_line(job, 2, 2, 0, 0),
        12,
        "results 7 (reported twice) and 5: the total counts each task once",
    );
}

#[test]
fn ex11_4_a_result_for_a_task_never_leased_closes_that_worker() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("never");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_4);
    let mut w = Peer::worker(&coord, 1);
    w.send(&Request::Ready { slots: 1 });
    let job = coord.submit(&["--tasks", "2", "--kind", "sleep", "--ms", "1"]);
    let (_, index, _) = w.lease(&coord, "a worker asked for a task");
    w.send(&Request::Done {
        job,
        index: 1 - index,
        value: 1000,
    });
    if !w.closed() {
        coord.proc.fail(&format!(
            "A worker holding task {index} reported task {} (never leased to it): the \
             coordinator should close that worker",
            1 - index
        ));
    }
    let _worker = coord.worker(1, EX11_4);
    coord.expect_wait(
        job,
        &wait_line(job, 2, 2, 0, 1),
        0,
        "the bogus result 1000 must not count; the closed worker's task is run again",
    );
}

#[test]
fn ex11_4_a_words_job_counts_every_word_once() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("words");
    let coord = Coord::start(&dir, &[], EX11_4);
    let _a = coord.worker(2, EX11_4);
    let _b = coord.worker(1, EX11_4);
    let job = coord.submit(&["--tasks", "50"]);
    let words = BUILT_IN_TEXT.split_whitespace().count() as u64;
    coord.expect_wait(
        job,
        &wait_line(job, 50, 50, 0, 0),
        words,
        "50 tasks counting the built-in text's words, on two workers",
    );
}

#[test]
fn ex11_4_a_busy_worker_gets_no_more_while_another_does_the_rest() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("busy");
    let coord = Coord::start(&dir, &["--lease-ms", "5000"], EX11_4);
    let mut busy = Peer::worker(&coord, 1);
    busy.send(&Request::Ready { slots: 1 });
    let job = coord.submit(&["--tasks", "20", "--kind", "sleep", "--ms", "1"]);
    let (_, held, _) = busy.lease(&coord, "a worker asked for a task");
    let _real = coord.worker(1, EX11_4);
    coord.await_status(
        "19 finished",
        "a worker holding its one task gets no more; the other worker runs the other 19",
    );
    busy.send(&Request::Done {
        job,
        index: held,
        value: 0,
    });
    coord.expect_wait(job, &wait_line(job, 20, 20, 0, 0), 0, "every task once");
}

#[test]
fn ex11_4_heartbeats_keep_a_long_task_leased() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("long");
    let coord = Coord::start(&dir, &[], EX11_4);
    let _w = coord.worker(1, EX11_4);
    // A task of 3 leases: only heartbeats keep it from being retried.
    let job = coord.submit(&["--tasks", "1", "--kind", "sleep", "--ms", "900"]);
    coord.expect_wait(
        job,
        &wait_line(job, 1, 1, 0, 0),
        0,
        "a task three times as long as the lease, with heartbeats every 50 ms, is never \
         retried",
    );
}

#[test]
fn ex11_4_a_crashed_worker_s_task_moves_to_another() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("crash");
    let coord = Coord::start(&dir, &[], EX11_4);
    let mut first = coord.worker(1, EX11_4);
    let job = coord.submit(&["--tasks", "1", "--kind", "crash", "--ms", "40"]);
    if first.exit_status().is_none() {
        first.fail("the worker should crash on the first attempt of a crash task");
    }
    let _second = coord.worker(1, EX11_4);
    coord.expect_wait(
        job,
        &wait_line(job, 1, 1, 0, 1),
        0,
        "a worker crashed mid-task (EOF); its task went to the next worker, attempt 2",
    );
}

#[test]
fn ex11_4_a_stopped_worker_loses_its_task_when_the_lease_expires() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    let dir = TempDir::new("stop");
    let coord = Coord::start(&dir, &[], EX11_4);
    let stopped = coord.worker(1, EX11_4);
    let job = coord.submit(&["--tasks", "1", "--kind", "sleep", "--ms", "800"]);
    coord.await_status("1 slot, 1 in hand", "a worker took the task");
    // Frozen, not dead: its socket stays open, and only the lease can tell.
    stopped.signal("-STOP");
    let _other = coord.worker(1, EX11_4);
    coord.await_status("workers: 2", "a second worker connected");
    if !coord.proc.saw("lease expired") {
        coord
            .proc
            .fail("a stopped worker's lease should expire after 300 ms, with a line saying so");
    }
    coord.expect_wait(
        job,
        &wait_line(job, 1, 1, 0, 1),
        0,
        "the stopped worker's task went to the other worker once its lease expired",
    );
}

// ---------------------------------------------------------------------------
// 11.5 the durable log and recovery

fn sample_records() -> Vec<Record> {
    vec![
        Record::Job {
            id: 1,
            tasks: 3,
            spec: Spec::Words {
                text: "one two three four".to_string(),
                ms: 0,
            },
        },
        Record::Result {
            job: 1,
            index: 0,
            value: 1,
        },
        Record::Job {
            id: 2,
            tasks: 1,
            spec: Spec::Sleep { ms: 5 },
        },
        Record::Result {
            job: 1,
            index: 2,
            value: 2,
        },
    ]
}

fn log_bytes(records: &[Record]) -> Vec<u8> {
    records.iter().flat_map(log::framed).collect()
}

fn show_scan(scan: &Scan) -> String {
    format!("{} records, good = {}", scan.records.len(), scan.good)
}

#[test]
fn ex11_5_scan_reads_back_every_record() {
    let records = sample_records();
    let bytes = log_bytes(&records);
    let scan = log::scan(&bytes);
    assert!(
        scan.records == records && scan.good == bytes.len(),
        "\nA log of 4 whole records ({} bytes): scan() should return all 4 and good = {}.\n\
         Got {}: {:?}\nRevisit: {EX11_5}\n",
        bytes.len(),
        bytes.len(),
        show_scan(&scan),
        scan.records
    );
    let empty = log::scan(&[]);
    assert!(
        empty == Scan::default(),
        "\nAn empty log: no records, good = 0. Got {}\nRevisit: {EX11_5}\n",
        show_scan(&empty)
    );
}

#[test]
fn ex11_5_a_torn_tail_is_left_out() {
    let records = sample_records();
    let ends: Vec<usize> = records
        .iter()
        .scan(0, |end, r| {
            *end += log::framed(r).len();
            Some(*end)
        })
        .collect();
    let bytes = log_bytes(&records);
    for cut in 0..=bytes.len() {
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        let good = if whole == 0 { 0 } else { ends[whole - 1] };
        let scan = log::scan(&bytes[..cut]);
        assert!(
            scan.records[..] == records[..whole] && scan.good == good,
            "\nThe first {cut} bytes of a log of 4 records (ending at bytes {ends:?}), as a \
             crash can leave them: expected {whole} records, good = {good}; got {}\n\
             Revisit: {EX11_5} — a record cut short (even inside its 8-byte header) is a torn \
             tail: stop there\n",
            show_scan(&scan)
        );
    }
}

#[test]
fn ex11_5_a_corrupted_record_stops_the_scan() {
    let records = sample_records();
    let first = log::framed(&records[0]).len();
    let second = log::framed(&records[1]).len();
    let bytes = log_bytes(&records);
    // A bit flipped in the second record's body, in its checksum, and a
    // length that runs past the end.
    let mut cases = Vec::new();
    let mut body = bytes.clone();
    body[first + log::HEADER + 3] ^= 0x10;
    cases.push(("a bit flipped in the body of record 2", body));
    let mut crc = bytes.clone();
    crc[first + 5] ^= 0x01;
    cases.push(("a bit flipped in the checksum of record 2", crc));
    let mut huge = bytes.clone();
    huge[first..first + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("record 2's length set to 4 GiB", huge));
    let mut long = bytes.clone();
    long[first + 3] += 1;
    cases.push(("record 2's length one more than it is", long));
    let mut zero = bytes.clone();
    zero[first + 4..first + 8].copy_from_slice(&[0; 4]);
    cases.push(("record 2's checksum set to 0", zero));
    // A body that is no record (an unknown kind), with a checksum that
    // matches: written by a newer version, or by a bug.
    let junk = [0xEEu8; 12];
    assert!(Record::decode(&junk).is_none());
    let mut unknown = bytes[..first].to_vec();
    unknown.extend_from_slice(&(junk.len() as u32).to_be_bytes());
    unknown.extend_from_slice(&log::crc32(&junk).to_be_bytes());
    unknown.extend_from_slice(&junk);
    unknown.extend_from_slice(&bytes[first..]);
    cases.push((
        "record 2 replaced by 12 bytes Record::decode refuses, with a good checksum",
        unknown,
    ));
    for (what, bytes) in cases {
        let scan = log::scan(&bytes);
        assert!(
            scan.records[..] == records[..1] && scan.good == first,
            "\nA log of 4 records with {what}: expected 1 record (the first), good = \
             {first}; got {}: {:?}\nRevisit: {EX11_5} — check each record's length and \
             checksum, and trust nothing after the first bad one (record 2 ends at byte {})\n",
            show_scan(&scan),
            scan.records,
            first + second
        );
    }
}

#[test]
fn ex11_5_any_bytes_scan_without_panicking() {
    support::property(EX11_5, || {
        proptest!(proptest_config(), |(
            prefix in 0..4usize,
            noise in prop::collection::vec(any::<u8>(), 0..64),
        )| {
            let records = sample_records();
            let mut bytes = log_bytes(&records[..prefix]);
            let good = bytes.len();
            bytes.extend_from_slice(&noise);
            let scan = log::scan(&bytes);
            prop_assert!(
                scan.good >= good && scan.good <= bytes.len() && scan.records.len() >= prefix,
                "\n{prefix} good records then {} random bytes: got {}\nRevisit: {EX11_5}\n",
                noise.len(),
                show_scan(&scan)
            );
        });
    });
}

#[test]
fn ex11_5_an_acknowledged_job_survives_sigkill() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    support::needs(EX11_4, record_works);
    let dir = TempDir::new("durable");
    let mut coord = Coord::start(&dir, &[], EX11_5);
    let job = coord.submit(&["--tasks", "30"]);
    // Acknowledged: now the coordinator dies without a chance to flush.
    coord.proc.kill();
    let coord = Coord::start(&dir, &[], EX11_5);
    if !coord.proc.saw("recovered 1 job and") {
        coord.proc.fail(
            "restarted on the same --data, the coordinator should read its log back and say \
             `recovered 1 job and …`",
        );
    }
    let _w = coord.worker(2, EX11_5);
    let words = BUILT_IN_TEXT.split_whitespace().count() as u64;
    coord.expect_wait(
        job,
        &wait_line(job, 30, 30, 0, 0),
        words,
        "a job acknowledged just before a SIGKILL, run after the restart",
    );
}

#[test]
fn ex11_5_results_survive_a_restart() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    support::needs(EX11_4, record_works);
    let dir = TempDir::new("results");
    let mut coord = Coord::start(&dir, &[], EX11_5);
    let job = coord.submit(&["--tasks", "8"]);
    {
        let _w = coord.worker(1, EX11_5);
        let words = BUILT_IN_TEXT.split_whitespace().count() as u64;
        coord.expect_wait(job, &wait_line(job, 8, 8, 0, 0), words, "a words job");
    }
    coord.proc.kill();
    // A crash in the middle of a write leaves half a record.
    let path = dir.path().join(log::LOG_FILE);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("the coordinator's log file");
    file.write_all(
        &log::framed(&Record::Result {
            job,
            index: 0,
            value: 9,
        })[..13],
    )
    .unwrap();
    drop(file);
    // No workers now: the results must come from the log.
    let coord = Coord::start(&dir, &[], EX11_5);
    let words = BUILT_IN_TEXT.split_whitespace().count() as u64;
    coord.expect_wait(
        job,
        &wait_line(job, 8, 8, 0, 0),
        words,
        "after a restart with no workers, a finished job's results come from the log \
         (and the half record at its end is cut off)",
    );
    if !coord.proc.saw("cut 13 bytes") {
        coord
            .proc
            .fail("the coordinator should say it cut the 13 bytes of torn tail off its log");
    }
    // New records go after the cut: a job submitted now survives another restart.
    let next = coord.submit(&["--tasks", "1", "--kind", "sleep", "--ms", "1"]);
    let mut coord = coord;
    coord.proc.kill();
    let coord = Coord::start(&dir, &[], EX11_5);
    let _w = coord.worker(1, EX11_5);
    coord.expect_wait(
        next,
        &wait_line(next, 1, 1, 0, 0),
        0,
        "a job logged after the torn tail was cut, read back after another restart",
    );
}

#[test]
fn ex11_5_a_result_logged_twice_counts_once() {
    needs_11_1();
    needs_11_2();
    needs_11_3();
    support::needs(EX11_4, record_works);
    let dir = TempDir::new("twice");
    std::fs::create_dir_all(dir.path()).unwrap();
    let records = [
        Record::Job {
            id: 5,
            tasks: 2,
            spec: Spec::Sleep { ms: 1 },
        },
        Record::Result {
            job: 5,
            index: 1,
            value: 40,
        },
        Record::Result {
            job: 5,
            index: 1,
            value: 40,
        },
        Record::Result {
            job: 5,
            index: 0,
            value: 2,
        },
    ];
    std::fs::write(dir.path().join(log::LOG_FILE), log_bytes(&records)).unwrap();
    let coord = Coord::start(&dir, &[], EX11_5);
    coord.expect_wait(
        5,
        &wait_line(5, 2, 2, 0, 0),
        42,
        "a log holding job 5, the result 40 of its task 1 twice, and 2 for task 0",
    );
    // The next job gets the next id.
    let next = coord.submit(&["--tasks", "1", "--kind", "sleep"]);
    if next != 6 {
        coord.proc.fail(&format!(
            "after a log with job 5, the next job should be 6, not {next}"
        ));
    }
}

// ---------------------------------------------------------------------------
// Given code: the command line, backpressure, hostile peers.

#[test]
fn given_a_submit_beyond_max_queued_is_refused() {
    needs_11_1();
    let dir = TempDir::new("full");
    let coord = Coord::start(&dir, &["--max-queued", "10"], GIVEN);
    let _job = coord.submit(&["--tasks", "8", "--kind", "sleep"]);
    let done = support::run(
        BIN,
        &["submit", &coord.addr, "--tasks", "5", "--kind", "sleep"],
        Vec::new(),
    );
    let ok = done.status.is_some_and(|s| !s.success())
        && done.stdout.is_empty()
        && done.stderr.contains("queue full");
    if !ok {
        coord.proc.fail(&format!(
            "8 tasks queued with --max-queued 10: a submit of 5 more should fail with `queue \
             full` on stderr and nothing on stdout. {}; stdout {:?}, stderr {:?}",
            done.how_it_ended(),
            String::from_utf8_lossy(&done.stdout),
            done.stderr
        ));
    }
    coord.await_status("8 unfinished", "the refused job takes no room");
}

#[test]
fn given_a_coordinator_that_cannot_open_its_log_does_not_listen() {
    let dir = TempDir::new("not-a-dir");
    std::fs::write(dir.path(), b"a file, not a directory").expect("writing a file");
    let args = ["coordinator", "127.0.0.1:0", "--data", dir.arg()];
    let done = support::run(BIN, &args, Vec::new());
    let _ = std::fs::remove_file(dir.path());
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.is_some_and(|s| !s.success())
            && done.stderr.contains("could not open the log")
            && !stdout.contains("listening on"),
        "\n`lesson11 {}` (a file where the log's directory should be) should fail, say \
         `could not open the log` on stderr, and never say `listening on`: the log is opened \
         and read back before the port is bound.\n{}; stdout:\n{}stderr:\n{}\nRevisit: {GIVEN}\n",
        args.join(" "),
        done.how_it_ended(),
        indent(&stdout),
        indent(&done.stderr)
    );
}

#[test]
fn given_wait_for_an_unknown_job_fails() {
    needs_11_1();
    let dir = TempDir::new("unknown");
    let coord = Coord::start(&dir, &[], GIVEN);
    let (code, out) = coord.wait(99);
    if code != Some(1) || !out.is_empty() {
        coord.proc.fail(&format!(
            "`wait` for job 99, which does not exist, should exit 1 with nothing on stdout; \
             it exited with {code:?} and printed {out:?}"
        ));
    }
}

#[test]
fn given_hostile_peers_are_closed_and_the_coordinator_serves_on() {
    needs_11_1();
    let dir = TempDir::new("hostile");
    let coord = Coord::start(&dir, &[], GIVEN);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ("an unknown tag", frame(&[99, 1, 2, 3])),
        ("a length of 4 GiB", u32::MAX.to_be_bytes().to_vec()),
        (
            "a length of 1 MiB + 1",
            ((1u32 << 20) + 1).to_be_bytes().to_vec(),
        ),
        (
            "a worker's Ready before any Hello",
            frame(&Request::Ready { slots: 1 }.encode()),
        ),
        (
            "a Hello with 0 slots",
            frame(&Request::Hello { slots: 0 }.encode()),
        ),
        ("nothing at all (silent for a lease)", Vec::new()),
    ];
    for (what, bytes) in cases {
        let mut peer = Peer::connect(&coord.addr);
        peer.send_raw(&bytes);
        if !peer.closed() {
            coord.proc.fail(&format!(
                "a peer that sent {what} should be closed, but its connection stayed open"
            ));
        }
    }
    // A worker that asks for more than its slots.
    let mut greedy = Peer::worker(&coord, 1);
    greedy.send(&Request::Ready { slots: 2 });
    if !greedy.closed() {
        coord
            .proc
            .fail("a worker with 1 slot that asked for 2 tasks should be closed");
    }
    coord.await_status(
        "workers: 0",
        "every hostile peer closed, the coordinator still up",
    );
}

#[test]
fn given_a_peer_that_never_reads_stalls_nobody_else() {
    needs_11_1();
    let dir = TempDir::new("noread");
    let coord = Coord::start(&dir, &[], GIVEN);
    let mut hog = Peer::connect(&coord.addr);
    // Thousands of requests, never reading a reply: its replies fill the
    // socket's buffers, and its task waits — alone.
    let status = frame(&Request::Status.encode());
    let many: Vec<u8> = status
        .iter()
        .copied()
        .cycle()
        .take(status.len() * 20_000)
        .collect();
    hog.stream.set_nonblocking(true).unwrap();
    let _ = hog.stream.write(&many);
    coord.await_status("workers: 0", "another client asks while one never reads");
}

#[test]
fn given_the_coordinator_serves_ipv6() {
    if !support::ipv6_loopback("given_the_coordinator_serves_ipv6") {
        return;
    }
    needs_11_1();
    let dir = TempDir::new("ipv6");
    let proc = Proc::spawn(&["coordinator", "[::1]:0", "--data", dir.arg()], GIVEN);
    if !proc.saw("listening on [::1]:") {
        proc.fail("`coordinator [::1]:0` should listen on [::1]");
    }
    let addr = proc.stdout().lines().next().unwrap()["listening on ".len()..].to_string();
    let done = support::run(BIN, &["status", &addr], Vec::new());
    if !String::from_utf8_lossy(&done.stdout).contains("workers: 0") {
        proc.fail(&format!(
            "`status {addr}` over IPv6 failed: {}",
            done.stderr
        ));
    }
}

#[test]
fn given_the_coordinator_listens_on_a_real_port() {
    needs_11_1();
    let dir = TempDir::new("port");
    let coord = Coord::start(&dir, &[], GIVEN);
    let addr: SocketAddr = coord.addr.parse().expect("an address");
    if addr.port() == 0 {
        coord.proc.fail("the coordinator printed port 0");
    }
    let done = support::run(
        BIN,
        &["coordinator", &coord.addr, "--data", dir.arg()],
        Vec::new(),
    );
    if done.status.is_none_or(|s| s.success()) || !done.stderr.contains("could not bind") {
        coord.proc.fail(&format!(
            "a second coordinator on the same address should fail with `could not bind`; \
             its stderr: {:?}",
            done.stderr
        ));
    }
}

#[test]
fn given_peers_that_come_and_go_leave_it_serving() {
    needs_11_1();
    let dir = TempDir::new("churn");
    let coord = Coord::start(&dir, &[], GIVEN);
    let addr: SocketAddr = coord.addr.parse().expect("an address");
    // Closes and resets, some mid-message: the coordinator serves on.
    let connected = support::churn(addr, 300, || {});
    if connected < 300 {
        coord.proc.fail(&format!(
            "300 peers connected and left; only {connected} could connect"
        ));
    }
    coord.await_status("workers: 0", "after 300 peers came and went");
}

/// Standard streams, tokio's two epoll descriptors and its waker, the
/// listener and the log: the coordinator's files before any connection.
const FILES_FOR_THE_COORDINATOR_ALONE: u32 = 8;

#[cfg(unix)]
#[test]
fn given_calm_when_out_of_files() {
    needs_11_1();
    let dir = TempDir::new("files");
    let server = support::Server::start_with_file_limit(
        BIN,
        &["coordinator", "127.0.0.1:0", "--data", dir.arg()],
        FILES_FOR_THE_COORDINATOR_ALONE,
        GIVEN,
    );
    let _waiting = TcpStream::connect(server.addr()).unwrap();
    support::assert_calm_when_out_of_files(&server, "the given accept loop (server.rs)");
}

#[test]
fn given_the_demo_runs() {
    support::assert_demo_runs(
        BIN,
        &[
            "result 585 (split_whitespace: 585)",
            "lease expired",
            "The log (exercise 11.5)",
        ],
    );
}
