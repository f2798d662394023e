//! What a chat server does at start: ask for enough file descriptors, and
//! learn when it is asked to stop.

/// Raises this process's soft limit on open files to its hard limit, and
/// returns the limit now in force.
///
/// Every connection is a file descriptor, and the soft limit a shell gives
/// a program is often small: 1,024 on most Linux systems, 256 on macOS. The
/// hard limit, which a process may raise itself to, is usually far higher.
#[cfg(unix)]
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::increase_nofile_limit(hard)
}

#[cfg(not(unix))]
pub fn raise_open_file_limit() -> std::io::Result<u64> {
    // Windows has no such per-process limit on sockets.
    Ok(u64::MAX)
}

/// Calls `stop` once when the process gets Ctrl-C (SIGINT) or SIGTERM, on a
/// thread of its own. A second Ctrl-C exits at once, for a server that does
/// not manage to stop by itself.
pub fn on_shutdown_signal(stop: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    let mut stop = Some(stop);
    ctrlc::set_handler(move || match stop.take() {
        Some(stop) => {
            eprintln!("shutting down (Ctrl-C again to stop at once)");
            stop();
        }
        None => std::process::exit(130),
    })?;
    Ok(())
}
