//! Enough file descriptors for every client, checked before the first
//! connection.
//!
//! Each client is a socket, and a socket is a file descriptor. A shell
//! usually gives a program a soft limit of 1,024; past it, `connect` fails
//! with "Too many open files" half-way through the run, which would be
//! reported as if the *server* had refused. So the tool raises its soft
//! limit to the hard limit (what a process may do by itself), and if that is
//! still too low, it says so and does nothing.

use anyhow::{Context, bail};

/// Descriptors the tool needs besides its clients: standard streams, the
/// runtime's epoll and wake-up descriptors, a few spare.
pub const SPARE: u64 = 50;

/// How many descriptors `clients` clients need.
pub fn needed(clients: u32) -> u64 {
    u64::from(clients) + SPARE
}

/// Raises the limit and checks it is enough for `clients`.
pub fn ensure_enough(clients: u32) -> anyhow::Result<()> {
    let limit = netlings_chat::raise_open_file_limit()
        .context("could not read or raise the limit on open files")?;
    if let Some(problem) = too_few(clients, limit) {
        bail!(problem);
    }
    Ok(())
}

/// What to tell the user when `limit` descriptors are not enough.
fn too_few(clients: u32, limit: u64) -> Option<String> {
    let needed = needed(clients);
    (limit < needed).then(|| {
        format!(
            "--clients {clients} needs about {needed} open files; this process may have \
             {limit} (hard limit). Raise it with `ulimit -Hn {needed}` (as root, or in \
             /etc/security/limits.conf), or ask for fewer clients"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_how_many_and_how_to_get_them() {
        assert_eq!(too_few(1000, 4096), None);
        assert_eq!(too_few(4046, 4096), None);
        let problem = too_few(10_000, 4096).unwrap();
        assert!(
            problem.starts_with(
                "--clients 10000 needs about 10050 open files; this process may have 4096 (hard limit)"
            ),
            "{problem}"
        );
        assert!(problem.contains("ulimit -Hn 10050"), "{problem}");
    }
}
