//! What to run, as the command line says it: how many clients, in rooms of
//! how many, sending how fast, for how long.

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
    /// message every two seconds).
    #[arg(long, value_parser = rate)]
    pub rate: f64,

    /// Seconds of sending that are measured (fractions allowed).
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
}

impl Config {
    /// The room client `client` joins.
    pub fn room_of(&self, client: u32) -> u32 {
        client / self.room_size
    }

    /// How many rooms the clients fill (the last one may be partly full).
    pub fn rooms(&self) -> u32 {
        self.clients.div_ceil(self.room_size)
    }

    /// The time between two messages of one client.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.rate)
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
    if rate > 0.0 && rate <= 1000.0 {
        Ok(rate)
    } else {
        Err("the rate must be more than 0 and at most 1000 messages per second".into())
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
        assert_eq!(config.interval(), Duration::from_secs(2));
        assert_eq!(config.batch, 100);
        assert_eq!(config.warmup, Duration::ZERO);
        assert_eq!(room_name(2), "r2");
    }

    #[test]
    fn nonsense_is_refused() {
        for args in [
            "a --clients 0 --room-size 5 --rate 1 --duration 1",
            "a --clients 1 --room-size 0 --rate 1 --duration 1",
            "a --clients 1 --room-size 1 --rate 0 --duration 1",
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
