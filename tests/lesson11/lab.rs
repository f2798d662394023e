//! The task queue across the virtual LAN (tools/lab): the coordinator on
//! one host, workers on two others, and a worker's cable pulled mid-job.
//! Skipped, with a notice, where the lab cannot be built (not Linux, not root).

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use netlings_lab::{Lab, unavailable};

use crate::crash::{Rng, assert_all_done, coordinator_output, submit, text, wait, worker};
use crate::support::{Hint, Server, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_lesson11");

const HINT: Hint = Hint(
    "exercises 11.2 and 11.3 — book §11.2–§11.3: a silent worker's lease must run out \
     (only the timeout is sure), and a worker must come back when it can; this test \
     runs the whole system, so it is named after the last exercise, 11.5",
);

#[test]
fn ex11_5_a_workers_cut_link_moves_its_tasks_and_it_comes_back_when_restored() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    crate::crash::needs_exercises_11_1_to_11_4();
    let lab = Lab::for_test("l11cut", 3).expect("the lab comes up");
    let scratch = TempDir::new("lab");
    let (mut rng, _) = Rng::seeded();
    let text = text(&mut rng, 5_000);
    let total = text.split_whitespace().count();
    let text_path = scratch.join("text.txt");
    fs::write(&text_path, &text).expect("writing the text");
    let text_arg = text_path.to_str().expect("a UTF-8 path");
    let data = scratch.join("data");

    let coord = Server::start_command(
        lab.command("h1", BIN).args([
            "coordinator",
            "198.18.0.1:0",
            "--data",
            data.to_str().expect("a UTF-8 path"),
            "--lease-ms",
            "400",
        ]),
        HINT,
    );
    let addr = coord.addr().to_string();
    let mut near = worker(lab.command("h2", BIN), &addr, &scratch.join("worker0.log"));
    let _far = worker(lab.command("h3", BIN), &addr, &scratch.join("worker1.log"));

    // 200 tasks of 10 ms over 2 workers of 2 slots: half a second of work.
    let job = submit(
        &mut lab.command("h1", BIN),
        &[&addr, "--tasks", "200", "--text", text_arg, "--ms", "10"],
    );
    // Mid-job, while h3's worker holds tasks, pull h3's cable. Nobody is
    // told: h3's worker and the coordinator just stop hearing each other.
    thread::sleep(Duration::from_millis(150));
    lab.cut("h3").expect("cutting h3's link");
    let cut_at = Instant::now();

    // The job must finish without h3: its leases run out, and its tasks go
    // to h2. (h3 is still cut off while this runs.)
    let finished = wait(&mut lab.command("h1", BIN), &addr, &job);
    assert_all_done(
        &finished,
        &job,
        200,
        total,
        &format!(
            "Coordinator on h1, workers on h2 and h3; h3's link was cut 150 ms into the \
             job and stayed cut ({:?} so far).\n{}",
            cut_at.elapsed(),
            coordinator_output(&coord)
        ),
    );

    // Plug h3 back in and take h2's worker away: the next job can only be
    // done by h3's, which must find the coordinator again by itself.
    lab.restore("h3").expect("restoring h3's link");
    let _ = near.0.kill();
    let _ = near.0.wait();
    let job = submit(
        &mut lab.command("h1", BIN),
        &[&addr, "--tasks", "20", "--text", text_arg],
    );
    let finished = wait(&mut lab.command("h1", BIN), &addr, &job);
    let log = fs::read_to_string(scratch.join("worker1.log")).unwrap_or_default();
    assert_all_done(
        &finished,
        &job,
        20,
        total,
        &format!(
            "h3's link was restored and h2's worker killed: only h3's worker could do this \
             job. Its log:\n{log}\n{}",
            coordinator_output(&coord)
        ),
    );
}
