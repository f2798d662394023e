//! Lesson 12 — HTTP/1.1 from scratch: a static-file server with a small API.
//!
//! A request travels through the modules in this order:
//! - `request.rs` parses its head from the bytes received (12.1);
//! - `body.rs` decides where its body ends and decodes chunks (12.2);
//! - `connection.rs` reads requests one after another from a connection,
//!   with deadlines, and decides whether to keep it open (12.3);
//! - `files.rs` maps its target to a file that cannot be outside the served
//!   directory (12.4) and answers `Range` requests (12.5);
//! - `response.rs` writes the answer's head; `server.rs` (given) routes each
//!   request and writes the answer; `demo.rs` is `cargo run -p lesson12`.
//!
//! Book: chapter 12, "HTTP/1.1 from scratch".

#[cfg_attr(feature = "solution", path = "../../../solutions/lesson12/body.rs")]
pub mod body;
#[cfg_attr(
    feature = "solution",
    path = "../../../solutions/lesson12/connection.rs"
)]
pub mod connection;
pub mod demo;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson12/files.rs")]
pub mod files;
#[cfg_attr(feature = "solution", path = "../../../solutions/lesson12/request.rs")]
pub mod request;
pub mod response;
pub mod server;

use std::time::Duration;

/// The address `serve` listens on when you give it none.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7012";

// ANCHOR: http_error
/// Why a request gets an error status instead of an answer: the status
/// (400, 413, 414, 431, 501, …) and a short reason, sent as the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpError {
    pub status: u16,
    pub why: &'static str,
}
// ANCHOR_END: http_error

impl HttpError {
    pub const NOT_FOUND: HttpError = HttpError {
        status: 404,
        why: "no such file",
    };
    pub const FORBIDDEN: HttpError = HttpError {
        status: 403,
        why: "that is outside the served directory",
    };
    pub const TIMED_OUT: HttpError = HttpError {
        status: 408,
        why: "the request did not arrive in time",
    };
    pub const BODY_TOO_LARGE: HttpError = HttpError {
        status: 413,
        why: "the body is larger than this server accepts",
    };
    pub const URI_TOO_LONG: HttpError = HttpError {
        status: 414,
        why: "the request line is too long",
    };
    pub const HEAD_TOO_LARGE: HttpError = HttpError {
        status: 431,
        why: "the header section is too large or has too many fields",
    };
    pub const VERSION_NOT_SUPPORTED: HttpError = HttpError {
        status: 505,
        why: "this server speaks HTTP/1.0 and HTTP/1.1",
    };

    /// 400 Bad Request, because `why`.
    pub const fn bad(why: &'static str) -> HttpError {
        HttpError { status: 400, why }
    }

    /// 501 Not Implemented, because `why`.
    pub const fn not_implemented(why: &'static str) -> HttpError {
        HttpError { status: 501, why }
    }
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            response::reason(self.status),
            self.why
        )
    }
}

impl std::error::Error for HttpError {}

/// How the server treats its peers: `serve`'s flags.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    pub limits: request::Limits,
    /// The largest request body (else 413).
    pub max_body: usize,
    /// How long a request's head may take from its first byte to its last
    /// (and its body, from the end of the head): else 408 and close.
    pub header_timeout: Duration,
    /// How long a connection may stay silent between requests, or a peer
    /// take none of an answer, before it is closed.
    pub idle_timeout: Duration,
    /// No access log.
    pub quiet: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: request::Limits::default(),
            max_body: 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            quiet: false,
        }
    }
}
