//! The limits every chat server keeps, and the command-line flags that set them.

use std::time::Duration;

use clap::builder::TypedValueParser;

/// What one server allows. Every number here bounds something a client
/// could otherwise grow without end: connections, queued output, silence.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// At most this many clients at once; the next gets `! server full`.
    pub max_clients: usize,
    /// A client silent this long gets `! idle timeout` and is closed.
    pub idle: Duration,
    /// A client's outgoing queue holds at most this many lines…
    pub queue_lines: usize,
    /// …and this many bytes; when it is full the client is too slow.
    pub queue_bytes: usize,
    /// A write to a client may make no progress for this long before the
    /// client is too slow (it stopped reading, or its network is dead).
    pub stall: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_clients: 1000,
            idle: Duration::from_secs(600),
            queue_lines: 1000,
            queue_bytes: 256 * 1024,
            stall: Duration::from_secs(10),
        }
    }
}

/// The flags of `lessonNN server`, flattened into each lesson's command line.
#[derive(Debug, clap::Args)]
pub struct LimitArgs {
    /// Serve at most this many clients at once; tell the next one "! server full".
    #[arg(long, default_value_t = Limits::default().max_clients,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(|n| n as usize))]
    pub max_clients: usize,
    /// Disconnect a client that sends nothing for this many seconds (decimals allowed).
    #[arg(long, default_value_t = Limits::default().idle.as_secs_f64(), value_parser = seconds)]
    pub idle_secs: f64,
    /// Disconnect a client whose writes make no progress for this many seconds.
    #[arg(long, default_value_t = Limits::default().stall.as_secs_f64(), value_parser = seconds)]
    pub stall_secs: f64,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_clients: self.max_clients,
            idle: Duration::from_secs_f64(self.idle_secs),
            stall: Duration::from_secs_f64(self.stall_secs),
            ..Limits::default()
        }
    }
}

fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if (0.01..=86_400.0).contains(&x) => Ok(x),
        Ok(_) => Err("give a number of seconds from 0.01 to 86400".to_string()),
        Err(e) => Err(format!("not a number of seconds: {e}")),
    }
}
