//! A virtual LAN: a few hosts on one Ethernet switch, built from Linux
//! network namespaces, for the lessons that loopback cannot show (multicast
//! across hosts, TTL, a host that did not join, a worker that vanishes).
//!
//! ```text
//!   namespace TAG-h1          namespace TAG-sw             namespace TAG-h2
//!  ┌────────────────────┐    ┌──────────────────────┐    ┌────────────────────┐
//!  │ lo                 │    │        br0           │    │ lo                 │
//!  │ eth0 198.18.0.1/24 ├────┤ h1  (a bridge)  h2   ├────┤ eth0 198.18.0.2/24 │
//!  └────────────────────┘    └──────────┬───────────┘    └────────────────────┘
//!                                       h3 ── namespace TAG-h3 (198.18.0.3) ...
//! ```
//!
//! Everything lives in namespaces of its own, the switch too: the machine's
//! own interfaces, routes and firewall are never touched, and no lab host
//! has a route anywhere but its /24 (and multicast on it), so nothing sent
//! inside the lab can reach a real network. The addresses come from
//! 198.18.0.0/15, the range set aside for benchmarking (RFC 2544), which no
//! real network uses.
//!
//! Building namespaces needs Linux and root (CAP_SYS_ADMIN and
//! CAP_NET_ADMIN); [`unavailable`] says why not elsewhere, so that a test can
//! skip with a notice. The work is done by running `ip` (iproute2), one
//! readable command at a time: [`Lab::up`] prints nothing, but every command
//! it runs is in [`Lab::commands`] for whoever wants to see or repeat it.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The lab's subnet: host N is 198.18.0.N.
pub const SUBNET: &str = "198.18.0.0/24";

/// The most hosts a lab may have (the addresses 198.18.0.1 ..= 198.18.0.MAX_HOSTS).
pub const MAX_HOSTS: usize = 9;

/// One host of the lab.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its short name: `h1`, `h2`, ...
    pub name: String,
    /// The network namespace it lives in: `TAG-h1`.
    pub netns: String,
    /// Its address on the lab's Ethernet, `eth0`: 198.18.0.N.
    pub addr: Ipv4Addr,
}

/// A running lab. Dropping it removes every namespace it made (even while a
/// test unwinds from a failure), unless [`Lab::keep`] was called.
#[derive(Debug)]
pub struct Lab {
    tag: String,
    hosts: Vec<Host>,
    commands: Vec<String>,
    keep: bool,
}

/// `None` when a lab can be built here; otherwise why not, in words for the
/// notice a skipped test prints.
pub fn unavailable() -> Option<String> {
    if !cfg!(target_os = "linux") {
        return Some("network namespaces are Linux's; the lab needs Linux".into());
    }
    // CAP_NET_ADMIN (bit 12) configures links and addresses; CAP_SYS_ADMIN
    // (bit 21) creates the namespaces. Root has both, a container may not.
    const NEEDED: u64 = (1 << 12) | (1 << 21);
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .unwrap_or(0);
    if effective & NEEDED != NEEDED {
        return Some(
            "building network namespaces needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)".into(),
        );
    }
    match Command::new("ip").arg("-V").output() {
        Ok(out) if out.status.success() => None,
        _ => Some("the `ip` command (iproute2) was not found".into()),
    }
}

impl Lab {
    /// Builds `hosts` hosts, `h1` … `hN`, on one bridge. Namespaces are named
    /// `TAG-h1` … and `TAG-sw` (the switch); give each lab that may exist at
    /// the same time its own `tag`. Fails if one of those names is taken
    /// (a lab already up, or left by a killed test: see [`remove`]).
    pub fn up(tag: &str, hosts: usize) -> Result<Lab> {
        if let Some(why) = unavailable() {
            bail!("cannot build the lab here: {why}");
        }
        if !(1..=MAX_HOSTS).contains(&hosts) {
            bail!("a lab has 1 to {MAX_HOSTS} hosts, not {hosts}");
        }
        let taken: HashSet<String> = namespaces()?.into_iter().collect();
        let switch = switch_of(tag);
        let hosts: Vec<Host> = (1..=hosts).map(|n| host(tag, n)).collect();
        if let Some(name) = std::iter::once(&switch)
            .chain(hosts.iter().map(|h| &h.netns))
            .find(|name| taken.contains(*name))
        {
            bail!(
                "the namespace {name} exists already: is this lab up? (remove it with `lab down`)"
            );
        }
        // From here on, a failure drops `lab`, which removes what was made.
        let mut lab = Lab {
            tag: tag.to_string(),
            hosts,
            commands: Vec::new(),
            keep: false,
        };
        lab.build()
            .with_context(|| format!("building the lab {tag}"))?;
        Ok(lab)
    }

    fn build(&mut self) -> Result<()> {
        let switch = switch_of(&self.tag);
        self.ip(&["netns", "add", &switch])?;
        self.ip(&["-n", &switch, "link", "add", "br0", "type", "bridge"])?;
        self.ip(&["-n", &switch, "link", "set", "br0", "up"])?;
        for host in self.hosts.clone() {
            let ns = host.netns.as_str();
            let cidr = format!("{}/24", host.addr);
            self.ip(&["netns", "add", ns])?;
            // A cable: one end (`hN`) plugged into the switch, the other
            // (`eth0`) into the host. Created inside the switch's namespace,
            // so the machine's own namespace never sees either end.
            self.ip(&[
                "-n", &switch, "link", "add", &host.name, "type", "veth", "peer", "name", "eth0",
                "netns", ns,
            ])?;
            self.ip(&[
                "-n", &switch, "link", "set", &host.name, "master", "br0", "up",
            ])?;
            self.ip(&["-n", ns, "link", "set", "lo", "up"])?;
            self.ip(&["-n", ns, "addr", "add", &cidr, "dev", "eth0"])?;
            self.ip(&["-n", ns, "link", "set", "eth0", "up"])?;
            // Multicast leaves by eth0 even for a program that does not
            // choose an interface, as on a LAN host with a default route.
            self.ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0"])?;
        }
        Ok(())
    }

    /// A lab for one test: tagged with the test process's id and `name`
    /// (`nlt4242-ex7_3`), so that tests running at once never share one.
    /// First it removes the labs of test processes that are gone: a test
    /// binary killed mid-test (`cargo xtask mutants` stops one at its first
    /// failure) runs no destructors, and its namespaces would stay.
    pub fn for_test(name: &str, hosts: usize) -> Result<Lab> {
        remove_orphans()?;
        Lab::up(
            &format!("{TEST_PREFIX}{}-{name}", std::process::id()),
            hosts,
        )
    }

    /// The hosts, `h1` first.
    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }

    /// The `ip` commands that built the lab, in order.
    pub fn commands(&self) -> &[String] {
        &self.commands
    }

    /// A [`Command`] that runs `program` inside host `host` (`"h1"`): add
    /// arguments and spawn it as usual.
    pub fn command(&self, host: &str, program: impl AsRef<OsStr>) -> Command {
        command_in(&self.tag, host, program)
    }

    /// Unplugs `host` from the switch: see [`cut`].
    pub fn cut(&self, host: &str) -> Result<()> {
        cut(&self.tag, host)
    }

    /// Plugs `host` back in: see [`restore`].
    pub fn restore(&self, host: &str) -> Result<()> {
        restore(&self.tag, host)
    }

    /// Leaves the lab up when this value is dropped (`cargo xtask lab up`).
    pub fn keep(mut self) {
        self.keep = true;
    }

    fn ip(&mut self, args: &[&str]) -> Result<()> {
        self.commands.push(format!("ip {}", args.join(" ")));
        run_ip(args)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.keep {
            // Nothing to report to: a failure here leaves a namespace that
            // `lab down` (or `remove`) clears later.
            let _ = remove(&self.tag);
        }
    }
}

/// A [`Command`] that runs `program` in host `host` of the lab tagged `tag`,
/// whether or not this process built it.
pub fn command_in(tag: &str, host: &str, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec"])
        .arg(format!("{tag}-{host}"))
        .arg(program);
    command
}

/// Unplugs host `host`'s cable at the switch (`ip -n TAG-sw link set hN
/// down`): from then on nothing passes between it and the others, in either
/// direction, and nobody is told — the host's programs see silence, as when
/// a real cable is pulled or a switch port dies. [`restore`] plugs it back.
pub fn cut(tag: &str, host: &str) -> Result<()> {
    set_link(tag, host, "down")
}

/// Plugs host `host`'s cable back in after [`cut`]. Connections that were
/// open resume where they were, if neither end has given up on them.
pub fn restore(tag: &str, host: &str) -> Result<()> {
    set_link(tag, host, "up")
}

fn set_link(tag: &str, host: &str, state: &str) -> Result<()> {
    if !is_host_name(host) {
        bail!("no host {host:?}: hosts are h1, h2, …");
    }
    run_ip(&["-n", &switch_of(tag), "link", "set", host, state])
        .with_context(|| format!("setting {host}'s link {state} in the lab {tag}"))
}

/// Removes every namespace of the lab tagged `tag`, and returns their names.
/// Deleting a namespace deletes its interfaces, cables and bridge with it.
pub fn remove(tag: &str) -> Result<Vec<String>> {
    let prefix = format!("{tag}-");
    let mut removed = Vec::new();
    for name in namespaces()? {
        let ours = name
            .strip_prefix(&prefix)
            .is_some_and(|rest| rest == "sw" || is_host_name(rest));
        if ours {
            run_ip(&["netns", "del", &name])?;
            removed.push(name);
        }
    }
    Ok(removed)
}

/// The tags of labs made by [`Lab::for_test`] start with this, then the
/// test process's id.
const TEST_PREFIX: &str = "nlt";

/// Removes the namespaces of [`Lab::for_test`] labs whose process is gone
/// (`cargo xtask mutants` calls it when it is done: it kills test binaries
/// at their first failure, before their labs are dropped).
pub fn remove_orphans() -> Result<()> {
    for name in namespaces()? {
        let Some(rest) = name.strip_prefix(TEST_PREFIX) else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let gone = !pid.is_empty()
            && rest[pid.len()..].starts_with('-')
            && !std::path::Path::new("/proc").join(&pid).exists();
        if gone {
            // Another test may be sweeping the same orphan: its error is
            // not ours.
            let _ = run_ip(&["netns", "del", &name]);
        }
    }
    Ok(())
}

/// The hosts of a lab that is up (built by another process, say), from the
/// namespaces that exist.
pub fn hosts_of(tag: &str) -> Result<Vec<Host>> {
    let prefix = format!("{tag}-");
    let mut hosts: Vec<Host> = namespaces()?
        .iter()
        .filter_map(|name| name.strip_prefix(&prefix))
        .filter(|rest| is_host_name(rest))
        .filter_map(|rest| rest[1..].parse().ok())
        .map(|n| host(tag, n))
        .collect();
    hosts.sort_by_key(|h| h.addr);
    Ok(hosts)
}

fn is_host_name(name: &str) -> bool {
    name.strip_prefix('h')
        .and_then(|n| n.parse::<usize>().ok())
        .is_some_and(|n| (1..=MAX_HOSTS).contains(&n))
}

fn host(tag: &str, n: usize) -> Host {
    Host {
        name: format!("h{n}"),
        netns: format!("{tag}-h{n}"),
        addr: Ipv4Addr::new(198, 18, 0, n as u8),
    }
}

fn switch_of(tag: &str) -> String {
    format!("{tag}-sw")
}

/// The names of the network namespaces that exist (`ip netns list`).
fn namespaces() -> Result<Vec<String>> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .context("could not run `ip netns list`")?;
    if !out.status.success() {
        bail!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // Lines look like "lab-h1 (id: 3)" or just "lab-h1".
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

fn run_ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("could not run `ip` (is iproute2 installed?)")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
