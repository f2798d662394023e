//! The wire format (given): length-prefixed frames carrying typed messages.
//!
//! A frame is a 4-byte length in network byte order, then that many bytes of
//! body (lesson 4). A body is one message: a tag byte, then the message's
//! fields in a fixed order — integers big-endian, strings as a 4-byte length
//! and UTF-8 bytes (lesson 5). Decoding checks everything a peer could get
//! wrong: the tag, every length, UTF-8, the ranges of numbers, and that no
//! byte is left over. A message that fails any check is an error, and the
//! caller closes that peer.

use std::io;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

// ANCHOR: limits
/// The largest frame body anyone may send: 1 MiB. A larger length prefix is
/// refused before a byte of it is buffered.
pub const MAX_FRAME: usize = 1 << 20;
/// The most slots a worker may announce (tasks it runs at once).
pub const MAX_SLOTS: u32 = 64;
/// The most tasks in one job.
pub const MAX_TASKS: u32 = 1_000_000;
// ANCHOR_END: limits

/// What a task does (and, for a whole job, what its tasks do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Spec {
    /// Count the words of `text` (`str::split_whitespace`), after `ms`
    /// milliseconds of pretending to work hard (0: at once). In a job, the
    /// whole text; in a task, its chunk.
    Words { text: String, ms: u32 },
    /// Sleep `ms` milliseconds; the result is 0.
    Sleep { ms: u32 },
    /// Exit the worker process in the middle of the task on its first
    /// `crashes` attempts; after that, sleep `ms` and return 0.
    Crash { ms: u32, crashes: u32 },
}

// ANCHOR: messages
/// What workers and clients send to the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// A worker introduces itself: it runs up to `slots` tasks at once.
    Hello { slots: u32 },
    /// A worker has `slots` more free slots: it asks for that many tasks.
    Ready { slots: u32 },
    /// A worker is alive: every lease it holds is renewed.
    Heartbeat,
    /// A worker finished task `index` of job `job` with `value`.
    Done { job: u64, index: u32, value: u64 },
    /// A client submits a job of `tasks` tasks.
    Submit { tasks: u32, spec: Spec },
    /// A client asks how job `job` is doing; with `wait`, the answer comes
    /// once every task is done or failed.
    Query { job: u64, wait: bool },
    /// A client asks for the coordinator's state, as text.
    Status,
}

/// What the coordinator sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// To a worker's hello: leases last `lease_ms`; renew them well before.
    Welcome { lease_ms: u32 },
    /// To a worker: run task `index` of job `job`; this is its `attempt`-th
    /// lease (1 the first time).
    Lease {
        job: u64,
        index: u32,
        attempt: u32,
        spec: Spec,
    },
    /// To a client: the job is in the log, synced, and will be run.
    Accepted { job: u64 },
    /// To a client: the request was refused, and why.
    Refused { reason: String },
    /// To a client: how a job is doing.
    Progress(Progress),
    /// To a client: the coordinator's state, for people.
    Status { text: String },
}
// ANCHOR_END: messages

/// How a job is doing: the answer to a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Progress {
    pub job: u64,
    pub tasks: u32,
    pub done: u32,
    pub failed: u32,
    pub retried: u32,
    pub result: u64,
}

impl Progress {
    /// Every task is done or failed: nothing more will happen to the job.
    pub fn finished(&self) -> bool {
        self.done + self.failed == self.tasks
    }
}

/// An error for bytes that are not a valid message.
fn invalid(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

/// Reads fields from a body, checking that each is there.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn need(&self, n: usize, what: &str) -> io::Result<()> {
        if self.0.remaining() < n {
            return Err(invalid(format!("message ends inside its {what}")));
        }
        Ok(())
    }
    fn u8(&mut self, what: &str) -> io::Result<u8> {
        self.need(1, what)?;
        Ok(self.0.get_u8())
    }
    fn u32(&mut self, what: &str) -> io::Result<u32> {
        self.need(4, what)?;
        Ok(self.0.get_u32())
    }
    fn u64(&mut self, what: &str) -> io::Result<u64> {
        self.need(8, what)?;
        Ok(self.0.get_u64())
    }
    fn string(&mut self, what: &str) -> io::Result<String> {
        let len = self.u32(what)? as usize;
        self.need(len, what)?;
        let (text, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8(text.to_vec()).map_err(|_| invalid(format!("{what} is not UTF-8")))
    }
    fn spec(&mut self) -> io::Result<Spec> {
        match self.u8("kind")? {
            1 => Ok(Spec::Words {
                text: self.string("text")?,
                ms: self.u32("ms")?,
            }),
            2 => Ok(Spec::Sleep {
                ms: self.u32("ms")?,
            }),
            3 => Ok(Spec::Crash {
                ms: self.u32("ms")?,
                crashes: self.u32("crashes")?,
            }),
            kind => Err(invalid(format!("unknown task kind {kind}"))),
        }
    }
    fn end(self) -> io::Result<()> {
        if !self.0.is_empty() {
            return Err(invalid(format!(
                "{} bytes left over after the message",
                self.0.len()
            )));
        }
        Ok(())
    }
}

fn put_string(out: &mut Vec<u8>, s: &str) {
    out.put_u32(s.len() as u32);
    out.put_slice(s.as_bytes());
}

/// Appends `spec`'s bytes to `out` (the log uses this too).
pub fn put_spec(out: &mut Vec<u8>, spec: &Spec) {
    match spec {
        Spec::Words { text, ms } => {
            out.put_u8(1);
            put_string(out, text);
            out.put_u32(*ms);
        }
        Spec::Sleep { ms } => {
            out.put_u8(2);
            out.put_u32(*ms);
        }
        Spec::Crash { ms, crashes } => {
            out.put_u8(3);
            out.put_u32(*ms);
            out.put_u32(*crashes);
        }
    }
}

/// Reads a spec from the front of `bytes`, returning it and what follows.
pub fn get_spec(bytes: &[u8]) -> io::Result<(Spec, &[u8])> {
    let mut fields = Fields(bytes);
    let spec = fields.spec()?;
    Ok((spec, fields.0))
}

impl Request {
    /// The message's body (without the frame's length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Hello { slots } => {
                out.put_u8(1);
                out.put_u32(*slots);
            }
            Request::Ready { slots } => {
                out.put_u8(2);
                out.put_u32(*slots);
            }
            Request::Heartbeat => out.put_u8(3),
            Request::Done { job, index, value } => {
                out.put_u8(4);
                out.put_u64(*job);
                out.put_u32(*index);
                out.put_u64(*value);
            }
            Request::Submit { tasks, spec } => {
                out.put_u8(5);
                out.put_u32(*tasks);
                put_spec(&mut out, spec);
            }
            Request::Query { job, wait } => {
                out.put_u8(6);
                out.put_u64(*job);
                out.put_u8(u8::from(*wait));
            }
            Request::Status => out.put_u8(7),
        }
        out
    }

    /// Decodes and validates one body. Never panics, whatever the bytes.
    pub fn decode(body: &[u8]) -> io::Result<Request> {
        let mut f = Fields(body);
        let request = match f.u8("tag")? {
            1 => Request::Hello {
                slots: slots(f.u32("slots")?)?,
            },
            2 => Request::Ready {
                slots: slots(f.u32("slots")?)?,
            },
            3 => Request::Heartbeat,
            4 => Request::Done {
                job: f.u64("job")?,
                index: f.u32("index")?,
                value: f.u64("value")?,
            },
            5 => {
                let tasks = f.u32("tasks")?;
                if tasks == 0 || tasks > MAX_TASKS {
                    return Err(invalid(format!(
                        "a job has 1 to {MAX_TASKS} tasks, not {tasks}"
                    )));
                }
                Request::Submit {
                    tasks,
                    spec: f.spec()?,
                }
            }
            6 => Request::Query {
                job: f.u64("job")?,
                wait: match f.u8("wait")? {
                    0 => false,
                    1 => true,
                    other => return Err(invalid(format!("wait must be 0 or 1, not {other}"))),
                },
            },
            7 => Request::Status,
            tag => return Err(invalid(format!("unknown request tag {tag}"))),
        };
        f.end()?;
        Ok(request)
    }
}

fn slots(n: u32) -> io::Result<u32> {
    if n == 0 || n > MAX_SLOTS {
        return Err(invalid(format!("slots must be 1 to {MAX_SLOTS}, not {n}")));
    }
    Ok(n)
}

impl Reply {
    /// The message's body (without the frame's length prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Reply::Welcome { lease_ms } => {
                out.put_u8(1);
                out.put_u32(*lease_ms);
            }
            Reply::Lease {
                job,
                index,
                attempt,
                spec,
            } => {
                out.put_u8(2);
                out.put_u64(*job);
                out.put_u32(*index);
                out.put_u32(*attempt);
                put_spec(&mut out, spec);
            }
            Reply::Accepted { job } => {
                out.put_u8(3);
                out.put_u64(*job);
            }
            Reply::Refused { reason } => {
                out.put_u8(4);
                put_string(&mut out, reason);
            }
            Reply::Progress(p) => {
                out.put_u8(5);
                out.put_u64(p.job);
                out.put_u32(p.tasks);
                out.put_u32(p.done);
                out.put_u32(p.failed);
                out.put_u32(p.retried);
                out.put_u64(p.result);
            }
            Reply::Status { text } => {
                out.put_u8(6);
                put_string(&mut out, text);
            }
        }
        out
    }

    /// Decodes and validates one body. Never panics, whatever the bytes.
    pub fn decode(body: &[u8]) -> io::Result<Reply> {
        let mut f = Fields(body);
        let reply = match f.u8("tag")? {
            1 => Reply::Welcome {
                lease_ms: f.u32("lease_ms")?,
            },
            2 => Reply::Lease {
                job: f.u64("job")?,
                index: f.u32("index")?,
                attempt: f.u32("attempt")?,
                spec: f.spec()?,
            },
            3 => Reply::Accepted { job: f.u64("job")? },
            4 => Reply::Refused {
                reason: f.string("reason")?,
            },
            5 => {
                let p = Progress {
                    job: f.u64("job")?,
                    tasks: f.u32("tasks")?,
                    done: f.u32("done")?,
                    failed: f.u32("failed")?,
                    retried: f.u32("retried")?,
                    result: f.u64("result")?,
                };
                if p.done.checked_add(p.failed).is_none_or(|n| n > p.tasks) {
                    return Err(invalid("more tasks finished than the job has"));
                }
                Reply::Progress(p)
            }
            6 => Reply::Status {
                text: f.string("text")?,
            },
            tag => return Err(invalid(format!("unknown reply tag {tag}"))),
        };
        f.end()?;
        Ok(reply)
    }
}

/// A whole frame: the length prefix, then `body`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + body.len());
    out.put_u32(body.len() as u32);
    out.put_slice(body);
    out
}

// ANCHOR: connection
/// The codec of every connection: 4-byte big-endian lengths, at most
/// [`MAX_FRAME`]. An oversized length is an error at once: nothing of the
/// frame is buffered.
fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(MAX_FRAME)
        .new_codec()
}

/// The frames coming from a peer.
pub struct Incoming(FramedRead<OwnedReadHalf, LengthDelimitedCodec>);

/// The frames going to a peer.
pub struct Outgoing(FramedWrite<OwnedWriteHalf, LengthDelimitedCodec>);

/// Splits a connection into its frames in and out.
pub fn split(stream: TcpStream) -> (Incoming, Outgoing) {
    let (read, write) = stream.into_split();
    (
        Incoming(FramedRead::new(read, codec())),
        Outgoing(FramedWrite::new(write, codec())),
    )
}

impl Incoming {
    /// The next frame's body; `None` at a clean end of stream. Cancel-safe:
    /// usable in a `select!` branch.
    pub async fn frame(&mut self) -> io::Result<Option<BytesMut>> {
        self.0.next().await.transpose()
    }

    /// The next request (the coordinator's side).
    pub async fn request(&mut self) -> io::Result<Option<Request>> {
        match self.frame().await? {
            Some(body) => Request::decode(&body).map(Some),
            None => Ok(None),
        }
    }

    /// The next reply (the worker's and the client's side).
    pub async fn reply(&mut self) -> io::Result<Option<Reply>> {
        match self.frame().await? {
            Some(body) => Reply::decode(&body).map(Some),
            None => Ok(None),
        }
    }
}

impl Outgoing {
    /// Sends one request, whole, and flushes it.
    pub async fn request(&mut self, request: &Request) -> io::Result<()> {
        self.0.send(Bytes::from(request.encode())).await
    }

    /// Sends one reply, whole, and flushes it.
    pub async fn reply(&mut self, reply: &Reply) -> io::Result<()> {
        self.0.send(Bytes::from(reply.encode())).await
    }
}
// ANCHOR_END: connection
