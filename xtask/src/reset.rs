//! `cargo xtask reset N.k` and `cargo xtask reset lessonNN`: give exercises
//! back as shipped.
//!
//! Only the body of each exercise's function is replaced by its stub (see
//! stub.rs); everything else in the file — the learner's imports, helper
//! functions, notes, the other exercises — stays as it is. That is what a
//! learner who wants to start one exercise again expects, and it cannot
//! undo work on the exercise next door. The old body is saved under
//! `target/netlings-reset/` first, so nothing typed is ever lost.
//!
//! The learner's body is found by matching braces, skipping strings, chars
//! and comments, so it need not be formatted; only the doc line
//! `/// Exercise N.k: …` and the `fn` after it must still be there.

use std::fs;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::course::{self, Exercise};

const USAGE: &str = "usage: cargo xtask reset N.k | lessonNN  [--yes]";

pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let yes = args.iter().any(|a| a == "--yes" || a == "-y");
    let which: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let [which] = which[..] else {
        bail!("{USAGE}");
    };
    let lessons = course::lessons(root)?;
    let exercises: Vec<&Exercise> = lessons
        .iter()
        .flat_map(|lesson| {
            let whole = lesson.name == *which || format!("lesson{which}") == lesson.name;
            lesson
                .exercises
                .iter()
                .filter(move |e| whole || e.id == *which)
        })
        .collect();
    if exercises.is_empty() {
        bail!("no exercise or lesson called {which:?}; `cargo xtask progress` lists them\n{USAGE}");
    }

    // Work out every change before touching a file.
    let mut changes = Vec::new();
    for exercise in exercises {
        let file = root.join(&exercise.file);
        let text = fs::read_to_string(&file)
            .with_context(|| format!("reading {}", exercise.file.display()))?;
        let solution = fs::read_to_string(root.join(&exercise.solution))?;
        let shipped = crate::stub::stub(&solution)?;
        let ours = bodies(&shipped, &exercise.id);
        let theirs = bodies(&text, &exercise.id);
        if theirs.len() != ours.len() {
            bail!(
                "exercise {}: could not find its function in {} (is the line `/// Exercise {}: …` \
                 still above it?). To restore the whole file as last committed: git checkout -- {}",
                exercise.id,
                exercise.file.display(),
                exercise.id,
                exercise.file.display()
            );
        }
        let before = changes.len();
        for (theirs, ours) in theirs.into_iter().zip(ours) {
            if text[theirs.clone()] != shipped[ours.clone()] {
                changes.push((exercise, text.clone(), theirs, shipped[ours].to_string()));
            }
        }
        if changes.len() == before {
            println!("exercise {} is as shipped already", exercise.id);
        }
    }
    if changes.is_empty() {
        return Ok(true);
    }

    println!("This puts back the todo!() of:");
    let mut listed: Vec<&Exercise> = changes.iter().map(|(e, ..)| *e).collect();
    listed.dedup_by_key(|e| &e.id);
    for exercise in listed {
        println!(
            "  {} {:<40} in {}",
            exercise.id,
            exercise.title,
            exercise.file.display()
        );
    }
    println!(
        "Your code in those functions is replaced (a copy is kept in target/netlings-reset/)."
    );
    if !yes && !confirmed()? {
        println!("nothing changed");
        return Ok(false);
    }

    let backups = root.join("target").join("netlings-reset");
    fs::create_dir_all(&backups)?;
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // Several exercises of one file: apply them to the latest text, from
    // the last in the file to the first, so earlier ranges stay valid.
    changes.sort_by_key(|(e, _, range, _)| (e.file.clone(), std::cmp::Reverse(range.start)));
    let mut current: Option<(std::path::PathBuf, String)> = None;
    for (exercise, text, range, stub) in changes {
        if current.as_ref().is_some_and(|(f, _)| *f != exercise.file) {
            let (f, t) = current.take().unwrap_or_default();
            fs::write(root.join(f), t)?;
        }
        let (_, text) = current.get_or_insert_with(|| (exercise.file.clone(), text));
        let backup = backups.join(format!("{}-{stamp}-{}.rs", exercise.id, range.start));
        fs::write(&backup, &text[range.clone()])
            .with_context(|| format!("saving your code to {}", backup.display()))?;
        text.replace_range(range, &stub);
        println!(
            "reset {} (your code: {})",
            exercise.id,
            relative(root, &backup)
        );
    }
    if let Some((f, t)) = current {
        fs::write(root.join(f), t)?;
    }
    Ok(true)
}

fn confirmed() -> Result<bool> {
    if !io::stdin().is_terminal() {
        bail!("not asking without a terminal: add --yes to reset anyway");
    }
    print!("Reset? [y/N] ");
    io::stdout().flush()?;
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The byte ranges of exercise `id`'s bodies in `text` (an exercise may be
/// several functions, like an encoder and its decoder): what lies between
/// the `{` that opens each function's body and the `}` that closes it.
pub fn bodies(text: &str, id: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut offset = 0;
    let mut doc_seen = false;
    for line in text.split_inclusive('\n') {
        if course::parse_exercise_doc(line).is_some_and(|(found, _)| found == id) {
            doc_seen = true;
        } else if doc_seen && is_fn_line(line) {
            doc_seen = false;
            let Some(open) = open_brace(&text[offset..]).map(|at| offset + at) else {
                return Vec::new();
            };
            let Some(close) = matching_brace(text, open) else {
                return Vec::new();
            };
            ranges.push(open + 1..close);
        }
        offset += line.len();
    }
    ranges
}

fn is_fn_line(line: &str) -> bool {
    let words: Vec<&str> = line.split_whitespace().take(4).collect();
    words.contains(&"fn")
}

/// Where the body's `{` is: the first `{` after the parameter list's `)`
/// outside `<…>` (a `where` clause or return type has no braces).
fn open_brace(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut seen_params = false;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                seen_params |= depth == 0;
            }
            '{' if seen_params && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// The `}` that closes the `{` at `open`, skipping braces inside strings,
/// char literals and comments.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i += text[i..].find('\n')?;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += text[i..].find("*/")? + 1;
            }
            b'"' => i = string_end(bytes, i)?,
            b'r' if raw_string_start(bytes, i).is_some() => {
                let (hashes, quote) = raw_string_start(bytes, i)?;
                let close = format!("\"{}", "#".repeat(hashes));
                i = quote + 1 + text[quote + 1..].find(&close)? + close.len() - 1;
            }
            b'\'' => {
                // A char literal ('{', '\'', '\u{7b}'), or a lifetime ('a).
                if let Some(end) = char_literal_end(bytes, i) {
                    i = end;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index of the `"` that ends the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'"' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// `r"`, `r#"`, `br##"` …: the number of `#` and where the `"` is.
fn raw_string_start(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    let after_identifier =
        i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
    let after_b = i > 0 && bytes[i - 1] == b'b' && (i < 2 || !bytes[i - 2].is_ascii_alphanumeric());
    if !(after_identifier || after_b) {
        return None;
    }
    let hashes = bytes[i + 1..].iter().take_while(|&&b| b == b'#').count();
    (bytes.get(i + 1 + hashes) == Some(&b'"')).then_some((hashes, i + 1 + hashes))
}

/// The closing `'` of a char literal starting at `start`, or None for a lifetime.
fn char_literal_end(bytes: &[u8], start: usize) -> Option<usize> {
    match bytes.get(start + 1)? {
        b'\\' => (start + 3..bytes.len().min(start + 12)).find(|&j| bytes[j] == b'\''),
        _ => {
            // One UTF-8 character, then a quote.
            let len = match bytes[start + 1] {
                b if b < 0x80 => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                _ => 2,
            };
            (bytes.get(start + 1 + len) == Some(&b'\'')).then_some(start + 1 + len)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEARNER: &str = r##"use std::io;

/// Exercise 1.1: echo — book §1.1.
///
/// The contract.
pub fn echo(stream: &mut S) -> io::Result<u64> where S: Read {
    let s = "}{ a brace in a string \" }";
    let c = '}'; let d = '\''; let e: &'static str = r#"}"# ;
    // a } in a comment
    /* and { in a block comment */
    if true { loop { break } }
    Ok(0) }

/// Exercise 1.2: next — book §1.2.
fn next() {
    todo!("exercise 1.2: next — book §1.2")
}
"##;

    #[test]
    fn finds_an_unformatted_body_with_braces_in_strings_chars_and_comments() {
        let [range] = &bodies(LEARNER, "1.1")[..] else {
            panic!("one body")
        };
        let found = &LEARNER[range.clone()];
        assert!(found.starts_with("\n    let s ="), "{found:?}");
        assert!(found.ends_with("Ok(0) "), "{found:?}");
        assert_eq!(
            &LEARNER[bodies(LEARNER, "1.2")[0].clone()],
            "\n    todo!(\"exercise 1.2: next — book §1.2\")\n"
        );
        assert_eq!(bodies(LEARNER, "1.3"), []);
    }

    /// Resetting every exercise of a solution, one at a time, gives exactly
    /// the stubbed file: the same rule as `verify`'s, from the other side.
    #[test]
    fn resetting_every_exercise_of_every_solution_gives_the_shipped_file() {
        let root = course::root();
        for lesson in course::lessons(&root).unwrap() {
            let mut files: Vec<_> = lesson
                .exercises
                .iter()
                .map(|e| e.solution.clone())
                .collect();
            files.dedup();
            for file in files {
                let solution = fs::read_to_string(root.join(&file)).unwrap();
                let shipped = crate::stub::stub(&solution).unwrap();
                let mut text = solution.clone();
                for exercise in lesson.exercises.iter().filter(|e| e.solution == file) {
                    let theirs = bodies(&text, &exercise.id);
                    let ours = bodies(&shipped, &exercise.id);
                    assert_eq!(theirs.len(), ours.len(), "exercise {}", exercise.id);
                    assert!(!ours.is_empty(), "exercise {}", exercise.id);
                    for (theirs, ours) in theirs.into_iter().zip(ours).rev() {
                        text.replace_range(theirs, &shipped[ours]);
                    }
                }
                assert!(
                    text == shipped,
                    "{}: reset differs from the stub",
                    file.display()
                );
            }
        }
    }
}
