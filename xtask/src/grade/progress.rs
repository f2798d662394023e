//! How far grading is: a bar on a terminal, lines in a log.

use super::*;

/// What grading shows while it works: a progress bar on a terminal, plain
/// lines on stderr otherwise.
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    count: Mutex<u64>,
}

impl Progress {
    pub(super) fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} lessons graded  {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            total,
            count: Mutex::new(0),
        }
    }

    pub(super) fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_string()),
            None => eprintln!("grade: {text}"),
        }
    }

    pub(super) fn step(&self, student: &str, lesson: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{student}: {lesson}"));
        }
    }

    pub(super) fn done(&self, student: &str, report: &LessonReport) {
        let n = {
            let mut count = self.count.lock().unwrap_or_else(|e| e.into_inner());
            *count += 1;
            *count
        };
        let line = format!(
            "[{n}/{}] {student} {}: {} / {} ({:.1} s){}",
            self.total,
            report.name,
            points(report.score()),
            points(report.max_score()),
            report.seconds,
            match (&report.status, &report.reason) {
                (Status::Graded, None) => String::new(),
                (_, Some(reason)) => format!(" — {}", reason.lines().next().unwrap_or("")),
                (status, None) => format!(" — {}", status.as_str()),
            }
        );
        match &self.bar {
            Some(bar) => {
                bar.inc(1);
                bar.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
