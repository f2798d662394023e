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
       cargo xtask lab cut HOST            unplug HOST's cable (its peers hear silence)
       cargo xtask lab restore HOST        plug it back in
       cargo xtask lab down                remove the lab
       cargo xtask lab                     show whether it is up
(Linux only, as root: `cargo build -p xtask && sudo target/debug/xtask lab up`)";

pub fn run(args: &[String]) -> Result<bool> {
    match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("exec") => exec(&args[1..]),
        Some("cut") => link(&args[1..], "cut"),
        Some("restore") => link(&args[1..], "restore"),
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
    let me = this_program();
    println!("\nrun a command on a host:  sudo {me} lab exec h1 -- COMMAND");
    println!("take the lab down:        sudo {me} lab down");
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
    let mut run = netlings_lab::command_in(TAG, host, &command[0]);
    run.args(&command[1..]);
    // Become the command (through `ip netns exec`, which does the same), so
    // that Ctrl-C or a kill of this process reaches the program itself.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = run.exec();
        Err(error).with_context(|| format!("could not run {command:?} in {host}"))
    }
    #[cfg(not(unix))]
    {
        let status = run
            .status()
            .with_context(|| format!("could not run {command:?} in {host}"))?;
        Ok(status.success())
    }
}

fn link(args: &[String], what: &str) -> Result<bool> {
    let [host] = args else {
        bail!("expected one HOST (h1, h2, ...)\n{USAGE}");
    };
    if !hosts_of(TAG)?.iter().any(|h| &h.name == host) {
        bail!("there is no host {host} in the lab: is it up? (`lab` lists the hosts)");
    }
    if what == "cut" {
        netlings_lab::cut(TAG, host)?;
        println!("{host} is cut off: nothing passes to or from it until `lab restore {host}`");
    } else {
        netlings_lab::restore(TAG, host)?;
        println!("{host} is plugged back in");
    }
    Ok(true)
}

fn down() -> Result<bool> {
    // Labs that killed test processes left behind go too.
    netlings_lab::remove_orphans()?;
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
        println!(
            "the lab is down; `sudo {} lab up` builds it\n\n{USAGE}",
            this_program()
        );
    } else {
        print_hosts(&hosts);
    }
    Ok(true)
}

/// How to run this program again: `target/debug/xtask`, as this process was
/// started (`cargo xtask` runs it from its own target directory).
fn this_program() -> String {
    let exe = std::env::current_exe().unwrap_or_else(|_| "target/debug/xtask".into());
    let here = std::env::current_dir().unwrap_or_default();
    exe.strip_prefix(&here)
        .unwrap_or(&exe)
        .display()
        .to_string()
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
