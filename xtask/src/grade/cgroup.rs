//! A control group that bounds the number of tasks a test binary may start
//! (Linux; root or a delegated cgroup).

use super::*;

/// A control group that bounds how many tasks a test binary may have, on
/// Linux where we may create one (cgroup v1's `pids` hierarchy, or v2 with
/// the `pids` controller enabled at the root).
pub(super) struct Cgroup {
    pub(super) dir: PathBuf,
}

impl Cgroup {
    pub(super) fn new(label: &str) -> Option<Cgroup> {
        if !cfg!(target_os = "linux") {
            return None;
        }
        let v2 = Path::new("/sys/fs/cgroup");
        let parent = if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
            PathBuf::from("/sys/fs/cgroup/pids")
        } else if fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|c| c == "pids"))
        {
            v2.to_path_buf()
        } else {
            return None;
        };
        // Those of a grade that was killed outright are empty: remove them.
        for entry in fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name
                .strip_prefix("netlings-grade-")
                .and_then(|r| r.split('-').next())
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = fs::remove_dir(entry.path());
            }
        }
        let dir = parent.join(format!("netlings-grade-{}-{label}", std::process::id()));
        fs::create_dir_all(&dir).ok()?;
        if fs::write(dir.join("pids.max"), scratch::MAX_TASKS.to_string()).is_err() {
            let _ = fs::remove_dir(&dir);
            return None;
        }
        Some(Cgroup { dir })
    }

    pub(super) fn members(&self) -> Vec<String> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Kills every process in the group, until none is left (a process
    /// forking as we kill is bounded by `pids.max`).
    pub(super) fn kill_all(&self) {
        for _ in 0..100 {
            let members = self.members();
            if members.is_empty() {
                return;
            }
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(&members)
                .stderr(Stdio::null())
                .status();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The most tasks the group has had at once (cgroup v2 and recent v1).
    pub(super) fn peak(&self) -> Option<u64> {
        fs::read_to_string(self.dir.join("pids.peak"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        self.kill_all();
        let _ = fs::remove_dir(&self.dir);
    }
}
