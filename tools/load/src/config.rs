//! What to run, as the command line says it: how many clients, in rooms of
//! how many, sending how fast, for how long, in which protocol (see
//! `tokio_example`) — and how many hostile peers beside them (see `hostile`).

use std::time::Duration;

/// `netlings-load chat ADDR --clients N --room-size K --rate R --duration S`
#[derive(clap::Args, Debug, Clone)]
pub struct Config {
    /// The chat server's address, e.g. 127.0.0.1:7010.
    pub addr: String,

    /// How many clients to connect.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub clients: u32,

    /// Clients per room: client i joins room `r{i / K}`.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub room_size: u32,

    /// Messages per second each client sends; may be fractional (0.5 is one
    /// message every two seconds). 0: the clients connect, join and stay
    /// idle (reading) for --duration, to measure what an idle connection
    /// costs the server.
    #[arg(long, value_parser = rate)]
    pub rate: f64,

    /// Seconds of sending that are measured (fractions allowed); with
    /// --rate 0, seconds of idling.
    #[arg(long, value_parser = positive_seconds)]
    pub duration: Duration,

    /// How many connections to open at once: each batch joins its rooms
    /// before the next one connects, so the lobby never holds thousands.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch: u32,

    /// Seconds of sending before measuring starts (caches, buffers and
    /// allocators warm up; those messages are not counted).
    #[arg(long, value_parser = seconds, default_value = "0")]
    pub warmup: Duration,

    /// Print the report as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Hostile peers, not measured: clients that join room r0, never read,
    /// and keep asking for /help so that the server has plenty to queue.
    #[arg(long, default_value_t = 0)]
    pub sleepers: u32,

    /// Hostile peers, not measured: clients that send the start of a line,
    /// then a byte a second, and never finish it.
    #[arg(long, default_value_t = 0)]
    pub slowloris: u32,

    /// The protocol the server speaks.
    #[arg(long, value_enum, default_value_t = Protocol::Netlings)]
    pub protocol: Protocol,
}

/// `--protocol`: what the clients say to join, and how they read the server.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The course's chat: rooms, `/join`, `* ` notices and `! ` errors.
    Netlings,
    /// That of tokio's chat example (examples/chat.rs in tokio's
    /// repository): a username first, then one room for everyone, so
    /// --room-size must equal --clients.
    TokioExample,
}

impl Protocol {
    /// Its name on the command line, for the report.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Netlings => "netlings",
            Protocol::TokioExample => "tokio-example",
        }
    }
}

impl Config {
    /// What the command line cannot check flag by flag.
    pub fn check(&self) -> Result<(), String> {
        if self.protocol == Protocol::TokioExample {
            if self.room_size != self.clients {
                return Err(format!(
                    "with --protocol tokio-example everyone is in one room: \
                     --room-size must equal --clients ({}), not {}",
                    self.clients, self.room_size
                ));
            }
            if self.sleepers > 0 || self.slowloris > 0 {
                return Err("--sleepers and --slowloris speak the netlings protocol only".into());
            }
        }
        Ok(())
    }

    /// The room client `client` joins.
    pub fn room_of(&self, client: u32) -> u32 {
        client / self.room_size
    }

    /// How many rooms the clients fill (the last one may be partly full).
    pub fn rooms(&self) -> u32 {
        self.clients.div_ceil(self.room_size)
    }

    /// The time between two messages of one client; `None` at rate 0,
    /// when the clients only idle.
    pub fn interval(&self) -> Option<Duration> {
        (self.rate > 0.0).then(|| Duration::from_secs_f64(1.0 / self.rate))
    }

    /// Every connection the tool opens: the clients and the hostile peers.
    pub fn connections(&self) -> u32 {
        self.clients
            .saturating_add(self.sleepers)
            .saturating_add(self.slowloris)
    }
}

/// The name of room `room` on the wire.
pub fn room_name(room: u32) -> String {
    format!("r{room}")
}

fn rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    // A thousand messages a second per client is already more than one
    // client of a chat ever sends; the bound keeps the interval meaningful.
    if (0.0..=1000.0).contains(&rate) {
        Ok(rate)
    } else {
        Err("the rate must be from 0 (idle) to 1000 messages per second".into())
    }
}

fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if (0.0..=86_400.0).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err("expected a number of seconds between 0 and 86400".into())
    }
}

fn positive_seconds(text: &str) -> Result<Duration, String> {
    match seconds(text)? {
        Duration::ZERO => Err("expected more than 0 seconds".into()),
        duration => Ok(duration),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        config: Config,
    }

    fn parse(args: &str) -> Result<Config, clap::Error> {
        Cli::try_parse_from(["load"].into_iter().chain(args.split_whitespace())).map(|c| c.config)
    }

    #[test]
    fn rooms_are_filled_in_order() {
        let config =
            parse("127.0.0.1:1 --clients 11 --room-size 5 --rate 0.5 --duration 1").unwrap();
        assert_eq!(config.rooms(), 3);
        assert_eq!(config.room_of(4), 0);
        assert_eq!(config.room_of(5), 1);
        assert_eq!(config.room_of(10), 2);
        assert_eq!(config.interval(), Some(Duration::from_secs(2)));
        assert_eq!(config.batch, 100);
        assert_eq!(config.warmup, Duration::ZERO);
        assert_eq!(room_name(2), "r2");
        assert_eq!(config.connections(), 11);
        assert_eq!(config.protocol, Protocol::Netlings);
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn tokio_example_has_one_room_and_no_hostile_peers() {
        let one_room = "127.0.0.1:1 --clients 9 --room-size 9 --rate 1 --duration 1";
        let config = parse(&format!("{one_room} --protocol tokio-example")).unwrap();
        assert_eq!(config.protocol, Protocol::TokioExample);
        assert_eq!(config.check(), Ok(()));
        for refused in [
            "127.0.0.1:1 --clients 9 --room-size 3 --rate 1 --duration 1",
            &format!("{one_room} --sleepers 1"),
            &format!("{one_room} --slowloris 1"),
        ] {
            let config = parse(&format!("{refused} --protocol tokio-example")).unwrap();
            assert!(config.check().is_err(), "{refused}");
        }
        assert!(parse(&format!("{one_room} --protocol tokio")).is_err());
        for protocol in [Protocol::Netlings, Protocol::TokioExample] {
            let args = format!("{one_room} --protocol {}", protocol.name());
            assert_eq!(parse(&args).unwrap().protocol, protocol);
        }
    }

    #[test]
    fn rate_zero_idles_and_hostile_peers_add_connections() {
        let config = parse(
            "127.0.0.1:1 --clients 10 --room-size 5 --rate 0 --duration 1 --sleepers 1 --slowloris 100",
        )
        .unwrap();
        assert_eq!(config.interval(), None);
        assert_eq!(config.connections(), 111);
    }

    #[test]
    fn nonsense_is_refused() {
        for args in [
            "a --clients 0 --room-size 5 --rate 1 --duration 1",
            "a --clients 1 --room-size 0 --rate 1 --duration 1",
            "a --clients 1 --room-size 1 --rate 1001 --duration 1",
            "a --clients 1 --room-size 1 --rate -1 --duration 1",
            "a --clients 1 --room-size 1 --rate 1 --duration -1",
            "a --clients 1 --room-size 1 --rate 1 --duration x",
            "a --clients 1 --room-size 1 --rate 1 --duration 0",
            "a --clients 1 --room-size 1 --rate 1 --duration 1 --warmup -1",
        ] {
            assert!(parse(args).is_err(), "{args}");
        }
    }
}
