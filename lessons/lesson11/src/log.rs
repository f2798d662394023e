//! The coordinator's durable log: one append-only file of records — every
//! job it acknowledged, every result it recorded. Written by a thread of its
//! own; read back, record by record, when the coordinator starts.
//!
//! A record on disk is framed: its body's length (4 bytes, big-endian), the
//! CRC-32 of the body (4 bytes, big-endian), then the body. A crash can cut
//! the last record short (a *torn tail*); a disk can flip a bit. Both show as
//! a record whose length runs past the end of the file or whose checksum
//! does not match, and reading stops there.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

use bytes::{Buf, BufMut};
use tokio::sync::oneshot;

use crate::wire::{Spec, get_spec, put_spec};

/// The log's file name, inside the coordinator's `--data` directory.
pub const LOG_FILE: &str = "tasks.log";
/// The bytes before a record's body: its length and its checksum.
pub const HEADER: usize = 8;
/// The largest body a record may have (a job's text is under 1 MiB).
pub const MAX_RECORD: usize = 2 << 20;

/// What the log holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A job, as acknowledged to its submitter.
    Job { id: u64, tasks: u32, spec: Spec },
    /// The result of task `index` of job `job`.
    Result { job: u64, index: u32, value: u64 },
}

impl Record {
    /// The record's body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Record::Job { id, tasks, spec } => {
                out.put_u8(1);
                out.put_u64(*id);
                out.put_u32(*tasks);
                put_spec(&mut out, spec);
            }
            Record::Result { job, index, value } => {
                out.put_u8(2);
                out.put_u64(*job);
                out.put_u32(*index);
                out.put_u64(*value);
            }
        }
        out
    }

    /// Decodes a body; `None` if it is not a whole, valid record.
    pub fn decode(body: &[u8]) -> Option<Record> {
        let mut b = body;
        if b.remaining() < 1 {
            return None;
        }
        let record = match b.get_u8() {
            1 if b.remaining() >= 12 => {
                let id = b.get_u64();
                let tasks = b.get_u32();
                let (spec, rest) = get_spec(b).ok()?;
                b = rest;
                Record::Job { id, tasks, spec }
            }
            2 if b.remaining() >= 20 => Record::Result {
                job: b.get_u64(),
                index: b.get_u32(),
                value: b.get_u64(),
            },
            _ => return None,
        };
        b.is_empty().then_some(record)
    }
}

// ANCHOR: framed
/// A record as it goes to disk: length, CRC-32 of the body, body.
pub fn framed(record: &Record) -> Vec<u8> {
    let body = record.encode();
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.put_u32(body.len() as u32);
    out.put_u32(crc32(&body));
    out.put_slice(&body);
    out
}
// ANCHOR_END: framed

/// CRC-32 (IEEE 802.3, the one of zip, gzip and Ethernet), bit by bit: slow
/// next to a table or the CPU's instruction (the `crc32fast` crate), and
/// plenty for a log that syncs to disk anyway.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What reading a log found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The valid records, in the order they were written.
    pub records: Vec<Record>,
    /// How many bytes they take: everything after this is a torn or
    /// corrupted tail, to cut off.
    pub good: usize,
}

// ANCHOR: scan
/// Exercise 11.5: the durable log and recovery — book §11.5.
///
/// Reads the records of a log file's bytes, in order, each framed as
/// [`framed`] writes it, and stops at the first that is not whole and valid:
/// a header cut short, a length over [`MAX_RECORD`] or past the end of the
/// bytes, a checksum ([`crc32`] of the body) that does not match, or a body
/// that [`Record::decode`] refuses. Nothing after that point is trusted,
/// even if it looks valid. Returns the records before it, and how many bytes
/// they take. Never panics, whatever the bytes.
pub fn scan(bytes: &[u8]) -> Scan {
    let _ = bytes; // unused until you write the function
    todo!("exercise 11.5: the durable log and recovery — book §11.5")
}
// ANCHOR_END: scan

// ANCHOR: open
/// Opens (or creates) the log in `dir`, creating `dir` if missing, and reads
/// it back: the records, and how many bytes of torn or corrupted tail were
/// cut off. New records go after the last good one.
pub fn open(dir: &Path) -> io::Result<(LogWriter, Vec<Record>, usize)> {
    fs::create_dir_all(dir)?;
    let path = dir.join(LOG_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    // A new log has nothing to read back.
    let scan = if bytes.is_empty() {
        Scan::default()
    } else {
        scan(&bytes)
    };
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    let cut = bytes.len() - scan.good;
    if cut > 0 {
        // Cut the bad tail off, so that new records follow good ones.
        file.set_len(scan.good as u64)?;
        file.sync_all()?;
    }
    Ok((LogWriter::start(file), scan.records, cut))
}
// ANCHOR_END: open

/// One record for the writer's thread, and whom to tell once it is synced.
struct Append {
    record: Record,
    synced: Option<oneshot::Sender<io::Result<()>>>,
}

/// The log's writer: a thread that appends records, so that the
/// coordinator's tasks never wait for the disk themselves.
#[derive(Clone)]
pub struct LogWriter {
    queue: mpsc::Sender<Append>,
}

impl LogWriter {
    fn start(file: File) -> LogWriter {
        let (queue, records) = mpsc::channel::<Append>();
        thread::spawn(move || write_records(file, records));
        LogWriter { queue }
    }

    // ANCHOR: append_synced
    /// Appends `record` and waits until it is on disk (`sync_data`): only
    /// then may the coordinator acknowledge it.
    pub async fn append_synced(&self, record: Record) -> io::Result<()> {
        let (tx, rx) = oneshot::channel();
        let append = Append {
            record,
            synced: Some(tx),
        };
        if self.queue.send(append).is_err() {
            return Err(io::Error::other("the log's writer has stopped"));
        }
        rx.await
            .unwrap_or_else(|_| Err(io::Error::other("the log's writer has stopped")))
    }
    // ANCHOR_END: append_synced

    /// Appends `record` without waiting: a result. If the machine loses it
    /// before it reaches the disk, the task simply runs again.
    pub fn append(&self, record: Record) {
        let _ = self.queue.send(Append {
            record,
            synced: None,
        });
    }
}

// ANCHOR: write_records
/// The writer's thread: takes every record waiting, writes them in one go,
/// syncs once if any of them waits for it, then tells them all (a *group
/// commit*: a hundred submits at once cost one sync, not a hundred).
fn write_records(mut file: File, records: mpsc::Receiver<Append>) {
    while let Ok(first) = records.recv() {
        let mut batch = vec![first];
        batch.extend(records.try_iter());
        let mut bytes = Vec::new();
        for append in &batch {
            bytes.extend_from_slice(&framed(&append.record));
        }
        let mut result = file.write_all(&bytes);
        if result.is_ok() && batch.iter().any(|a| a.synced.is_some()) {
            result = file.sync_data();
        }
        if let Err(e) = &result {
            eprintln!("log: could not write {} records: {e}", batch.len());
        }
        for append in batch {
            if let Some(synced) = append.synced {
                let _ = synced.send(match &result {
                    Ok(()) => Ok(()),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                });
            }
        }
    }
}
// ANCHOR_END: write_records
