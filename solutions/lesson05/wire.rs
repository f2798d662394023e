//! The fixed header that starts every message: its byte layout, how to turn it
//! into bytes and back (exercise 5.1), and how to check what a peer sent
//! (exercise 5.2).

use std::fmt;

// ANCHOR: layout
/// Every message starts with these two bytes, "NL" for netlings. A peer that
/// sends anything else is not speaking this protocol (a web browser, say, or
/// someone typing into `nc`).
pub const MAGIC: [u8; 2] = *b"NL";

/// The version of the format this code speaks. A later version could change
/// the layout after the first three bytes; this field lets a peer tell.
pub const VERSION: u8 = 1;

/// The header is always exactly 12 bytes, all numbers big-endian:
///
/// | offset | size | field       | value                           |
/// | ------ | ---- | ----------- | ------------------------------- |
/// | 0      | 2    | magic       | `4E 4C`, the letters `NL`       |
/// | 2      | 1    | version     | `01`                            |
/// | 3      | 1    | kind        | GET, SET, ... (see message.rs)  |
/// | 4      | 4    | request id  | u32, chosen by the client       |
/// | 8      | 4    | body length | u32, at most [`MAX_BODY`]       |
pub const HEADER_LEN: usize = 12;

/// The largest body a peer may announce. Without a limit, a peer that claims a
/// body of 4 294 967 295 bytes would make us allocate 4 GiB before reading it.
pub const MAX_BODY: u32 = 64 * 1024;
// ANCHOR_END: layout

// ANCHOR: raw_header
/// A header's fields exactly as they were on the wire: nothing checked yet.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    pub magic: [u8; 2],
    pub version: u8,
    pub kind: u8,
    pub id: u32,
    pub body_len: u32,
}
// ANCHOR_END: raw_header

/// Shows the fields the way they look on the wire, in hex — `magic: 4e 4c
/// ("NL"), id: 0x11223344` — rather than as decimal numbers that hide their
/// bytes.
impl fmt::Debug for RawHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [m0, m1] = self.magic;
        write!(f, "RawHeader {{ magic: {m0:02x} {m1:02x}")?;
        if self.magic.iter().all(|b| b.is_ascii_graphic()) {
            write!(f, " ({:?})", String::from_utf8_lossy(&self.magic))?;
        }
        write!(
            f,
            ", version: {}, kind: 0x{:02x}, id: 0x{:08x}, body_len: {} (0x{:08x}) }}",
            self.version, self.kind, self.id, self.body_len, self.body_len
        )
    }
}

// ANCHOR: header
/// A header that passed [`RawHeader::validate`]: the right magic, a version we
/// speak, and a body of at most [`MAX_BODY`] bytes.
///
/// Its fields are private, so the only ways to get one are `validate` and
/// [`Header::new`] (which validates too): holding a `Header` *proves* that it
/// was checked, and code that receives one need not check again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    kind: u8,
    id: u32,
    body_len: u32,
}
// ANCHOR_END: header

// ANCHOR: header_error
/// Why a header was refused. Each is a *framing* error: after it, we no longer
/// know where the next message starts, so the connection cannot go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// The first two bytes were not [`MAGIC`].
    BadMagic([u8; 2]),
    /// A version other than [`VERSION`].
    UnsupportedVersion(u8),
    /// A body longer than [`MAX_BODY`].
    BodyTooLarge(u32),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadMagic(magic) => {
                write!(f, "bad magic {:02x} {:02x}", magic[0], magic[1])?;
                // The characters too, but only if they are printable ASCII:
                // `47 45 ("GE")` says "a web browser" at a glance, while other
                // bytes would show as garbage.
                if magic.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
                    let text: String = magic.iter().map(|&b| char::from(b)).collect();
                    write!(f, " ({text:?})")?;
                }
                write!(
                    f,
                    ": expected 4e 4c (\"NL\"); the peer does not speak this protocol"
                )
            }
            HeaderError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "unsupported version {v}: this code speaks version {VERSION}"
                )
            }
            HeaderError::BodyTooLarge(len) => {
                write!(
                    f,
                    "body of {len} bytes is too large: the limit is {MAX_BODY}"
                )
            }
        }
    }
}

// Display + Debug are all `Error` needs; `?` and `Box<dyn Error>` work from here.
impl std::error::Error for HeaderError {}
// ANCHOR_END: header_error

impl RawHeader {
    // ANCHOR: encode
    /// Exercise 5.1: encode and decode the header — book §5.1.
    ///
    /// `encode`: the 12 bytes of this header, laid out as in the table at the
    /// top of this file — each field at its offset, and the two numbers, `id`
    /// and `body_len`, in network byte order (big-endian).
    ///
    /// - Write every field exactly as it is, even a wrong magic or version:
    ///   judging them is exercise 5.2's job.
    /// - [`RawHeader::decode`] reads these bytes back into an equal header.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut bytes = [0u8; HEADER_LEN];
        bytes[0..2].copy_from_slice(&self.magic);
        bytes[2] = self.version;
        bytes[3] = self.kind;
        // Network byte order: the most significant byte goes first.
        bytes[4..8].copy_from_slice(&self.id.to_be_bytes());
        bytes[8..12].copy_from_slice(&self.body_len.to_be_bytes());
        bytes
    }
    // ANCHOR_END: encode

    // ANCHOR: decode
    /// Exercise 5.1: encode and decode the header — book §5.1.
    ///
    /// `decode`: the five fields of `bytes`, read the way
    /// [`RawHeader::encode`] writes them — its inverse.
    ///
    /// - Any 12 bytes are *some* raw header: `decode` checks nothing, never
    ///   fails and never panics. (Checking is exercise 5.2.)
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> RawHeader {
        // An irrefutable pattern: the compiler knows there are exactly 12
        // bytes, so there is no index to get wrong and nothing that can panic.
        let [m0, m1, version, kind, i0, i1, i2, i3, l0, l1, l2, l3] = *bytes;
        RawHeader {
            magic: [m0, m1],
            version,
            kind,
            id: u32::from_be_bytes([i0, i1, i2, i3]),
            body_len: u32::from_be_bytes([l0, l1, l2, l3]),
        }
    }
    // ANCHOR_END: decode

    // ANCHOR: validate
    /// Exercise 5.2: validate the header — book §5.2.
    ///
    /// A peer can send any 12 bytes. Check the fields it sent, and return a
    /// [`Header`] with the same kind, id and body length — or the first
    /// problem, in the order of the fields on the wire:
    ///
    /// 1. a `magic` other than [`MAGIC`]: `HeaderError::BadMagic(magic)`;
    /// 2. a `version` other than [`VERSION`]:
    ///    `HeaderError::UnsupportedVersion(version)`;
    /// 3. a `body_len` over [`MAX_BODY`]: `HeaderError::BodyTooLarge(body_len)`.
    ///    A body of exactly `MAX_BODY` bytes is allowed.
    ///
    /// - Any kind passes: a message of an unknown kind still says where it
    ///   ends, so it is answered as an application error (§5.4), not refused
    ///   here.
    /// - These bytes come from a stranger: return an error, never panic.
    pub fn validate(self) -> Result<Header, HeaderError> {
        // Wire order, magic first: with the wrong magic, "version 7" would be
        // a misleading thing to report — those bytes were never a version.
        if self.magic != MAGIC {
            return Err(HeaderError::BadMagic(self.magic));
        }
        if self.version != VERSION {
            return Err(HeaderError::UnsupportedVersion(self.version));
        }
        // The limit that stops a 4 GiB allocation: checked before any body
        // is read or any buffer is sized.
        if self.body_len > MAX_BODY {
            return Err(HeaderError::BodyTooLarge(self.body_len));
        }
        Ok(Header {
            kind: self.kind,
            id: self.id,
            body_len: self.body_len,
        })
    }
    // ANCHOR_END: validate
}

// ANCHOR: header_impl
impl Header {
    /// The header of a message of `kind`, answering (or asking) request `id`,
    /// with a body of `body_len` bytes. Fails if the body is too large.
    pub fn new(kind: u8, id: u32, body_len: usize) -> Result<Header, HeaderError> {
        // A length that does not even fit in a u32 is certainly too large.
        let body_len = u32::try_from(body_len).unwrap_or(u32::MAX);
        RawHeader {
            magic: MAGIC,
            version: VERSION,
            kind,
            id,
            body_len,
        }
        .validate()
    }

    /// Checks 12 bytes from a peer: [`RawHeader::decode`], then `validate`.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Header, HeaderError> {
        RawHeader::decode(bytes).validate()
    }

    /// The 12 bytes of this header, ready to send.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        RawHeader {
            magic: MAGIC,
            version: VERSION,
            kind: self.kind,
            id: self.id,
            body_len: self.body_len,
        }
        .encode()
    }

    /// What the message is: one of the kinds in `message.rs` (or not).
    pub fn kind(&self) -> u8 {
        self.kind
    }

    /// The request id: a response carries the id of the request it answers.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// How many bytes of body follow the header: at most [`MAX_BODY`].
    pub fn body_len(&self) -> usize {
        self.body_len as usize
    }
}
// ANCHOR_END: header_impl
