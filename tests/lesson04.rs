//! Lesson 4 — sticky packets: framing a byte stream. Run with `cargo test -p lesson04`.
//!
//! Tests named `ex4_k_...` check exercise 4.k; `given_...` check given code.
//! Tests of 4.1 to 4.4 call the library directly; tests of 4.5 call
//! `echo_frames` on streams in memory, then talk to the server over real
//! sockets. A test of a later exercise first checks the earlier ones it
//! builds on, and says so if one of them is not done yet. The Python tests
//! are skipped (with a notice) where `python3` is not installed.

mod support;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use lesson04::framing::{DEFAULT_MAX_FRAME_LEN, Decoder, HEADER_LEN, write_frame};
use lesson04::lines::{LineDecoder, escape, unescape};
use lesson04::server::echo_frames;
use proptest::collection::vec;
use proptest::prelude::*;
use socket2::SockRef;
use support::{DEADLINE, Hint, Server, binary_bytes, first_difference, show, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson04");

/// What the demo's "Try it yourself" commands add to `cargo run -p lesson04`:
/// the build the demo itself came from, so that copying them runs the same code.
const FEATURES: &str = if cfg!(feature = "solution") {
    " --features solution"
} else {
    ""
};

const EX4_1: Hint =
    Hint("exercise 4.1, `write_frame` in lessons/lesson04/src/framing.rs — book §4.1");
const EX4_2: Hint =
    Hint("exercise 4.2, `Decoder::frame_len` in lessons/lesson04/src/framing.rs — book §4.2");
const EX4_3: Hint =
    Hint("exercise 4.3, `Decoder::next_frame` in lessons/lesson04/src/framing.rs — book §4.3");
const EX4_4: Hint =
    Hint("exercise 4.4, `LineDecoder::next_line` in lessons/lesson04/src/lines.rs — book §4.4");
const EX4_5: Hint =
    Hint("exercise 4.5, `echo_frames` in lessons/lesson04/src/server.rs — book §4.5");

/// Property tests: a modest number of cases keeps the suite fast, and no
/// regression files are written into the source tree.
fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A frame, built here rather than with exercise 4.1, so that the decoder's
/// tests do not depend on it.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// Cuts `bytes` at the given points (any order, duplicates allowed).
fn split_at_points<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// A list of frames or lines, each shown with [`show`].
fn show_frames(frames: &[Vec<u8>]) -> String {
    let shown: Vec<String> = frames.iter().map(|f| show(f)).collect();
    format!("[{}]", shown.join(", "))
}

/// What `next_frame` or `next_line` returned, its bytes shown with [`show`]:
/// `Ok(Some("hello"))`, `Ok(None)`, `Err(InvalidData: …)`.
fn shown(result: &io::Result<Option<Vec<u8>>>) -> String {
    match result {
        Ok(Some(bytes)) => format!("Ok(Some({}))", show(bytes)),
        Ok(None) => "Ok(None)".to_string(),
        Err(e) => format!("Err({:?}: {e})", e.kind()),
    }
}

/// Any other result, with the error's kind and message.
fn kind_of<T: std::fmt::Debug>(result: &io::Result<T>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(e) => format!("Err({:?}: {e})", e.kind()),
    }
}

// ------------------------------------------- earlier exercises, for later tests

/// Checks that `write_frame` works at all, for the tests of later exercises.
fn write_frame_works() -> Result<(), String> {
    let mut out = Vec::new();
    match write_frame(&mut out, b"ping") {
        Ok(()) if out == frame(b"ping") => Ok(()),
        other => Err(format!(
            "write_frame(b\"ping\") into a Vec returned {other:?} and wrote {} instead of {}",
            show(&out),
            show(&frame(b"ping"))
        )),
    }
}

/// Checks that `frame_len` works at all, for the tests of later exercises.
fn frame_len_works() -> Result<(), String> {
    let decoder = Decoder::with_max_frame_len(1000);
    let fits = decoder.frame_len([0, 0, 1, 2]);
    let over = decoder.frame_len([0, 0, 3, 0xe9]);
    match (&fits, &over) {
        (Ok(258), Err(e)) if e.kind() == io::ErrorKind::InvalidData => Ok(()),
        _ => Err(format!(
            "with a limit of 1000, frame_len(00 00 01 02) returned {} (expected Ok(258)) and \
             frame_len(00 00 03 e9) returned {} (expected an InvalidData error)",
            kind_of(&fits),
            kind_of(&over)
        )),
    }
}

/// Checks that `next_frame` works at all, for the tests of later exercises.
fn next_frame_works() -> Result<(), String> {
    let mut decoder = Decoder::new();
    let stream = [frame(b"one"), frame(b"two")].concat();
    decoder.push(&stream[..5]);
    let early = next_frame(&mut decoder);
    decoder.push(&stream[5..]);
    let got: Vec<_> = (0..3).map(|_| next_frame(&mut decoder)).collect();
    let right = matches!(early, Ok(None))
        && matches!(&got[0], Ok(Some(f)) if f == b"one")
        && matches!(&got[1], Ok(Some(f)) if f == b"two")
        && matches!(got[2], Ok(None));
    if right {
        return Ok(());
    }
    Err(format!(
        "pushed {} in two pieces (5 bytes, then the rest): next_frame returned {} after the \
         first, then {}, {} and {} (expected Ok(None), then \"one\", \"two\", and Ok(None))",
        show(&stream),
        shown(&early),
        shown(&got[0]),
        shown(&got[1]),
        shown(&got[2])
    ))
}

/// The tests of 4.5 use write_frame (4.1) and the decoder (4.2 and 4.3).
fn needs_the_framing_exercises() {
    support::needs(EX4_1, write_frame_works);
    support::needs(EX4_2, frame_len_works);
    support::needs(EX4_3, next_frame_works);
}

// ---------------------------------------------------------------- exercise 4.1

#[test]
fn ex4_1_frame_is_a_big_endian_length_then_the_payload() {
    let long = binary_bytes(70_000);
    let cases: [(&[u8], [u8; 4]); 4] = [
        (b"hello", [0, 0, 0, 5]),
        (b"", [0, 0, 0, 0]),
        (&long[..258], [0, 0, 0x01, 0x02]),
        (&long, [0, 0x01, 0x11, 0x70]),
    ];
    for (payload, header) in cases {
        let mut out = Vec::new();
        let result = write_frame(&mut out, payload);
        let mut expected = header.to_vec();
        expected.extend_from_slice(payload);
        assert!(
            result.is_ok() && out == expected,
            "\nwrite_frame of a {}-byte payload {}\nExpected: {} …\nGot:      {} … \
             ({} bytes in all; {}), and {result:?}\n\
             The length comes first, as 4 bytes, most significant first (to_be_bytes).\n\
             Revisit: {EX4_1}\n",
            payload.len(),
            show(&payload[..payload.len().min(16)]),
            show(&expected[..expected.len().min(12)]),
            show(&out[..out.len().min(12)]),
            out.len(),
            first_difference(&expected, &out),
        );
    }
}

#[test]
fn ex4_1_frames_written_in_a_row_follow_each_other() {
    let mut out = Vec::new();
    let results: Vec<_> = [&b"one"[..], b"", b"three"]
        .into_iter()
        .map(|payload| write_frame(&mut out, payload))
        .collect();
    let expected = [frame(b"one"), frame(b""), frame(b"three")].concat();
    assert!(
        out == expected && results.iter().all(Result::is_ok),
        "\nthree write_frame calls into one Vec (\"one\", \"\", \"three\")\nExpected: {}\n\
         Got:      {} (results {results:?})\nRevisit: {EX4_1}\n",
        show(&expected),
        show(&out)
    );
}

/// A writer in memory that records each `write` call, and takes at most
/// `max_write` bytes per call, the way a socket does when its buffer is
/// nearly full. The calls listed in `interrupt` fail with `Interrupted`, as
/// when a signal arrives while a write waits; with `broken` set, every call
/// fails with that error.
struct FakeWriter {
    calls: Vec<Vec<u8>>,
    max_write: usize,
    interrupt: Vec<usize>,
    broken: Option<io::ErrorKind>,
    attempts: usize,
}

impl FakeWriter {
    fn new(max_write: usize) -> FakeWriter {
        FakeWriter {
            calls: Vec::new(),
            max_write,
            interrupt: Vec::new(),
            broken: None,
            attempts: 0,
        }
    }

    fn written(&self) -> Vec<u8> {
        self.calls.concat()
    }
}

impl Write for FakeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.attempts += 1;
        if let Some(kind) = self.broken {
            return Err(kind.into());
        }
        if self.interrupt.contains(&self.attempts) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        // A bound, so that a loop that never stops writing fails instead.
        if self.attempts > 1_000_000 {
            return Err(io::Error::other(
                "the test's writer was called a million times",
            ));
        }
        let n = buf.len().min(self.max_write);
        self.calls.push(buf[..n].to_vec());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn ex4_1_sends_the_header_and_payload_in_one_write() {
    let mut writer = FakeWriter::new(usize::MAX);
    let result = write_frame(&mut writer, b"hello");
    let calls = &writer.calls;
    assert!(
        result.is_ok() && calls.len() == 1 && calls[0] == frame(b"hello"),
        "\nwrite_frame(b\"hello\") to a writer that takes everything it is offered\n\
         Expected: one write call with the whole frame {}\nGot:      {} write calls: {} \
         ({result:?})\nWith two writes (header, then payload), TCP may hold the payload back \
         until the header is acknowledged (Nagle's algorithm, §4.1): build the whole frame \
         first.\nRevisit: {EX4_1}\n",
        show(&frame(b"hello")),
        calls.len(),
        show_frames(calls)
    );
}

#[test]
fn ex4_1_writes_everything_when_each_write_takes_only_a_few_bytes() {
    let payload = binary_bytes(1000);
    let (result, written) = within(
        &format!("write_frame to a writer that takes 3 bytes per call — revisit {EX4_1}"),
        move || {
            let mut writer = FakeWriter::new(3);
            let result = write_frame(&mut writer, &payload);
            (result, writer.written())
        },
    );
    let expected = frame(&binary_bytes(1000));
    assert!(
        result.is_ok() && written == expected,
        "\nwrite_frame of a 1000-byte payload to a writer that takes at most 3 bytes per \
         `write` call (it returns how many it took)\nExpected: all 1004 bytes of the frame\n\
         Got:      {} bytes ({}), and {result:?}\n{}\nRevisit: {EX4_1}\n",
        written.len(),
        first_difference(&expected, &written),
        wrong_bytes_or_missing(&expected, &written),
    );
}

#[test]
fn ex4_1_retries_a_write_interrupted_by_a_signal() {
    let (result, written) = within(
        &format!("write_frame to a writer that is interrupted now and then — revisit {EX4_1}"),
        move || {
            let mut writer = FakeWriter::new(4);
            writer.interrupt = vec![1, 3];
            let result = write_frame(&mut writer, b"interrupted");
            (result, writer.written())
        },
    );
    let expected = frame(b"interrupted");
    let advice = if result.is_err() {
        "An interrupted write is retried, not an error (`write_all` does that)."
    } else {
        wrong_bytes_or_missing(&expected, &written)
    };
    assert!(
        result.is_ok() && written == expected,
        "\nwrite_frame(b\"interrupted\") to a writer that takes 4 bytes per call and whose \
         1st and 3rd calls fail with ErrorKind::Interrupted (a signal arrived)\n\
         Expected: the whole frame {}, and Ok(())\nGot:      {}, and {result:?}\n{advice}\n\
         Revisit: {EX4_1}\n",
        support::hex(&expected),
        support::hex(&written)
    );
}

/// What to look at when a frame came out wrong: its bytes (as many as
/// expected, but others: the byte order?) or its length (some missing: a
/// `write` whose count was ignored?).
fn wrong_bytes_or_missing(expected: &[u8], written: &[u8]) -> &'static str {
    if written.len() == expected.len() {
        "All the bytes are there, but not the right ones: is the length written \
         big-endian (to_be_bytes), most significant byte first?"
    } else if written.len() < expected.len() {
        "`write` may take only part of what you give it: its return value says how much. \
         What does `write_all` do?"
    } else {
        "More bytes than the frame has: is something written twice?"
    }
}

#[test]
fn ex4_1_returns_the_writers_error() {
    let mut writer = FakeWriter::new(usize::MAX);
    writer.broken = Some(io::ErrorKind::BrokenPipe);
    let result = write_frame(&mut writer, b"nobody listens");
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe),
        "\nwrite_frame to a writer whose every write fails with BrokenPipe (the peer has \
         gone)\nExpected: that error, returned\nGot:      {result:?}\nRevisit: {EX4_1}\n"
    );
}

#[test]
fn ex4_1_frames_match_python_struct_pack() {
    let payloads = [
        Vec::new(),
        b"hello".to_vec(),
        (0..=255u8).cycle().take(768).collect(),
        vec![b'\n'; 70000],
    ];
    // Our frames first, so that the test fails on an unfinished exercise
    // even where python3 is missing.
    let ours: Vec<String> = payloads
        .iter()
        .map(|payload| {
            let mut frame = Vec::new();
            let _ = write_frame(&mut frame, payload);
            frame.iter().map(|b| format!("{b:02x}")).collect()
        })
        .collect();
    let Some(python) = support::python3("ex4_1_frames_match_python_struct_pack") else {
        return;
    };
    // Python prints, in hex, struct.pack('!I', len(p)) + p for the same payloads.
    let script = "import struct\n\
        for p in [b'', b'hello', bytes(range(256)) * 3, b'\\n' * 70000]:\n\
        \x20   print((struct.pack('!I', len(p)) + p).hex())\n";
    let finished = support::run(python, &["-c", script], Vec::new());
    let python_frames = String::from_utf8_lossy(&finished.stdout);
    let python_frames: Vec<&str> = python_frames.lines().collect();
    assert!(
        finished.status.is_some_and(|s| s.success()) && python_frames.len() == payloads.len(),
        "python3 failed: {:?}, {}",
        finished.status,
        finished.stderr
    );
    for ((payload, ours), from_python) in payloads.iter().zip(&ours).zip(python_frames) {
        assert!(
            ours == from_python,
            "\na {}-byte payload: Python's struct.pack('!I', len(p)) + p starts {}\n\
             but write_frame wrote something starting {}\nRevisit: {EX4_1}\n",
            payload.len(),
            &from_python[..from_python.len().min(24)],
            &ours[..ours.len().min(24)],
        );
    }
}

// ---------------------------------------------------------------- exercise 4.2

#[test]
fn ex4_2_reads_a_big_endian_length() {
    let decoder = Decoder::with_max_frame_len(1000);
    for (header, expected) in [
        ([0, 0, 0, 0], 0),
        ([0, 0, 0, 5], 5),
        ([0, 0, 1, 2], 258),
        ([0, 0, 3, 0xe8], 1000),
    ] {
        let got = decoder.frame_len(header);
        assert!(
            matches!(got, Ok(n) if n == expected),
            "\nframe_len({}) with a limit of 1000\nExpected: Ok({expected})\nGot:      {}\n\
             The first byte is the most significant (u32::from_be_bytes); a payload of \
             exactly the limit is allowed.\nRevisit: {EX4_2}\n",
            show(&header),
            kind_of(&got)
        );
    }
}

#[test]
fn ex4_2_refuses_a_length_over_the_limit_saying_both_numbers() {
    let decoder = Decoder::with_max_frame_len(1000);
    for (header, declared) in [([0, 0, 3, 0xe9], "1001"), ([0xff; 4], "4294967295")] {
        let got = decoder.frame_len(header);
        let clear = match &got {
            Err(e) => {
                e.kind() == io::ErrorKind::InvalidData
                    && e.to_string().contains(declared)
                    && e.to_string().contains("1000")
            }
            Ok(_) => false,
        };
        assert!(
            clear,
            "\nframe_len({}) with a limit of 1000\nExpected: an InvalidData error whose \
             message says {declared} (the declared length) and 1000 (the limit), in \
             decimal\nGot:      {}\nRevisit: {EX4_2}\n",
            show(&header),
            kind_of(&got)
        );
    }
}

#[test]
fn ex4_2_the_default_limit_is_8_mib() {
    let decoder = Decoder::new();
    assert_eq!(DEFAULT_MAX_FRAME_LEN, 8 * 1024 * 1024);
    let at = decoder.frame_len([0, 0x80, 0, 0]);
    let over = decoder.frame_len([0, 0x80, 0, 1]);
    assert!(
        matches!(at, Ok(0x80_0000))
            && matches!(&over, Err(e) if e.kind() == io::ErrorKind::InvalidData),
        "\nDecoder::new() accepts payloads up to 8 MiB\nExpected: Ok(8388608) for 00 80 00 00, \
         and an InvalidData error for 00 80 00 01\nGot:      {} and {}\n\
         Compare with the decoder's own limit, `self.max_frame_len`.\nRevisit: {EX4_2}\n",
        kind_of(&at),
        kind_of(&over)
    );
}

/// Headers near a limit, and anywhere at all.
fn header_and_limit() -> impl Strategy<Value = ([u8; 4], usize)> {
    let near = (any::<u32>(), -2i64..=2).prop_map(|(n, delta)| {
        let limit = (i64::from(n) + delta).max(0) as usize;
        (n.to_be_bytes(), limit)
    });
    let limit = prop_oneof![any::<u32>().prop_map(|n| n as usize), Just(usize::MAX)];
    let anywhere = (any::<[u8; 4]>(), limit);
    prop_oneof![near, anywhere]
}

#[test]
fn ex4_2_any_header_is_judged_by_the_limit() {
    // One plain call first, so that an unfinished exercise fails here once
    // rather than in every case proptest tries.
    let _ = Decoder::new().frame_len([0; 4]);
    support::property(EX4_2, || {
        proptest!(proptest_config(), |((header, limit) in header_and_limit())| {
            let declared = u32::from_be_bytes(header) as usize;
            let got = Decoder::with_max_frame_len(limit).frame_len(header);
            let right = match &got {
                Ok(n) => declared <= limit && *n == declared,
                Err(e) => declared > limit && e.kind() == io::ErrorKind::InvalidData,
            };
            prop_assert!(
                right,
                "\nframe_len({}) with a limit of {limit}: the header declares {declared} bytes\n\
                 Expected: {}\nGot:      {}\nRevisit: {EX4_2}\n",
                show(&header),
                if declared <= limit {
                    format!("Ok({declared})")
                } else {
                    "an InvalidData error".to_string()
                },
                kind_of(&got)
            );
        });
    });
}

// ---------------------------------------------------------------- exercise 4.3

fn next_frame(decoder: &mut Decoder) -> io::Result<Option<Vec<u8>>> {
    decoder.next_frame().map(|f| f.map(<[u8]>::to_vec))
}

/// Pushes each chunk into `decoder` and takes out every complete frame after
/// each push, as a server does after each read.
///
/// Bounded: every frame takes at least [`HEADER_LEN`] bytes of the stream, so
/// a decoder that hands out more frames than that is handing out the same
/// bytes again (it does not move `start` past them), and would never stop.
fn decode_chunks(decoder: &mut Decoder, chunks: &[&[u8]]) -> io::Result<Vec<Vec<u8>>> {
    let mut frames = Vec::new();
    let mut pushed = 0;
    for chunk in chunks {
        decoder.push(chunk);
        pushed += chunk.len();
        while let Some(frame) = decoder.next_frame()? {
            frames.push(frame.to_vec());
            if frames.len() > pushed / HEADER_LEN {
                return Err(runaway(frames.len(), pushed, "frames", "start"));
            }
        }
    }
    Ok(frames)
}

/// The error of a decoder that hands out the same bytes again and again.
fn runaway(items: usize, pushed: usize, what: &str, field: &str) -> io::Error {
    io::Error::other(format!(
        "RUNAWAY: it handed out {items} {what} from only {pushed} bytes pushed, more than \
         the bytes can hold (the test stopped asking). Does every call move `self.{field}` \
         past what it returns?"
    ))
}

#[test]
fn ex4_3_decodes_a_whole_frame() {
    support::needs(EX4_2, frame_len_works);
    let mut decoder = Decoder::new();
    decoder.push(&frame(b"hello"));
    let first = next_frame(&mut decoder);
    let second = next_frame(&mut decoder);
    assert!(
        matches!(&first, Ok(Some(f)) if f == b"hello")
            && matches!(second, Ok(None))
            && decoder.buffered() == 0,
        "\nPushed:   {}\nExpected: Ok(Some(\"hello\")), then Ok(None), and nothing left unread\n\
         Got:      {}, then {}, and {} bytes left unread\nRevisit: {EX4_3}\n",
        show(&frame(b"hello")),
        shown(&first),
        shown(&second),
        decoder.buffered()
    );
}

#[test]
fn ex4_3_waits_for_a_split_header() {
    support::needs(EX4_2, frame_len_works);
    let bytes = frame(b"split header");
    let mut decoder = Decoder::new();
    decoder.push(&bytes[..2]);
    let early = next_frame(&mut decoder);
    assert!(
        matches!(early, Ok(None)),
        "\nPushed:   {} (the first 2 of the 4 header bytes)\nExpected: Ok(None): wait for \
         more\nGot:      {}\nRevisit: {EX4_3}\n",
        show(&bytes[..2]),
        shown(&early)
    );
    decoder.push(&bytes[2..]);
    let got = next_frame(&mut decoder);
    assert!(
        matches!(&got, Ok(Some(f)) if f == b"split header"),
        "\nPushed the header in two pieces: {}, then {}\nExpected: Ok(Some(\"split header\")) \
         after the second\nGot:      {}\nRevisit: {EX4_3}\n",
        show(&bytes[..2]),
        show(&bytes[2..]),
        shown(&got)
    );
}

#[test]
fn ex4_3_waits_for_a_split_payload() {
    support::needs(EX4_2, frame_len_works);
    let payload = binary_bytes(1000);
    let bytes = frame(&payload);
    let mut decoder = Decoder::new();
    let mut got = Vec::new();
    for (i, piece) in bytes.chunks(300).enumerate() {
        decoder.push(piece);
        match next_frame(&mut decoder) {
            Ok(Some(frame)) => got.push((i, frame)),
            Ok(None) => {}
            Err(e) => {
                panic!(
                    "\na valid 1004-byte frame pushed in pieces of 300 bytes: next_frame \
                     failed after piece #{i}: {e}\nRevisit: {EX4_3}\n"
                )
            }
        }
    }
    let last = bytes.chunks(300).count() - 1;
    assert!(
        got.len() == 1 && got[0].0 == last && got[0].1 == payload,
        "\nPushed a 1004-byte frame in pieces of 300 bytes, calling next_frame after each\n\
         Expected: Ok(None) until the last piece (#{last}), then the 1000-byte payload\n\
         Got:      {} frame(s): {:?}\nRevisit: {EX4_3}\n",
        got.len(),
        got.iter()
            .map(|(i, f)| format!("{} after piece #{i}", show(f)))
            .collect::<Vec<_>>()
    );
}

#[test]
fn ex4_3_takes_out_several_frames_from_one_push_and_keeps_the_rest() {
    support::needs(EX4_2, frame_len_works);
    let fourth = frame(b"four");
    let bytes = [
        frame(b"one"),
        frame(b"two"),
        frame(b""),
        fourth[..5].to_vec(),
    ]
    .concat();
    let mut decoder = Decoder::new();
    let result = decode_chunks(&mut decoder, &[&bytes]);
    let expected = [&b"one"[..], b"two", b""].map(<[u8]>::to_vec);
    assert!(
        matches!(&result, Ok(frames) if *frames == expected) && decoder.buffered() == 5,
        "\nPushed:   {} in one piece: 3 frames (\"one\", \"two\", \"\") and the first 5 bytes \
         of a 4th\nExpected: the 3 frames, one per call, then Ok(None), with the 5 bytes kept\n\
         Got:      {}, with {} bytes kept\nRevisit: {EX4_3}\n",
        show(&bytes),
        match &result {
            Ok(frames) => show_frames(frames),
            Err(e) => format!("Err({:?}: {e})", e.kind()),
        },
        decoder.buffered()
    );
    decoder.push(&fourth[5..]);
    let last = next_frame(&mut decoder);
    assert!(
        matches!(&last, Ok(Some(f)) if f == b"four"),
        "\nThen pushed the rest of the 4th frame, {}\nExpected: Ok(Some(\"four\"))\n\
         Got:      {}\nRevisit: {EX4_3}\n",
        show(&fourth[5..]),
        shown(&last)
    );
}

#[test]
fn ex4_3_an_empty_payload_is_a_frame() {
    support::needs(EX4_2, frame_len_works);
    let mut decoder = Decoder::new();
    decoder.push(&[0, 0, 0, 0]);
    let got = next_frame(&mut decoder);
    let then = next_frame(&mut decoder);
    assert!(
        matches!(&got, Ok(Some(f)) if f.is_empty()) && matches!(then, Ok(None)),
        "\nPushed:   the header 00 00 00 00 alone\nExpected: Ok(Some(\"\")), an empty frame, \
         then Ok(None)\nGot:      {}, then {}\nRevisit: {EX4_3}\n",
        shown(&got),
        shown(&then)
    );
}

#[test]
fn ex4_3_enforces_the_limit_at_the_header() {
    support::needs(EX4_2, frame_len_works);
    let mut decoder = Decoder::with_max_frame_len(16);
    decoder.push(&frame(&[7; 16]));
    let at = next_frame(&mut decoder);
    let mut decoder = Decoder::with_max_frame_len(16);
    // Only the header of the 17-byte frame: the error must not wait for the payload.
    decoder.push(&17u32.to_be_bytes());
    let over = next_frame(&mut decoder);
    assert!(
        matches!(&at, Ok(Some(f)) if f.len() == 16)
            && matches!(&over, Err(e) if e.kind() == io::ErrorKind::InvalidData),
        "\nWith a limit of 16 bytes: a whole 16-byte frame should decode (got {}), and the \
         bare header of a 17-byte frame, 00 00 00 11, should already be an InvalidData error \
         (got {}).\nDoes next_frame call self.frame_len(header) as soon as it has the header?\n\
         Revisit: {EX4_3}\n",
        shown(&at),
        shown(&over)
    );
}

#[test]
fn ex4_3_a_hostile_header_is_refused_before_anything_is_allocated() {
    support::needs(EX4_2, frame_len_works);
    let mut decoder = Decoder::new();
    decoder.push(&[0xff, 0xff, 0xff, 0xff]);
    let got = next_frame(&mut decoder);
    assert!(
        matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidData),
        "\nPushed:   the header ff ff ff ff (a 4 GiB payload, over the 8 MiB limit)\n\
         Expected: an InvalidData error at once — not Ok(None), which waits for 4 GiB to \
         arrive\nGot:      {}\nRevisit: {EX4_3}\n",
        shown(&got)
    );
    assert!(
        decoder.capacity() < 1024,
        "\nAfter refusing a 4 GiB header the decoder has {} bytes allocated: check the length \
         before reserving room for the payload.\nRevisit: {EX4_3}\n",
        decoder.capacity()
    );
}

#[test]
fn ex4_3_decodes_many_frames_in_linear_time() {
    support::needs(EX4_2, frame_len_works);
    // 8 MB of 8-byte frames in one push. Removing each frame from the front of
    // the Vec (drain, remove, to_vec of the rest) moves the whole remainder
    // once per frame: about 4 TB of copying here, which never finishes.
    let frames = 1 << 20;
    let mut bytes = Vec::with_capacity(frames * 8);
    for i in 0..frames as u32 {
        bytes.extend_from_slice(&[0, 0, 0, 4]);
        bytes.extend_from_slice(&i.to_be_bytes());
    }
    let decoded = within(
        &format!(
            "decoding {frames} 4-byte frames pushed at once (8 MB), which should take \
             milliseconds. Do you remove each frame from the front of the buffer? That moves \
             everything behind it; move `start` instead. Revisit {EX4_3}"
        ),
        move || {
            let mut decoder = Decoder::new();
            decode_chunks(&mut decoder, &[&bytes]).map(|f| (f.len(), f.last().cloned()))
        },
    );
    let last = (frames as u32 - 1).to_be_bytes().to_vec();
    assert!(
        matches!(&decoded, Ok((n, Some(l))) if *n == frames && *l == last),
        "\nPushed {frames} frames of 4 bytes each at once\nExpected: all of them, the last \
         one {}\nGot:      {}\nRevisit: {EX4_3}\n",
        show(&last),
        match &decoded {
            Ok((n, l)) => format!("{n} frames, the last {:?}", l.as_deref().map(show)),
            Err(e) => format!("Err({:?}: {e})", e.kind()),
        }
    );
}

/// Any sequence of frames, cut at any points, decodes to the same frames.
#[test]
fn ex4_3_any_split_decodes_the_same() {
    support::needs(EX4_2, frame_len_works);
    support::property(EX4_3, || {
        proptest!(proptest_config(), |(
            payloads in vec(vec(any::<u8>(), 0..48), 0..8),
            cuts in vec(any::<prop::sample::Index>(), 0..12),
        )| {
            let stream: Vec<u8> = payloads.iter().flat_map(|p| frame(p)).collect();
            let chunks = split_at_points(&stream, &cuts);
            let mut decoder = Decoder::new();
            let decoded = decode_chunks(&mut decoder, &chunks);
            let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
            prop_assert!(
                decoded.as_ref().is_ok_and(|d| *d == payloads) && decoder.buffered() == 0,
                "\nframes {} sent as one stream, pushed in pieces of {sizes:?} bytes\n\
                 decoded: {} (and {} bytes left unread)\nRevisit: {EX4_3}\n",
                show_frames(&payloads),
                match &decoded {
                    Ok(frames) => show_frames(frames),
                    Err(e) => format!("Err({:?}: {e})", e.kind()),
                },
                decoder.buffered(),
            );
        });
    });
}

/// Chunks of a hostile stream: honest-looking frames, lying headers, garbage.
fn hostile_chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let header = (0u32..2100).prop_map(|n| n.to_be_bytes().to_vec());
    let garbage = vec(any::<u8>(), 0..64);
    let frame = vec(any::<u8>(), 0..1100).prop_map(|p| frame(&p));
    vec(prop_oneof![header, garbage, frame], 0..24)
}

const FUZZ_LIMIT: usize = 1024;

/// Whatever a peer sends, the decoder neither panics, nor hands out a frame
/// over the limit, nor allocates much more than one frame of the maximum
/// size (plus the last push).
#[test]
fn ex4_3_arbitrary_bytes_never_panic_or_overallocate() {
    support::needs(EX4_2, frame_len_works);
    support::property(EX4_3, || {
        proptest!(proptest_config(), |(chunks in hostile_chunks())| {
            let mut decoder = Decoder::with_max_frame_len(FUZZ_LIMIT);
            let largest_push = chunks.iter().map(Vec::len).max().unwrap_or(0);
            // Room for one maximal frame and one push, twice over for Vec's growth.
            let bound = 2 * (HEADER_LEN + FUZZ_LIMIT + largest_push) + 64;
            let (mut pushed, mut frames) = (0, 0);
            'stream: for chunk in &chunks {
                decoder.push(chunk);
                pushed += chunk.len();
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => prop_assert!(
                            frame.len() <= FUZZ_LIMIT,
                            "\na frame of {} bytes came out of a decoder limited to {FUZZ_LIMIT}.\n\
                             Revisit: {EX4_3}\n", frame.len()
                        ),
                        Ok(None) => break,
                        // A server closes the connection here; so do we.
                        Err(_) => break 'stream,
                    }
                    frames += 1;
                    prop_assert!(
                        frames <= pushed / HEADER_LEN,
                        "\n{}\nRevisit: {EX4_3}\n", runaway(frames, pushed, "frames", "start")
                    );
                    prop_assert!(
                        decoder.capacity() <= bound,
                        "\nthe decoder (limit {FUZZ_LIMIT} bytes) has {} bytes allocated after \
                         pushes of at most {largest_push} bytes; it should need at most {bound}.\n\
                         Revisit: {EX4_3}\n", decoder.capacity()
                    );
                }
            }
        });
    });
}

/// A framed echo server written in the test, so that the client mode can be
/// checked without exercise 4.5.
fn reference_framed_echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || -> io::Result<()> {
                let (mut reader, mut writer) = (&stream, &stream);
                loop {
                    let mut header = [0u8; 4];
                    reader.read_exact(&mut header)?;
                    let len = u32::from_be_bytes(header).min(1 << 20) as usize;
                    let mut payload = vec![0u8; len];
                    reader.read_exact(&mut payload)?;
                    writer.write_all(&[&header[..], &payload].concat())?;
                }
            });
        }
    });
    addr
}

#[test]
fn ex4_3_client_mode_prints_each_reply_frame() {
    // The client mode (given) sends with write_frame and reads with the decoder.
    support::needs(EX4_1, write_frame_works);
    support::needs(EX4_2, frame_len_works);
    let addr = reference_framed_echo_server();
    let finished = support::run(
        BIN,
        &["client", &addr.to_string()],
        b"hello\n\nframes!\n".to_vec(),
    );
    assert!(
        finished.status.is_some_and(|s| s.success()) && finished.stdout == b"hello\n\nframes!\n",
        "\n`lesson04 client` with the lines \"hello\", \"\" and \"frames!\" on stdin, against a \
         framed echo server, should print the same three lines.\nIt ended with {:?} and printed \
         {}.\nIts stderr: {}\nRevisit: {EX4_3}\n",
        finished.status,
        show(&finished.stdout),
        finished.stderr
    );
}

// ---------------------------------------------------------------- exercise 4.4

fn next_line(decoder: &mut LineDecoder) -> io::Result<Option<Vec<u8>>> {
    decoder.next_line().map(|l| l.map(<[u8]>::to_vec))
}

/// Takes every complete line out of `decoder`. Bounded like
/// [`decode_chunks`]: every line takes at least one byte, its `\n`.
fn take_lines(decoder: &mut LineDecoder, pushed: usize) -> io::Result<Vec<Vec<u8>>> {
    let mut lines = Vec::new();
    while let Some(line) = decoder.next_line()? {
        lines.push(line.to_vec());
        if lines.len() > pushed {
            return Err(runaway(lines.len(), pushed, "lines", "start"));
        }
    }
    Ok(lines)
}

fn show_lines(lines: &io::Result<Vec<Vec<u8>>>) -> String {
    match lines {
        Ok(lines) => show_frames(lines),
        Err(e) => format!("Err({:?}: {e})", e.kind()),
    }
}

#[test]
fn ex4_4_splits_lines_and_keeps_the_rest() {
    let mut decoder = LineDecoder::new();
    let pushed = b"one\ntwo\n\nthr";
    decoder.push(pushed);
    let got = take_lines(&mut decoder, pushed.len());
    let expected = [&b"one"[..], b"two", b""].map(<[u8]>::to_vec);
    assert!(
        matches!(&got, Ok(lines) if *lines == expected) && decoder.buffered() == 3,
        "\nPushed:   {}\nExpected: the lines \"one\", \"two\", \"\" (without their \\n), then \
         Ok(None), with the 3 bytes \"thr\" kept\nGot:      {}, with {} bytes kept\n\
         Revisit: {EX4_4}\n",
        show(pushed),
        show_lines(&got),
        decoder.buffered()
    );
    decoder.push(b"ee\r\n");
    let last = next_line(&mut decoder);
    assert!(
        matches!(&last, Ok(Some(l)) if l == b"three\r"),
        "\nThen pushed {}\nExpected: Ok(Some(\"three\\r\")): a \\r before the \\n stays part \
         of the line\nGot:      {}\nRevisit: {EX4_4}\n",
        show(b"ee\r\n"),
        shown(&last)
    );
}

#[test]
fn ex4_4_a_long_line_is_refused_before_its_newline_arrives() {
    let mut decoder = LineDecoder::with_max_line_len(8);
    decoder.push(b"12345678");
    let at_limit = next_line(&mut decoder);
    decoder.push(b"9");
    let over = next_line(&mut decoder);
    let says_limit = |r: &io::Result<Option<Vec<u8>>>| matches!(r, Err(e) if e.kind() == io::ErrorKind::InvalidData && e.to_string().contains('8'));
    assert!(
        matches!(at_limit, Ok(None)) && says_limit(&over),
        "\nWith a limit of 8 bytes: pushed \"12345678\" (no \\n yet), then \"9\"\n\
         Expected: Ok(None) after the first (8 bytes may still become a line), then an \
         InvalidData error whose message gives the limit, 8, right away — a peer that never \
         sends \\n must not fill our memory\nGot:      {}, then {}\nRevisit: {EX4_4}\n",
        shown(&at_limit),
        shown(&over)
    );

    let mut decoder = LineDecoder::with_max_line_len(8);
    decoder.push(b"12345678\n123456789\n");
    let fits = next_line(&mut decoder);
    let too_long = next_line(&mut decoder);
    assert!(
        matches!(&fits, Ok(Some(l)) if l == b"12345678") && says_limit(&too_long),
        "\nWith a limit of 8 bytes: pushed \"12345678\\n123456789\\n\"\nExpected: \
         Ok(Some(\"12345678\")), then an InvalidData error that gives the limit\n\
         Got:      {}, then {}\nRevisit: {EX4_4}\n",
        shown(&fits),
        shown(&too_long)
    );
}

#[test]
fn ex4_4_searches_each_byte_once() {
    // A 1 MiB line arriving one byte at a time: searching the whole partial
    // line again after every byte compares about 550 billion bytes.
    let len = 1 << 20;
    let result = within(
        &format!(
            "decoding a {len}-byte line pushed one byte at a time, which should take \
             milliseconds. Do you search the whole line again after every push? Start where \
             the last search stopped: `self.searched`. Revisit {EX4_4}"
        ),
        move || -> io::Result<usize> {
            let mut decoder = LineDecoder::with_max_line_len(2 << 20);
            for _ in 0..len {
                decoder.push(b"x");
                if let Some(line) = decoder.next_line()? {
                    return Err(io::Error::other(format!(
                        "a line of {} bytes came out before its \\n arrived",
                        line.len()
                    )));
                }
            }
            decoder.push(b"\n");
            Ok(decoder.next_line()?.map_or(0, <[u8]>::len))
        },
    );
    assert!(
        matches!(result, Ok(n) if n == len),
        "\nPushed a {len}-byte line one byte at a time, then its \\n\nExpected: one line of \
         {len} bytes, after the \\n\nGot:      {}\nRevisit: {EX4_4}\n",
        kind_of(&result)
    );
}

#[test]
fn ex4_4_binary_data_needs_escaping() {
    // The sender means one message: the bytes 00 0a 01. Line framing sees two.
    let message = [0x00, b'\n', 0x01];
    let mut decoder = LineDecoder::new();
    decoder.push(&[&message[..], b"\n"].concat());
    let first = next_line(&mut decoder);
    assert!(
        matches!(&first, Ok(Some(l)) if l == &[0x00]),
        "\nPushed:   {} (the message 00 0a 01, then \\n)\nExpected: Ok(Some([00])): the 0a \
         inside the message ends a line too\nGot:      {}\nRevisit: {EX4_4}\n",
        show(&[&message[..], b"\n"].concat()),
        shown(&first)
    );

    // Escaped, the same message has no newline byte left and survives.
    let escaped = [escape(&message), b"\n".to_vec()].concat();
    let mut decoder = LineDecoder::new();
    decoder.push(&escaped);
    let line = next_line(&mut decoder);
    let restored = match &line {
        Ok(Some(l)) => unescape(l).ok(),
        _ => None,
    };
    assert!(
        restored.as_deref() == Some(&message[..]),
        "\nPushed:   {} (escape(00 0a 01), then \\n)\nExpected: one line that unescapes to \
         00 0a 01\nGot:      {}\nRevisit: {EX4_4}\n",
        show(&escaped),
        shown(&line)
    );
}

/// Any lines, cut at any points, decode to the same lines.
#[test]
fn ex4_4_any_split_decodes_the_same() {
    // One plain call first: an unfinished exercise fails here, once.
    let _ = LineDecoder::new().next_line();
    support::property(EX4_4, || {
        proptest!(proptest_config(), |(
            lines in vec(vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40), 0..8),
            cuts in vec(any::<prop::sample::Index>(), 0..12),
        )| {
            let stream: Vec<u8> = lines.iter().flat_map(|l| [&l[..], b"\n"].concat()).collect();
            let chunks = split_at_points(&stream, &cuts);
            let mut decoder = LineDecoder::new();
            let mut decoded = Ok(Vec::new());
            let mut pushed = 0;
            for chunk in &chunks {
                decoder.push(chunk);
                pushed += chunk.len();
                decoded = take_lines(&mut decoder, pushed).map(|more| {
                    let mut all = decoded.unwrap_or_default();
                    all.extend(more);
                    all
                });
                if decoded.is_err() {
                    break;
                }
            }
            let sizes: Vec<usize> = chunks.iter().map(|c| c.len()).collect();
            prop_assert!(
                matches!(&decoded, Ok(d) if *d == lines),
                "\nlines {} pushed in pieces of {sizes:?} bytes\ndecoded: {}\nRevisit: {EX4_4}\n",
                show_frames(&lines),
                show_lines(&decoded),
            );
        });
    });
}

/// Whatever a peer sends, the line decoder never hands out a line over its
/// limit, and never holds much more than one line and the last push.
#[test]
fn ex4_4_arbitrary_bytes_never_overallocate() {
    let _ = LineDecoder::new().next_line();
    support::property(EX4_4, || {
        proptest!(proptest_config(), |(
            chunks in vec(vec(prop_oneof![9 => any::<u8>(), 1 => Just(b'\n')], 0..200), 0..24),
        )| {
            let limit = 64;
            let mut decoder = LineDecoder::with_max_line_len(limit);
            let largest_push = chunks.iter().map(Vec::len).max().unwrap_or(0);
            let bound = 2 * (limit + 1 + largest_push) + 64;
            let mut pushed = 0;
            for chunk in &chunks {
                decoder.push(chunk);
                pushed += chunk.len();
                let lines = take_lines(&mut decoder, pushed);
                prop_assert!(
                    !matches!(&lines, Err(e) if e.to_string().starts_with("RUNAWAY")),
                    "\n{}\nRevisit: {EX4_4}\n", show_lines(&lines)
                );
                if let Ok(lines) = &lines {
                    let longest = lines.iter().map(Vec::len).max().unwrap_or(0);
                    prop_assert!(
                        longest <= limit,
                        "\na line of {longest} bytes came out of a decoder limited to {limit}.\n\
                         Revisit: {EX4_4}\n"
                    );
                }
                prop_assert!(
                    decoder.capacity() <= bound,
                    "\nthe line decoder (limit {limit} bytes) has {} bytes allocated after pushes \
                     of at most {largest_push} bytes; it should need at most {bound}. A line over \
                     the limit is an error as soon as you can tell, before its \\n.\n\
                     Revisit: {EX4_4}\n",
                    decoder.capacity()
                );
                if lines.is_err() {
                    // A server closes the connection here; so do we.
                    break;
                }
            }
        });
    });
}

// ------------------------------------------------- exercise 4.5, in memory

/// What a client in memory and your `echo_frames` did: what the client
/// received (flushed to it), and, for each read, how much it had received
/// when that read began.
#[derive(Default)]
struct Exchange {
    received: Vec<u8>,
    /// Written but not yet flushed (only for a buffered writer).
    pending: Vec<u8>,
    received_at_read: Vec<usize>,
}

/// The reading side of a client in memory: hands out `input` one item at a
/// time (a chunk of bytes, or an error), then end of stream.
struct FakeReader {
    input: VecDeque<io::Result<Vec<u8>>>,
    exchange: Arc<Mutex<Exchange>>,
    reads_at_end: usize,
}

impl Read for FakeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut exchange = self.exchange.lock().unwrap();
        let received = exchange.received.len();
        exchange.received_at_read.push(received);
        match self.input.pop_front() {
            None => {
                self.reads_at_end += 1;
                if self.reads_at_end > 1000 {
                    // A bound, so that a loop that ignores Ok(0) fails instead.
                    return Err(io::Error::other(
                        "echo_frames read on after end of stream (Ok(0)) a thousand times",
                    ));
                }
                Ok(0)
            }
            Some(Err(e)) => Err(e),
            Some(Ok(mut chunk)) => {
                let n = chunk.len().min(buf.len());
                buf[..n].copy_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.input.push_front(Ok(chunk.split_off(n)));
                }
                Ok(n)
            }
        }
    }
}

/// The writing side: takes at most `max_write` bytes per call; keeps them
/// until `flush` if `buffered`; fails every write with `broken` if set.
struct FakeClientWriter {
    exchange: Arc<Mutex<Exchange>>,
    max_write: usize,
    buffered: bool,
    broken: Option<io::ErrorKind>,
}

/// More than any test sends back: a bound, so that a runaway loop fails.
const WRITER_ROOM: usize = 64 << 20;

impl Write for FakeClientWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(kind) = self.broken {
            return Err(kind.into());
        }
        let mut exchange = self.exchange.lock().unwrap();
        if exchange.received.len() + exchange.pending.len() > WRITER_ROOM {
            return Err(io::Error::other(
                "echo_frames wrote more than 64 MiB, far more than the test sent",
            ));
        }
        let n = buf.len().min(self.max_write);
        if self.buffered {
            exchange.pending.extend_from_slice(&buf[..n]);
        } else {
            exchange.received.extend_from_slice(&buf[..n]);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        let mut exchange = self.exchange.lock().unwrap();
        let pending = std::mem::take(&mut exchange.pending);
        exchange.received.extend_from_slice(&pending);
        Ok(())
    }
}

/// How the client in memory takes the echoes.
#[derive(Clone, Copy)]
struct Takes {
    max_write: usize,
    buffered: bool,
    broken: Option<io::ErrorKind>,
}

const TAKES_ALL: Takes = Takes {
    max_write: usize::MAX,
    buffered: false,
    broken: None,
};

/// Runs your `echo_frames` against a client in memory, within the deadline.
fn echo_in_memory(
    input: Vec<io::Result<Vec<u8>>>,
    takes: Takes,
    max_frame_len: usize,
) -> (io::Result<u64>, Exchange) {
    needs_the_framing_exercises();
    let exchange = Arc::new(Mutex::new(Exchange::default()));
    let reader = FakeReader {
        input: input.into(),
        exchange: Arc::clone(&exchange),
        reads_at_end: 0,
    };
    let writer = FakeClientWriter {
        exchange: Arc::clone(&exchange),
        max_write: takes.max_write,
        buffered: takes.buffered,
        broken: takes.broken,
    };
    let result = within(
        &format!(
            "echo_frames with a client in memory (does it stop when a read returns Ok(0)?) \
             — revisit {EX4_5}"
        ),
        move || echo_frames(reader, writer, max_frame_len),
    );
    let exchange = std::mem::take(&mut *exchange.lock().unwrap());
    (result, exchange)
}

fn chunks(pieces: &[&[u8]]) -> Vec<io::Result<Vec<u8>>> {
    pieces.iter().map(|p| Ok(p.to_vec())).collect()
}

/// How many whole frames `bytes` begins with.
fn whole_frames(bytes: &[u8]) -> usize {
    let (mut at, mut count) = (0, 0);
    while let Some(header) = bytes.get(at..at + HEADER_LEN) {
        let len = u32::from_be_bytes(header.try_into().unwrap()) as usize;
        if bytes.len() < at + HEADER_LEN + len {
            break;
        }
        at += HEADER_LEN + len;
        count += 1;
    }
    count
}

#[test]
fn ex4_5_echoes_every_frame_of_a_read_before_reading_again() {
    let three = [frame(b"one"), frame(b"two"), frame(b"three")].concat();
    let fourth = frame(b"four");
    let (result, exchange) = echo_in_memory(chunks(&[&three, &fourth]), TAKES_ALL, 1024);
    let before_second_read = exchange.received_at_read.get(1).copied().unwrap_or(0);
    let echoed_then =
        whole_frames(&exchange.received[..before_second_read.min(exchange.received.len())]);
    let hint = match echoed_then {
        0 => "\nNothing was echoed before the second read. Echo each frame as soon as it is \
              complete: a client may wait for an echo before it sends more."
            .to_string(),
        1 | 2 => format!(
            "\nBefore reading again, it had echoed {echoed_then} of the 3 frames of the first \
             read. One read can bring several frames: take them out until next_frame returns \
             None — a `while let` loop; `if let` takes out one per read."
        ),
        _ => String::new(),
    };
    let expected = [&three[..], &fourth].concat();
    assert!(
        before_second_read == three.len()
            && exchange.received == expected
            && matches!(result, Ok(4)),
        "\nA client sent 3 frames in one read (\"one\", \"two\", \"three\"), then a 4th \
         (\"four\") in the next, then end of stream.\nExpected: the 3 frames echoed before \
         the second read, all 4 in the end, and Ok(4)\nGot:      {} bytes echoed before the \
         second read; {} in the end ({}); and {}{hint}\nRevisit: {EX4_5}\n",
        before_second_read,
        exchange.received.len(),
        first_difference(&expected, &exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_a_frame_split_over_reads_is_echoed_once_complete() {
    let first = frame(b"split over reads");
    let second = frame(b"next");
    let pieces: [&[u8]; 4] = [
        &first[..2],
        &first[2..7],
        &[&first[7..], &second[..1]].concat(),
        &second[1..],
    ];
    let (result, exchange) = echo_in_memory(chunks(&pieces), TAKES_ALL, 1024);
    let seen = &exchange.received_at_read;
    // Reads 1 to 3 bring pieces 1 to 3; the first frame is complete after
    // the third, so the 4th read must find it echoed, and nothing before.
    let timely = seen.len() >= 4 && seen[..3] == [0, 0, 0] && seen[3] == first.len();
    let expected = [&first[..], &second].concat();
    assert!(
        timely && exchange.received == expected && matches!(result, Ok(2)),
        "\nA client sent the frame \"split over reads\" in three reads (2 bytes, 5 bytes, the \
         rest with the first byte of the next frame), then the rest of that next frame \
         (\"next\").\nExpected: nothing echoed before the first frame is complete, that frame \
         echoed before the 4th read, both in the end, and Ok(2)\nGot:      bytes echoed when \
         each read began: {seen:?}; in the end {} ({}); and {}\nOne decoder for the whole \
         connection keeps the start of a frame until the rest arrives.\nRevisit: {EX4_5}\n",
        show(&exchange.received),
        first_difference(&expected, &exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_the_end_of_the_stream_mid_frame_is_an_unexpected_eof() {
    let whole = frame(b"whole");
    let unfinished = frame(b"never finished");
    // Cut in the payload, and in the header.
    for cut in [9, 2] {
        let (result, exchange) =
            echo_in_memory(chunks(&[&whole, &unfinished[..cut]]), TAKES_ALL, 1024);
        assert!(
            matches!(&result, Err(e) if e.kind() == io::ErrorKind::UnexpectedEof
                && e.to_string().contains(&cut.to_string()))
                && exchange.received == whole,
            "\nA client sent the frame \"whole\", then {cut} of the 18 bytes of another, then \
             end of stream.\nExpected: \"whole\" echoed, nothing of the unfinished frame, and \
             an UnexpectedEof error that says {cut} bytes of the frame arrived\n\
             Got:      {} echoed, and {}\nRevisit: {EX4_5}\n",
            show(&exchange.received),
            kind_of(&result)
        );
    }
}

#[test]
fn ex4_5_a_frame_over_the_limit_ends_it_at_the_header() {
    let fits = frame(&[b'a'; 16]);
    let over = &frame(&[b'b'; 17])[..7];
    let (result, exchange) = echo_in_memory(chunks(&[&[&fits[..], over].concat()]), TAKES_ALL, 16);
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::InvalidData)
            && exchange.received == fits,
        "\nWith max_frame_len 16, a client sent a 16-byte frame, then the header of a 17-byte \
         one and 3 of its bytes.\nExpected: the first frame echoed, then the decoder's \
         InvalidData error, returned\nGot:      {} echoed, and {}\nUse a decoder with the \
         limit you were given, and return its error (`?`).\nRevisit: {EX4_5}\n",
        show(&exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_retries_an_interrupted_read() {
    let input = vec![
        Ok(frame(b"before")),
        Err(io::ErrorKind::Interrupted.into()),
        Ok(frame(b"after")),
    ];
    let (result, exchange) = echo_in_memory(input, TAKES_ALL, 1024);
    let expected = [frame(b"before"), frame(b"after")].concat();
    assert!(
        exchange.received == expected && matches!(result, Ok(2)),
        "\nA client sent the frame \"before\", then a read failed with ErrorKind::Interrupted \
         (a signal arrived while it waited), then the frame \"after\".\nExpected: both frames \
         echoed, and Ok(2)\nGot:      {} echoed, and {}\nAn interrupted read is retried, not \
         an error.\nRevisit: {EX4_5}\n",
        show(&exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_a_failed_read_ends_it_with_that_error() {
    for kind in [io::ErrorKind::ConnectionReset, io::ErrorKind::WouldBlock] {
        let input = vec![Ok(frame(b"hello")), Err(kind.into()), Ok(frame(b"ghost"))];
        let (result, exchange) = echo_in_memory(input, TAKES_ALL, 1024);
        assert!(
            matches!(&result, Err(e) if e.kind() == kind) && exchange.received == frame(b"hello"),
            "\nA client sent the frame \"hello\", then a read failed with {kind:?}{}.\n\
             Expected: \"hello\" echoed, then echo_frames returning that error\n\
             Got:      {} echoed, and {}\nRevisit: {EX4_5}\n",
            if kind == io::ErrorKind::WouldBlock {
                " (the idle timeout expired, as Unix reports it)"
            } else {
                " (the client reset the connection)"
            },
            show(&exchange.received),
            kind_of(&result)
        );
    }
}

#[test]
fn ex4_5_a_failed_write_ends_it_with_that_error() {
    let takes = Takes {
        broken: Some(io::ErrorKind::TimedOut),
        ..TAKES_ALL
    };
    let input = chunks(&[&frame(b"one"), &frame(b"two"), &frame(b"three")]);
    let (result, _) = echo_in_memory(input, takes, 1024);
    assert!(
        matches!(&result, Err(e) if e.kind() == io::ErrorKind::TimedOut),
        "\nA client sent 3 frames, one per read, and every write of an echo failed with \
         TimedOut (the client did not read them in time).\nExpected: echo_frames returning \
         that error at the first echo\nGot:      {}\nA client that does not take its echoes \
         must not keep the server reading for it.\nRevisit: {EX4_5}\n",
        kind_of(&result)
    );
}

#[test]
fn ex4_5_flushes_the_echoes_before_each_read() {
    let takes = Takes {
        buffered: true,
        ..TAKES_ALL
    };
    let first = frame(b"first");
    let input = chunks(&[&first, &frame(b"second")]);
    let (result, exchange) = echo_in_memory(input, takes, 1024);
    let before_second_read = exchange.received_at_read.get(1).copied().unwrap_or(0);
    assert!(
        before_second_read == first.len() && matches!(result, Ok(2)),
        "\nA client sent the frame \"first\", then \"second\" in the next read; the writer \
         keeps what it is given until it is flushed (like a BufWriter).\nExpected: \"first\" \
         flushed to the client before the second read, and Ok(2)\nGot:      {before_second_read} \
         bytes had reached the client when the second read began; {}\nFlush `writer` before \
         each read: the client may be waiting for the echo before it sends more.\n\
         Revisit: {EX4_5}\n",
        kind_of(&result)
    );
}

#[test]
fn ex4_5_echoes_everything_when_each_write_takes_only_a_few_bytes() {
    let takes = Takes {
        max_write: 5,
        ..TAKES_ALL
    };
    let payload = binary_bytes(3000);
    let sent = [frame(&payload), frame(b"")].concat();
    let (result, exchange) = echo_in_memory(chunks(&[&sent]), takes, 4096);
    assert!(
        exchange.received == sent && matches!(result, Ok(2)),
        "\nA client sent a 3000-byte frame and an empty one; each write to it takes at most 5 \
         bytes.\nExpected: both frames echoed whole, and Ok(2)\nGot:      {} bytes ({}), and \
         {}\nRevisit: {EX4_5}\n",
        exchange.received.len(),
        first_difference(&sent, &exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_echoes_a_large_frame_that_arrives_in_many_reads() {
    let sent = frame(&binary_bytes(1 << 20));
    let pieces: Vec<&[u8]> = sent.chunks(7000).collect();
    let (result, exchange) = echo_in_memory(chunks(&pieces), TAKES_ALL, 2 << 20);
    assert!(
        exchange.received == sent && matches!(result, Ok(1)),
        "\nA client sent a frame with a 1 MiB payload, in reads of 7000 bytes.\nExpected: the \
         same frame echoed, and Ok(1)\nGot:      {} bytes ({}), and {}\nRevisit: {EX4_5}\n",
        exchange.received.len(),
        first_difference(&sent, &exchange.received),
        kind_of(&result)
    );
}

#[test]
fn ex4_5_returns_the_number_of_frames_echoed_on_a_real_connection() {
    needs_the_framing_exercises();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    // Small enough to wait in the sockets' buffers while echo_frames runs.
    let sent = [frame(b"a"), frame(b"bb"), frame(b"")].concat();
    client.write_all(&sent).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let result = within(
        &format!(
            "echo_frames on a TcpStream, after the client sent 3 frames and shutdown(Write) \
             (it should return once a read returns Ok(0)) — revisit {EX4_5}"
        ),
        move || echo_frames(&accepted, &accepted, DEFAULT_MAX_FRAME_LEN),
    );
    let mut echoed = Vec::new();
    let read = client.read_to_end(&mut echoed);
    assert!(
        read.is_ok() && echoed == sent && matches!(result, Ok(3)),
        "\nOn a real connection: sent 3 frames {}, then shutdown(Write).\nExpected: them back, \
         end of stream, and echo_frames returning Ok(3)\nGot:      {} ({read:?}) and {}\n\
         Revisit: {EX4_5}\n",
        show(&sent),
        show(&echoed),
        kind_of(&result)
    );
}

// ---------------------------------------------- exercise 4.5, the server

/// The server of `cargo run -p lesson04 -- server`, on a free port, with
/// `extra` flags. Its tests need exercises 4.1 to 4.3 too: they check them first.
fn server(extra: &[&str]) -> Server {
    needs_the_framing_exercises();
    support::server(BIN, EX4_5, extra)
}

/// Sends `payload` as a frame and expects the same frame back.
fn round_trip(server: &Server, conn: &mut support::Conn<'_>, payload: &[u8]) {
    let bytes = frame(payload);
    conn.send(&bytes);
    expect_frames(server, conn, &bytes);
}

/// Reads `expected.len()` bytes and checks they are `expected`, a run of
/// whole frames; says how many frames came back if not.
fn expect_frames(server: &Server, conn: &mut support::Conn<'_>, expected: &[u8]) {
    let got = conn.read_up_to(expected.len());
    if got == expected {
        return;
    }
    let (wanted, back) = (whole_frames(expected), whole_frames(&got));
    let hint = if expected.starts_with(&got) && (1..wanted).contains(&back) {
        format!(
            "\nOnly the first {back} of the {wanted} frames came back, then nothing for \
             {DEADLINE:?}. If one read brought them all, take frames out after each read \
             until next_frame returns None (`while let`, not `if let`)."
        )
    } else {
        String::new()
    };
    server.fail(&format!(
        "Sent:     {}\nExpected: the same {wanted} frame(s) back\nGot:      {}{}{hint}",
        show_wire(expected),
        show_wire(&got),
        if got.len() < expected.len() {
            "  (then nothing more before the deadline or end of stream)"
        } else {
            ""
        }
    ));
}

/// Shows frames as each one's header in hex and its payload:
/// `00 00 00 03 "one", 00 00 00 03 "two"`, and any unfinished frame after them.
fn show_wire(bytes: &[u8]) -> String {
    let mut shown = Vec::new();
    let mut rest = bytes;
    while let Some((header, after)) = rest.split_first_chunk::<HEADER_LEN>() {
        let len = u32::from_be_bytes(*header) as usize;
        let Some(payload) = after.get(..len) else {
            break;
        };
        if shown.len() == 4 {
            shown.push(format!("and {} more frame(s)", whole_frames(rest)));
            rest = &[];
            break;
        }
        shown.push(format!("{} {}", support::hex(header), show(payload)));
        rest = &after[len..];
    }
    if !rest.is_empty() {
        shown.push(format!(
            "{} bytes of an unfinished frame: {}",
            rest.len(),
            show(rest)
        ));
    }
    if shown.is_empty() {
        "nothing".to_string()
    } else {
        shown.join(", ")
    }
}

#[test]
fn ex4_5_server_echoes_frames() {
    let server = server(&[]);
    let mut conn = server.connect();
    round_trip(&server, &mut conn, b"hello, frames");
    round_trip(&server, &mut conn, b"");
    round_trip(&server, &mut conn, &binary_bytes(300));
}

#[test]
fn ex4_5_server_echoes_frames_sent_together_and_frames_sent_in_pieces() {
    let server = server(&[]);
    let mut conn = server.connect();
    // Three frames in one write: probably one read at the server.
    let three = [frame(b"one"), frame(b"two"), frame(b"three")].concat();
    conn.send(&three);
    expect_frames(&server, &mut conn, &three);
    // A frame, then the first two bytes of the next one's header. Once the
    // first echo is back the server has read the frame; the rest of the
    // second one follows only then.
    let first = frame(b"first");
    let second = frame(b"second, in pieces");
    conn.send(&[&first[..], &second[..2]].concat());
    expect_frames(&server, &mut conn, &first);
    conn.send(&second[2..9]);
    conn.send(&second[9..]);
    expect_frames(&server, &mut conn, &second);
}

#[test]
fn ex4_5_server_echoes_a_large_frame() {
    let server = server(&[]);
    let conn = server.connect();
    let bytes = frame(&binary_bytes(1 << 20));
    let mut writer = conn.stream.try_clone().unwrap();
    let to_send = bytes.clone();
    // Send on another thread while we read here: the server may start
    // echoing before we finish sending.
    let sender = thread::spawn(move || writer.write_all(&to_send));
    let mut got = vec![0u8; bytes.len()];
    let read = (&conn.stream).read_exact(&mut got);
    let sent = sender.join().unwrap();
    if read.is_err() || sent.is_err() || got != bytes {
        server.fail(&format!(
            "Sent a frame with a 1 MiB payload in one write_all.\nExpected the same frame back.\n\
             Reading it: {read:?}; sending: {sent:?}; {}",
            first_difference(&bytes, &got)
        ));
    }
}

#[test]
fn ex4_5_a_hostile_header_closes_that_connection_only() {
    let server = server(&[]);
    let mut honest = server.connect();
    round_trip(&server, &mut honest, b"before");

    let mut hostile = server.connect();
    // "4 GiB follow" — and then a little garbage, not 4 GiB.
    hostile.send(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
    hostile.expect_close("its header announced 4294967295 bytes, over the 8 MiB limit");
    if !server.wait_for_stderr("4294967295") {
        server.fail(
            "A client's header announced 4294967295 bytes, and the server closed it, but its \
             log does not say the length: return the decoder's error, which says it.",
        );
    }

    // The client that was connected all along, and a new one, are still served.
    round_trip(&server, &mut honest, b"after");
    let mut newcomer = server.connect();
    round_trip(&server, &mut newcomer, b"newcomer");
}

#[test]
fn ex4_5_text_sent_to_the_server_closes_that_connection() {
    // A browser, curl or a person with `nc` talking to a binary protocol:
    // "GET " read as a big-endian length is 1195725856 bytes.
    let server = server(&[]);
    let mut lost = server.connect();
    lost.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    lost.expect_close("it sent an HTTP request: \"GET \" is a length of 1195725856");
    let mut framed = server.connect();
    round_trip(&server, &mut framed, b"still serving");
}

#[test]
fn ex4_5_serves_others_while_a_client_is_stuck_mid_frame() {
    let server = server(&[]);
    let mut stuck = server.connect();
    // Half a frame, then silence: its thread waits for the rest.
    stuck.send(&frame(b"the rest never comes")[..10]);
    let mut other = server.connect();
    round_trip(&server, &mut other, b"served anyway");
    // Now the stuck client vanishes mid-frame; the server carries on.
    drop(stuck);
    let mut another = server.connect();
    round_trip(&server, &mut another, b"still serving");
}

#[test]
fn ex4_5_a_reset_mid_frame_closes_that_connection_only() {
    let server = server(&[]);
    let mut rude = server.connect();
    round_trip(&server, &mut rude, b"hello");
    rude.send(&frame(b"interrupted by a reset")[..12]);
    // SO_LINGER with a zero timeout makes close() send a reset (RST).
    SockRef::from(&rude.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(rude);
    let mut polite = server.connect();
    round_trip(&server, &mut polite, b"still there?");
}

#[test]
fn ex4_5_the_frame_limit_is_configurable() {
    let server = server(&["--max-frame-len", "16"]);
    let mut conn = server.connect();
    round_trip(&server, &mut conn, &[b'x'; 16]);
    conn.send(&frame(&[b'y'; 17]));
    conn.expect_close("with --max-frame-len 16 it received a 17-byte frame");
}

#[test]
fn ex4_5_a_silent_client_is_sent_away_after_the_idle_time() {
    let server = server(&["--idle-ms", "300"]);
    let mut silent = server.connect();
    let mut half = server.connect();
    half.send(&frame(b"and then silence")[..6]);
    let mut talkative = server.connect();
    // Meanwhile, a frame every 50 ms for 450 ms: the pace of a slow but
    // living client, not synchronisation. The idle time measures silence,
    // not age: this one stays.
    for i in 0..9 {
        round_trip(&server, &mut talkative, format!("frame {i}").as_bytes());
        thread::sleep(Duration::from_millis(50));
    }
    silent.expect_close("it sent nothing for longer than --idle-ms 300");
    half.expect_close("it sent half a frame, then nothing for longer than --idle-ms 300");
    if !server.wait_for_stderr("sent nothing for 300 ms") {
        server.fail(
            "With --idle-ms 300, two silent clients were closed, but the server's log does not \
             say why (\"the client sent nothing for 300 ms\"): return the read's error, which \
             serve explains.",
        );
    }
}

#[test]
fn ex4_5_a_client_that_never_reads_is_sent_away() {
    let server = server(&["--idle-ms", "300"]);
    let conn = server.connect();
    // Frames, and more frames, never reading an echo: the echoes fill both
    // sockets' buffers, and then the server's writes wait for room.
    let mut writer = conn.stream.try_clone().unwrap();
    let (tx, sent) = mpsc::channel();
    thread::spawn(move || {
        let one = frame(&binary_bytes(64 << 10));
        let mut total = 0usize;
        let result = loop {
            if let Err(e) = writer.write_all(&one) {
                break Err(e);
            }
            total += one.len();
            if total >= 1 << 30 {
                break Ok(());
            }
        };
        let _ = tx.send((result, total));
    });
    // Meanwhile, somebody else is served.
    let mut other = server.connect();
    round_trip(&server, &mut other, b"meanwhile");
    match sent.recv_timeout(DEADLINE) {
        Ok((Err(_), _)) => {}
        Ok((Ok(()), total)) => server.fail(&format!(
            "A client sent {total} bytes of frames without reading a single echo, and the \
             server took them all."
        )),
        Err(_) => server.fail(&format!(
            "A client sent frames without ever reading the echoes. With --idle-ms 300, an echo \
             that the client does not take within 300 ms ends the connection; {DEADLINE:?} \
             later it was still open. Does echo_frames return the error of write_frame?"
        )),
    }
    let mut newcomer = server.connect();
    round_trip(&server, &mut newcomer, b"still serving");
}

#[test]
fn ex4_5_serves_many_clients_at_once() {
    let server = server(&[]);
    let mut clients: Vec<_> = (0..20).map(|_| server.connect()).collect();
    // Everyone sends, then everyone reads: each client is served at once,
    // on its own thread, not one after another.
    for round in 0..3 {
        for (i, client) in clients.iter_mut().enumerate() {
            client.send(&frame(format!("client {i}, round {round}").as_bytes()));
        }
        for (i, client) in clients.iter_mut().enumerate() {
            let expected = frame(format!("client {i}, round {round}").as_bytes());
            expect_frames(&server, client, &expected);
        }
    }
}

#[test]
fn ex4_5_survives_a_thousand_clients_that_come_and_go() {
    // A connection limit far above the churn, so that clients which are
    // leaving do not make room too slowly for the checks in between.
    let server = server(&["--max-connections", "2000"]);
    let connected = support::churn(server.addr(), 1000, || {
        round_trip(&server, &mut server.connect(), b"meanwhile");
    });
    let mut conn = server.connect();
    round_trip(
        &server,
        &mut conn,
        format!("after {connected} clients that left at once, half of them with a reset")
            .as_bytes(),
    );
}

#[test]
fn ex4_5_a_client_over_the_connection_limit_is_closed_at_once() {
    let server = server(&["--max-connections", "2"]);
    let mut first = server.connect();
    round_trip(&server, &mut first, b"first");
    let mut second = server.connect();
    round_trip(&server, &mut second, b"second");
    let mut third = server.connect();
    third.expect_close("2 clients were connected already, with --max-connections 2");
    if !server.wait_for_stderr("--max-connections 2") {
        server.fail(
            "The server closed a client over its connection limit without a word in its log.",
        );
    }
    // When one leaves, there is room again.
    let leaving = first.stream.local_addr().unwrap().to_string();
    drop(first);
    if !support::wait_until(|| {
        server
            .stderr()
            .lines()
            .any(|l| l.starts_with(&leaving) && l.contains("closed"))
    }) {
        server.fail(&format!(
            "A client ({leaving}) left, and the server did not log it."
        ));
    }
    let mut fourth = server.connect();
    round_trip(&server, &mut fourth, b"room again");
}

#[cfg(target_os = "linux")]
#[test]
fn ex4_5_memory_stays_bounded_however_many_clients_send_large_frames() {
    // Each client announces a 1 MiB frame and sends all of it but the last
    // byte: its decoder must hold the lot. Without a connection limit, 48
    // such clients hold 48 MiB; with --max-connections 4, about 4 MiB.
    const FRAME: usize = 1 << 20;
    const LIMIT: usize = 4;
    const CLIENTS: usize = 48;
    let server = server(&[
        "--max-frame-len",
        &FRAME.to_string(),
        "--max-connections",
        &LIMIT.to_string(),
    ]);
    round_trip(&server, &mut server.connect(), b"warming up");
    let Some(before) = server.memory() else {
        return;
    };
    let bytes = frame(&binary_bytes(FRAME));
    let mut clients: Vec<_> = (0..CLIENTS).map(|_| server.connect()).collect();
    for client in &mut clients {
        // Over the limit the server closes the connection: writing may fail.
        let _ = client.stream.write_all(&bytes[..bytes.len() - 1]);
    }
    let mut served = 0;
    for (i, client) in clients.iter_mut().enumerate() {
        let _ = client.stream.write_all(&bytes[bytes.len() - 1..]);
        match client.try_read_up_to(bytes.len()) {
            Ok(got) if got == bytes => served += 1,
            // Closed at once, over the limit (it may have echoed nothing).
            Ok(got) if got.is_empty() => {}
            Ok(got) => server.fail(&format!(
                "Client #{i} sent a frame with a 1 MiB payload; {} bytes of its echo came \
                 back, then end of stream ({}).",
                got.len(),
                first_difference(&bytes, &got)
            )),
            Err(got) => server.fail(&format!(
                "Client #{i} sent a frame with a 1 MiB payload; {} bytes of its echo came \
                 back, then nothing for {DEADLINE:?}.",
                got.len()
            )),
        }
    }
    let after = server.memory().unwrap_or(before);
    let grew = after.saturating_sub(before);
    // Each served client's decoder holds about a frame, at most two; echoing
    // copies one more for a moment. Plus room for the allocator's ways.
    let bound = (LIMIT * 3 * FRAME + (8 << 20)) as u64;
    if served > LIMIT || grew > bound {
        server.fail(&format!(
            "{CLIENTS} clients connected at once, each sending a 1 MiB frame, with \
             --max-connections {LIMIT} --max-frame-len {FRAME}.\nExpected: at most {LIMIT} \
             served, the others closed at once, and the server's memory growing by at most \
             {} MiB.\nGot:      {served} served, and its memory grew by {} MiB ({} MiB → {} MiB).",
            bound >> 20,
            grew >> 20,
            before >> 20,
            after >> 20
        ));
    }
}

#[cfg(unix)]
#[test]
fn ex4_5_out_of_file_descriptors_it_neither_stops_nor_spins() {
    // With 6 file descriptors — stdin, stdout, stderr, the listener, and
    // room for two clients — a third client waits in the backlog while every
    // accept fails with "Too many open files".
    needs_the_framing_exercises();
    let server = Server::start_with_file_limit(BIN, &["server", "127.0.0.1:0"], 6, EX4_5);
    let mut first = server.connect();
    round_trip(&server, &mut first, b"first");
    let mut second = server.connect();
    round_trip(&server, &mut second, b"second");
    let mut waiting = server.connect();
    let bytes = frame(b"is there room for me?");
    waiting.send(&bytes);
    support::assert_calm_when_out_of_files(&server, "the given accept loop (`serve`)");
    // When a client leaves, its file descriptor is free again.
    drop(first);
    expect_frames(&server, &mut waiting, &bytes);
}

#[test]
fn ex4_5_serves_over_ipv6() {
    if !support::ipv6_loopback("ex4_5_serves_over_ipv6") {
        return;
    }
    needs_the_framing_exercises();
    let server = Server::start(BIN, &["server", "[::1]:0"], EX4_5);
    let mut conn = server.connect();
    round_trip(&server, &mut conn, b"over IPv6");
}

#[test]
fn ex4_5_a_python_client_interoperates() {
    let server = server(&[]);
    // A Rust round trip first, so that the test fails on an unfinished
    // exercise even where python3 is missing.
    round_trip(&server, &mut server.connect(), b"from Rust");
    let Some(python) = support::python3("ex4_5_a_python_client_interoperates") else {
        return;
    };
    // The Python peer of §"Try it by hand": struct.pack('!I') out, struct.unpack('!I') in.
    let script = r#"
import socket, struct, sys
host, port = sys.argv[1].rsplit(':', 1)
s = socket.create_connection((host, int(port)), timeout=5)

def recv_exactly(n):
    data = b''
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError(f'connection closed after {len(data)} of {n} bytes')
        data += chunk
    return data

payloads = [b'hello from Python', b'', bytes(range(256)), b'x' * 50000]
s.sendall(b''.join(struct.pack('!I', len(p)) + p for p in payloads))
for p in payloads:
    (n,) = struct.unpack('!I', recv_exactly(4))
    got = recv_exactly(n)
    assert got == p, f'sent {len(p)} bytes, got {len(got)} different bytes back'
print('ok', len(payloads))
"#;
    let finished = support::run(
        python,
        &["-c", script, &server.addr().to_string()],
        Vec::new(),
    );
    if finished.stdout != b"ok 4\n" {
        server.fail(&format!(
            "A Python client sent 4 frames made with struct.pack('!I', len(p)) + p and read the \
             replies with struct.unpack('!I').\nExpected it to print \"ok 4\"; it printed {} \
             ({:?}).\nPython's stderr:\n{}",
            show(&finished.stdout),
            finished.status,
            finished.stderr
        ));
    }
}

#[test]
fn ex4_5_the_books_python_script_works() {
    let server = server(&[]);
    round_trip(&server, &mut server.connect(), b"from Rust");
    let Some(python) = support::python3("ex4_5_the_books_python_script_works") else {
        return;
    };
    // The script shown in "Try it by hand", run as the book runs it.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/frames.py");
    let finished = support::run(python, &[script, &server.addr().to_string()], Vec::new());
    let expected = "b'sticky'\nb'packets'\nb''\nb'\\x00\\n\\xff'\n";
    if finished.stdout != expected.as_bytes() {
        server.fail(&format!(
            "lessons/lesson04/frames.py (the book's Python client) should print\n{expected}\
             It printed {} ({:?}).\nPython's stderr:\n{}",
            show(&finished.stdout),
            finished.status,
            finished.stderr
        ));
    }
}

#[test]
fn ex4_5_the_narrated_demo_runs_to_the_end() {
    support::assert_demo_runs(
        BIN,
        &[
            "in 1 read",
            "all 6 frames are identical to what was sent",
            "the line decoder took out 6 lines",
            "echo_frames returned Ok(3)",
            &format!("cargo run -p lesson04{FEATURES} -- server"),
        ],
    );
}

// ------------------------------------------------------------------ given code

#[test]
fn given_server_prints_the_address_it_really_bound() {
    support::given::server_prints_the_address_it_really_bound(BIN);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    support::given::server_explains_a_port_that_is_in_use(
        BIN,
        taken.local_addr().unwrap(),
        "in use",
    );
}

#[test]
fn given_client_explains_that_nothing_is_listening() {
    support::given::client_explains_that_nothing_is_listening(BIN, &[], "refused");
}

#[test]
fn given_unescape_refuses_a_bad_escape() {
    for bad in [&b"\\x"[..], b"ends with \\"] {
        let got = unescape(bad);
        assert!(
            matches!(&got, Err(e) if e.kind() == io::ErrorKind::InvalidData),
            "unescape({}) should be an InvalidData error, got {}",
            show(bad),
            kind_of(&got)
        );
    }
}

proptest! {
    #![proptest_config(proptest_config())]

    /// Escaped bytes contain no newline and unescape to the original.
    #[test]
    fn given_escape_round_trips_any_bytes(payload in vec(any::<u8>(), 0..200)) {
        let escaped = escape(&payload);
        prop_assert!(!escaped.contains(&b'\n'));
        prop_assert_eq!(unescape(&escaped).ok(), Some(payload));
    }
}
