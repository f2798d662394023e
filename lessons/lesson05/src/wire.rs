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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawHeader {
    pub magic: [u8; 2],
    pub version: u8,
    pub kind: u8,
    pub id: u32,
    pub body_len: u32,
}
// ANCHOR_END: raw_header

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
    /// Return the 12 bytes of this header, in the order of the table at the
    /// top of this file: `magic` (2 bytes), `version`, `kind`, `id` (4 bytes),
    /// `body_len` (4 bytes). Write the fields exactly as they are — checking
    /// them is exercise 5.2's job.
    ///
    /// - Numbers cross the network in big-endian order, most significant byte
    ///   first: `0x12345678u32.to_be_bytes()` is `[0x12, 0x34, 0x56, 0x78]`.
    ///   That is Rust's `htonl`. (`to_le_bytes` and `to_ne_bytes` exist too;
    ///   neither belongs on the wire.)
    /// - Start from `let mut bytes = [0u8; HEADER_LEN];` and fill ranges with
    ///   `bytes[4..8].copy_from_slice(&self.id.to_be_bytes())`.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        todo!("exercise 5.1: encode and decode the header — book §5.1")
    }
    // ANCHOR_END: encode

    // ANCHOR: decode
    /// Exercise 5.1 (the other half): read the five fields back out of
    /// `bytes`, the inverse of [`RawHeader::encode`].
    ///
    /// - `u32::from_be_bytes([a, b, c, d])` is Rust's `ntohl`: it turns four
    ///   bytes in network order into a number, whatever this machine's order.
    /// - `bytes` is an array of exactly [`HEADER_LEN`] bytes, so nothing can
    ///   be missing and no check is needed. A pattern takes it apart without
    ///   any indexing: `let [m0, m1, version, ..] = *bytes;`.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> RawHeader {
        todo!("exercise 5.1: encode and decode the header — book §5.1")
    }
    // ANCHOR_END: decode

    // ANCHOR: validate
    /// Exercise 5.2: validate the header — book §5.2.
    ///
    /// A peer can send any 12 bytes. Check them, in wire order, and return the
    /// first problem as a [`HeaderError`]:
    ///
    /// 1. `magic` must be [`MAGIC`], else `HeaderError::BadMagic(magic)`;
    /// 2. `version` must be [`VERSION`], else `UnsupportedVersion(version)`;
    /// 3. `body_len` must be at most [`MAX_BODY`], else `BodyTooLarge(body_len)`.
    ///
    /// If all is well, return `Ok(Header { kind, id, body_len })`. The kind is
    /// not checked here: an unknown kind still has a well-framed body that can
    /// be skipped, so it is an application error, answered in exercise 5.4.
    ///
    /// - Magic first: if it is wrong, the other bytes mean nothing at all.
    /// - Return early with `return Err(HeaderError::...)`; no panics, no
    ///   `unwrap`: these bytes come from a stranger.
    pub fn validate(self) -> Result<Header, HeaderError> {
        todo!("exercise 5.2: validate the header — book §5.2")
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
