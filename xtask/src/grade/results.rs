//! The results of grading: reports per lesson, exercise and test, and the
//! scoring rule (see the module above).

use super::*;

/// One student's grade.
#[derive(Clone, Debug)]
pub struct Report {
    pub student: String,
    pub lessons: Vec<LessonReport>,
    pub seconds: f64,
}

#[derive(Clone, Debug)]
pub struct LessonReport {
    pub name: String,
    pub status: Status,
    /// Why the lesson scored 0, or what went wrong in it.
    pub reason: Option<String>,
    pub seconds: f64,
    pub exercises: Vec<ExerciseReport>,
    /// The `given_` tests: reported, worth nothing.
    pub given: Vec<TestResult>,
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Status {
    Graded,
    NotStarted,
    DoesNotCompile,
    TimedOut,
    Crashed,
}

impl Status {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Status::Graded => "graded",
            Status::NotStarted => "not_started",
            Status::DoesNotCompile => "does_not_compile",
            Status::TimedOut => "timed_out",
            Status::Crashed => "crashed",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ExerciseReport {
    pub id: String,
    pub title: String,
    pub score: f64,
    pub max_score: f64,
    pub tests: Vec<TestResult>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// The harness's failure message (trimmed), or why the test did not run.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed,
    /// It never reported: the run timed out or crashed first.
    NotRun,
    Ignored,
}

impl Outcome {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NotRun => "not_run",
            Outcome::Ignored => "ignored",
        }
    }
}

impl Report {
    pub fn score(&self) -> f64 {
        round2(self.lessons.iter().map(LessonReport::score).sum())
    }
    pub fn max_score(&self) -> f64 {
        self.lessons.iter().map(LessonReport::max_score).sum()
    }
}

impl LessonReport {
    pub fn score(&self) -> f64 {
        round2(self.exercises.iter().map(|e| e.score).sum())
    }
    pub fn max_score(&self) -> f64 {
        self.exercises.iter().map(|e| e.max_score).sum()
    }
}

/// The score of an exercise whose counted tests are `tests`: see the rule.
pub fn exercise_score(tests: &[TestResult]) -> f64 {
    let counted: Vec<&TestResult> = tests
        .iter()
        .filter(|t| t.outcome != Outcome::Ignored)
        .collect();
    if counted.is_empty() {
        return 0.0;
    }
    let passed = counted
        .iter()
        .filter(|t| t.outcome == Outcome::Passed)
        .count();
    round2(POINTS_PER_EXERCISE * passed as f64 / counted.len() as f64)
}

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `6.67`, `10`, `0`.
pub fn points(x: f64) -> String {
    let s = format!("{:.2}", round2(x));
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A lesson where every exercise scores 0 for one `reason`.
pub(super) fn zero_lesson(
    lesson: &Lesson,
    status: Status,
    reason: &str,
    seconds: f64,
) -> LessonReport {
    LessonReport {
        name: lesson.name.clone(),
        status,
        reason: Some(reason.to_string()),
        seconds,
        exercises: lesson
            .exercises
            .iter()
            .map(|e| ExerciseReport {
                id: e.id.clone(),
                title: e.title.clone(),
                score: 0.0,
                max_score: POINTS_PER_EXERCISE,
                tests: Vec::new(),
            })
            .collect(),
        given: Vec::new(),
    }
}

/// Shares the results of a lesson's test binary out between its exercises.
pub(super) fn lesson_from_results(
    lesson: &Lesson,
    results: Vec<TestResult>,
    status: Status,
    reason: Option<String>,
    seconds: f64,
) -> LessonReport {
    let mut exercises: Vec<ExerciseReport> = lesson
        .exercises
        .iter()
        .map(|e| ExerciseReport {
            id: e.id.clone(),
            title: e.title.clone(),
            score: 0.0,
            max_score: POINTS_PER_EXERCISE,
            tests: Vec::new(),
        })
        .collect();
    let mut given = Vec::new();
    for result in results {
        let short = result.name.rsplit("::").next().unwrap_or(&result.name);
        if short.starts_with("given_") {
            given.push(result);
        } else if let Some(exercise) = lesson
            .exercises
            .iter()
            .position(|e| short.starts_with(&e.test_prefix()))
        {
            exercises[exercise].tests.push(result);
        }
    }
    for exercise in &mut exercises {
        exercise.score = exercise_score(&exercise.tests);
    }
    LessonReport {
        name: lesson.name.clone(),
        status,
        reason,
        seconds,
        exercises,
        given,
    }
}
