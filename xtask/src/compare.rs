//! `cargo xtask compare`: Part III's three servers — lesson 8 (a thread per
//! client), lesson 9 (mio) and lesson 10 (tokio) — under the same load, on
//! this machine, with the plots and tables the book shows.
//!
//! ```text
//! cargo xtask compare [--lessons 8,9,10] [--clients 10,100,1000,10000]
//!                     [--duration S] [--idle-clients N] [--hostile] [--quick]
//! ```
//!
//! It builds each lesson with its solutions (`cargo build --release -p
//! lessonNN --features solution`) and the load tool, then for each lesson:
//!
//! 1. for each client count, starts `lessonNN server 127.0.0.1:0
//!    --max-clients 20000`, runs `netlings-load chat ADDR --clients N
//!    --room-size 10 --rate 1 --duration S --json` against it, and reads the
//!    server's memory and CPU time in `/proc/PID`;
//! 2. connects `--idle-clients` (10,000) clients that only join and stay
//!    idle (`--rate 0`), and reads the server's resident memory before and
//!    while they are connected: the cost of an idle connection;
//! 3. with `--hostile`, runs 1,000 clients again beside one client that
//!    never reads and 100 that never finish a line (the load tool's
//!    `--sleepers 1 --slowloris 100`), and compares with the plain run.
//!
//! Everything runs on loopback, each server on a port of its own, killed
//! after its run; every wait has a deadline, and a lesson that does not
//! build or start is reported and skipped. `--quick` is a smoke run: 10 and
//! 100 clients, 2 s each, 1,000 idle clients.
//!
//! The files, in `book/src/compare/`, overwritten by each run (hostile.csv
//! only by a run with `--hostile`):
//!
//! `results.csv`, a row per lesson and client count:
//!
//! | column | meaning |
//! | --- | --- |
//! | `lesson`, `model`, `clients` | which server, and how many clients were asked for |
//! | `connected` | clients that joined their room |
//! | `connect_failures` | clients that did not (refused, `server full`, timed out…) |
//! | `sent`, `expected`, `received`, `lost` | messages sent; deliveries they should have made, made, and not made |
//! | `deliveries_per_sec` | deliveries received per second of sending |
//! | `p50_us`, `p99_us`, `max_us` | delivery latency, µs, from sending to receipt |
//! | `errors` | what went wrong after joining: disconnections, `! too slow`… |
//! | `baseline_rss_kib` | the server's resident memory once listening, KiB |
//! | `peak_rss_kib` | its peak resident memory over the run (VmHWM), KiB |
//! | `rss_per_client_kib` | (`peak_rss_kib` − `baseline_rss_kib`) / `connected` |
//! | `cpu_secs` | CPU time the server used during the load, user + system |
//! | `note` | why a run ended early or failed; empty if it did not |
//!
//! `idle-memory.csv`, a row per lesson: `clients`, `connected`,
//! `rss_before_kib`, `rss_after_kib` (while they are all connected),
//! `bytes_per_client` ((after − before) / connected), `threads` (the
//! server's, while they are connected), `note`.
//!
//! `hostile.csv`, a row per lesson: `clients`, `sleepers`, `slowloris`,
//! `plain_` and `hostile_` `deliveries_per_sec` and `p99_us` with the
//! change in per cent, `hostile_lost`, `hostile_peak_rss_kib`,
//! `sleepers_closed` and `slowloris_closed` (how many the server closed
//! before the end), `note`.
//!
//! The plots: `throughput.svg` (deliveries/s), `p99.svg` (p99 latency) and
//! `memory.svg` (`rss_per_client_kib`), each against the number of clients.
//!
//! The numbers are this machine's: the command prints its cores, CPU,
//! memory and kernel, and each plot says them under its title. The load
//! tool runs on the same cores as the server, and a p99 of a few clients
//! for a few seconds rests on few deliveries: read small differences as
//! noise. The exit status is success only if every measurement was made;
//! the files and tables are written either way, with the reasons in the
//! notes.

mod plot;
mod process;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use plot::thousands;
use process::{Running, Server};

/// The three models of Part III: lesson number and what it uses.
const MODELS: [(u32, &str); 3] = [(8, "threads"), (9, "mio"), (10, "tokio")];

/// The load of every run: rooms of ten, one message a second per client.
const ROOM_SIZE: &str = "10";
const RATE: &str = "1";

/// The servers' own connection limit is lower by default (lesson 8: 1,000);
/// this is how the comparison asks for more.
const MAX_CLIENTS: &str = "20000";

/// The hostile run: this many clients, beside these hostile peers.
const HOSTILE_CLIENTS: u32 = 1000;
const SLEEPERS: u32 = 1;
const SLOWLORIS: u32 = 100;

/// How long the idle clients stay connected: the memory is read
/// [`SETTLE`] after they have all joined, well within it.
const IDLE_SECS: f64 = 3.0;
const SETTLE: Duration = Duration::from_secs(1);

/// A release build of one package from scratch takes a few minutes on two
/// cores; this bounds a build that hangs.
const BUILD_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Options {
    lessons: Vec<u32>,
    clients: Vec<u32>,
    duration: f64,
    idle_clients: u32,
    hostile: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options> {
        let (mut lessons, mut clients, mut duration, mut idle) = (None, None, None, None);
        let (mut quick, mut hostile) = (false, false);
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--lessons" => lessons = Some(numbers(value()?, flag, 8..=10)?),
                "--clients" => clients = Some(numbers(value()?, flag, 1..=20_000)?),
                "--idle-clients" => idle = numbers(value()?, flag, 1..=20_000)?.pop(),
                "--duration" => duration = Some(seconds(value()?)?),
                "--quick" => quick = true,
                "--hostile" => hostile = true,
                other => bail!("compare: unknown option {other}\n\n{}", crate::USAGE),
            }
        }
        Ok(Options {
            lessons: lessons.unwrap_or_else(|| MODELS.map(|(n, _)| n).to_vec()),
            clients: clients.unwrap_or_else(|| match quick {
                true => vec![10, 100],
                false => vec![10, 100, 1000, 10_000],
            }),
            duration: duration.unwrap_or(if quick { 2.0 } else { 10.0 }),
            idle_clients: idle.unwrap_or(if quick { 1000 } else { 10_000 }),
            hostile,
        })
    }
}

/// `10,100,1000` → [10, 100, 1000], each within `range`.
fn numbers(text: &str, flag: &str, range: std::ops::RangeInclusive<u32>) -> Result<Vec<u32>> {
    text.split(',')
        .map(|n| match n.trim().replace('_', "").parse::<u32>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => bail!(
                "{flag}: {n:?} is not a number from {} to {}",
                range.start(),
                range.end()
            ),
        })
        .collect()
}

fn seconds(text: &str) -> Result<f64> {
    match text.parse::<f64>() {
        Ok(s) if (0.1..=3600.0).contains(&s) => Ok(s),
        _ => bail!("--duration: {text:?} is not a number of seconds from 0.1 to 3600"),
    }
}

/// One lesson, built and ready to run.
struct Lesson {
    number: u32,
    /// `threads`, `mio` or `tokio`.
    model: &'static str,
    /// `lesson 8: threads`: how tables and plots name it.
    label: String,
    bin: PathBuf,
}

impl Lesson {
    /// Its place among the three models: its colour in the plots.
    fn colour(&self) -> usize {
        MODELS
            .iter()
            .position(|(n, _)| *n == self.number)
            .unwrap_or(0)
    }
}

/// What the load tool reported (its `--json`), the fields we keep.
#[derive(Debug, Clone, Default, PartialEq)]
struct Load {
    connected: u64,
    connect_failures: u64,
    sent: u64,
    expected: u64,
    received: u64,
    lost: u64,
    deliveries_per_sec: f64,
    /// p50, p99 and max, µs; `None` if nothing arrived.
    latency: Option<[u64; 3]>,
    errors: u64,
    note: Option<String>,
    sleepers_closed: u64,
    slowloris_closed: u64,
}

impl Load {
    /// Reads the JSON object the load tool prints last on stdout.
    fn from_json(stdout: &str) -> Option<Load> {
        let line = stdout.lines().rev().find(|l| l.starts_with('{'))?;
        let json: Value = serde_json::from_str(line).ok()?;
        let count = |key: &str| json[key].as_u64().unwrap_or(0);
        // `null` when nothing arrived.
        let latency = ["p50", "p99", "max"].map(|key| json["latency_us"][key].as_u64());
        Some(Load {
            connected: count("connected"),
            connect_failures: count("connect_failures"),
            sent: count("sent"),
            expected: count("expected"),
            received: count("received"),
            lost: count("lost"),
            deliveries_per_sec: json["deliveries_per_sec"].as_f64().unwrap_or(0.0),
            latency: match latency {
                [Some(p50), Some(p99), Some(max)] => Some([p50, p99, max]),
                _ => None,
            },
            errors: count("errors"),
            note: json["note"].as_str().map(str::to_string),
            sleepers_closed: json["sleepers"]["closed"].as_u64().unwrap_or(0),
            slowloris_closed: json["slowloris"]["closed"].as_u64().unwrap_or(0),
        })
    }

    fn p99_us(&self) -> Option<u64> {
        self.latency.map(|[_, p99, _]| p99)
    }
}

/// One run of the load against one server.
#[derive(Debug, Clone, Default)]
struct Measured {
    load: Load,
    baseline_rss_kib: u64,
    /// `None` if the server died before it could be read.
    peak_rss_kib: Option<u64>,
    cpu_ticks: Option<u64>,
    /// Why a measurement is missing, or what went wrong with the server.
    note: Option<String>,
}

impl Measured {
    fn rss_per_client_kib(&self) -> Option<f64> {
        let grown = self.peak_rss_kib?.saturating_sub(self.baseline_rss_kib);
        (self.load.connected > 0).then(|| grown as f64 / self.load.connected as f64)
    }

    /// Both notes, the load tool's and ours, in one.
    fn note(&self) -> String {
        [self.load.note.as_deref(), self.note.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A measurement, or why there is none.
type Outcome = Result<Measured, String>;

/// A measurement of one lesson at one number of clients, or why there is none.
struct Run {
    lesson: usize,
    clients: u32,
    result: Outcome,
}

/// The idle connections of one lesson.
struct Idle {
    clients: u32,
    connected: u64,
    before_kib: u64,
    after_kib: u64,
    threads: u64,
}

impl Idle {
    fn bytes_per_client(&self) -> Option<u64> {
        let grown = self.after_kib.saturating_sub(self.before_kib) * 1024;
        (self.connected > 0).then(|| grown / self.connected)
    }
}

/// Everything one comparison measured.
struct Results {
    lessons: Vec<Lesson>,
    /// For each lesson, for each client count.
    runs: Vec<Run>,
    /// For each lesson.
    idle: Vec<Result<Idle, String>>,
    /// For each lesson, with `--hostile`: the plain run and the hostile one.
    hostile: Option<Vec<(Outcome, Outcome)>>,
}

impl Results {
    /// Whether every measurement was made.
    fn complete(&self) -> bool {
        self.runs.iter().all(|r| r.result.is_ok())
            && self.idle.iter().all(Result::is_ok)
            && self
                .hostile
                .iter()
                .flatten()
                .all(|(plain, hostile)| plain.is_ok() && hostile.is_ok())
    }
}

/// `cargo xtask compare …`
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let options = Options::parse(args)?;
    let machine = machine();
    println!("compare: on {machine}");

    println!("building (release): netlings-load, then each lesson with its solutions");
    let build_load = ["build", "--release", "-p", "netlings-load"];
    process::cargo(root, &build_load, Instant::now() + BUILD_TIMEOUT)?;
    let load_bin = root.join("target/release/netlings-load");
    let mut lessons = Vec::new();
    for &number in &options.lessons {
        match build(root, number) {
            Ok(lesson) => lessons.push(lesson),
            Err(e) => println!("  ✗ lesson {number}: skipped: {e:#}"),
        }
    }
    if lessons.is_empty() {
        bail!("no lesson could be built");
    }
    let all_built = lessons.len() == options.lessons.len();

    println!("measuring");
    let results = Results {
        runs: load_runs(&load_bin, &lessons, &options),
        idle: idle_runs(&load_bin, &lessons, options.idle_clients),
        hostile: None,
        lessons,
    };
    let results = Results {
        hostile: options
            .hostile
            .then(|| hostile(&load_bin, &results.lessons, &results.runs, options.duration)),
        ..results
    };

    let out = root.join("book/src/compare");
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let written = write_files(&out, &results, &options, &machine)?;
    print_summary(&results, &options);
    println!(
        "
measured on {machine}"
    );
    println!("written to {}:", out.display());
    for file in written {
        println!("  {file}");
    }
    let complete = all_built && results.complete();
    if !complete {
        println!("some measurements are missing: see the ✗ lines above, and the notes");
    }
    Ok(complete)
}

/// Each lesson under load, at each number of clients.
fn load_runs(load_bin: &Path, lessons: &[Lesson], options: &Options) -> Vec<Run> {
    let mut runs = Vec::new();
    for (i, lesson) in lessons.iter().enumerate() {
        for &clients in &options.clients {
            let run = measure(load_bin, lesson, clients, options.duration, &[]);
            report_progress(lesson, clients, "", &run);
            runs.push(Run {
                lesson: i,
                clients,
                result: run.map_err(|e| format!("{e:#}")),
            });
        }
    }
    runs
}

/// Each lesson with `clients` idle connections.
fn idle_runs(load_bin: &Path, lessons: &[Lesson], clients: u32) -> Vec<Result<Idle, String>> {
    lessons
        .iter()
        .map(|lesson| {
            let idle = idle_memory(load_bin, lesson, clients);
            report_idle(lesson, &idle);
            idle.map_err(|e| format!("{e:#}"))
        })
        .collect()
}

/// The tables, on stdout.
fn print_summary(results: &Results, options: &Options) {
    let lessons = &results.lessons;
    println!(
        "
results (rooms of {ROOM_SIZE}, {RATE} msg/s per client, {} s per run):",
        options.duration
    );
    print!("{}", results_table(lessons, &results.runs));
    println!(
        "
memory per idle connection ({} idle clients):",
        thousands(options.idle_clients.into())
    );
    print!("{}", idle_table(lessons, &results.idle));
    if let Some(hostile) = &results.hostile {
        println!(
            "
hostile peers ({} clients, beside {SLEEPERS} that never reads and {SLOWLORIS} \
             that never finish a line):",
            thousands(HOSTILE_CLIENTS.into())
        );
        print!("{}", hostile_table(lessons, hostile));
    }
}

/// Builds lesson `number` with its solutions.
fn build(root: &Path, number: u32) -> Result<Lesson> {
    let name = format!("lesson{number:02}");
    if !root.join("lessons").join(&name).is_dir() {
        bail!("lessons/{name} does not exist yet");
    }
    println!("  {name}");
    let args = ["build", "--release", "-p", &name, "--features", "solution"];
    process::cargo(root, &args, Instant::now() + BUILD_TIMEOUT)?;
    let model = MODELS
        .iter()
        .find(|(n, _)| *n == number)
        .map_or("", |m| m.1);
    Ok(Lesson {
        number,
        model,
        label: format!("lesson {number}: {model}"),
        bin: root.join("target/release").join(name),
    })
}

/// Starts the lesson's server, runs the load tool against it with
/// `clients` clients for `duration` s (and `extra` arguments), and reads
/// what the server used.
fn measure(
    load_bin: &Path,
    lesson: &Lesson,
    clients: u32,
    duration: f64,
    extra: &[String],
) -> Result<Measured> {
    let mut server = Server::start(&lesson.bin, &["--max-clients", MAX_CLIENTS])?;
    let baseline_rss_kib = server.rss_kib()?;
    let cpu_before = server.cpu_ticks()?;

    let mut args = ["--rate", RATE, "--duration", &duration.to_string()]
        .map(String::from)
        .to_vec();
    args.extend_from_slice(extra);
    let load = start_load(load_bin, &server.addr, clients, &args)?;
    let (_, stdout, stderr) = load.finish(load_deadline(clients, duration))?;
    let load = Load::from_json(&stdout).with_context(|| {
        format!(
            "netlings-load printed no report:\n{}",
            process::last_lines(&stderr, 10)
        )
    })?;

    // A server that died is still worth a row: the load tool saw it go.
    if let Some(why) = server.exit_report() {
        return Ok(Measured {
            load,
            baseline_rss_kib,
            note: Some(why),
            ..Measured::default()
        });
    }
    Ok(Measured {
        load,
        baseline_rss_kib,
        peak_rss_kib: Some(server.peak_rss_kib()?),
        cpu_ticks: Some(server.cpu_ticks()?.saturating_sub(cpu_before)),
        note: None,
    })
}

/// `netlings-load chat ADDR --clients N --room-size 10 --json ARGS…`, started.
fn start_load(load_bin: &Path, addr: &str, clients: u32, args: &[String]) -> Result<Running> {
    let mut command = Command::new(load_bin);
    command
        .args(["chat", addr, "--clients", &clients.to_string()])
        .args(["--room-size", ROOM_SIZE, "--json"])
        .args(args);
    Running::start(command, "netlings-load")
}

/// How long a load run may take before we call it stuck: its duration,
/// a minute for the rest of its phases, and the most the load tool allows
/// itself for each batch of 100 connections (12 s: its join timeout and a
/// margin), as if every batch took all of it.
fn load_deadline(clients: u32, duration: f64) -> Instant {
    let batches = u64::from(clients / 100 + 1);
    Instant::now() + Duration::from_secs_f64(duration) + Duration::from_secs(60 + 12 * batches)
}

/// Connects `clients` idle clients and reads the server's memory before
/// and while they are connected.
fn idle_memory(load_bin: &Path, lesson: &Lesson, clients: u32) -> Result<Idle> {
    let mut server = Server::start(&lesson.bin, &["--max-clients", MAX_CLIENTS])?;
    let before_kib = server.rss_kib()?;
    let args = ["--rate", "0", "--duration", &IDLE_SECS.to_string()].map(String::from);
    let load = start_load(load_bin, &server.addr, clients, &args)?;
    let deadline = load_deadline(clients, IDLE_SECS);
    // The load tool says on stderr when its clients have all joined.
    if load.stderr_line_with(" joined in ", deadline).is_none() {
        bail!("netlings-load never said its clients had joined");
    }
    // An observation window, not synchronisation: the joins are done, but
    // give the server a moment to finish what each one allocates (a thread
    // touching its stack, a buffer growing on the first line).
    thread::sleep(SETTLE);
    let died = server.exit_report();
    let (after_kib, threads) = match died {
        Some(_) => (0, 0),
        None => (server.rss_kib()?, server.threads()?),
    };
    let (_, stdout, _) = load.finish(deadline)?;
    let load = Load::from_json(&stdout).context("netlings-load printed no report")?;
    if let Some(why) = died {
        bail!(
            "{} of {clients} clients had joined when {why}",
            load.connected
        );
    }
    Ok(Idle {
        clients,
        connected: load.connected,
        before_kib,
        after_kib,
        threads,
    })
}

/// The hostile run of each lesson, next to a plain run of as many clients
/// (taken from `runs` if it has one).
fn hostile(
    load_bin: &Path,
    lessons: &[Lesson],
    runs: &[Run],
    duration: f64,
) -> Vec<(Outcome, Outcome)> {
    let extra = [
        "--sleepers".to_string(),
        SLEEPERS.to_string(),
        "--slowloris".to_string(),
        SLOWLORIS.to_string(),
    ];
    let measure = |lesson, extra: &[String], what: &str| {
        let run = measure(load_bin, lesson, HOSTILE_CLIENTS, duration, extra);
        report_progress(lesson, HOSTILE_CLIENTS, what, &run);
        run.map_err(|e| format!("{e:#}"))
    };
    lessons
        .iter()
        .enumerate()
        .map(|(i, lesson)| {
            let earlier = runs
                .iter()
                .find(|r| r.lesson == i && r.clients == HOSTILE_CLIENTS)
                .map(|r| r.result.clone());
            let plain = earlier.unwrap_or_else(|| measure(lesson, &[], ""));
            (plain, measure(lesson, &extra, " + hostile peers"))
        })
        .collect()
}

/// One line as a run finishes.
fn report_progress(lesson: &Lesson, clients: u32, what: &str, run: &Result<Measured>) {
    let head = format!(
        "  {}, {} clients{what}",
        lesson.label,
        thousands(clients.into())
    );
    match run {
        Ok(m) => {
            let p99 = m.load.p99_us().map_or("-".into(), ms);
            let note = m.note();
            let note = if note.is_empty() {
                note
            } else {
                format!(" ({note})")
            };
            println!(
                "{head}: {} joined, {} deliveries/s, p99 {p99} ms{note}",
                thousands(m.load.connected),
                thousands(m.load.deliveries_per_sec.round() as u64)
            );
        }
        Err(e) => println!("  ✗ {head}: {e:#}"),
    }
}

fn report_idle(lesson: &Lesson, idle: &Result<Idle>) {
    match idle {
        Ok(idle) => println!(
            "  {}, {} idle clients: {} joined, {} bytes each",
            lesson.label,
            thousands(idle.clients.into()),
            thousands(idle.connected),
            idle.bytes_per_client().map_or("-".into(), thousands)
        ),
        Err(e) => println!("  ✗ {}, idle clients: {e:#}", lesson.label),
    }
}

/// Writes the CSV files and the plots; returns their names.
fn write_files(
    out: &Path,
    results: &Results,
    options: &Options,
    machine: &str,
) -> Result<Vec<&'static str>> {
    let write = |name: &str, text: String| {
        let path = out.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    };
    let (lessons, runs) = (&results.lessons, &results.runs);
    write("results.csv", results_csv(lessons, runs))?;
    write("idle-memory.csv", idle_csv(lessons, &results.idle))?;
    let mut written = vec!["results.csv", "idle-memory.csv"];
    if let Some(hostile) = &results.hostile {
        write("hostile.csv", hostile_csv(lessons, hostile))?;
        written.push("hostile.csv");
    }

    let subtitle = format!(
        "{machine}; rooms of {ROOM_SIZE}, {RATE} msg/s per client, {} s per run",
        options.duration
    );
    for plot in plots() {
        let series = series(lessons, runs, plot.value);
        let chart = plot::Chart {
            title: plot.title,
            subtitle: &subtitle,
            y_label: plot.y_label,
            series: &series,
        };
        plot::svg(&out.join(plot.file), &chart)?;
        written.push(plot.file);
    }
    Ok(written)
}

/// One of the plots: which value of a run it shows against the clients.
struct Plot {
    file: &'static str,
    title: &'static str,
    y_label: &'static str,
    value: fn(&Measured) -> Option<f64>,
}

fn plots() -> [Plot; 3] {
    [
        Plot {
            file: "throughput.svg",
            title: "Deliveries per second",
            y_label: "deliveries/s",
            value: |m| Some(m.load.deliveries_per_sec),
        },
        Plot {
            file: "p99.svg",
            title: "99th percentile of delivery latency",
            y_label: "p99 latency, ms",
            value: |m| m.load.p99_us().map(|us| us as f64 / 1000.0),
        },
        Plot {
            file: "memory.svg",
            title: "Server memory per client: (peak RSS - RSS at start) / clients",
            y_label: "KiB per client",
            value: Measured::rss_per_client_kib,
        },
    ]
}

/// One line per lesson: (clients, value) for each run that measured it.
fn series(
    lessons: &[Lesson],
    runs: &[Run],
    value: fn(&Measured) -> Option<f64>,
) -> Vec<plot::Series> {
    lessons
        .iter()
        .enumerate()
        .map(|(i, lesson)| {
            let (mut points, mut missing) = (Vec::new(), Vec::new());
            for run in runs.iter().filter(|r| r.lesson == i) {
                let clients = f64::from(run.clients);
                match run.result.as_ref().ok().and_then(value) {
                    // Zero is nothing measured too (no delivery, no client).
                    Some(v) if v > 0.0 => points.push((clients, v)),
                    _ => missing.push(clients),
                }
            }
            plot::Series {
                label: lesson.label.clone(),
                colour: lesson.colour(),
                points,
                missing,
            }
        })
        .collect()
}

const RESULTS_HEADER: &str = "lesson,model,clients,connected,connect_failures,sent,expected,\
received,lost,deliveries_per_sec,p50_us,p99_us,max_us,errors,baseline_rss_kib,peak_rss_kib,\
rss_per_client_kib,cpu_secs,note";

fn results_csv(lessons: &[Lesson], runs: &[Run]) -> String {
    let mut csv = format!("{RESULTS_HEADER}\n");
    for run in runs {
        let lesson = &lessons[run.lesson];
        let mut fields = vec![
            lesson.number.to_string(),
            lesson.model.to_string(),
            run.clients.to_string(),
        ];
        match &run.result {
            Ok(m) => fields.extend(result_fields(m)),
            Err(e) => {
                fields.extend(std::iter::repeat_n(String::new(), 15));
                fields.push(e.clone());
            }
        }
        csv.push_str(&csv_row(&fields));
    }
    csv
}

/// The columns of results.csv after `clients`.
fn result_fields(m: &Measured) -> Vec<String> {
    let l = &m.load;
    let latency = |i: usize| l.latency.map_or(String::new(), |p| p[i].to_string());
    let optional = |v: Option<String>| v.unwrap_or_default();
    vec![
        l.connected.to_string(),
        l.connect_failures.to_string(),
        l.sent.to_string(),
        l.expected.to_string(),
        l.received.to_string(),
        l.lost.to_string(),
        format!("{:.1}", l.deliveries_per_sec),
        latency(0),
        latency(1),
        latency(2),
        l.errors.to_string(),
        m.baseline_rss_kib.to_string(),
        optional(m.peak_rss_kib.map(|k| k.to_string())),
        optional(m.rss_per_client_kib().map(|k| format!("{k:.2}"))),
        optional(m.cpu_ticks.map(|t| format!("{:.2}", t as f64 / 100.0))),
        m.note(),
    ]
}

fn idle_csv(lessons: &[Lesson], idle: &[Result<Idle, String>]) -> String {
    let mut csv = String::from(
        "lesson,model,clients,connected,rss_before_kib,rss_after_kib,bytes_per_client,threads,note\n",
    );
    for (lesson, idle) in lessons.iter().zip(idle) {
        let head = [lesson.number.to_string(), lesson.model.to_string()];
        let fields: Vec<String> = match idle {
            Ok(i) => [
                i.clients.to_string(),
                i.connected.to_string(),
                i.before_kib.to_string(),
                i.after_kib.to_string(),
                i.bytes_per_client()
                    .map_or(String::new(), |b| b.to_string()),
                i.threads.to_string(),
                String::new(),
            ]
            .into(),
            Err(e) => [vec![String::new(); 6], vec![e.clone()]].concat(),
        };
        csv.push_str(&csv_row(&[&head[..], &fields].concat()));
    }
    csv
}

fn hostile_csv(lessons: &[Lesson], runs: &[(Outcome, Outcome)]) -> String {
    let mut csv = String::from(
        "lesson,model,clients,sleepers,slowloris,plain_deliveries_per_sec,\
         hostile_deliveries_per_sec,deliveries_change_pct,plain_p99_us,hostile_p99_us,\
         p99_change_pct,hostile_lost,hostile_peak_rss_kib,sleepers_closed,slowloris_closed,note\n",
    );
    for (lesson, (plain, hostile)) in lessons.iter().zip(runs) {
        let mut fields = vec![
            lesson.number.to_string(),
            lesson.model.to_string(),
            HOSTILE_CLIENTS.to_string(),
            SLEEPERS.to_string(),
            SLOWLORIS.to_string(),
        ];
        match (plain, hostile) {
            (Ok(plain), Ok(hostile)) => fields.extend(hostile_fields(plain, hostile)),
            (Err(e), _) | (_, Err(e)) => {
                fields.extend(std::iter::repeat_n(String::new(), 10));
                fields.push(e.clone());
            }
        }
        csv.push_str(&csv_row(&fields));
    }
    csv
}

/// The columns of hostile.csv after `slowloris`.
fn hostile_fields(plain: &Measured, hostile: &Measured) -> Vec<String> {
    let (p, h) = (&plain.load, &hostile.load);
    let p99 = |l: &Load| l.p99_us().map_or(String::new(), |v| v.to_string());
    vec![
        format!("{:.1}", p.deliveries_per_sec),
        format!("{:.1}", h.deliveries_per_sec),
        change(p.deliveries_per_sec, h.deliveries_per_sec),
        p99(p),
        p99(h),
        p99_change(p, h),
        h.lost.to_string(),
        hostile
            .peak_rss_kib
            .map_or(String::new(), |k| k.to_string()),
        h.sleepers_closed.to_string(),
        h.slowloris_closed.to_string(),
        hostile.note(),
    ]
}

/// How much p99 latency changed from `plain` to `hostile`, in per cent.
fn p99_change(plain: &Load, hostile: &Load) -> String {
    match (plain.p99_us(), hostile.p99_us()) {
        (Some(p), Some(h)) => change(p as f64, h as f64),
        _ => String::new(),
    }
}

/// The change from `before` to `after` in per cent: `+12.5`, `-3.0`.
fn change(before: f64, after: f64) -> String {
    if before > 0.0 {
        format!("{:+.1}", 100.0 * (after - before) / before)
    } else {
        String::new()
    }
}

/// One CSV line. A field with a comma, a quote or a line break is quoted
/// (RFC 4180): notes and error messages may have any of them.
fn csv_row(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| {
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

fn results_table(lessons: &[Lesson], runs: &[Run]) -> String {
    let header = [
        "",
        "clients",
        "joined",
        "failed",
        "deliveries/s",
        "lost",
        "p50 ms",
        "p99 ms",
        "max ms",
        "peak RSS",
        "KiB/client",
        "CPU s",
    ];
    let rows = runs.iter().map(|run| {
        let mut row = vec![
            lessons[run.lesson].label.clone(),
            thousands(run.clients.into()),
        ];
        match &run.result {
            Ok(m) => {
                let l = &m.load;
                let latency = |i: usize| l.latency.map_or("-".into(), |p| ms(p[i]));
                row.extend([
                    thousands(l.connected),
                    thousands(l.connect_failures),
                    thousands(l.deliveries_per_sec.round() as u64),
                    thousands(l.lost),
                    latency(0),
                    latency(1),
                    latency(2),
                    m.peak_rss_kib.map_or("-".into(), mib),
                    m.rss_per_client_kib()
                        .map_or("-".into(), |k| format!("{k:.1}")),
                    m.cpu_ticks
                        .map_or("-".into(), |t| format!("{:.2}", t as f64 / 100.0)),
                ]);
            }
            Err(e) => row.push(format!("failed: {}", e.lines().next().unwrap_or(""))),
        }
        row
    });
    table(&header, rows)
}

fn idle_table(lessons: &[Lesson], idle: &[Result<Idle, String>]) -> String {
    let header = [
        "",
        "joined",
        "RSS before",
        "RSS idle",
        "per client",
        "threads",
    ];
    let rows = lessons.iter().zip(idle).map(|(lesson, idle)| {
        let mut row = vec![lesson.label.clone()];
        match idle {
            Ok(i) => row.extend([
                thousands(i.connected),
                mib(i.before_kib),
                mib(i.after_kib),
                i.bytes_per_client()
                    .map_or("-".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
                thousands(i.threads),
            ]),
            Err(e) => row.push(format!("failed: {}", e.lines().next().unwrap_or(""))),
        }
        row
    });
    table(&header, rows)
}

fn hostile_table(lessons: &[Lesson], runs: &[(Outcome, Outcome)]) -> String {
    let header = [
        "",
        "deliveries/s",
        "hostile",
        "change",
        "p99 ms",
        "hostile",
        "change",
        "lost",
        "peak RSS",
        "sleepers closed",
        "slowloris closed",
    ];
    let rows = lessons.iter().zip(runs).map(|(lesson, (plain, hostile))| {
        let mut row = vec![lesson.label.clone()];
        match (plain, hostile) {
            (Ok(plain), Ok(hostile)) => row.extend(hostile_cells(plain, hostile)),
            (Err(e), _) | (_, Err(e)) => {
                row.push(format!("failed: {}", e.lines().next().unwrap_or("")))
            }
        }
        row
    });
    table(&header, rows)
}

/// The cells of the hostile table after the lesson: as its header says.
fn hostile_cells(plain: &Measured, hostile: &Measured) -> [String; 10] {
    let (p, h) = (&plain.load, &hostile.load);
    let rate = |l: &Load| thousands(l.deliveries_per_sec.round() as u64);
    let p99 = |l: &Load| l.p99_us().map_or("-".into(), ms);
    let percent = |change: String| match change.is_empty() {
        true => "-".to_string(),
        false => format!("{change}%"),
    };
    [
        rate(p),
        rate(h),
        percent(change(p.deliveries_per_sec, h.deliveries_per_sec)),
        p99(p),
        p99(h),
        percent(p99_change(p, h)),
        thousands(h.lost),
        hostile.peak_rss_kib.map_or("-".into(), mib),
        format!("{} of {SLEEPERS}", h.sleepers_closed),
        format!("{} of {SLOWLORIS}", h.slowloris_closed),
    ]
}

/// A plain-text table: the first column left-aligned, the others right.
fn table(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let rows: Vec<Vec<String>> = std::iter::once(header.iter().map(|h| h.to_string()).collect())
        .chain(rows)
        .collect();
    let columns = header.len();
    let width = |c: usize| {
        rows.iter()
            .filter(|r| r.len() == columns) // a `failed:` row spans the rest
            .map(|r| r[c].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let mut out = String::new();
    for row in &rows {
        let _ = write!(out, "  {:<w$}", row[0], w = widths[0]);
        for (c, cell) in row.iter().enumerate().skip(1) {
            match widths.get(c).filter(|_| row.len() == columns) {
                Some(w) => {
                    let _ = write!(out, "  {cell:>w$}");
                }
                None => {
                    let _ = write!(out, "  {cell}");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Microseconds as milliseconds: `8.39`.
fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

/// KiB as MiB: `57.3 MiB`.
fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// This machine, as a learner would compare it with another: cores, CPU,
/// memory and kernel.
fn machine() -> String {
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let read = |path: &str| fs::read_to_string(path).unwrap_or_default();
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_string();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = process::status_number(&read("/proc/meminfo"), "MemTotal")
        .map_or(String::new(), |kib| {
            format!(", {:.0} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    format!("{cores} cores ({cpu}){memory}, Linux {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_default_to_the_full_comparison() {
        let full = Options::parse(&[]).unwrap();
        assert_eq!(full.lessons, [8, 9, 10]);
        assert_eq!(full.clients, [10, 100, 1000, 10_000]);
        assert_eq!(
            (full.duration, full.idle_clients, full.hostile),
            (10.0, 10_000, false)
        );
        let quick =
            Options::parse(&args("--quick --lessons 8 --clients 10,1_000 --hostile")).unwrap();
        assert_eq!(quick.lessons, [8]);
        assert_eq!(quick.clients, [10, 1000]);
        assert_eq!(
            (quick.duration, quick.idle_clients, quick.hostile),
            (2.0, 1000, true)
        );
        for wrong in [
            "--lessons 7",
            "--clients 0",
            "--duration x",
            "--clients",
            "--fast",
        ] {
            assert!(Options::parse(&args(wrong)).is_err(), "{wrong}");
        }
    }

    #[test]
    fn reads_the_load_tools_report() {
        let stdout = r#"{"connected":1000,"connect_failures":0,"sent":3000,"expected":27000,"received":26990,"lost":10,"deliveries_per_sec":8996.7,"latency_us":{"max":45311,"mean":659.5,"p50":355,"p99":4175},"errors":0,"note":null,"sleepers":{"asked":1,"connected":1,"closed":1},"slowloris":{"asked":0,"connected":0,"closed":0}}"#;
        let load = Load::from_json(stdout).unwrap();
        assert_eq!(load.latency, Some([355, 4175, 45311]));
        assert_eq!(
            (load.connected, load.lost, load.sleepers_closed),
            (1000, 10, 1)
        );
        let nothing =
            Load::from_json(r#"{"connected":0,"latency_us":null,"note":"no client could join"}"#)
                .unwrap();
        assert_eq!(nothing.latency, None);
        assert_eq!(nothing.note.as_deref(), Some("no client could join"));
        assert_eq!(Load::from_json("error: refused"), None);
    }

    #[test]
    fn csv_rows_quote_what_needs_quoting() {
        let row = csv_row(&[
            "8".into(),
            "a, b".into(),
            "say \"hi\"".into(),
            String::new(),
        ]);
        assert_eq!(row, "8,\"a, b\",\"say \"\"hi\"\"\",\n");
    }

    #[test]
    fn a_results_row_has_a_field_per_column() {
        let measured = Measured {
            load: Load {
                connected: 100,
                deliveries_per_sec: 900.0,
                latency: Some([300, 4000, 9000]),
                ..Load::default()
            },
            baseline_rss_kib: 2000,
            peak_rss_kib: Some(4000),
            cpu_ticks: Some(150),
            note: None,
        };
        let lesson = Lesson {
            number: 8,
            model: "threads",
            label: "lesson 8: threads".into(),
            bin: PathBuf::new(),
        };
        let runs = [
            Run {
                lesson: 0,
                clients: 100,
                result: Ok(measured),
            },
            Run {
                lesson: 0,
                clients: 10_000,
                result: Err("did not start, at all".into()),
            },
        ];
        let csv = results_csv(&[lesson], &runs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], RESULTS_HEADER);
        assert_eq!(
            lines[1],
            "8,threads,100,100,0,0,0,0,0,900.0,300,4000,9000,0,2000,4000,20.00,1.50,"
        );
        assert_eq!(
            lines[2],
            "8,threads,10000,,,,,,,,,,,,,,,,\"did not start, at all\""
        );
        let columns = RESULTS_HEADER.split(',').count();
        assert_eq!(lines[1].split(',').count(), columns);
        assert_eq!(change(200.0, 150.0), "-25.0");
    }
}
