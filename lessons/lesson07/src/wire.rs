//! Given code: the discovery protocol's messages on the wire, and how to
//! check a datagram that anyone on the network may have sent.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

// ANCHOR: format
/// The first four bytes of every message: "netlings discovery".
pub const MAGIC: [u8; 4] = *b"NLSD";
/// The version of the format this program speaks.
pub const VERSION: u8 = 1;
/// The bytes before the name: magic, version, kind, nonce, name length.
pub const HEADER_LEN: usize = 4 + 1 + 1 + 8 + 1;
/// The longest name, in bytes of UTF-8.
pub const MAX_NAME: usize = 64;
/// The longest message: a header and the longest name. A receive buffer one
/// byte longer tells a datagram that is too long from one that fits.
pub const MAX_MESSAGE: usize = HEADER_LEN + MAX_NAME;

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// "Who is there?" — sent to the group (or broadcast) by `discover`.
    Query = 1,
    /// "I am NAME" — sent by a responder to whoever asked, with the query's nonce.
    Answer = 2,
    /// "I am NAME, and I just arrived" — sent to the group by a responder at start.
    Announce = 3,
}

/// One message of the discovery protocol.
///
/// On the wire, every number in network byte order:
///
/// ```text
///  0        4   5    6               14   15
///  +--------+---+----+----------------+---+-----------------+
///  | "NLSD" | 1 |kind|     nonce      |len| name (len bytes) |
///  +--------+---+----+----------------+---+-----------------+
///   magic   version   u64              u8   UTF-8, 0..=64
/// ```
///
/// A query's nonce is a random number; the answer repeats it, so that the
/// asker knows which query it answers (and how long that took). A query's
/// name is empty; an answer's and an announcement's is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    pub nonce: u64,
    pub name: String,
}
// ANCHOR_END: format

// ANCHOR: errors
/// Why a datagram is not a message for us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than a header: `HEADER_LEN` bytes.
    TooShort(usize),
    /// Not our protocol: the first four bytes are not [`MAGIC`].
    Foreign,
    /// Our protocol, another version: a newer program, perhaps.
    Version(u8),
    /// A kind this version does not know.
    Kind(u8),
    /// The name's length says more than [`MAX_NAME`] bytes.
    NameTooLong(usize),
    /// The datagram's length is not the header plus the name's length.
    Length { expected: usize, got: usize },
    /// The name is not UTF-8.
    NotUtf8,
    /// A query with a name, or an answer or announcement without one.
    Name(Kind),
}

impl DecodeError {
    /// Whether the datagram is someone else's — another protocol, or another
    /// version of ours — rather than a broken message of ours. A shared port
    /// of a shared network hears both; they are counted apart.
    pub fn is_foreign(&self) -> bool {
        matches!(self, DecodeError::Foreign | DecodeError::Version(_))
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort(n) => write!(f, "{n} bytes, shorter than a header"),
            DecodeError::Foreign => write!(f, "not this protocol (no magic)"),
            DecodeError::Version(v) => write!(f, "version {v}, not {VERSION}"),
            DecodeError::Kind(k) => write!(f, "unknown kind {k}"),
            DecodeError::NameTooLong(n) => write!(f, "a name of {n} bytes, over {MAX_NAME}"),
            DecodeError::Length { expected, got } => {
                write!(f, "{got} bytes where the header says {expected}")
            }
            DecodeError::NotUtf8 => write!(f, "a name that is not UTF-8"),
            DecodeError::Name(Kind::Query) => write!(f, "a query with a name"),
            DecodeError::Name(kind) => write!(f, "an {kind:?} without a name"),
        }
    }
}

impl std::error::Error for DecodeError {}
// ANCHOR_END: errors

impl Message {
    /// A query with a fresh random nonce.
    pub fn query() -> Message {
        Message {
            kind: Kind::Query,
            nonce: new_nonce(),
            name: String::new(),
        }
    }

    /// The answer of `name` to the query with `nonce`.
    pub fn answer(nonce: u64, name: &str) -> Message {
        Message {
            kind: Kind::Answer,
            nonce,
            name: name.to_string(),
        }
    }

    /// The announcement of `name`.
    pub fn announce(name: &str) -> Message {
        Message {
            kind: Kind::Announce,
            nonce: new_nonce(),
            name: name.to_string(),
        }
    }

    // ANCHOR: encode
    /// The message's bytes, ready for `send_to`. A name longer than
    /// [`MAX_NAME`] is cut (at a character boundary): check names with
    /// [`check_name`] where they come in.
    pub fn encode(&self) -> Vec<u8> {
        let mut name = self.name.as_str();
        while name.len() > MAX_NAME {
            let mut end = MAX_NAME;
            while !name.is_char_boundary(end) {
                end -= 1;
            }
            name = &name[..end];
        }
        let mut bytes = Vec::with_capacity(HEADER_LEN + name.len());
        bytes.extend_from_slice(&MAGIC);
        bytes.push(VERSION);
        bytes.push(self.kind as u8);
        bytes.extend_from_slice(&self.nonce.to_be_bytes());
        bytes.push(name.len() as u8); // at most 64: fits
        bytes.extend_from_slice(name.as_bytes());
        bytes
    }
    // ANCHOR_END: encode

    // ANCHOR: decode
    /// Reads one message from a datagram, checking everything a stranger
    /// could get wrong, in order: size, magic, version, kind, name length,
    /// total length, UTF-8, and whether the kind has a name. Never panics,
    /// whatever the bytes.
    pub fn decode(datagram: &[u8]) -> Result<Message, DecodeError> {
        if datagram.len() < HEADER_LEN {
            // Four bytes that are not our magic are foreign, however short.
            if datagram.len() >= 4 && datagram[..4] != MAGIC {
                return Err(DecodeError::Foreign);
            }
            return Err(DecodeError::TooShort(datagram.len()));
        }
        let (header, name) = datagram.split_at(HEADER_LEN);
        if header[..4] != MAGIC {
            return Err(DecodeError::Foreign);
        }
        if header[4] != VERSION {
            return Err(DecodeError::Version(header[4]));
        }
        let kind = match header[5] {
            1 => Kind::Query,
            2 => Kind::Answer,
            3 => Kind::Announce,
            other => return Err(DecodeError::Kind(other)),
        };
        let mut nonce = [0u8; 8];
        nonce.copy_from_slice(&header[6..14]);
        let name_len = usize::from(header[14]);
        if name_len > MAX_NAME {
            return Err(DecodeError::NameTooLong(name_len));
        }
        if name.len() != name_len {
            return Err(DecodeError::Length {
                expected: HEADER_LEN + name_len,
                got: datagram.len(),
            });
        }
        let name = std::str::from_utf8(name).map_err(|_| DecodeError::NotUtf8)?;
        if name.is_empty() != (kind == Kind::Query) {
            return Err(DecodeError::Name(kind));
        }
        Ok(Message {
            kind,
            nonce: u64::from_be_bytes(nonce),
            name: name.to_string(),
        })
    }
    // ANCHOR_END: decode
}

/// Checks a responder's name: 1 to [`MAX_NAME`] bytes of UTF-8, without
/// control characters (it is printed in a table). For the command line.
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(format!(
            "a name has 1 to {MAX_NAME} bytes; {name:?} has {}",
            name.len()
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(format!("{name:?} has control characters"));
    }
    Ok(name.to_string())
}

/// Whether `error` means "the read timeout passed and nothing arrived":
/// Unix reports it as `WouldBlock` (EAGAIN), Windows as `TimedOut`.
pub fn timed_out(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A random 64-bit number, different at each call: the standard library's
/// randomly keyed hasher, fed the time and a counter. Not for secrets —
/// enough to tell one query from another.
pub fn new_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.finish()
}
