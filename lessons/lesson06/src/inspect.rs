//! `lesson06 inspect ADDR`: connect, then print the socket's addresses and
//! options as the kernel reports them (getsockopt) — `ss -tanoi` for one
//! socket, from inside the program.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::SockRef;

/// Whether an option is on, in words.
fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// A duration in whole seconds, or in milliseconds below one second.
pub fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else {
        format!("{} s", duration.as_secs())
    }
}

// ANCHOR: options
/// Every option `inspect` shows, as (name, value) pairs, read back from the
/// kernel. Options this system does not have are left out.
pub fn options(stream: &TcpStream) -> io::Result<Vec<(&'static str, String)>> {
    let socket = SockRef::from(stream);
    let local = stream.local_addr()?;
    let mut list = vec![
        ("local address", local.to_string()),
        ("peer address", stream.peer_addr()?.to_string()),
        ("TCP_NODELAY", on_off(socket.tcp_nodelay()?).to_string()),
        (
            "SO_LINGER",
            match socket.linger()? {
                None => "off (close sends a FIN and returns at once)".to_string(),
                Some(t) if t.is_zero() => "0 s (close sends a RST)".to_string(),
                Some(t) => format!("{} (close waits for unsent data)", seconds(t)),
            },
        ),
        ("SO_KEEPALIVE", on_off(socket.keepalive()?).to_string()),
    ];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
    {
        list.push(("TCP_KEEPIDLE", seconds(socket.tcp_keepalive_time()?)));
        list.push(("TCP_KEEPINTVL", seconds(socket.tcp_keepalive_interval()?)));
        list.push(("TCP_KEEPCNT", socket.tcp_keepalive_retries()?.to_string()));
    }
    list.push(("SO_RCVBUF", format!("{} bytes", socket.recv_buffer_size()?)));
    list.push(("SO_SNDBUF", format!("{} bytes", socket.send_buffer_size()?)));
    list.push(("SO_REUSEADDR", on_off(socket.reuse_address()?).to_string()));
    if local.is_ipv4() {
        list.push(("IP_TTL", socket.ttl_v4()?.to_string()));
    } else {
        list.push(("IPV6_UNICAST_HOPS", socket.unicast_hops_v6()?.to_string()));
        list.push(("IPV6_V6ONLY", on_off(socket.only_v6()?).to_string()));
    }
    #[cfg(unix)]
    list.push(("TCP_MAXSEG", format!("{} bytes", socket.tcp_mss()?)));
    Ok(list)
}
// ANCHOR_END: options

/// One line for a log: "nodelay off, linger off, keepalive off, rcvbuf
/// 131072, sndbuf 2626560".
///
/// `linger0_at_close`: the caller sets SO_LINGER 0 only when it closes the
/// connection (`close::abort`), so the kernel still reports it off; the line
/// then says "linger 0 at close" rather than that "off".
pub fn summary(stream: &TcpStream, linger0_at_close: bool) -> String {
    let socket = SockRef::from(stream);
    let show = |value: io::Result<String>| value.unwrap_or_else(|e| format!("({e})"));
    let linger = if linger0_at_close {
        "0 at close".to_string()
    } else {
        show(socket.linger().map(|l| match l {
            None => "off".to_string(),
            Some(t) => seconds(t),
        }))
    };
    format!(
        "nodelay {}, linger {linger}, keepalive {}, rcvbuf {}, sndbuf {}",
        show(socket.tcp_nodelay().map(|b| on_off(b).to_string())),
        show(socket.keepalive().map(|b| on_off(b).to_string())),
        show(socket.recv_buffer_size().map(|n| n.to_string())),
        show(socket.send_buffer_size().map(|n| n.to_string())),
    )
}

/// The range the system picks ephemeral (client) ports from, where it says.
pub fn ephemeral_ports() -> Option<(u16, u16)> {
    // Linux: /proc/sys/net/ipv4/ip_local_port_range. Elsewhere IANA's
    // 49152-65535 is the usual default (macOS and Windows use it).
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>());
    match (parts.next(), parts.next()) {
        (Some(Ok(low)), Some(Ok(high))) => Some((low, high)),
        _ => None,
    }
}

/// Connects to `addr` and prints the connection's options to `out`.
pub fn run(addr: SocketAddr, out: &mut dyn Write) -> io::Result<()> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    writeln!(out, "connected to {addr}; the kernel reports:")?;
    for (name, value) in options(&stream)? {
        writeln!(out, "  {name:<18} {value}")?;
    }
    let port = stream.local_addr()?.port();
    match ephemeral_ports() {
        Some((low, high)) => writeln!(
            out,
            "the local port {port} is ephemeral: the system picked it from {low}-{high}"
        )?,
        None => writeln!(
            out,
            "the local port {port} is ephemeral: the system picked it"
        )?,
    }
    Ok(())
}
