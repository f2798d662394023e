//! The coordinator's state: jobs, workers and leases, and what happens when
//! a worker asks for work, reports a result, leaves or falls silent. No
//! sockets here: the server (`server.rs`) calls these methods under a lock,
//! and they send to a worker through its queue, without ever waiting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::events::event;
use crate::lease::{Leases, Lost, MAX_ATTEMPTS, TaskId, WorkerId};
use crate::log::{LogWriter, Record};
use crate::task::chunks;
use crate::wire::{Progress, Reply, Spec};

// ANCHOR: worker
/// A connected worker, as the coordinator sees it.
pub struct Worker {
    pub addr: SocketAddr,
    /// How many tasks it runs at once.
    pub slots: u32,
    /// How many more tasks it asked for and has not been given yet.
    pub credit: u32,
    /// How many results it reported first.
    pub finished: u64,
    /// Its connection's queue of replies.
    queue: mpsc::Sender<Reply>,
    /// Cancelled to close its connection.
    pub hang_up: CancellationToken,
}

impl Worker {
    /// Queues `reply` for the worker's connection, without waiting. `false`
    /// if the queue is full or closed: the connection is on its way out.
    pub fn send(&self, reply: Reply) -> bool {
        self.queue.try_send(reply).is_ok()
    }
}
// ANCHOR_END: worker

// ANCHOR: job
/// A job and its tasks' results.
pub struct Job {
    pub id: u64,
    pub tasks: u32,
    pub spec: Spec,
    /// For a words job, each task's chunk of the text.
    chunks: Vec<Range<usize>>,
    /// Each task's result, once it has one.
    results: Vec<Option<u64>>,
    pub done: u32,
    pub failed: u32,
    pub retried: u32,
    /// The sum of the results recorded so far.
    pub sum: u64,
}
// ANCHOR_END: job

impl Job {
    pub fn new(id: u64, tasks: u32, spec: Spec) -> Job {
        let chunks = match &spec {
            Spec::Words { text, .. } => chunks(text, tasks),
            _ => Vec::new(),
        };
        Job {
            id,
            tasks,
            spec,
            chunks,
            results: vec![None; tasks as usize],
            done: 0,
            failed: 0,
            retried: 0,
            sum: 0,
        }
    }

    /// What task `index` does.
    pub fn task_spec(&self, index: u32) -> Spec {
        match &self.spec {
            Spec::Words { text, ms } => Spec::Words {
                ms: *ms,
                text: self
                    .chunks
                    .get(index as usize)
                    .map_or("", |c| &text[c.clone()])
                    .to_string(),
            },
            other => other.clone(),
        }
    }

    /// Whether task `index` has its result.
    pub fn is_done(&self, index: u32) -> bool {
        self.results
            .get(index as usize)
            .is_some_and(Option::is_some)
    }

    // ANCHOR: record
    /// Exercise 11.4: results exactly once per task — book §11.4.
    ///
    /// Records `value` as the result of task `index`, if it has none yet:
    /// the task is done, and its value counts in `sum` — once. Returns
    /// `true` when it was recorded; `false`, changing nothing, for a task
    /// that already has a result (a retried task reported twice, a result
    /// written twice in the log) or for an index the job does not have.
    ///
    /// `value` comes from a worker, untrusted: `sum` adds it with
    /// `wrapping_add`, so the total is taken modulo 2^64 and never panics
    /// (a panic here, with the state half-changed, would stop the
    /// coordinator). No honest task comes near that: a word count is
    /// bounded by the text's length.
    pub fn record(&mut self, index: u32, value: u64) -> bool {
        let _ = (index, value); // unused until you write the function
        todo!("exercise 11.4: results exactly once per task — book §11.4")
    }
    // ANCHOR_END: record

    /// How the job is doing.
    pub fn progress(&self) -> Progress {
        Progress {
            job: self.id,
            tasks: self.tasks,
            done: self.done,
            failed: self.failed,
            retried: self.retried,
            result: self.sum,
        }
    }
}

/// The whole state.
pub struct Coordinator {
    pub leases: Leases,
    pub workers: BTreeMap<WorkerId, Worker>,
    pub jobs: BTreeMap<u64, Job>,
    next_worker: u64,
    next_job: u64,
    /// Tasks accepted (or being accepted) and not yet done or failed.
    unfinished: usize,
    max_queued: usize,
    // Used by on_result (exercise 11.4).
    #[cfg_attr(not(feature = "solution"), allow(dead_code))]
    log: LogWriter,
    /// Bumped whenever a task finishes, for clients waiting on a job.
    changed: watch::Sender<u64>,
}

impl Coordinator {
    pub fn new(lease: Duration, max_queued: usize, log: LogWriter) -> Coordinator {
        Coordinator {
            leases: Leases::new(lease, MAX_ATTEMPTS),
            workers: BTreeMap::new(),
            jobs: BTreeMap::new(),
            next_worker: 1,
            next_job: 1,
            unfinished: 0,
            max_queued,
            log,
            changed: watch::Sender::new(0),
        }
    }

    // ANCHOR: replay
    /// Rebuilds the jobs from the log's records: every job, every result
    /// (counted once however often it was written), and every task without
    /// a result back in the queue. Returns (jobs, results, tasks queued).
    pub fn replay(&mut self, records: Vec<Record>) -> (usize, usize, usize) {
        let mut results = 0;
        for record in records {
            match record {
                Record::Job { id, tasks, spec } => {
                    self.jobs.insert(id, Job::new(id, tasks, spec));
                    self.next_job = self.next_job.max(id + 1);
                }
                Record::Result { job, index, value } => {
                    if let Some(job) = self.jobs.get_mut(&job) {
                        results += usize::from(job.record(index, value));
                    }
                }
            }
        }
        let mut queued = 0;
        for job in self.jobs.values() {
            for index in (0..job.tasks).filter(|&i| !job.is_done(i)) {
                self.leases.push(TaskId { job: job.id, index });
                queued += 1;
            }
        }
        self.unfinished = queued;
        (self.jobs.len(), results, queued)
    }
    // ANCHOR_END: replay

    /// A receiver that sees a change whenever a task finishes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    // ANCHOR: reserve
    /// Makes room for a job of `tasks` tasks, or says why not: this is the
    /// backpressure on submitters. Returns the new job's id.
    pub fn reserve(&mut self, tasks: u32) -> Result<u64, String> {
        let tasks = tasks as usize;
        if self.unfinished + tasks > self.max_queued {
            return Err(format!(
                "queue full: {} unfinished, {} more would exceed --max-queued {}; \
                 try again later",
                plural(self.unfinished, "task"),
                plural(tasks, "task"),
                self.max_queued
            ));
        }
        self.unfinished += tasks;
        let id = self.next_job;
        self.next_job += 1;
        Ok(id)
    }
    // ANCHOR_END: reserve

    /// Gives back what [`reserve`](Self::reserve) took, for a job that could
    /// not be logged.
    pub fn unreserve(&mut self, tasks: u32) {
        self.unfinished -= tasks as usize;
    }

    /// Adds a logged job and queues its tasks.
    pub fn add_job(&mut self, id: u64, tasks: u32, spec: Spec) {
        self.jobs.insert(id, Job::new(id, tasks, spec));
        for index in 0..tasks {
            self.leases.push(TaskId { job: id, index });
        }
    }

    /// Registers a worker; its replies go to `queue`.
    pub fn add_worker(
        &mut self,
        addr: SocketAddr,
        slots: u32,
        queue: mpsc::Sender<Reply>,
        hang_up: CancellationToken,
    ) -> WorkerId {
        let id = WorkerId(self.next_worker);
        self.next_worker += 1;
        self.workers.insert(
            id,
            Worker {
                addr,
                slots,
                credit: 0,
                finished: 0,
                queue,
                hang_up,
            },
        );
        event(format!(
            "worker {} joined from {addr} with {}",
            id.0,
            plural(slots as usize, "slot")
        ));
        id
    }

    /// A worker asks for `n` more tasks. More than its free slots is a
    /// protocol error.
    pub fn ready(&mut self, id: WorkerId, n: u32) -> Result<(), String> {
        let held = self.leases.held_by(id);
        let Some(worker) = self.workers.get_mut(&id) else {
            return Ok(());
        };
        if (worker.credit + n) as usize + held > worker.slots as usize {
            return Err(format!(
                "asked for {} more with {held} in hand and {} asked for, but has {}",
                plural(n as usize, "task"),
                worker.credit,
                plural(worker.slots as usize, "slot")
            ));
        }
        worker.credit += n;
        Ok(())
    }

    /// Any message from a worker shows it is alive: its leases are renewed.
    pub fn heard_from(&mut self, id: WorkerId, now: Instant) {
        self.leases.renew(id, now);
    }

    // ANCHOR: dispatch
    /// Exercise 11.3: pull-based dispatch — book §11.3.
    ///
    /// Hands queued tasks to the workers that asked for them: a worker gets
    /// at most as many tasks as its `credit` (the free slots it announced),
    /// and each lease sent uses one. Go round the workers one task at a
    /// time, so that a burst of tasks is spread over every worker that
    /// asked. Lease each task with [`Leases::grant`], and send the worker
    /// the message [`lease_for`] makes. Stop when the queue is empty or no
    /// worker has credit left.
    pub fn dispatch(&mut self, now: Instant) {
        let _ = now; // unused until you write the function
        todo!("exercise 11.3: pull-based dispatch — book §11.3")
    }
    // ANCHOR_END: dispatch

    // ANCHOR: on_result
    /// Exercise 11.4: results exactly once per task — book §11.4.
    ///
    /// Worker `id` reports `value` as the result of `task`:
    /// - a task that already has its result: a duplicate (a retry that
    ///   finished too, a report sent twice). Ignore it: `Ok(false)`.
    /// - a task `id` does not hold a lease on (or of a job that does not
    ///   exist): a protocol error, `Err(why)`; the server closes that
    ///   worker. Nothing is recorded.
    /// - otherwise, the result: end the lease ([`Leases::complete`]),
    ///   record it in its job ([`Job::record`]), append it to the log
    ///   (`self.log.append(Record::Result { … })`), then call
    ///   `self.finished(id, task)`, which counts it. `Ok(true)`.
    pub fn on_result(&mut self, id: WorkerId, task: TaskId, value: u64) -> Result<bool, String> {
        let _ = (id, task, value); // unused until you write the function
        todo!("exercise 11.4: results exactly once per task — book §11.4")
    }
    // ANCHOR_END: on_result

    /// A task is done or failed: one fewer unfinished; tell the waiters.
    fn finished(&mut self, by: WorkerId, task: TaskId) {
        self.unfinished = self.unfinished.saturating_sub(1);
        if let Some(worker) = self.workers.get_mut(&by) {
            worker.finished += 1;
        }
        if let Some(job) = self.jobs.get(&task.job) {
            let p = job.progress();
            if p.finished() {
                event(format!(
                    "job {}: {}, {} done, {} failed, {} retried, result {}",
                    p.job,
                    tasks(p.tasks as usize),
                    p.done,
                    p.failed,
                    p.retried,
                    p.result
                ));
            }
        }
        self.changed.send_modify(|n| *n += 1);
    }

    /// Counts what a lease's end means for its task.
    fn lost(&mut self, lost: &[Lost]) {
        for l in lost {
            if !l.requeued {
                event(format!(
                    "job {} task {}: given up after {MAX_ATTEMPTS} attempts",
                    l.task.job, l.task.index
                ));
                if let Some(job) = self.jobs.get_mut(&l.task.job) {
                    job.failed += 1;
                }
                self.finished(WorkerId(0), l.task);
            }
        }
    }

    // ANCHOR: remove_worker
    /// A worker's connection ended (`why`): whatever it held goes back to
    /// the queue at once, and other workers get it.
    pub fn remove_worker(&mut self, id: WorkerId, why: &str, now: Instant) {
        let Some(worker) = self.workers.remove(&id) else {
            return; // already removed, when its lease expired
        };
        let lost = self.leases.release(id);
        event(format!(
            "worker {} ({}) left: {why}; {} in hand, back to the queue",
            id.0,
            worker.addr,
            tasks(lost.len())
        ));
        self.lost(&lost);
        self.dispatch(now);
    }
    // ANCHOR_END: remove_worker

    // ANCHOR: expire
    /// Ends the leases whose time is up. Their workers fell silent: they
    /// may be dead, stopped or cut off — only the timeout is sure — so
    /// their connections are closed too, and everything they held goes
    /// back to the queue.
    pub fn expire(&mut self, now: Instant) {
        let lost = self.leases.expire(now);
        if lost.is_empty() {
            return;
        }
        let silent: BTreeSet<WorkerId> = lost.iter().map(|l| l.worker).collect();
        for l in &lost {
            event(format!(
                "lease expired: job {} task {} (worker {} silent for {} ms), back to the queue",
                l.task.job,
                l.task.index,
                l.worker.0,
                self.leases.lease().as_millis()
            ));
        }
        self.lost(&lost);
        for id in silent {
            if let Some(worker) = self.workers.remove(&id) {
                worker.hang_up.cancel();
                let more = self.leases.release(id);
                event(format!(
                    "worker {} ({}) closed: silent past its lease",
                    id.0, worker.addr
                ));
                self.lost(&more);
            }
        }
        self.dispatch(now);
    }
    // ANCHOR_END: expire

    /// How job `job` is doing; `None` if there is no such job.
    pub fn progress(&self, job: u64) -> Option<Progress> {
        self.jobs.get(&job).map(Job::progress)
    }

    /// The state, for people: `lesson11 status`.
    pub fn status(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "queue: {} queued, {} leased, {} unfinished (--max-queued {})",
            self.leases.queue_len(),
            self.leases.held_len(),
            self.unfinished,
            self.max_queued
        );
        let _ = writeln!(s, "workers: {}", self.workers.len());
        for (id, w) in &self.workers {
            let _ = writeln!(
                s,
                "  worker {} {}: {}, {} in hand, {} finished",
                id.0,
                w.addr,
                plural(w.slots as usize, "slot"),
                self.leases.held_by(*id),
                w.finished
            );
        }
        let _ = writeln!(s, "jobs: {}", self.jobs.len());
        // The last few jobs are the interesting ones.
        for job in self
            .jobs
            .values()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            let p = job.progress();
            let _ = writeln!(
                s,
                "  job {}: {}, {} done, {} failed, {} retried, result {}",
                p.job,
                tasks(p.tasks as usize),
                p.done,
                p.failed,
                p.retried,
                p.result
            );
        }
        s
    }
}

// ANCHOR: lease_for
/// The message that leases `task` (its `attempt`-th lease) to `worker`;
/// counts and logs a retry.
pub fn lease_for(
    jobs: &mut BTreeMap<u64, Job>,
    task: TaskId,
    attempt: u32,
    worker: WorkerId,
) -> Reply {
    let spec = match jobs.get_mut(&task.job) {
        Some(job) => {
            if attempt > 1 {
                job.retried += 1;
                event(format!(
                    "job {} task {}: attempt {attempt}, to worker {}",
                    task.job, task.index, worker.0
                ));
            }
            job.task_spec(task.index)
        }
        None => Spec::Sleep { ms: 0 },
    };
    Reply::Lease {
        job: task.job,
        index: task.index,
        attempt,
        spec,
    }
}
// ANCHOR_END: lease_for

/// "1 task", "3 tasks".
fn tasks(n: usize) -> String {
    plural(n, "task")
}

/// "1 slot", "2 slots".
pub fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
