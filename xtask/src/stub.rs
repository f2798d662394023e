//! The shipped exercise, derived from its solution.
//!
//! A learner's file `lessons/lessonNN/src/M.rs` is the solution
//! `solutions/lessonNN/M.rs` with the body of every exercise replaced by a
//! stub, and with only the imports the given code needs. That rule is what
//! lets
//! - `verify` prove that a diff of the two files shows exactly the exercises,
//! - the book show an exercise as shipped, whatever the learner has written
//!   in their copy (the preprocessor in book.rs),
//! - and `reset` give an exercise back as it was.
//!
//! An exercise is a function whose doc comment has the line
//! `/// Exercise N.k: title — book §N.k.` Its stub is
//!
//! ```text
//!     let _ = (a, b); // unused until you write the function
//!     todo!("exercise N.k: title — book §N.k")
//! ```
//!
//! The first line names the parameters, so that the compiler does not warn
//! about them while the body is a `todo!()` — and it goes away with the stub,
//! so the learner's own code gets every warning.
//!
//! The code is read line by line, relying on rustfmt's layout: a function's
//! body ends at the first line that is a `}` at the indentation of `fn`.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// `cargo xtask stub solutions/lessonNN/M.rs`: prints the learner's version.
pub fn run(root: &Path, args: &[String]) -> Result<bool> {
    let Some(file) = args.first() else {
        bail!("usage: cargo xtask stub solutions/lessonNN/M.rs");
    };
    let text =
        std::fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
    print!("{}", stub(&text)?);
    Ok(true)
}

/// The line that begins the stub body of exercise `id`.
pub fn todo_line(id: &str, title: &str) -> String {
    format!("todo!(\"exercise {id}: {title} — book §{id}\")")
}

/// `solution` with every exercise's body replaced by its stub.
pub fn stub(solution: &str) -> Result<String> {
    let lines: Vec<&str> = solution.lines().collect();
    let mut out = Vec::new();
    let mut pending: Option<(String, String)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if let Some(exercise) = crate::course::parse_exercise_doc(line) {
            pending = Some(exercise);
        }
        let Some((id, title)) = pending.take_if(|_| is_fn_start(line)) else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        // The signature runs to the line that opens the body.
        let indent = &line[..line.len() - line.trim_start().len()];
        let start = i;
        while !lines[i].trim_end().ends_with('{') {
            i += 1;
            if i == lines.len() {
                bail!("exercise {id}: the signature of its function never opens a body");
            }
        }
        let signature = lines[start..=i].join("\n");
        out.extend(lines[start..=i].iter().map(|l| l.to_string()));
        // The body runs to the `}` at the indentation of `fn`.
        let close = format!("{indent}}}");
        let Some(end) = (i + 1..lines.len()).find(|&j| lines[j] == close) else {
            bail!("exercise {id}: no `{close}` closes its function");
        };
        let params = parameters(&signature);
        if params.iter().any(|p| p.starts_with("mut ")) {
            bail!(
                "exercise {id}: a `mut` parameter would warn in the stub; \
                 rebind it in the body instead (`let mut x = x;`)"
            );
        }
        match params.len() {
            0 => {}
            1 => out.push(format!(
                "{indent}    let _ = {}; // unused until you write the function",
                params[0]
            )),
            _ => out.push(format!(
                "{indent}    let _ = ({}); // unused until you write the function",
                params.join(", ")
            )),
        }
        out.push(format!("{indent}    {}", todo_line(&id, &title)));
        out.push(close);
        i = end + 1;
    }
    let mut text = out.join("\n");
    if solution.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

fn is_fn_start(line: &str) -> bool {
    let line = line.trim_start();
    let line = line
        .strip_prefix("pub(crate) ")
        .or_else(|| line.strip_prefix("pub "))
        .unwrap_or(line);
    let line = line.strip_prefix("async ").unwrap_or(line);
    line.starts_with("fn ")
}

/// The parameter names of a function signature, `self` left out:
/// `fn f<R: Read>(&self, a: u8, (b, c): (u8, u8))` → `["a", "(b, c)"]`.
fn parameters(signature: &str) -> Vec<String> {
    // The parameter list is the first `(` outside the generics `<…>`.
    let mut angle = 0i32;
    let mut open = None;
    for (i, c) in signature.char_indices() {
        match c {
            '<' => angle += 1,
            '>' => angle -= 1,
            '(' if angle == 0 => {
                open = Some(i);
                break;
            }
            _ => {}
        }
    }
    let Some(open) = open else {
        return Vec::new();
    };
    let mut depth = 0i32;
    let mut params = Vec::new();
    let mut current = String::new();
    for c in signature[open + 1..].chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' if depth == 0 => break,
            ')' | '>' | ']' => depth -= 1,
            ',' if depth == 0 => {
                params.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    params.push(current);
    params
        .iter()
        .filter_map(|param| {
            let pattern = top_level_colon(param).map_or(param.as_str(), |at| &param[..at]);
            let pattern = pattern.split_whitespace().collect::<Vec<_>>().join(" ");
            let is_self = pattern.ends_with("self") && !pattern.contains(':');
            (!pattern.is_empty() && !is_self).then_some(pattern)
        })
        .collect()
}

/// Where the `:` between a parameter's pattern and its type is.
fn top_level_colon(param: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in param.char_indices() {
        match c {
            '(' | '[' | '<' => depth += 1,
            ')' | ']' | '>' => depth -= 1,
            ':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// `text` without its `use` declarations (which may span several lines), so
/// that two versions of a module can be compared apart from their imports.
/// Runs of blank lines count as one: two groups of imports leave two blank
/// lines behind where one group leaves one.
pub fn without_imports(text: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut in_use = false;
    for line in text.lines() {
        let starts = line.starts_with("use ") || line.starts_with("pub use ");
        if starts || in_use {
            in_use = !line.trim_end().ends_with(';');
            continue;
        }
        if line.trim().is_empty() && out.last().is_some_and(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

/// The first line where `a` and `b` differ, as (line number from 1, a's line,
/// b's line), or `None` if they are the same.
pub fn first_difference(a: &str, b: &str) -> Option<(usize, String, String)> {
    let (mut a_lines, mut b_lines) = (a.lines(), b.lines());
    for n in 1.. {
        match (a_lines.next(), b_lines.next()) {
            (None, None) => return None,
            (x, y) if x == y => {}
            (x, y) => {
                let show = |l: Option<&str>| l.unwrap_or("(end of file)").to_string();
                return Some((n, show(x), show(y)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOLUTION: &str = "\
use std::io;

/// Exercise 1.1: echo one connection — book §1.1.
///
/// Does things.
pub fn echo<S: Read + Write>(stream: &mut S, limit: usize) -> io::Result<u64> {
    let mut total = 0;
    loop {
        if total > limit {
            return Ok(total);
        }
    }
}

/// Given code stays.
pub fn given() {}

impl X {
    /// Exercise 1.2: a method — book §1.2.
    pub fn method(&mut self) -> u8 {
        self.0
    }
}
";

    #[test]
    fn replaces_each_exercise_body_and_keeps_the_rest() {
        let expected = "\
use std::io;

/// Exercise 1.1: echo one connection — book §1.1.
///
/// Does things.
pub fn echo<S: Read + Write>(stream: &mut S, limit: usize) -> io::Result<u64> {
    let _ = (stream, limit); // unused until you write the function
    todo!(\"exercise 1.1: echo one connection — book §1.1\")
}

/// Given code stays.
pub fn given() {}

impl X {
    /// Exercise 1.2: a method — book §1.2.
    pub fn method(&mut self) -> u8 {
        todo!(\"exercise 1.2: a method — book §1.2\")
    }
}
";
        assert_eq!(stub(SOLUTION).unwrap(), expected);
    }

    #[test]
    fn names_the_parameters_of_a_multi_line_signature() {
        let signature = "pub fn probe(\n    socket: &UdpSocket,\n    clock: &Clock,\n    seq: u32,\n) -> io::Result<Outcome> {";
        assert_eq!(parameters(signature), ["socket", "clock", "seq"]);
        assert_eq!(
            parameters("fn f<R: Read, W: Write>(&self, r: R, w: W) {"),
            ["r", "w"]
        );
        assert_eq!(parameters("fn f(self) {"), Vec::<String>::new());
        assert_eq!(
            parameters("fn f(addrs: impl ToSocketAddrs, t: Duration) {"),
            ["addrs", "t"]
        );
    }

    #[test]
    fn stubs_an_async_exercise() {
        let solution =
            "/// Exercise 10.2: x — book §10.2.\npub async fn f(a: u8) -> u8 {\n    a.await\n}\n";
        let expected = "/// Exercise 10.2: x — book §10.2.\npub async fn f(a: u8) -> u8 {\n    let _ = a; // unused until you write the function\n    todo!(\"exercise 10.2: x — book §10.2\")\n}\n";
        assert_eq!(stub(solution).unwrap(), expected);
    }

    #[test]
    fn refuses_a_mut_parameter() {
        let solution = "/// Exercise 1.1: x — book §1.1.\nfn f(mut a: u8) {\n    a += 1;\n}\n";
        assert!(stub(solution).is_err());
    }

    #[test]
    fn compares_apart_from_imports() {
        let a = "use std::io::{\n    Read,\n    Write,\n};\nfn f() {}\n";
        let b = "use std::io;\nfn f() {}\n";
        assert_eq!(without_imports(a), without_imports(b));
        let two_groups = "//! Doc.\n\nuse std::io;\n\nuse crate::x;\n\nfn f() {}\n";
        let one_group = "//! Doc.\n\nuse std::io;\n\nfn f() {}\n";
        assert_eq!(without_imports(two_groups), without_imports(one_group));
    }
}
