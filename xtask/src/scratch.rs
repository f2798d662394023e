//! A copy of the course to build and test in, apart from the real one, and
//! the way its test binaries are run: under limits, in a process group of
//! their own, stopped with everything they started.
//!
//! `mutants` applies wrong solutions to such a copy (an interrupted run can
//! then never leave a mutant in the real `solutions/`); `grade` copies a
//! student's exercise files into one. Each copy has a target directory of
//! its own: sharing the real one would overwrite the lessons' programs in
//! `target/debug/`. The target directory is kept between runs, so the
//! dependencies are compiled once.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// What a copy of the course holds: everything cargo needs to build and
/// test it (not the book, hints or mutants).
pub const COURSE: [&str; 10] = [
    "Cargo.toml",
    "Cargo.lock",
    ".cargo",
    "kit",
    "chat",
    "tools",
    "lessons",
    "solutions",
    "tests",
    "xtask",
];

pub struct Scratch {
    /// The copy of the course: `base/course`.
    pub dir: PathBuf,
    /// Its target directory: `base/target`.
    pub target: PathBuf,
}

impl Scratch {
    /// A fresh copy of the course at `base/course`; `base/target` is kept.
    pub fn new(root: &Path, base: &Path) -> Result<Scratch> {
        fs::create_dir_all(base)?;
        let dir = base.join("course");
        let _ = fs::remove_dir_all(&dir);
        for entry in COURSE {
            copy(&root.join(entry), &dir.join(entry))
                .with_context(|| format!("copying {entry} to {}", dir.display()))?;
        }
        Ok(Scratch {
            dir,
            target: base.join("target"),
        })
    }

    /// The copy at `base/course` made the same as the course at `root`,
    /// touching only what differs (so that cargo rebuilds nothing that is
    /// already built); a fresh copy if there is none.
    pub fn reuse(root: &Path, base: &Path) -> Result<Scratch> {
        let scratch = Scratch {
            dir: base.join("course"),
            target: base.join("target"),
        };
        if scratch.dir.is_dir() {
            scratch.sync(root)?;
            Ok(scratch)
        } else {
            Scratch::new(root, base)
        }
    }

    /// Makes the copy the same as the course at `root` again, whatever was
    /// written into it since: files that differ are rewritten, files that
    /// the course does not have are removed. Files that are already right
    /// are left alone, so cargo does not rebuild what uses them.
    pub fn sync(&self, root: &Path) -> Result<()> {
        for entry in COURSE {
            sync(&root.join(entry), &self.dir.join(entry))
                .with_context(|| format!("restoring {entry} in {}", self.dir.display()))?;
        }
        Ok(())
    }
}

/// Copies a file or a directory tree (leaving out any `target/`).
pub fn copy(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_name() == "target" {
                continue;
            }
            copy(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from, to).map(|_| ())
    }
}

/// Makes `to` a copy of `from` (leaving out any `target/`), touching only
/// what differs.
fn sync(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        if !to.is_dir() {
            let _ = fs::remove_file(to);
            fs::create_dir_all(to)?;
        }
        for entry in fs::read_dir(to)? {
            let entry = entry?;
            let name = entry.file_name();
            if name != "target" && !from.join(&name).exists() {
                let path = entry.path();
                if path.is_dir() {
                    fs::remove_dir_all(&path)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
        }
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            if entry.file_name() != "target" {
                sync(&entry.path(), &to.join(entry.file_name()))?;
            }
        }
        Ok(())
    } else {
        if to.is_dir() {
            fs::remove_dir_all(to)?;
        }
        write_if_changed(to, &fs::read(from)?).map(|_| ())
    }
}

/// Writes `bytes` to `path` unless it already holds exactly them; returns
/// whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<bool> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(path, bytes)?;
    Ok(true)
}

/// How many processes (and threads) a test binary and all it starts may
/// have at once, where the platform lets us say so: a student's code that
/// forks without end stops there instead of taking the machine.
pub const MAX_TASKS: u32 = 2048;

/// A test binary, run with caps where the platform allows: 8 GiB of address
/// space per process (a loop that allocates must not take the machine) and,
/// with `tasks`, at most [`MAX_TASKS`] processes for the user (binding
/// unless the user is root) and membership of the control group `tasks`
/// names (its `pids.max` binds root too; see grade/cgroup.rs).
pub fn limited(binary: &Path, tasks: Option<Option<&Path>>) -> Command {
    if cfg!(unix) {
        let mut script = String::from("ulimit -v 8388608 2>/dev/null; ");
        let mut command = Command::new("sh");
        if let Some(cgroup) = tasks {
            script.push_str(&format!("ulimit -u {MAX_TASKS} 2>/dev/null; "));
            if let Some(cgroup) = cgroup {
                // Join before exec: every process the binary starts is then
                // counted, with no window in between.
                script.push_str("echo $$ > \"$NETLINGS_CGROUP/cgroup.procs\" 2>/dev/null; ");
                command.env("NETLINGS_CGROUP", cgroup);
            }
        }
        script.push_str("exec \"$0\" \"$@\"");
        command.arg("-c").arg(script).arg(binary);
        command
    } else {
        Command::new(binary)
    }
}

/// Kills a child and everything it started (on Unix, its process group,
/// which it must lead: `process_group(0)`), and reaps it.
pub fn stop(child: &mut std::process::Child) {
    if cfg!(unix) {
        let group = format!("-{}", child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_rewrites_what_differs_and_removes_what_is_extra() {
        let base = std::env::temp_dir().join(format!("netlings-sync-{}", std::process::id()));
        let (from, to) = (base.join("from"), base.join("to"));
        fs::create_dir_all(from.join("a")).unwrap();
        fs::write(from.join("a/kept.rs"), "same").unwrap();
        fs::write(from.join("a/changed.rs"), "course").unwrap();
        copy(&from, &to).unwrap();
        fs::write(to.join("a/changed.rs"), "student").unwrap();
        fs::write(to.join("a/extra.rs"), "build.rs, say").unwrap();
        fs::create_dir_all(to.join("target")).unwrap();
        sync(&from, &to).unwrap();
        assert_eq!(
            fs::read_to_string(to.join("a/changed.rs")).unwrap(),
            "course"
        );
        assert!(!to.join("a/extra.rs").exists());
        assert!(to.join("target").exists(), "target/ is kept");
        let _ = fs::remove_dir_all(&base);
    }
}
