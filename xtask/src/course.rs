//! What the course is made of, read from the files: lessons, their exercises,
//! their tests and their book sections.
//!
//! The list of exercises comes from the *solutions*: each exercise there has a
//! doc comment `/// Exercise N.k: title — book §N.k.`. The solutions are the
//! one place a learner does not edit, so `progress` still knows every exercise
//! after the learner has replaced the `todo!()`s.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub struct Lesson {
    /// `lesson01`
    pub name: String,
    /// 1
    pub number: u32,
    pub exercises: Vec<Exercise>,
}

pub struct Exercise {
    /// `1.2`
    pub id: String,
    /// `the accept loop`
    pub title: String,
    /// The learner's file, relative to the root: `lessons/lesson01/src/echo.rs`.
    pub file: PathBuf,
    /// The solution, relative to the root: `solutions/lesson01/echo.rs`.
    pub solution: PathBuf,
}

impl Exercise {
    /// The prefix of this exercise's test names: `ex1_2_`.
    pub fn test_prefix(&self) -> String {
        format!("ex{}_", self.id.replace('.', "_"))
    }

    /// The text that begins the exercise's `todo!` while it is not done.
    pub fn todo_marker(&self) -> String {
        format!("todo!(\"exercise {}:", self.id)
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Every lesson under `lessons/`, in order, with the exercises its solutions define.
pub fn lessons(root: &Path) -> Result<Vec<Lesson>> {
    let mut lessons = Vec::new();
    for entry in fs::read_dir(root.join("lessons")).context("reading lessons/")? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let Some(number) = name.strip_prefix("lesson").and_then(|n| n.parse().ok()) else {
            continue;
        };
        let exercises = exercises(root, &name)?;
        lessons.push(Lesson {
            name,
            number,
            exercises,
        });
    }
    lessons.sort_by_key(|l| l.number);
    Ok(lessons)
}

fn exercises(root: &Path, lesson: &str) -> Result<Vec<Exercise>> {
    let dir = Path::new("solutions").join(lesson);
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(root.join(&dir)) else {
        return Ok(found);
    };
    for entry in entries {
        let file_name = entry?.file_name();
        let solution = dir.join(&file_name);
        let text = fs::read_to_string(root.join(&solution))
            .with_context(|| format!("reading {}", solution.display()))?;
        for line in text.lines() {
            if let Some((id, title)) = parse_exercise_doc(line) {
                found.push(Exercise {
                    id,
                    title,
                    file: Path::new("lessons")
                        .join(lesson)
                        .join("src")
                        .join(&file_name),
                    solution: solution.clone(),
                });
            }
        }
    }
    found.sort_by_key(|e| exercise_order(&e.id));
    // An exercise may be two functions (encode and decode, say), each with
    // the same `/// Exercise N.k: …` line: it is still one exercise.
    found.dedup_by(|a, b| a.id == b.id);
    Ok(found)
}

/// `/// Exercise 1.2: the accept loop — book §1.2.` → (`1.2`, `the accept loop`).
pub fn parse_exercise_doc(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix("/// Exercise ")?;
    let (id, rest) = rest.split_once(": ")?;
    let (title, _) = rest.split_once(" — book §")?;
    let valid = id.split_once('.').is_some_and(|(n, k)| {
        !n.is_empty() && !k.is_empty() && (n.to_owned() + k).chars().all(|c| c.is_ascii_digit())
    });
    valid.then(|| (id.to_string(), title.to_string()))
}

/// Sorts `1.10` after `1.9`.
pub fn exercise_order(id: &str) -> (u32, u32) {
    let (n, k) = id.split_once('.').unwrap_or((id, "0"));
    (n.parse().unwrap_or(0), k.parse().unwrap_or(0))
}

/// Names of the test functions in `text` (lines `fn name(`).
pub fn test_names(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start().strip_prefix("fn ")?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            is_exercise_test(&name).then_some(name)
        })
        .collect()
}

/// `ex1_2_serves_clients` is the test of an exercise; `exchange` is not.
pub fn is_exercise_test(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("ex") else {
        return false;
    };
    let mut parts = rest.splitn(3, '_');
    let digits =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some()
}

/// Every `todo!("exercise N.k: ...")` in a lesson's src/, as (id, file).
pub fn todos(root: &Path, lesson: &str) -> Result<Vec<(String, PathBuf)>> {
    let src = Path::new("lessons").join(lesson).join("src");
    let mut found = Vec::new();
    for entry in fs::read_dir(root.join(&src))? {
        let path = src.join(entry?.file_name());
        let text = fs::read_to_string(root.join(&path)).unwrap_or_default();
        for piece in text.split("todo!(\"exercise ").skip(1) {
            if let Some((id, _)) = piece.split_once(':') {
                found.push((id.to_string(), path.clone()));
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_exercise_doc_line() {
        let line = "/// Exercise 1.2: the accept loop — book §1.2.";
        assert_eq!(
            parse_exercise_doc(line),
            Some(("1.2".to_string(), "the accept loop".to_string()))
        );
        assert_eq!(parse_exercise_doc("/// Exercise one: x — book §1.1."), None);
        assert_eq!(
            parse_exercise_doc("// Exercise 1.2: not a doc comment"),
            None
        );
    }

    #[test]
    fn tells_exercise_tests_from_other_functions() {
        assert!(is_exercise_test("ex1_2_serves_clients"));
        assert!(is_exercise_test("ex10_3_x"));
        assert!(!is_exercise_test("exchange"));
        assert!(!is_exercise_test("ex1_2"));
        assert!(!is_exercise_test("given_server_prints"));
    }

    #[test]
    fn orders_exercises_numerically() {
        let mut ids = vec!["1.10", "1.9", "2.1"];
        ids.sort_by_key(|id| exercise_order(id));
        assert_eq!(ids, ["1.9", "1.10", "2.1"]);
    }
}
