//! Lease bookkeeping: which task is queued, which is leased to which worker
//! until when, and how many times each was handed out. Pure: no sockets, no
//! clock — the time is always a parameter, so tests can move it at will.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// A task: task `index` of job `job`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    pub job: u64,
    pub index: u32,
}

/// A worker, as the coordinator numbers its connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(pub u64);

/// How many leases a task gets before it is given up as failed.
pub const MAX_ATTEMPTS: u32 = 5;

// ANCHOR: held
/// A task in a worker's hands: whose, and until when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Held {
    pub worker: WorkerId,
    pub deadline: Instant,
}

/// A lease that ended without a result: its worker left, or fell silent
/// past the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lost {
    pub task: TaskId,
    pub worker: WorkerId,
    /// `true`: the task is back in the queue. `false`: it had its
    /// [`MAX_ATTEMPTS`] leases already, and is given up as failed.
    pub requeued: bool,
}

/// Every task the coordinator has not finished is in exactly one place:
/// in `queue`, waiting, or in `held`, leased to a worker.
#[derive(Debug)]
pub struct Leases {
    lease: Duration,
    max_attempts: u32,
    queue: VecDeque<TaskId>,
    held: HashMap<TaskId, Held>,
    /// How many leases each unfinished task has had.
    attempts: HashMap<TaskId, u32>,
}
// ANCHOR_END: held

impl Leases {
    /// No tasks yet; each lease will last `lease`.
    pub fn new(lease: Duration, max_attempts: u32) -> Leases {
        Leases {
            lease,
            max_attempts,
            queue: VecDeque::new(),
            held: HashMap::new(),
            attempts: HashMap::new(),
        }
    }

    /// How long a lease lasts.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// Queues a new task, at the back.
    pub fn push(&mut self, task: TaskId) {
        self.queue.push_back(task);
    }

    // ANCHOR: grant
    /// Exercise 11.1: lease bookkeeping — book §11.1.
    ///
    /// Leases the task at the front of the queue to `worker`, until `now`
    /// plus the lease length, and returns it with its attempt number: 1 the
    /// first time the task is leased, 2 the next, and so on. `None` if no
    /// task is queued. A leased task is no longer queued: it is never leased
    /// to two workers at once.
    pub fn grant(&mut self, worker: WorkerId, now: Instant) -> Option<(TaskId, u32)> {
        let task = self.queue.pop_front()?;
        let deadline = now + self.lease;
        self.held.insert(task, Held { worker, deadline });
        let attempt = self.attempts.entry(task).or_insert(0);
        *attempt += 1;
        Some((task, *attempt))
    }
    // ANCHOR_END: grant

    /// Renews every lease `worker` holds: a heartbeat.
    pub fn renew(&mut self, worker: WorkerId, now: Instant) {
        let deadline = now + self.lease;
        for held in self.held.values_mut().filter(|h| h.worker == worker) {
            held.deadline = deadline;
        }
    }

    /// The task is finished: its lease ends, and it will not come back.
    /// `false` if `worker` did not hold it.
    pub fn complete(&mut self, task: TaskId, worker: WorkerId) -> bool {
        if self.holder(task) != Some(worker) {
            return false;
        }
        self.held.remove(&task);
        self.attempts.remove(&task);
        true
    }

    /// `worker` is gone (its connection closed): every task it held is lost.
    pub fn release(&mut self, worker: WorkerId) -> Vec<Lost> {
        let mut tasks: Vec<TaskId> = self
            .held
            .iter()
            .filter(|(_, h)| h.worker == worker)
            .map(|(task, _)| *task)
            .collect();
        tasks.sort();
        tasks
            .into_iter()
            .map(|task| {
                self.held.remove(&task);
                self.lose(task, worker)
            })
            .collect()
    }

    /// A task that was leased to `worker` (and is no longer in `held`) lost
    /// its lease: back to the front of the queue — it has waited longest —
    /// or, after [`MAX_ATTEMPTS`] leases, given up.
    fn lose(&mut self, task: TaskId, worker: WorkerId) -> Lost {
        let attempts = self.attempts.get(&task).copied().unwrap_or(0);
        let requeued = attempts < self.max_attempts;
        if requeued {
            self.queue.push_front(task);
        } else {
            self.attempts.remove(&task);
        }
        Lost {
            task,
            worker,
            requeued,
        }
    }

    // ANCHOR: expire
    /// Exercise 11.1: lease bookkeeping — book §11.1.
    ///
    /// Ends every lease whose deadline is `now` or earlier, and returns what
    /// was lost, one [`Lost`] per task. Each task goes back to the queue
    /// exactly once (or is given up after its last attempt — the private
    /// helper `lose` decides which, and queues it). Leases whose deadline is
    /// still ahead are kept.
    pub fn expire(&mut self, now: Instant) -> Vec<Lost> {
        let mut expired: Vec<(TaskId, WorkerId)> = self
            .held
            .iter()
            .filter(|(_, h)| h.deadline <= now)
            .map(|(task, h)| (*task, h.worker))
            .collect();
        // In a stable order, so a run can be replayed.
        expired.sort();
        expired
            .into_iter()
            .map(|(task, worker)| {
                self.held.remove(&task);
                self.lose(task, worker)
            })
            .collect()
    }
    // ANCHOR_END: expire

    /// Who holds `task`, if anyone.
    pub fn holder(&self, task: TaskId) -> Option<WorkerId> {
        self.held.get(&task).map(|h| h.worker)
    }

    /// The lease of `task`, if it has one.
    pub fn held(&self, task: TaskId) -> Option<Held> {
        self.held.get(&task).copied()
    }

    /// The tasks in the queue, front first.
    pub fn queued(&self) -> impl Iterator<Item = TaskId> + '_ {
        self.queue.iter().copied()
    }

    /// How many tasks wait in the queue.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// How many tasks are leased.
    pub fn held_len(&self) -> usize {
        self.held.len()
    }

    /// How many tasks `worker` holds.
    pub fn held_by(&self, worker: WorkerId) -> usize {
        self.held.values().filter(|h| h.worker == worker).count()
    }

    /// The workers that hold at least one lease.
    pub fn holders(&self) -> HashSet<WorkerId> {
        self.held.values().map(|h| h.worker).collect()
    }

    /// How many leases `task` has had (0 if none, or if it is finished).
    pub fn attempts(&self, task: TaskId) -> u32 {
        self.attempts.get(&task).copied().unwrap_or(0)
    }
}
