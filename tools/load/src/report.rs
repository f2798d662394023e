//! What a run measured, as a table for people or one JSON object for
//! scripts (`--json`).
//!
//! The JSON object's fields (times in seconds unless the name says µs):
//!
//! | field | meaning |
//! | --- | --- |
//! | `addr` | the server's address, as given |
//! | `clients`, `room_size`, `rate`, `duration_secs`, `warmup_secs`, `batch`, `protocol` | the command line |
//! | `connected` | clients that joined their room |
//! | `connect_failures` | clients that did not: a number |
//! | `connect_failure_reasons` | the same by reason: `{"refused": 3, "server full": 97}` |
//! | `connect_secs` | from the first connection to the last join |
//! | `sent` | measured messages sent (those of the warm-up are not counted) |
//! | `expected` | deliveries they should make: for each message, the other members of its room connected when it was sent |
//! | `received` | deliveries that arrived, to the right room, before the end |
//! | `lost` | `expected - received` (0 if more arrived) |
//! | `deliveries_per_sec` | `received` / `send_secs` |
//! | `latency_us` | `{"p50", "p99", "max", "mean"}` from send to receipt, µs; `null` if nothing arrived |
//! | `errors` | things that went wrong after joining: a number |
//! | `error_kinds` | the same by kind: `{"disconnected": 2, "! too slow": 2}` |
//! | `send_secs` | how long the measured sending lasted (shorter than `duration_secs` if cut short) |
//! | `elapsed_secs` | the whole run, from start to report |
//! | `note` | why the run ended early, or `null` |
//! | `sleepers`, `slowloris` | the hostile peers (see `hostile`): `{"asked", "connected", "closed"}`, `closed` counting those the server closed before the end |

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::json;

use crate::config::{Config, Protocol};
use crate::hostile::Outcome;
use crate::tally::{Counts, Latency};

#[derive(Debug, Clone)]
pub struct Report {
    pub config: Config,
    pub counts: Counts,
    pub failures: BTreeMap<String, u64>,
    pub connect_secs: f64,
    pub latency: Option<Latency>,
    pub errors: BTreeMap<String, u64>,
    pub send_secs: f64,
    pub elapsed_secs: f64,
    pub note: Option<String>,
    pub sleepers: Outcome,
    pub slowloris: Outcome,
}

impl Report {
    pub fn lost(&self) -> u64 {
        self.counts.expected.saturating_sub(self.counts.received)
    }

    pub fn deliveries_per_sec(&self) -> f64 {
        if self.send_secs > 0.0 {
            self.counts.received as f64 / self.send_secs
        } else {
            0.0
        }
    }

    pub fn json(&self) -> serde_json::Value {
        let c = &self.config;
        json!({
            "addr": c.addr,
            "clients": c.clients,
            "room_size": c.room_size,
            "rate": c.rate,
            "duration_secs": c.duration.as_secs_f64(),
            "warmup_secs": c.warmup.as_secs_f64(),
            "batch": c.batch,
            "protocol": c.protocol.name(),
            "connected": self.counts.joined,
            "connect_failures": self.failures.values().sum::<u64>(),
            "connect_failure_reasons": self.failures,
            "connect_secs": self.connect_secs,
            "sent": self.counts.sent,
            "expected": self.counts.expected,
            "received": self.counts.received,
            "lost": self.lost(),
            "deliveries_per_sec": self.deliveries_per_sec(),
            "latency_us": self.latency.map(|l| json!({
                "p50": l.p50, "p99": l.p99, "max": l.max, "mean": l.mean,
            })),
            "errors": self.errors.values().sum::<u64>(),
            "error_kinds": self.errors,
            "send_secs": self.send_secs,
            "elapsed_secs": self.elapsed_secs,
            "note": self.note,
            "sleepers": hostile_json(self.sleepers),
            "slowloris": hostile_json(self.slowloris),
        })
    }

    /// The table printed by default.
    pub fn table(&self) -> String {
        let c = &self.config;
        let mut out = String::new();
        // Writing to a String cannot fail.
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "  {name:<20} {value}");
        };
        let warmup = if c.warmup.is_zero() {
            String::new()
        } else {
            format!(" after {} s of warm-up", c.warmup.as_secs_f64())
        };
        let protocol = match c.protocol {
            Protocol::Netlings => "",
            Protocol::TokioExample => " (tokio's chat example)",
        };
        let title = format!(
            "chat load on {}{protocol}: {} clients in rooms of {}, {} msg/s each, for {} s{warmup}",
            c.addr,
            c.clients,
            c.room_size,
            c.rate,
            c.duration.as_secs_f64(),
        );
        row(
            "connected",
            format!(
                "{} of {} in {:.2} s",
                self.counts.joined, c.clients, self.connect_secs
            ),
        );
        row("connect failures", with_kinds(&self.failures));
        row("messages sent", self.counts.sent.to_string());
        row("deliveries expected", self.counts.expected.to_string());
        row("received", self.counts.received.to_string());
        let share = if self.counts.expected > 0 {
            100.0 * self.lost() as f64 / self.counts.expected as f64
        } else {
            0.0
        };
        row("lost", format!("{} ({share:.2}%)", self.lost()));
        row("deliveries/s", format!("{:.0}", self.deliveries_per_sec()));
        let latency = match self.latency {
            Some(l) => format!("p50 {}   p99 {}   max {}", ms(l.p50), ms(l.p99), ms(l.max)),
            None => "none measured".into(),
        };
        row("latency", latency);
        row("errors", with_kinds(&self.errors));
        row(
            "duration",
            format!(
                "{:.2} s sending, {:.2} s in all",
                self.send_secs, self.elapsed_secs
            ),
        );
        for (name, peers) in [("sleepers", self.sleepers), ("slowloris", self.slowloris)] {
            if peers.asked > 0 {
                row(
                    name,
                    format!(
                        "{} of {} connected, {} closed by the server",
                        peers.connected, peers.asked, peers.closed
                    ),
                );
            }
        }
        if let Some(note) = &self.note {
            row("note", note.clone());
        }
        format!("{title}\n{out}")
    }
}

fn hostile_json(peers: Outcome) -> serde_json::Value {
    json!({"asked": peers.asked, "connected": peers.connected, "closed": peers.closed})
}

/// `3 (refused 1, server full 2)`, or `0`.
fn with_kinds(kinds: &BTreeMap<String, u64>) -> String {
    let total: u64 = kinds.values().sum();
    if kinds.is_empty() {
        return total.to_string();
    }
    let each: Vec<String> = kinds
        .iter()
        .map(|(kind, n)| format!("{kind} {n}"))
        .collect();
    format!("{total} ({})", each.join(", "))
}

/// Microseconds as milliseconds: `1.25 ms`.
fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn report() -> Report {
        Report {
            config: Config {
                addr: "127.0.0.1:7010".into(),
                clients: 10,
                room_size: 5,
                rate: 2.0,
                duration: Duration::from_secs(1),
                batch: 100,
                warmup: Duration::ZERO,
                json: false,
                sleepers: 1,
                slowloris: 0,
                protocol: Protocol::Netlings,
            },
            counts: Counts {
                joined: 9,
                connected: 0,
                senders: 0,
                sent: 18,
                expected: 66,
                received: 64,
            },
            failures: BTreeMap::from([("refused".to_string(), 1)]),
            connect_secs: 0.01,
            latency: Some(Latency {
                p50: 120,
                p99: 1_500,
                max: 2_000,
                mean: 200.0,
            }),
            errors: BTreeMap::new(),
            send_secs: 1.0,
            elapsed_secs: 1.2,
            note: None,
            sleepers: Outcome {
                asked: 1,
                connected: 1,
                closed: 1,
            },
            slowloris: Outcome::default(),
        }
    }

    #[test]
    fn the_table_shows_what_was_lost_and_why() {
        let table = report().table();
        assert!(table.contains("connected            9 of 10"), "{table}");
        assert!(
            table.contains("connect failures     1 (refused 1)"),
            "{table}"
        );
        assert!(table.contains("lost                 2 (3.03%)"), "{table}");
        assert!(
            table.contains("p50 0.12 ms   p99 1.50 ms   max 2.00 ms"),
            "{table}"
        );
        assert!(table.contains("errors               0\n"), "{table}");
        assert!(
            table.contains("sleepers             1 of 1 connected, 1 closed by the server"),
            "{table}"
        );
        assert!(!table.contains("slowloris"), "none asked: {table}");
    }

    #[test]
    fn the_json_has_every_documented_field() {
        let json = report().json();
        assert_eq!(json["lost"], 2);
        assert_eq!(json["connect_failures"], 1);
        assert_eq!(json["connect_failure_reasons"]["refused"], 1);
        assert_eq!(json["latency_us"]["p99"], 1_500);
        assert_eq!(json["deliveries_per_sec"], 64.0);
        assert_eq!(json["sleepers"]["closed"], 1);
        assert_eq!(json["slowloris"]["asked"], 0);
        let documented = include_str!("report.rs");
        for field in json.as_object().unwrap().keys() {
            assert!(
                documented.contains(&format!("`{field}`")),
                "{field} is not documented"
            );
        }
    }
}
