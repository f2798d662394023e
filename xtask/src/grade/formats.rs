//! The reports: table, JSON, JUnit, Gradescope, GitHub Classroom, and the
//! class's CSV.

use super::*;

pub(super) fn render(report: &Report, format: Format, verbose: bool) -> String {
    match format {
        Format::Table => table(report, verbose),
        Format::Json => pretty(&json_report(report)),
        Format::Junit => junit(report, SystemTime::now()),
        Format::Gradescope => pretty(&gradescope(report)),
        Format::Classroom => pretty(&classroom(report)),
    }
}

pub(super) fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

pub(super) fn table(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "netlings — grade of {}\n", report.student);
    let width = report
        .lessons
        .iter()
        .flat_map(|l| &l.exercises)
        .map(|e| e.title.chars().count())
        .max()
        .unwrap_or(0);
    for lesson in &report.lessons {
        for (i, exercise) in lesson.exercises.iter().enumerate() {
            let failing: Vec<&TestResult> = exercise
                .tests
                .iter()
                .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
                .collect();
            let note = if failing.is_empty() {
                String::new()
            } else {
                format!(
                    "{} of {} tests failing",
                    failing.len(),
                    exercise
                        .tests
                        .iter()
                        .filter(|t| t.outcome != Outcome::Ignored)
                        .count()
                )
            };
            let column = if i == 0 { lesson.name.as_str() } else { "" };
            let row = format!(
                "  {column:<9} {:<5} {:<width$} {:>6} / {:<3} {note}",
                exercise.id,
                exercise.title,
                points(exercise.score),
                points(exercise.max_score),
            );
            let _ = writeln!(out, "{}", row.trim_end());
        }
        if let Some(reason) = &lesson.reason {
            for line in reason.lines().take(if verbose { 20 } else { 3 }) {
                let _ = writeln!(out, "  {:<9} │ {line}", "");
            }
        }
        let failing_given: Vec<&str> = lesson
            .given
            .iter()
            .filter(|t| t.outcome == Outcome::Failed)
            .map(|t| t.name.as_str())
            .collect();
        if !failing_given.is_empty() {
            let _ = writeln!(
                out,
                "  {:<9} │ given code's tests failing (worth nothing, but look): {}",
                "",
                failing_given.join(", ")
            );
        }
        if verbose {
            for test in lesson
                .exercises
                .iter()
                .flat_map(|e| &e.tests)
                .chain(&lesson.given)
                .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
            {
                let _ = writeln!(out, "\n    ✗ {}", test.name);
                for line in test.message.lines() {
                    let _ = writeln!(out, "      {line}");
                }
            }
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "\ntotal: {} / {}  ({:.1} s)",
        points(report.score()),
        points(report.max_score()),
        report.seconds
    );
    out
}

pub(super) fn test_json(test: &TestResult) -> Value {
    json!({
        "name": test.name,
        "outcome": test.outcome.as_str(),
        "message": test.message,
    })
}

/// The JSON report, schema `netlings-grade/1`:
///
/// ```text
/// { "schema": "netlings-grade/1", "student": str, "score": num, "max_score": num,
///   "seconds": num, "points_per_exercise": num,
///   "lessons": [ { "lesson": "lesson03", "status": "graded" | "not_started" |
///       "does_not_compile" | "timed_out" | "crashed", "reason": str | null,
///       "score": num, "max_score": num, "seconds": num,
///       "exercises": [ { "id": "3.1", "title": str, "score": num, "max_score": num,
///           "passed": int, "failed": int,
///           "tests": [ { "name": str, "outcome": "passed" | "failed" | "not_run" |
///               "ignored", "message": str } ] } ],
///       "given_tests": [ same as tests ] } ] }
/// ```
///
/// Fields are only ever added, under the same schema name; a change of
/// meaning gets a new name.
pub(super) fn json_report(report: &Report) -> Value {
    json!({
        "schema": SCHEMA,
        "student": report.student,
        "score": report.score(),
        "max_score": report.max_score(),
        "seconds": round2(report.seconds),
        "points_per_exercise": POINTS_PER_EXERCISE,
        "lessons": report.lessons.iter().map(|lesson| json!({
            "lesson": lesson.name,
            "status": lesson.status.as_str(),
            "reason": lesson.reason,
            "score": lesson.score(),
            "max_score": lesson.max_score(),
            "seconds": round2(lesson.seconds),
            "exercises": lesson.exercises.iter().map(|e| json!({
                "id": e.id,
                "title": e.title,
                "score": e.score,
                "max_score": e.max_score,
                "passed": e.tests.iter().filter(|t| t.outcome == Outcome::Passed).count(),
                "failed": e.tests.iter()
                    .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun)).count(),
                "tests": e.tests.iter().map(test_json).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "given_tests": lesson.given.iter().map(test_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// What an exercise's entry shows a student: each test, and the messages of
/// those that failed; or why the whole lesson scored 0.
pub(super) fn exercise_output(lesson: &LessonReport, exercise: &ExerciseReport) -> String {
    let mut out = String::new();
    if let Some(reason) = &lesson.reason {
        let _ = writeln!(out, "{}: {reason}\n", lesson.name);
    }
    for test in &exercise.tests {
        let mark = match test.outcome {
            Outcome::Passed => "✓",
            Outcome::Ignored => "·",
            _ => "✗",
        };
        let _ = writeln!(out, "{mark} {}", test.name);
    }
    for test in exercise
        .tests
        .iter()
        .filter(|t| matches!(t.outcome, Outcome::Failed | Outcome::NotRun))
    {
        let _ = writeln!(out, "\n---- {} ----\n{}", test.name, test.message);
    }
    out
}

/// Gradescope's `results.json`: one test per exercise (name, number, score,
/// max_score, status, output), the total as `score`.
pub(super) fn gradescope(report: &Report) -> Value {
    let mut tests = Vec::new();
    let mut notes = Vec::new();
    for lesson in &report.lessons {
        if let Some(reason) = &lesson.reason {
            notes.push(format!("{}: {}", lesson.name, reason));
        }
        for exercise in &lesson.exercises {
            tests.push(json!({
                "name": format!("Exercise {}: {}", exercise.id, exercise.title),
                "number": exercise.id,
                "score": exercise.score,
                "max_score": exercise.max_score,
                "status": if exercise.score >= exercise.max_score { "passed" } else { "failed" },
                "output": exercise_output(lesson, exercise),
            }));
        }
    }
    json!({
        "score": report.score(),
        "execution_time": report.seconds.round() as u64,
        "output": if notes.is_empty() {
            format!("{} / {} points", points(report.score()), points(report.max_score()))
        } else {
            format!("{} / {} points\n\n{}", points(report.score()),
                points(report.max_score()), notes.join("\n\n"))
        },
        "stdout_visibility": "hidden",
        "tests": tests,
    })
}

/// The result of one lesson's step in the GitHub Classroom workflow, as the
/// autograding reporter reads it (base64 in the step's `result` output):
/// `max_score`, and a test per exercise with its `score`.
pub(super) fn classroom(report: &Report) -> Value {
    let mut tests = Vec::new();
    for lesson in &report.lessons {
        for exercise in &lesson.exercises {
            let done = exercise.score >= exercise.max_score;
            tests.push(json!({
                "name": format!("{} {}", exercise.id, exercise.title),
                "status": if done { "pass" } else { "fail" },
                "score": exercise.score,
                "message": if done { String::new() } else { exercise_output(lesson, exercise) },
                "test_code": format!("cargo xtask grade --lesson {}", lesson.name),
                "filename": "",
                "line_no": 0,
                "duration": 0,
            }));
        }
    }
    let full = report.score() >= report.max_score();
    json!({
        "version": 1,
        "status": if full { "pass" } else { "fail" },
        "max_score": report.max_score(),
        "tests": tests,
    })
}

/// Text for XML: escaped, and without the characters XML 1.0 forbids.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-30T09:58:36`, UTC: the timestamp JUnit's schema wants.
pub(super) fn iso_time(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// JUnit XML: a `testsuite` per lesson, a `testcase` per test (or one per
/// exercise when the lesson did not build), as Ant writes it — which is what
/// GitLab, Jenkins and GitHub's test reporters read.
pub(super) fn junit(report: &Report, at: SystemTime) -> String {
    let timestamp = iso_time(at);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, lesson) in report.lessons.iter().enumerate() {
        let mut cases = String::new();
        let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
        let mut case = |classname: &str, name: &str, outcome: Outcome, message: &str| {
            tests += 1;
            let _ = write!(
                cases,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"0\"",
                xml_escape(classname),
                xml_escape(name)
            );
            let first = message.lines().next().unwrap_or("");
            let body = match outcome {
                Outcome::Passed => None,
                Outcome::Ignored => {
                    skipped += 1;
                    Some("<skipped/>".to_string())
                }
                Outcome::Failed => {
                    failures += 1;
                    Some(format!(
                        "<failure type=\"failed\" message=\"{}\">{}</failure>",
                        xml_escape(first),
                        xml_escape(message)
                    ))
                }
                Outcome::NotRun => {
                    errors += 1;
                    Some(format!(
                        "<error type=\"not_run\" message=\"{}\">{}</error>",
                        xml_escape(first),
                        xml_escape(message)
                    ))
                }
            };
            match body {
                None => cases.push_str("/>\n"),
                Some(body) => {
                    let _ = writeln!(cases, ">\n      {body}\n    </testcase>");
                }
            }
        };
        for exercise in &lesson.exercises {
            let classname = format!("{}.exercise_{}", lesson.name, exercise.id.replace('.', "_"));
            if exercise.tests.is_empty() {
                // The lesson did not build or was not started: the exercise
                // as one failed case, with the reason.
                let reason = lesson.reason.as_deref().unwrap_or("no tests ran");
                case(
                    &classname,
                    &format!("exercise {}", exercise.id),
                    Outcome::Failed,
                    reason,
                );
            }
            for test in &exercise.tests {
                case(&classname, &test.name, test.outcome, &test.message);
            }
        }
        for test in &lesson.given {
            case(
                &format!("{}.given", lesson.name),
                &test.name,
                test.outcome,
                &test.message,
            );
        }
        let mut properties = format!(
            "      <property name=\"score\" value=\"{}\"/>\n      <property name=\"max_score\" value=\"{}\"/>\n      <property name=\"status\" value=\"{}\"/>\n",
            points(lesson.score()),
            points(lesson.max_score()),
            lesson.status.as_str()
        );
        for exercise in &lesson.exercises {
            let _ = writeln!(
                properties,
                "      <property name=\"score {}\" value=\"{}\"/>",
                exercise.id,
                points(exercise.score)
            );
        }
        let _ = write!(
            out,
            "  <testsuite name=\"{}\" package=\"netlings\" id=\"{id}\" timestamp=\"{timestamp}\" \
             hostname=\"localhost\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
             skipped=\"{skipped}\" time=\"{:.3}\">\n    <properties>\n{properties}    </properties>\n\
             {cases}    <system-out>{}</system-out>\n    <system-err></system-err>\n  </testsuite>\n",
            xml_escape(&lesson.name),
            lesson.seconds,
            xml_escape(&format!(
                "{}: {} / {} points{}",
                report.student,
                points(lesson.score()),
                points(lesson.max_score()),
                lesson
                    .reason
                    .as_deref()
                    .map(|r| format!("\n{r}"))
                    .unwrap_or_default()
            )),
        );
    }
    out.push_str("</testsuites>\n");
    out
}

/// The class's CSV: a row per student, a column per exercise, the total,
/// and a note of the lessons that did not build, timed out or crashed.
pub fn class_csv(lessons: &[Lesson], reports: &[Report]) -> String {
    let mut out = String::from("student");
    for exercise in lessons.iter().flat_map(|l| &l.exercises) {
        let _ = write!(out, ",{}", exercise.id);
    }
    out.push_str(",total,max,notes\n");
    for report in reports {
        out.push_str(&csv_field(&report.student));
        for exercise in lessons.iter().flat_map(|l| &l.exercises) {
            let score = report
                .lessons
                .iter()
                .flat_map(|l| &l.exercises)
                .find(|e| e.id == exercise.id)
                .map_or(0.0, |e| e.score);
            let _ = write!(out, ",{}", points(score));
        }
        let notes: Vec<String> = report
            .lessons
            .iter()
            .filter(|l| !matches!(l.status, Status::Graded | Status::NotStarted))
            .map(|l| {
                format!(
                    "{}: {}",
                    l.name,
                    l.reason
                        .as_deref()
                        .unwrap_or("")
                        .lines()
                        .next()
                        .unwrap_or("")
                )
            })
            .collect();
        let _ = writeln!(
            out,
            ",{},{},{}",
            points(report.score()),
            points(report.max_score()),
            csv_field(&notes.join("; "))
        );
    }
    out
}

/// A CSV field (RFC 4180), and never a formula when a spreadsheet opens it.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}
