//! The command line of lesson 7. Run `cargo run -p lesson07 -- --help`.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use lesson07::demo;
use lesson07::discover::discover;
use lesson07::responder::Responder;
use lesson07::sockets::{DEFAULT_GROUP, DEFAULT_PORT, LOOPBACK_BROADCAST, open_sender};
use lesson07::wire::check_name;

/// Lesson 7 — service discovery by multicast and broadcast. With no command, a narrated demo.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// Where the packets go: the options `announce` and `discover` share.
#[derive(clap::Args)]
struct Where {
    /// The group (or broadcast address) and port; port 0 picks a free one.
    /// [default: 239.255.70.7:7007, or 127.255.255.255:7007 with --broadcast]
    #[arg(value_parser = ipv4_channel)]
    channel: Option<SocketAddrV4>,
    /// The address of the interface to use. Anything but loopback reaches a
    /// real network: only on a network you may use.
    #[arg(long, value_name = "IP", default_value_t = Ipv4Addr::LOCALHOST)]
    iface: Ipv4Addr,
    /// Broadcast instead of multicast (changes the default channel).
    #[arg(long)]
    broadcast: bool,
}

impl Where {
    fn channel(&self) -> SocketAddrV4 {
        self.channel.unwrap_or_else(|| {
            let ip = if self.broadcast {
                LOOPBACK_BROADCAST
            } else {
                DEFAULT_GROUP
            };
            SocketAddrV4::new(ip, DEFAULT_PORT)
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// A responder: announce NAME, then answer every "who is there?".
    Announce {
        /// The name to answer with (1 to 64 bytes).
        #[arg(long, value_parser = check_name)]
        name: String,
        #[command(flatten)]
        place: Where,
    },
    /// Ask "who is there?" and print a table of the responders that answer.
    Discover {
        #[command(flatten)]
        place: Where,
        /// How long to collect answers, in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 500,
              value_parser = clap::value_parser!(u64).range(1..=60_000))]
        window: u64,
    },
}

fn main() -> std::process::ExitCode {
    netlings_kit::main("lesson07", run)
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        None => demo::run().context("the demo failed")?,
        Some(Command::Announce { name, place }) => {
            // ANCHOR: announce
            let (channel, iface) = (place.channel(), place.iface);
            let responder = Responder::open(channel, iface, &name)
                .with_context(|| format!("could not listen on {channel} (interface {iface})"))?;
            // The channel with the port really bound: other responders may join it.
            netlings_kit::announce_listening(responder.channel.into());
            responder.log(format!(
                "answering queries to {}, from {}",
                responder.channel,
                responder.sender.local_addr()?
            ));
            responder.serve().context("the responder stopped")?;
            // ANCHOR_END: announce
        }
        Some(Command::Discover { place, window }) => {
            // ANCHOR: discover
            let (channel, iface) = (place.channel(), place.iface);
            let socket = open_sender(iface).with_context(|| format!("could not bind {iface}:0"))?;
            println!(
                "asking {channel} from {}, collecting answers for {window} ms",
                socket.local_addr()?
            );
            let discovery = discover(&socket, channel, Duration::from_millis(window))
                .with_context(|| format!("discovery at {channel} failed"))?;
            println!("{discovery}");
            if discovery.found.is_empty() {
                bail!(
                    "nobody answered at {channel} within {window} ms: is a responder \
                     running there? (lesson07 announce --name NAME {channel})"
                );
            }
            // ANCHOR_END: discover
        }
    }
    Ok(())
}

/// Parses a channel: an IPv4 address and a port. IPv6 gets a sentence of
/// its own, since the chapter explains why this lesson leaves it out.
fn ipv4_channel(text: &str) -> Result<SocketAddrV4, String> {
    match text.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(channel)) => Ok(channel),
        Ok(SocketAddr::V6(_)) => Err(format!(
            "{text} is IPv6; this lesson's discovery is IPv4 only (Linux's loopback does not \
             carry IPv6 multicast: see the chapter)"
        )),
        Err(_) => Err(format!(
            "{text:?} is not an address and port, such as 239.255.70.7:7007"
        )),
    }
}
