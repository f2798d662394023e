//! `cargo run -p lesson04`: sticky packets happen on loopback, then frames cure them.
//!
//! It uses your exercises in order — `write_frame` (4.1), the `Decoder`
//! (4.2 and 4.3), the `LineDecoder` (4.4), then `echo_frames` (4.5) — so an
//! unfinished lesson stops at the first one.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::framing::{DEFAULT_MAX_FRAME_LEN, Decoder, write_frame};
use crate::lines::{LineDecoder, escape, unescape};
use crate::server::echo_frames;

const MESSAGES: [&str; 5] = ["apple", "banana", "cherry", "date", "elderberry"];
const BIG: usize = 4 * 1024 * 1024;

/// Shows several writes arriving in one read and one write arriving in many,
/// then sends the same messages as frames and recovers every one intact.
pub fn run() -> io::Result<()> {
    println!("lesson 4 — sticky packets, narrated\n");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let writer = TcpStream::connect(listener.local_addr()?)?;
    let (reader, _) = listener.accept()?;
    // Without Nagle's algorithm every small write is sent at once, in its own
    // segment: whatever merges them below happens at the receiving end.
    writer.set_nodelay(true)?;
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();

    println!("Part 1 — TCP delivers bytes, not messages\n");
    coalesced_writes(&writer, &reader)?;
    split_write(&writer, &reader, &big)?;

    println!(
        "\nPart 2 — the same messages as frames: a 4-byte big-endian length, then the payload\n"
    );
    framed(&writer, &reader, &big)?;

    println!("\nPart 3 — the same messages as lines: each one ends with \\n\n");
    lines(&writer, &reader)?;

    println!("\nPart 4 — a framed echo server: your echo_frames on one connection\n");
    echo_server()?;

    println!("\nEvery message came back exactly as it was sent, however TCP cut the stream.");
    // The same build as this demo: with `--features solution`, the reference
    // solutions, so that copying these commands does not stop at a todo!().
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let run = format!("cargo run -p lesson04{features} --");
    println!("Try it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} server"), "in one terminal"),
        (
            format!("{run} client 127.0.0.1:7004"),
            "in another; a line = a frame",
        ),
    ]);
    Ok(())
}

/// Several small writes, read only once they have all arrived: one lump.
fn coalesced_writes(writer: &TcpStream, reader: &TcpStream) -> io::Result<()> {
    let total: usize = MESSAGES.iter().map(|m| m.len()).sum();
    for message in MESSAGES {
        (&*writer).write_all(message.as_bytes())?;
    }
    println!(
        "[writer] {} separate writes: {}",
        MESSAGES.len(),
        MESSAGES.map(|m| format!("{m:?}")).join(" ")
    );
    // A real reader is simply busy with something else now and then; here we
    // make sure of it by waiting until everything has arrived before reading.
    wait_until_queued(reader, total)?;
    println!(
        "[reader] has not called read yet; meanwhile all {total} bytes arrived \
         (the demo waits for that, with peek)"
    );
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = Vec::new();
    let mut reads = Vec::new();
    while got.len() < total {
        let n = read_some(reader, &mut buf)?;
        got.extend_from_slice(&buf[..n]);
        reads.push(n);
    }
    println!(
        "[reader] read(64 KiB) returned {}: {:?}",
        sizes(&reads),
        String::from_utf8_lossy(&got)
    );
    println!(
        "         {} messages went in, and nothing in the bytes says where \"banana\" ends.",
        MESSAGES.len()
    );
    Ok(())
}

/// One large write, read with a buffer that could take a quarter of it at once.
fn split_write(writer: &TcpStream, reader: &TcpStream, big: &[u8]) -> io::Result<()> {
    let mut buf = vec![0u8; 1024 * 1024];
    let mut reads = Vec::new();
    thread::scope(|s| {
        let sending = s.spawn(|| (&*writer).write_all(big));
        let mut received = 0;
        while received < big.len() {
            let n = read_some(reader, &mut buf)?;
            received += n;
            reads.push(n);
        }
        sending.join().expect("the writing thread panicked")
    })?;
    println!("\n[writer] one write_all of {} bytes (4 MiB)", big.len());
    let (min, max) = (reads.iter().min(), reads.iter().max());
    println!(
        "[reader] read(1 MiB) in a loop: {} reads, of {} to {} bytes each; the first ones: {}",
        reads.len(),
        min.unwrap_or(&0),
        max.unwrap_or(&0),
        reads
            .iter()
            .take(5)
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("         The OS chose those sizes (they may differ on every run), not the writer.");
    Ok(())
}

/// The same small messages and the large one, as frames, through a decoder.
fn framed(writer: &TcpStream, reader: &TcpStream, big: &[u8]) -> io::Result<()> {
    let mut apple = Vec::new();
    write_frame(&mut apple, b"apple")?;
    println!("[writer] \"apple\" as a frame is {}", hex(&apple));
    println!("         (byte for byte what Python's struct.pack('!I', 5) + b'apple' gives)");
    println!(
        "[writer] {} writes of small frames, then one write of a {}-byte frame",
        MESSAGES.len(),
        big.len()
    );
    let small_total: usize = MESSAGES.iter().map(|m| 4 + m.len()).sum();
    let mut decoder = Decoder::new();
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut reads = 0;
    thread::scope(|s| {
        let sending = s.spawn(|| -> io::Result<()> {
            let mut w = writer;
            for message in MESSAGES {
                write_frame(&mut w, message.as_bytes())?;
            }
            write_frame(&mut w, big)
        });
        // As in part 1: read only once the small frames are all there.
        wait_until_queued(reader, small_total)?;
        while frames.len() < MESSAGES.len() + 1 {
            let n = read_some(reader, &mut buf)?;
            reads += 1;
            decoder.push(&buf[..n]);
            let before = frames.len();
            // ANCHOR: take_out
            while let Some(frame) = decoder.next_frame()? {
                frames.push(frame.to_vec());
            }
            // ANCHOR_END: take_out
            if reads == 1 {
                println!(
                    "[reader] read #1 returned {n} bytes; the decoder took out {} frames: {}",
                    frames.len() - before,
                    describe(&frames[before..])
                );
                match decoder.buffered() {
                    0 => println!("         and kept nothing: the large frame had not arrived yet"),
                    kept => println!(
                        "         and kept {kept} bytes: the start of the large frame, still \
                         on its way"
                    ),
                }
            }
        }
        sending.join().expect("the writing thread panicked")
    })?;
    println!(
        "[reader] {} more reads, each pushed into the decoder → {}",
        reads - 1,
        describe(&frames[MESSAGES.len()..])
    );

    let intact = frames.len() == MESSAGES.len() + 1
        && frames.iter().zip(MESSAGES).all(|(f, m)| f == m.as_bytes())
        && frames[MESSAGES.len()] == big;
    if !intact {
        return Err(io::Error::other("the frames differ from the messages sent"));
    }
    println!(
        "[reader] all {} frames are identical to what was sent",
        frames.len()
    );
    Ok(())
}

/// The same small messages with a `\n` after each, through a line decoder;
/// then a binary message, which needs escaping.
fn lines(writer: &TcpStream, reader: &TcpStream) -> io::Result<()> {
    let binary = [0x00, b'\n', 0xff];
    let mut sent: Vec<Vec<u8>> = MESSAGES.iter().map(|m| m.as_bytes().to_vec()).collect();
    sent.push(escape(&binary));
    let stream: Vec<u8> = sent.iter().flat_map(|m| [&m[..], b"\n"].concat()).collect();
    (&*writer).write_all(&stream)?;
    println!(
        "[writer] one write of {} bytes: the five messages and the escaped bytes 00 0a ff, \
         each followed by \\n",
        stream.len()
    );
    wait_until_queued(reader, stream.len())?;
    let mut decoder = LineDecoder::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut lines: Vec<Vec<u8>> = Vec::new();
    while lines.len() < sent.len() {
        let n = read_some(reader, &mut buf)?;
        decoder.push(&buf[..n]);
        while let Some(line) = decoder.next_line()? {
            lines.push(line.to_vec());
        }
    }
    println!(
        "[reader] the line decoder took out {} lines: {}",
        lines.len(),
        describe(&lines[..MESSAGES.len()])
    );
    let restored = unescape(&lines[MESSAGES.len()])?;
    println!(
        "         and {}, which unescapes to {}",
        hex(&lines[MESSAGES.len()]),
        hex(&restored)
    );
    if lines[..MESSAGES.len()] != sent[..MESSAGES.len()] || restored != binary {
        return Err(io::Error::other("the lines differ from the messages sent"));
    }
    Ok(())
}

/// `echo_frames` serving one connection on a thread, and a client that sends
/// three frames in one write.
fn echo_server() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = thread::spawn(move || -> io::Result<u64> {
        let (stream, _) = listener.accept()?;
        echo_frames(&stream, &stream, DEFAULT_MAX_FRAME_LEN)
    });
    let mut client = TcpStream::connect(addr)?;
    let mut frames = Vec::new();
    for message in &MESSAGES[..3] {
        write_frame(&mut frames, message.as_bytes())?;
    }
    client.write_all(&frames)?;
    println!(
        "[client] sent 3 frames in one write ({} bytes): {}",
        frames.len(),
        MESSAGES[..3]
            .iter()
            .map(|m| format!("{m:?}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut echoed = vec![0u8; frames.len()];
    client.read_exact(&mut echoed)?;
    println!("[client] read the same {} bytes back", echoed.len());
    client.shutdown(Shutdown::Write)?;
    let count = server.join().expect("the server thread panicked")?;
    println!("[server] echo_frames returned Ok({count}) when the client half-closed");
    if echoed != frames || count != 3 {
        return Err(io::Error::other("the echo differs from what was sent"));
    }
    Ok(())
}

/// Waits until at least `n` bytes have arrived on `stream`, without taking them.
fn wait_until_queued(stream: &TcpStream, n: usize) -> io::Result<()> {
    let mut buf = vec![0u8; n];
    let deadline = Instant::now() + Duration::from_secs(5);
    // `peek` copies what has arrived but leaves it queued for the next read;
    // it blocks only while nothing at all has arrived.
    while stream.peek(&mut buf)? < n {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{n} bytes were sent but did not arrive within 5 s"),
            ));
        }
        thread::yield_now();
    }
    Ok(())
}

/// One `read`, retried if a signal interrupted it; end of stream is an error here.
fn read_some(mut stream: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Bytes in hex, as `xxd` shows them: `00 0a ff`.
fn hex(bytes: &[u8]) -> String {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.join(" ")
}

fn sizes(reads: &[usize]) -> String {
    match reads {
        [n] => format!("{n} bytes in 1 read"),
        _ => format!(
            "{} bytes in {} reads",
            reads.iter().sum::<usize>(),
            reads.len()
        ),
    }
}

fn describe(frames: &[Vec<u8>]) -> String {
    let names: Vec<String> = frames
        .iter()
        .map(|f| match std::str::from_utf8(f) {
            Ok(text) if f.len() <= 32 => format!("{text:?}"),
            _ => format!("[{} bytes]", f.len()),
        })
        .collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(" ")
    }
}
