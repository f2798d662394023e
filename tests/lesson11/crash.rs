//! Crash tests, in the manner of MIT 6.5840's labs: a real coordinator and
//! real worker processes, killed and stopped at random moments while a job
//! runs, and then the only question that matters — did every task get done
//! exactly once, and is the answer right?
//!
//! The moments are random on purpose (a bug that needs bad timing shows up
//! over many runs), and printed with their seed when a test fails, so that
//! `NETLINGS_SEED=… cargo test -p lesson11 crash` replays the same plan.
//! The pauses in the plan are the faults themselves (how long a worker stays
//! stopped); nothing here sleeps to wait for the program: every wait is on
//! its output, with a deadline.

use std::fs::{self, File};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crate::support::{self, Finished, Hint, Running, Server, TempDir, run_command};

const BIN: &str = env!("CARGO_BIN_EXE_lesson11");

const HINT: Hint = Hint(
    "exercises 11.2 to 11.5 — book §11.2–§11.5: the worker loop, dispatch, results \
     exactly once, and the durable log (the lease bookkeeping of 11.1 under them all)",
);

/// The lease the coordinator gives in these tests, and the workers' heartbeat.
const LEASE_MS: u64 = 400;
const HEARTBEAT_MS: u64 = 100;

/// A small deterministic random number generator (xorshift), so that a
/// failing plan can be replayed from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> (Rng, u64) {
        let seed = std::env::var("NETLINGS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos() as u64
            });
        (Rng(seed | 1), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `low..high`.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

/// A text of `words` words from a small vocabulary, separated by the kinds
/// of whitespace `split_whitespace` must handle, to be counted by a job.
pub fn text(rng: &mut Rng, words: usize) -> String {
    const VOCABULARY: [&str; 8] = [
        "socket",
        "lease",
        "worker",
        "ack",
        "heartbeat",
        "coördinator",
        "log",
        "a",
    ];
    const SEPARATORS: [&str; 5] = [" ", " ", "\n", "\t", "  \r\n"];
    let mut text = String::new();
    for _ in 0..words {
        text.push_str(VOCABULARY[rng.range(0, 8) as usize]);
        text.push_str(SEPARATORS[rng.range(0, 5) as usize]);
    }
    text
}

/// `lesson11 coordinator ADDR --data DIR --lease-ms LEASE_MS`.
pub fn coordinator(addr: &str, data: &Path) -> Server {
    let data = data.to_str().expect("a UTF-8 path");
    let lease = LEASE_MS.to_string();
    Server::start(
        BIN,
        &["coordinator", addr, "--data", data, "--lease-ms", &lease],
        HINT,
    )
}

/// `lesson11 worker COORD --slots 2 --heartbeat-ms HEARTBEAT_MS`, its output
/// going to `log` (shown when a test fails).
pub fn worker(mut command: Command, coordinator: &str, log: &Path) -> Running {
    let out = File::create(log).expect("creating a worker's log");
    let err = out.try_clone().expect("a second handle on the log");
    let heartbeat = HEARTBEAT_MS.to_string();
    let child = command
        .args(["worker", coordinator, "--slots", "2"])
        .args(["--heartbeat-ms", &heartbeat])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("starting a worker");
    Running(child)
}

/// Runs `submit` and returns the job id it printed.
pub fn submit(command: &mut Command, args: &[&str]) -> String {
    let finished = run_command(command.arg("submit").args(args), Vec::new(), WAIT);
    let stdout = String::from_utf8_lossy(&finished.stdout).into_owned();
    let id = stdout.trim();
    assert!(
        finished.status.is_some_and(|s| s.success())
            && !id.is_empty()
            && id.chars().all(|c| c.is_ascii_digit()),
        "\n\n`lesson11 submit {args:?}` should print the job id (only the number) and exit 0.\n\
         {}. Its stdout: {stdout:?}\nIts stderr:\n{}\n\nRevisit: {HINT}\n",
        finished.how_it_ended(),
        finished.stderr
    );
    id.to_string()
}

/// How long `wait` may take for a whole crash-tested job.
pub const WAIT: Duration = Duration::from_secs(40);

/// Runs `wait COORD JOB --timeout-s 30`.
pub fn wait(command: &mut Command, coordinator: &str, job: &str) -> Finished {
    run_command(
        command.args(["wait", coordinator, job, "--timeout-s", "30"]),
        Vec::new(),
        WAIT,
    )
}

/// Checks `wait`'s two lines: every task done, none failed, the right total.
pub fn assert_all_done(finished: &Finished, job: &str, tasks: usize, total: usize, story: &str) {
    let stdout = String::from_utf8_lossy(&finished.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let printed = if stdout.trim().is_empty() {
        "    (nothing)\n".to_string()
    } else {
        stdout.clone()
    };
    let head = format!("job {job}: {tasks} tasks, {tasks} done, 0 failed, ");
    let summary_ok = lines.first().is_some_and(|l| {
        l.strip_prefix(&head)
            .and_then(|rest| rest.strip_suffix(" retried"))
            .is_some_and(|n| n.parse::<u64>().is_ok())
    });
    let result = format!("result: {total}");
    assert!(
        finished.status.is_some_and(|s| s.success())
            && summary_ok
            && lines.get(1) == Some(&result.as_str()),
        "\n\n{story}\n\n`lesson11 wait` should print\n    {head}N retried\n    {result}\n\
         and exit 0. {}. It printed:\n{printed}\nIts stderr:\n{}\n\
         A total too high means a retried task was counted twice; too low, or fewer \
         than {tasks} done, means a task was lost.\n\nRevisit: {HINT}\n",
        finished.how_it_ended(),
        finished.stderr
    );
}

/// The last lines of the coordinator's log and its stderr, for a failure message.
pub fn coordinator_output(coord: &Server) -> String {
    let tail = |text: &str| {
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines[lines.len().saturating_sub(20)..].join("\n    ");
        if shown.is_empty() {
            "(nothing)".to_string()
        } else {
            shown
        }
    };
    format!(
        "The coordinator's last lines (since its last start):\n    {}\nIts stderr:\n    {}\n",
        tail(&coord.stdout()),
        tail(&coord.stderr())
    )
}

fn logs(scratch: &TempDir, workers: usize) -> String {
    (0..workers)
        .map(|i| {
            let log =
                fs::read_to_string(scratch.join(&format!("worker{i}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(8).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("worker {i}'s last lines:\n    {}\n", tail.join("\n    "))
        })
        .collect()
}

/// What happens to whom, and when (milliseconds after the job is acknowledged).
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// SIGKILL a worker: its connection ends at once (the kernel closes it).
    KillWorker(usize),
    /// SIGSTOP a worker: its connection stays open, and silent.
    StopWorker(usize),
    /// SIGCONT it again, long after its lease ran out.
    ResumeWorker(usize),
    /// SIGKILL the coordinator, and start it again on the same address and data.
    RestartCoordinator,
}

/// The crash and lab tests run the whole system: first check that the
/// exercises under it work, so that an unfinished one is named as such.
pub fn needs_exercises_11_1_to_11_4() {
    crate::needs_11_1();
    crate::needs_11_2();
    crate::needs_11_3();
    crate::support::needs(crate::EX11_4, crate::record_works);
}

#[test]
fn ex11_5_a_thousand_tasks_are_done_exactly_once_through_kills_stops_and_a_restart() {
    needs_exercises_11_1_to_11_4();
    let (mut rng, seed) = Rng::seeded();
    let scratch = TempDir::new("crash");
    let text = text(&mut rng, 20_000);
    let total = text.split_whitespace().count();
    let text_path = scratch.join("text.txt");
    fs::write(&text_path, &text).expect("writing the text");
    let data = scratch.join("data");

    let mut coord = coordinator("127.0.0.1:0", &data);
    let addr = coord.addr().to_string();
    let mut workers: Vec<Running> = (0..4)
        .map(|i| {
            let log = scratch.join(&format!("worker{i}.log"));
            worker(Command::new(BIN), &addr, &log)
        })
        .collect();
    let pids: Vec<u32> = workers.iter().map(|w| w.0.id()).collect();

    // 1,000 tasks of about 8 ms of work each, over 4 workers of 2 slots:
    // a second or more of work, and every fault below lands inside it.
    let text_arg = text_path.to_str().expect("a UTF-8 path");
    let job = submit(
        &mut Command::new(BIN),
        &[
            &addr, "--tasks", "1000", "--kind", "words", "--text", text_arg, "--ms", "8",
        ],
    );
    let acked = Instant::now();

    let stopped = rng.range(0, 300);
    let mut plan = vec![
        (rng.range(50, 600), Fault::KillWorker(0)),
        (rng.range(50, 600), Fault::KillWorker(1)),
        (stopped, Fault::StopWorker(2)),
        // Stopped for three leases: the coordinator must have given its
        // tasks to others by then; its late results must not count twice.
        (stopped + 3 * LEASE_MS, Fault::ResumeWorker(2)),
        (rng.range(100, 700), Fault::RestartCoordinator),
    ];
    plan.sort_by_key(|(at, _)| *at);
    let story = format!(
        "1,000 word-count tasks (seed {seed}: `NETLINGS_SEED={seed}` replays this plan),          4 workers, lease {LEASE_MS} ms; after the job was acknowledged, at these          milliseconds: {plan:?}"
    );
    for (at, fault) in &plan {
        let when = acked + Duration::from_millis(*at);
        // The fault's moment is the point of the test: wait for it.
        thread::sleep(when.saturating_duration_since(Instant::now()));
        match *fault {
            Fault::KillWorker(i) => {
                let _ = workers[i].0.kill();
                let _ = workers[i].0.wait();
            }
            Fault::StopWorker(i) => support::signal(pids[i], "-STOP"),
            Fault::ResumeWorker(i) => support::signal(pids[i], "-CONT"),
            Fault::RestartCoordinator => {
                drop(coord);
                coord = coordinator(&addr, &data);
            }
        }
    }

    let finished = wait(&mut Command::new(BIN), &addr, &job);
    let story = format!(
        "{story}\n\n{}\n{}",
        logs(&scratch, 4),
        coordinator_output(&coord)
    );
    assert!(
        coord.is_running(),
        "\n\n{story}\n\nThe coordinator died: a late or stale report must close that \
         worker's connection at worst, never the coordinator.\n\nIts stderr:\n{}\n\nRevisit: {HINT}\n",
        coord.stderr()
    );
    assert_all_done(&finished, &job, 1000, total, &story);
}
