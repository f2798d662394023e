//! `cargo xtask hint N.k`: an exercise's hints, one at a time.
//!
//! The hints of lesson N live in `hints/lessonNN.md`, one section per
//! exercise, one subsection per hint, from the idea to nearly the code:
//!
//! ```text
//! ## 1.1 echo one connection
//!
//! ### The idea
//! ...
//! ### The calls that help
//! ...
//! ### Nearly the code
//! ...
//! ```
//!
//! Which hints a learner has seen is remembered in `target/netlings/hints`,
//! so each call shows the next one.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::course;

/// One hint: its heading and its text.
pub struct Hint {
    pub title: String,
    pub text: String,
}

/// The hints of every exercise in `hints/lessonNN.md`, by exercise id.
pub fn of_lesson(root: &Path, lesson: &str) -> Result<BTreeMap<String, Vec<Hint>>> {
    let path = root.join("hints").join(format!("{lesson}.md"));
    let Ok(text) = fs::read_to_string(&path) else {
        return Ok(BTreeMap::new());
    };
    Ok(parse(&text))
}

fn parse(text: &str) -> BTreeMap<String, Vec<Hint>> {
    let mut hints: BTreeMap<String, Vec<Hint>> = BTreeMap::new();
    let mut exercise: Option<String> = None;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            exercise = heading.split_whitespace().next().map(str::to_string);
            continue;
        }
        let Some(id) = &exercise else { continue };
        let list = hints.entry(id.clone()).or_default();
        if let Some(title) = line.strip_prefix("### ") {
            list.push(Hint {
                title: title.trim().to_string(),
                text: String::new(),
            });
        } else if let Some(hint) = list.last_mut() {
            hint.text.push_str(line);
            hint.text.push('\n');
        }
    }
    for hint in hints.values_mut().flatten() {
        hint.text = hint.text.trim().to_string();
    }
    hints
}

/// `cargo xtask hint N.k [which]`.
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let again = args
        .first()
        .map(|id| format!("`cargo xtask hint {id}` again"));
    show(root, args, again.as_deref().unwrap_or_default())
}

/// Shows the next hint; `again` says how to see the one after
/// (`cargo xtask watch` says "press h again").
pub fn show(root: &Path, args: &[String], again: &str) -> Result<bool> {
    let Some(id) = args.first() else {
        bail!(
            "which exercise? e.g. `cargo xtask hint 1.1`\n\
             (`cargo xtask progress` shows which one you are at)"
        );
    };
    let lessons = course::lessons(root)?;
    let Some((lesson, exercise)) = lessons
        .iter()
        .flat_map(|l| l.exercises.iter().map(move |e| (l, e)))
        .find(|(_, e)| &e.id == id)
    else {
        bail!("there is no exercise {id}; `cargo xtask progress` lists them all");
    };
    let all = of_lesson(root, &lesson.name)?;
    let Some(hints) = all.get(id).filter(|h| !h.is_empty()) else {
        bail!(
            "exercise {id} has no hints in hints/{}.md yet: read book §{id}",
            lesson.name
        );
    };
    let mut seen = Seen::load(root);
    let which = match args.get(1) {
        Some(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=hints.len()).contains(n))
            .with_context(|| format!("exercise {id} has hints 1 to {}", hints.len()))?,
        None => (seen.get(id) + 1).min(hints.len()),
    };
    let hint = &hints[which - 1];
    println!(
        "Exercise {id} — {}, hint {which} of {}: {}\n",
        exercise.title,
        hints.len(),
        hint.title
    );
    println!("{}\n", for_terminal(&hint.text));
    if which < hints.len() {
        println!("Still stuck? {again} shows the next hint.");
    } else {
        println!(
            "That was the last hint. The reference solution is in {}; the book's \
             §{id} discusses it (folded, at the end of the chapter).",
            exercise.solution.display()
        );
    }
    seen.set(id, which.max(seen.get(id)));
    seen.save(root);
    Ok(true)
}

/// Markdown as it reads best on a terminal: code blocks indented rather
/// than fenced.
fn for_terminal(text: &str) -> String {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        out.push(if in_code && !line.is_empty() {
            format!("    {line}")
        } else {
            line.to_string()
        });
    }
    out.join("\n")
}

/// How many hints of each exercise the learner has seen.
struct Seen(BTreeMap<String, usize>);

impl Seen {
    fn path(root: &Path) -> PathBuf {
        root.join("target").join("netlings").join("hints-seen")
    }

    fn load(root: &Path) -> Seen {
        let text = fs::read_to_string(Self::path(root)).unwrap_or_default();
        let map = text
            .lines()
            .filter_map(|l| {
                let (id, n) = l.split_once(' ')?;
                Some((id.to_string(), n.parse().ok()?))
            })
            .collect();
        Seen(map)
    }

    fn get(&self, id: &str) -> usize {
        self.0.get(id).copied().unwrap_or(0)
    }

    fn set(&mut self, id: &str, n: usize) {
        self.0.insert(id.to_string(), n);
    }

    /// Best effort: without it, the learner sees the first hint again.
    fn save(&self, root: &Path) {
        let path = Self::path(root);
        let text: String = self.0.iter().map(|(id, n)| format!("{id} {n}\n")).collect();
        if let Some(dir) = path.parent() {
            let _ = fs::create_dir_all(dir);
        }
        let _ = fs::write(path, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hints_by_exercise() {
        let text = "# Lesson 1\n\nintro\n\n## 1.1 echo\n\n### The idea\n\nRead, write.\n\n\
                    ### The calls\n\n`read`\n\n## 1.2 serve\n\n### The idea\n\nLoop.\n";
        let hints = parse(text);
        assert_eq!(hints["1.1"].len(), 2);
        assert_eq!(hints["1.1"][0].title, "The idea");
        assert_eq!(hints["1.1"][0].text, "Read, write.");
        assert_eq!(hints["1.1"][1].text, "`read`");
        assert_eq!(hints["1.2"][0].text, "Loop.");
    }
}
