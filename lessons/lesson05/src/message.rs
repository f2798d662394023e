//! The messages: what each kind means and how its body is laid out. Requests
//! are exercise 5.3; responses are given, as a model.

use std::fmt;

// ANCHOR: kinds
/// Request kinds, client to server.
pub const GET: u8 = 0x01;
pub const SET: u8 = 0x02;
pub const DELETE: u8 = 0x03;

/// Response kinds, server to client. The high bit is set in every response,
/// so a message can never be mistaken for the other direction's.
pub const OK: u8 = 0x80;
pub const VALUE: u8 = 0x81;
pub const NOT_FOUND: u8 = 0x82;
pub const ERROR: u8 = 0xFF;

/// The longest key the server accepts, in bytes. (Values are limited only by
/// the body: `MAX_BODY` minus the key and its length field.)
pub const MAX_KEY: usize = 256;
// ANCHOR_END: kinds

// ANCHOR: request
/// What a client asks. The bodies on the wire:
///
/// | kind   | body                                                  |
/// | ------ | ----------------------------------------------------- |
/// | GET    | the key                                               |
/// | SET    | key length (u16, big-endian), the key, then the value |
/// | DELETE | the key                                               |
///
/// A key is 1 to [`MAX_KEY`] bytes; it need not be text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Get { key: Vec<u8> },
    Set { key: Vec<u8>, value: Vec<u8> },
    Delete { key: Vec<u8> },
}
// ANCHOR_END: request

// ANCHOR: response
/// What the server answers. The bodies on the wire:
///
/// | kind      | body                     | answers                     |
/// | --------- | ------------------------ | --------------------------- |
/// | OK        | empty                    | a SET, or a DELETE that hit |
/// | VALUE     | the value                | a GET that hit              |
/// | NOT_FOUND | empty                    | a GET or DELETE that missed |
/// | ERROR     | a UTF-8 message          | a request it could not do   |
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Ok,
    Value(Vec<u8>),
    NotFound,
    Error(String),
}
// ANCHOR_END: response

// ANCHOR: body_error
/// Why a body was refused. These are *application* errors: the header said
/// how long the body was, so the next message still starts where expected,
/// and the server answers with an ERROR response and carries on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// A kind this side does not know (a request kind sent as a response,
    /// or a kind from a later version of the protocol).
    UnknownKind(u8),
    /// A key of zero bytes.
    EmptyKey,
    /// A key longer than [`MAX_KEY`]; holds its length.
    KeyTooLong(usize),
    /// A SET body too short to hold its key length field and its key.
    BadSetBody { body_len: usize },
    /// A body on an OK or NOT_FOUND response, which must have none.
    UnexpectedBody { kind: u8 },
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::UnknownKind(kind) => write!(f, "unknown message kind 0x{kind:02x}"),
            BodyError::EmptyKey => write!(f, "the key is empty"),
            BodyError::KeyTooLong(len) => {
                write!(
                    f,
                    "the key is {len} bytes long; at most {MAX_KEY} are allowed"
                )
            }
            BodyError::BadSetBody { body_len } => write!(
                f,
                "a SET body is a 2-byte key length, the key, then the value; \
                 this one ({body_len} bytes) is too short to hold its key"
            ),
            BodyError::UnexpectedBody { kind } => {
                write!(f, "a message of kind 0x{kind:02x} must have an empty body")
            }
        }
    }
}

impl std::error::Error for BodyError {}
// ANCHOR_END: body_error

// ANCHOR: check_key
/// Checks a key from either side of the wire: 1 to [`MAX_KEY`] bytes.
pub fn check_key(key: &[u8]) -> Result<&[u8], BodyError> {
    match key.len() {
        0 => Err(BodyError::EmptyKey),
        len if len > MAX_KEY => Err(BodyError::KeyTooLong(len)),
        _ => Ok(key),
    }
}
// ANCHOR_END: check_key

impl Request {
    /// The kind byte that goes in this request's header.
    pub fn kind(&self) -> u8 {
        match self {
            Request::Get { .. } => GET,
            Request::Set { .. } => SET,
            Request::Delete { .. } => DELETE,
        }
    }

    // ANCHOR: encode_body
    /// Exercise 5.3: encode and decode request bodies — book §5.3.
    ///
    /// `encode_body`: this request's body, laid out as in the table on
    /// [`Request`]: for GET and DELETE the key as it is; for SET the key's
    /// length as a big-endian u16, then the key, then the value.
    ///
    /// - Refuse to encode what the server would refuse to decode: a key that
    ///   [`check_key`] refuses is that error (`EmptyKey` or `KeyTooLong`).
    pub fn encode_body(&self) -> Result<Vec<u8>, BodyError> {
        todo!("exercise 5.3: encode and decode request bodies — book §5.3")
    }
    // ANCHOR_END: encode_body

    // ANCHOR: decode_body
    /// Exercise 5.3: encode and decode request bodies — book §5.3.
    ///
    /// `decode`: the [`Request`] in the `body` of a message of `kind`, read
    /// the way [`Request::encode_body`] writes it — or what is wrong with it:
    ///
    /// - GET and DELETE: the whole body is the key, checked with
    ///   [`check_key`].
    /// - SET: the key length `n` (2 bytes, big-endian), `n` bytes of key
    ///   (checked with [`check_key`]), and all the rest is the value, maybe
    ///   none. A body too short to hold its length field or its key is
    ///   `BodyError::BadSetBody { body_len }`, with the body's length.
    /// - Any other kind: `BodyError::UnknownKind(kind)`.
    ///
    /// `body` comes from a stranger, and its key length may lie: whatever the
    /// bytes, return an error rather than panic.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Request, BodyError> {
        let _ = (kind, body); // unused until you write the function
        todo!("exercise 5.3: encode and decode request bodies — book §5.3")
    }
    // ANCHOR_END: decode_body
}

// ANCHOR: response_impl
impl Response {
    /// The kind byte that goes in this response's header.
    pub fn kind(&self) -> u8 {
        match self {
            Response::Ok => OK,
            Response::Value(_) => VALUE,
            Response::NotFound => NOT_FOUND,
            Response::Error(_) => ERROR,
        }
    }

    /// This response's body, as in the table on [`Response`].
    pub fn encode_body(&self) -> Vec<u8> {
        match self {
            Response::Ok | Response::NotFound => Vec::new(),
            Response::Value(value) => value.clone(),
            Response::Error(message) => message.as_bytes().to_vec(),
        }
    }

    /// The response in the `body` of a message of `kind`.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Response, BodyError> {
        match kind {
            OK | NOT_FOUND if !body.is_empty() => Err(BodyError::UnexpectedBody { kind }),
            OK => Ok(Response::Ok),
            NOT_FOUND => Ok(Response::NotFound),
            VALUE => Ok(Response::Value(body.to_vec())),
            // A message is for people; a stray invalid byte should not hide it.
            ERROR => Ok(Response::Error(String::from_utf8_lossy(body).into_owned())),
            other => Err(BodyError::UnknownKind(other)),
        }
    }
}
// ANCHOR_END: response_impl
