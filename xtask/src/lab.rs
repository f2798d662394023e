//! `cargo xtask lab up | exec HOST -- CMD | down`: the virtual LAN of
//! tools/lab, kept up between commands so that a learner can start a
//! program on each host by hand. Needs Linux and root, hence the book's
//! `sudo target/debug/xtask lab ...`.

use anyhow::{Context, Result, bail};
use netlings_lab::{Lab, hosts_of, remove};

/// The tag of the lab these commands manage: namespaces `netlings-h1`, ...
const TAG: &str = "netlings";

const USAGE: &str = "\
usage: cargo xtask lab up [--hosts N]      build N hosts (default 3) on one bridge
       cargo xtask lab exec HOST -- CMD... run CMD inside HOST (h1, h2, ...)
       cargo xtask lab down                remove the lab
       cargo xtask lab                     show whether it is up
(Linux only, as root: `cargo build -p xtask && sudo target/debug/xtask lab up`)";

pub fn run(args: &[String]) -> Result<bool> {
    match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("exec") => exec(&args[1..]),
        Some("down") => down(),
        None => status(),
        Some(_) => {
            eprintln!("{USAGE}");
            Ok(false)
        }
    }
}

fn up(args: &[String]) -> Result<bool> {
    let hosts = match args {
        [] => 3,
        [flag, n] if flag == "--hosts" => n.parse().context("--hosts takes a number")?,
        _ => bail!("unexpected arguments {args:?}\n{USAGE}"),
    };
    let lab = Lab::up(TAG, hosts)?;
    for command in lab.commands() {
        println!("  {command}");
    }
    println!();
    print_hosts(lab.hosts());
    println!("\nrun a command on a host:  sudo target/debug/xtask lab exec h1 -- COMMAND");
    println!("take the lab down:        sudo target/debug/xtask lab down");
    lab.keep();
    Ok(true)
}

fn exec(args: &[String]) -> Result<bool> {
    let (host, command) = match args {
        [host, dashes, command @ ..] if dashes == "--" && !command.is_empty() => (host, command),
        _ => bail!("expected HOST -- COMMAND...\n{USAGE}"),
    };
    if !hosts_of(TAG)?.iter().any(|h| &h.name == host) {
        bail!(
            "there is no host {host} in the lab: is it up? (`lab up`, then `lab` lists the hosts)"
        );
    }
    let status = netlings_lab::command_in(TAG, host, &command[0])
        .args(&command[1..])
        .status()
        .with_context(|| format!("could not run {command:?} in {host}"))?;
    Ok(status.success())
}

fn down() -> Result<bool> {
    let removed = remove(TAG)?;
    if removed.is_empty() {
        println!("no lab was up");
    } else {
        println!("removed {}", removed.join(", "));
    }
    Ok(true)
}

fn status() -> Result<bool> {
    let hosts = hosts_of(TAG)?;
    if hosts.is_empty() {
        println!("the lab is down; `sudo target/debug/xtask lab up` builds it\n\n{USAGE}");
    } else {
        print_hosts(&hosts);
    }
    Ok(true)
}

fn print_hosts(hosts: &[netlings_lab::Host]) {
    println!(
        "the lab: {} hosts on one bridge, subnet {}",
        hosts.len(),
        netlings_lab::SUBNET
    );
    for host in hosts {
        println!(
            "  {:<4} {:<12} (network namespace {})",
            host.name, host.addr, host.netns
        );
    }
}
