//! `--repos`: a whole class, graded in parallel slots.

use super::*;

pub(super) fn grade_class(root: &Path, lessons: &[Lesson], options: &Options) -> Result<bool> {
    let students = class_list(&options.repos)?;
    if students.is_empty() {
        bail!("no checkouts found in {:?}", options.repos);
    }
    let jobs = options.jobs.min(students.len());
    eprintln!(
        "grade: {} students, {} lessons, {jobs} at a time; limits per lesson: {} s to build, \
         {} s to test",
        students.len(),
        lessons.len(),
        options.build_timeout.as_secs(),
        options.timeout.as_secs()
    );
    let start = Instant::now();
    let progress = Progress::new((students.len() * lessons.len()) as u64);
    let queue = Mutex::new(students.iter().enumerate().collect::<Vec<_>>().into_iter());
    let reports: Mutex<Vec<(usize, Report)>> = Mutex::new(Vec::new());
    // Slot 0 is built first, so that the others start from its build.
    let first = Slot::new(
        root,
        0,
        lessons,
        false,
        (options.timeout, options.build_timeout),
        &progress,
    )?;
    std::thread::scope(|s| -> Result<()> {
        let mut workers = Vec::new();
        let mut first = Some(first);
        for n in 0..jobs {
            let slot = match first.take() {
                Some(slot) => slot,
                None => Slot::new(
                    root,
                    n,
                    lessons,
                    false,
                    (options.timeout, options.build_timeout),
                    &progress,
                )?,
            };
            let (queue, reports, progress) = (&queue, &reports, &progress);
            workers.push(s.spawn(move || -> Result<()> {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                    let Some((i, (name, dir))) = next else {
                        return Ok(());
                    };
                    let report = match find_checkout(dir) {
                        Ok(checkout) => {
                            slot.grade(name, Some(&checkout), lessons, false, progress)?
                        }
                        Err(e) => Report {
                            student: name.clone(),
                            lessons: lessons
                                .iter()
                                .map(|l| zero_lesson(l, Status::NotStarted, &format!("{e:#}"), 0.0))
                                .collect(),
                            seconds: 0.0,
                        },
                    };
                    reports
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, report));
                }
            }));
        }
        for worker in workers {
            worker.join().expect("a grading worker panicked")?;
        }
        Ok(())
    })?;
    progress.finish();
    let mut reports = reports.into_inner().unwrap_or_else(|e| e.into_inner());
    reports.sort_by_key(|(i, _)| *i);
    let reports: Vec<Report> = reports.into_iter().map(|(_, r)| r).collect();

    fs::create_dir_all(&options.out)?;
    let csv = class_csv(lessons, &reports);
    fs::write(options.out.join("grades.csv"), &csv)?;
    for report in &reports {
        let file = safe_file_name(&report.student);
        fs::write(
            options.out.join(format!("{file}.txt")),
            render(report, Format::Table, true),
        )?;
        fs::write(
            options.out.join(format!("{file}.json")),
            render(report, Format::Json, false),
        )?;
        if options.format != Format::Table && options.format != Format::Json {
            let ext = match options.format {
                Format::Junit => "junit.xml",
                _ => "results.json",
            };
            fs::write(
                options.out.join(format!("{file}.{ext}")),
                render(report, options.format, false),
            )?;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let busy: f64 = reports.iter().map(|r| r.seconds).sum();
    println!("{:<24} {:>8} {:>8}  notes", "student", "score", "of");
    for report in &reports {
        let notes: Vec<String> = report
            .lessons
            .iter()
            .filter(|l| !matches!(l.status, Status::Graded | Status::NotStarted))
            .map(|l| format!("{} {}", l.name, l.status.as_str().replace('_', " ")))
            .collect();
        println!(
            "{:<24} {:>8} {:>8}  {}",
            report.student,
            points(report.score()),
            points(report.max_score()),
            notes.join(", ")
        );
    }
    println!(
        "\n{} students in {wall:.1} s with {jobs} jobs: {:.1} s per student of wall time, \
         {:.1} s of grading each.\nWrote {} and a report per student (.txt, .json) in {}.",
        reports.len(),
        wall / reports.len() as f64,
        busy / reports.len() as f64,
        options.out.join("grades.csv").display(),
        options.out.display()
    );
    Ok(true)
}

/// The students: each argument is a checkout, a directory of checkouts, or
/// a file listing checkouts (one a line; `#` starts a comment). A student
/// is named after the checkout's directory.
pub(super) fn class_list(args: &[PathBuf]) -> Result<Vec<(String, PathBuf)>> {
    let mut dirs = Vec::new();
    for arg in args {
        if arg.is_file() {
            let text = fs::read_to_string(arg)?;
            let base = arg.parent().unwrap_or(Path::new("."));
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                if !line.is_empty() {
                    dirs.push(base.join(line));
                }
            }
        } else if arg.join("lessons").is_dir() {
            dirs.push(arg.clone());
        } else if arg.is_dir() {
            let mut inside: Vec<PathBuf> = fs::read_dir(arg)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect();
            inside.sort();
            dirs.extend(inside);
        } else {
            bail!("{}: no such checkout, directory or list", arg.display());
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    Ok(dirs
        .into_iter()
        .map(|dir| {
            let mut name = student_name(&dir);
            let count = seen.entry(name.clone()).or_default();
            *count += 1;
            if *count > 1 {
                name = format!("{name}-{count}");
            }
            (name, dir)
        })
        .collect())
}

pub(super) fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}
