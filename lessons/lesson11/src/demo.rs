//! `cargo run -p lesson11`: the whole lesson in one narrated run on
//! loopback — a coordinator and workers in this process, a job, a worker
//! that dies, one that freezes, and the log read back.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::client;
use crate::events::{event, print_directly};
use crate::lease::{Leases, TaskId, WorkerId};
use crate::log::{self, LOG_FILE, Record};
use crate::server::{Config, Server};
use crate::task::BUILT_IN_TEXT;
use crate::wire::{Reply, Request, Spec, split};

const LEASE: Duration = Duration::from_millis(300);
const PATIENCE: Duration = Duration::from_secs(10);

pub async fn run() -> anyhow::Result<()> {
    print_directly();
    println!("lesson 11 — a distributed task queue, narrated\n");

    println!("1. Leases on paper (exercise 11.1)");
    let t0 = Instant::now();
    let mut leases = Leases::new(Duration::from_millis(100), 5);
    for index in 0..2 {
        leases.push(TaskId { job: 1, index });
    }
    let first = leases.grant(WorkerId(1), t0);
    let second = leases.grant(WorkerId(2), t0);
    println!(
        "   two tasks queued; grant → {}, then {}",
        granted(first),
        granted(second)
    );
    println!("   queued now: {}", leases.queue_len());
    let lost = leases.expire(t0 + Duration::from_millis(99));
    println!("   99 ms later, expire → {} lost", lost.len());
    let lost = leases.expire(t0 + Duration::from_millis(100));
    println!(
        "   100 ms later, expire → {} lost, each requeued: {:?}",
        lost.len(),
        lost.iter().map(|l| l.requeued).collect::<Vec<_>>()
    );
    let again = leases.grant(WorkerId(2), t0 + Duration::from_millis(101));
    println!(
        "   grant → {}: a task back from an expired lease, its second attempt",
        granted(again)
    );
    println!(
        "   (both went back to the front of the queue, one after the other: the last one \
         put back, task 1, is now first)\n"
    );

    println!("2. A coordinator and two workers");
    let data = DemoDir::new();
    let addr = start_coordinator(&data.0).await?;
    println!(
        "   coordinator on {addr}, lease {} ms, log in {}",
        LEASE.as_millis(),
        data.0.display()
    );
    let fast = spawn_worker(&addr, 2);
    let _slow = spawn_worker(&addr, 1);
    wait_for(&addr, "workers: 2").await?;

    println!("\n3. A words job: 12 tasks, each counting a chunk of a text");
    let job = submit(
        &addr,
        12,
        Spec::Words {
            text: BUILT_IN_TEXT.to_string(),
            ms: 0,
        },
    )
    .await?;
    let p = wait(&addr, job).await?;
    let expected = BUILT_IN_TEXT.split_whitespace().count() as u64;
    println!(
        "   job {job}: {} tasks, {} done, {} failed, {} retried; result {} (split_whitespace: {expected})",
        p.tasks, p.done, p.failed, p.retried, p.result
    );
    if p.result != expected {
        bail!("the words job counted {} words, not {expected}", p.result);
    }

    println!("\n4. A worker dies with tasks in hand");
    let job = submit(&addr, 6, Spec::Sleep { ms: 200 }).await?;
    wait_for(&addr, "2 slots, 2 in hand").await?;
    println!("   the 2-slot worker holds 2 tasks; killing it (its connection closes: EOF)");
    fast.abort();
    let p = wait(&addr, job).await?;
    println!(
        "   job {job}: {} done, {} retried — its tasks went to the other worker at once",
        p.done, p.retried
    );

    println!("\n5. A worker freezes (like kill -STOP): only the lease's timeout can tell");
    let (mut from, mut to) = split(tokio::net::TcpStream::connect(&addr).await?);
    to.request(&Request::Hello { slots: 1 }).await?;
    let _welcome = from.reply().await?;
    to.request(&Request::Ready { slots: 1 }).await?;
    wait_for(&addr, "workers: 2").await?;
    let job = submit(&addr, 3, Spec::Sleep { ms: 50 }).await?;
    if let Some(Reply::Lease { index, .. }) = from.reply().await? {
        println!("   the frozen worker got task {index} and says nothing more");
    }
    let frozen = Instant::now();
    let p = wait(&addr, job).await?;
    println!(
        "   job {job}: {} done, {} retried, {} ms after it froze (lease {} ms)",
        p.done,
        p.retried,
        frozen.elapsed().as_millis(),
        LEASE.as_millis()
    );
    drop((from, to));

    println!("\n6. The log (exercise 11.5)");
    let bytes = std::fs::read(data.0.join(LOG_FILE)).context("reading the log")?;
    let scan = log::scan(&bytes);
    let jobs = scan
        .records
        .iter()
        .filter(|r| matches!(r, Record::Job { .. }))
        .count();
    println!(
        "   {} bytes, {} records: {jobs} jobs, {} results",
        bytes.len(),
        scan.records.len(),
        scan.records.len() - jobs
    );
    let mut torn = bytes.clone();
    torn.extend_from_slice(
        &log::framed(&Record::Result {
            job: 9,
            index: 0,
            value: 1,
        })[..10],
    );
    let scan = log::scan(&torn);
    println!(
        "   with half a record more (a crash mid-write): {} records, {} good bytes of {}: the tail is cut",
        scan.records.len(),
        scan.good,
        torn.len()
    );
    drop(data);

    println!("\nTry it yourself, in a few terminals:");
    // The same build as this demo's, so that the commands run the same code.
    let run = if cfg!(feature = "solution") {
        "cargo run -q -p lesson11 --features solution --"
    } else {
        "cargo run -q -p lesson11 --"
    };
    netlings_kit::print_commands(&[
        (
            format!("{run} coordinator --data /tmp/tq --lease-ms 2000"),
            "",
        ),
        (format!("{run} worker 127.0.0.1:7011 --slots 2"), ""),
        (format!("{run} worker 127.0.0.1:7011"), ""),
        (
            format!("JOB=$({run} submit 127.0.0.1:7011 --tasks 20 --kind sleep --ms 500)"),
            "",
        ),
        (
            format!("{run} wait 127.0.0.1:7011 $JOB"),
            "kill a worker meanwhile",
        ),
        (format!("{run} status 127.0.0.1:7011"), ""),
    ]);
    Ok(())
}

/// "job 1 task 0, attempt 1", or "nothing queued".
fn granted(grant: Option<(TaskId, u32)>) -> String {
    match grant {
        Some((task, attempt)) => format!("job {} task {}, attempt {attempt}", task.job, task.index),
        None => "nothing queued".to_string(),
    }
}

/// The demo's log directory, removed when dropped (also while unwinding
/// from an error). A `todo!()` ends the process at once, without any
/// unwinding: the next run removes what such a run left behind.
struct DemoDir(PathBuf);

impl DemoDir {
    const PREFIX: &str = "netlings-lesson11-demo-";

    fn new() -> DemoDir {
        let tmp = std::env::temp_dir();
        // Left behind by runs whose process is gone.
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(Self::PREFIX)) else {
                    continue;
                };
                let gone = pid.parse::<u32>().is_ok()
                    && std::fs::exists(format!("/proc/{pid}")).is_ok_and(|alive| !alive);
                if gone {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tmp.join(format!("{}{}", Self::PREFIX, std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DemoDir(dir)
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_coordinator(data: &std::path::Path) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let config = Config {
        data: PathBuf::from(data),
        lease: LEASE,
        max_queued: 1000,
    };
    let server = Server::open(&config).context("opening the log")?;
    tokio::spawn(server.run(listener));
    Ok(addr)
}

fn spawn_worker(addr: &str, slots: u32) -> JoinHandle<()> {
    let addr = addr.to_string();
    tokio::spawn(async move { crate::worker::run(&addr, slots, None).await })
}

async fn submit(addr: &str, tasks: u32, spec: Spec) -> anyhow::Result<u64> {
    match client::submit(addr, &Request::Submit { tasks, spec }).await {
        Ok(job) => Ok(job),
        Err(client::Refusal::Refused(why)) => bail!("submit refused: {why}"),
        Err(client::Refusal::Io(e)) => Err(e).context("submitting"),
    }
}

async fn wait(addr: &str, job: u64) -> anyhow::Result<crate::wire::Progress> {
    match client::wait(addr, job, PATIENCE).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => bail!("job {job} did not finish within {PATIENCE:?}"),
        Err(client::Refusal::Refused(why)) => bail!("{why}"),
        Err(client::Refusal::Io(e)) => Err(e).context("waiting"),
    }
}

/// Polls `status` until it shows `text`.
async fn wait_for(addr: &str, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = client::status(addr).await?;
        if status.contains(text) {
            return Ok(());
        }
        if Instant::now() > deadline {
            event(status);
            bail!("the coordinator's status never showed {text:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
