//! How far a long command has got: `verify`, `mutants` and `grade` take
//! minutes. On a terminal, a bar under the lines already printed; in a log
//! (CI, a pipe), a plain `[k/N]` before each finished item, so that the log
//! reads the same without the bar.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Steps {
    bar: Option<ProgressBar>,
    len: u64,
    done: AtomicU64,
}

impl Steps {
    /// `len` items; `what` says what they are ("mutants", "lessons").
    pub fn new(len: u64, what: &str) -> Steps {
        let bar = std::io::stdout().is_terminal().then(|| {
            let style = ProgressStyle::with_template("[{bar:30}] {pos}/{len} {prefix} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            ProgressBar::new(len)
                .with_style(style)
                .with_prefix(what.to_string())
        });
        Steps {
            bar,
            len,
            done: AtomicU64::new(0),
        }
    }

    /// Says what is being worked on now (shown on the bar only).
    pub fn working_on(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_string());
        }
    }

    /// One item is finished: prints its line and moves the bar.
    pub fn finished(&self, line: &str) {
        let k = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => println!("[{k}/{}] {line}", self.len),
        }
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
