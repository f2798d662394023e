//! The book's preprocessor: code from a learner's files, as shipped.
//!
//! mdBook's `{{#include}}` reads the file on disk. For a file with exercises,
//! that is the learner's working copy, so after they start an exercise the
//! book would show their attempt as if it were the exercise. This
//! preprocessor runs before mdBook's own, and serves every include of
//! `lessons/lessonNN/src/M.rs` that has a solution from the shipped version
//! instead: the solution with its exercises stubbed (see stub.rs), which
//! `verify` proves identical to the file in the repository.
//!
//! book.toml runs it as `cargo xtask book-preprocessor`. mdBook calls it
//! twice: once as `… supports <renderer>`, then with `[context, book]` as JSON
//! on stdin, expecting the book back on stdout.

use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::stub;

pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    if args.first().map(String::as_str) == Some("supports") {
        // Plain text substitution: fine for every renderer.
        return Ok(true);
    }
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    let [_context, mut book]: [Value; 2] = serde_json::from_str::<Vec<Value>>(&input)
        .context("mdBook's input is not [context, book]")?
        .try_into()
        .map_err(|_| anyhow::anyhow!("mdBook's input is not [context, book]"))?;
    let src = root.join("book").join("src");
    let mut problems = Vec::new();
    visit_chapters(&mut book, &mut |content| {
        if content.contains(MUTANTS) {
            match mistakes(root) {
                Ok(list) => *content = content.replace(MUTANTS, &list),
                Err(e) => problems.push(format!("{e:#}")),
            }
        }
        match shipped_includes(root, &src, content) {
            Ok(text) => *content = text,
            Err(e) => problems.push(format!("{e:#}")),
        }
    });
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    println!("{}", serde_json::to_string(&book)?);
    Ok(true)
}

/// Where the instructors' appendix lists the recorded mutants.
const MUTANTS: &str = "{{#netlings-mutants}}";

/// Every recorded wrong solution (mutants/lessonNN.md), by lesson and
/// exercise, as Markdown: the mistakes students make, in the course's own
/// words, for an instructor preparing a lab. Read from the files on every
/// build, so it cannot drift from what `cargo xtask mutants` runs.
fn mistakes(root: &Path) -> Result<String> {
    let mut out = String::new();
    for lesson in crate::course::lessons(root)? {
        let mutants = crate::mutants::of_lesson(root, &lesson.name)?;
        out.push_str(&format!(
            "### Lesson {} ({} recorded mistakes, in `mutants/{}.md`)\n\n",
            lesson.number,
            mutants.len(),
            lesson.name
        ));
        for exercise in &lesson.exercises {
            out.push_str(&format!("**{} {}**\n\n", exercise.id, exercise.title));
            for mutant in mutants.iter().filter(|m| m.exercise == exercise.id) {
                let why = if mutant.why.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", mutant.why)
                };
                let only = mutant
                    .only_on
                    .as_deref()
                    .map_or(String::new(), |o| format!(" ({o})"));
                out.push_str(&format!("- *{}*{why}{only}\n", mutant.title));
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// Calls `f` on the content of every chapter, however deeply nested.
fn visit_chapters(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(chapter)) = map.get_mut("Chapter")
                && let Some(Value::String(content)) = chapter.get_mut("content")
            {
                f(content);
            }
            for child in map.values_mut() {
                visit_chapters(child, f);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| visit_chapters(item, f)),
        _ => {}
    }
}

/// `content` with each `{{#include path:anchor}}` of a file that has a
/// solution replaced by that part of the shipped file.
fn shipped_includes(root: &Path, src: &Path, content: &str) -> Result<String> {
    let mut out = String::new();
    let mut rest = content;
    while let Some(start) = rest.find("{{#include ") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let directive = &rest[start..start + len + 2];
        let target = directive["{{#include ".len()..directive.len() - 2].trim();
        out.push_str(&rest[..start]);
        match shipped_part(root, src, target)? {
            Some(text) => out.push_str(&text),
            None => out.push_str(directive),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The included text if `target` (`path:anchor`) names a learner's file that
/// has a solution; `None` for any other file, which mdBook includes itself.
fn shipped_part(root: &Path, src: &Path, target: &str) -> Result<Option<String>> {
    let (file, anchor) = match target.split_once(':') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let Some(relative) = normalize(&src.join(file))
        .strip_prefix(root)
        .ok()
        .map(Path::to_path_buf)
    else {
        return Ok(None);
    };
    let Some(solution) = solution_of(&relative) else {
        return Ok(None);
    };
    let Ok(text) = fs::read_to_string(root.join(&solution)) else {
        return Ok(None);
    };
    let shipped = stub::stub(&text)?;
    match anchor {
        None => Ok(Some(shipped)),
        Some(anchor) => anchored(&shipped, anchor)
            .map(Some)
            .with_context(|| format!("{{{{#include {target}}}}}: no anchor `{anchor}`")),
    }
}

/// `lessons/lesson01/src/echo.rs` → `solutions/lesson01/echo.rs`.
pub fn solution_of(file: &Path) -> Option<PathBuf> {
    let mut parts = file.components().map(|c| c.as_os_str().to_str());
    match (parts.next()?, parts.next()?, parts.next()?, parts.next()?) {
        (Some("lessons"), Some(lesson), Some("src"), Some(name)) if parts.next().is_none() => {
            Some(Path::new("solutions").join(lesson).join(name))
        }
        _ => None,
    }
}

/// The lines between `ANCHOR: name` and `ANCHOR_END: name`, without any
/// anchor lines, as mdBook's own include does.
pub fn anchored(text: &str, name: &str) -> Option<String> {
    let start = format!("ANCHOR: {name}");
    let end = format!("ANCHOR_END: {name}");
    let mut lines = text.lines().skip_while(|l| !ends_with_word(l, &start));
    lines.next()?;
    let mut out = String::new();
    for line in lines {
        if ends_with_word(line, &end) {
            return Some(out);
        }
        if !line.contains("ANCHOR: ") && !line.contains("ANCHOR_END: ") {
            out.push_str(line);
            out.push('\n');
        }
    }
    None
}

fn ends_with_word(line: &str, marker: &str) -> bool {
    line.trim_end().ends_with(marker)
        && line
            .trim_end()
            .strip_suffix(marker)
            .is_some_and(|before| before.ends_with(' ') || before.ends_with('/'))
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_solution_of_a_learners_file() {
        assert_eq!(
            solution_of(Path::new("lessons/lesson01/src/echo.rs")),
            Some(PathBuf::from("solutions/lesson01/echo.rs"))
        );
        assert_eq!(solution_of(Path::new("kit/src/lib.rs")), None);
    }

    #[test]
    fn takes_an_anchored_part_without_other_anchors() {
        let text =
            "a\n// ANCHOR: x\nb\n    // ANCHOR: y\nc\n    // ANCHOR_END: y\n// ANCHOR_END: x\nd\n";
        assert_eq!(anchored(text, "x").as_deref(), Some("b\nc\n"));
        assert_eq!(anchored(text, "y").as_deref(), Some("c\n"));
        assert_eq!(anchored(text, "z"), None);
        // `ANCHOR: x` must not match `ANCHOR: xy`.
        assert_eq!(anchored("// ANCHOR: xy\nq\n// ANCHOR_END: xy\n", "x"), None);
    }

    #[test]
    fn normalizes_parent_directories() {
        assert_eq!(
            normalize(Path::new("/r/book/src/../../lessons/x.rs")),
            PathBuf::from("/r/lessons/x.rs")
        );
    }
}
