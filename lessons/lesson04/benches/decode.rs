//! Races the lesson's `Decoder` against tokio-util's `LengthDelimitedCodec`:
//! both decode the same 100 MB stream of small frames, pushed in the same
//! random chunk sizes. Not a test; run it with
//!
//! ```text
//! cargo bench -p lesson04 --features solution     # the reference solution
//! cargo bench -p lesson04                         # your decoder
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use lesson04::framing::{Decoder, write_frame};
use tokio_util::codec::{Decoder as _, LengthDelimitedCodec};

/// The stream's size, in bytes (1 MB = 10^6 bytes, as in MB/s).
const STREAM_LEN: usize = 100_000_000;
/// Payloads are 0 to this many bytes long.
const MAX_PAYLOAD: usize = 256;
/// Each push is 1 to this many bytes: about what one `read` returns.
const MAX_CHUNK: usize = 16 * 1024;
/// Each decoder runs this many times, alternating; the best time counts.
const ROUNDS: usize = 7;
const SEED: u64 = 0x5EED_0004;

fn main() {
    netlings_kit::install_exercise_hook("lesson04");
    let mut rng = SplitMix64(SEED);

    let filler: Vec<u8> = (0..MAX_PAYLOAD).map(|i| i as u8).collect();
    let mut stream = Vec::with_capacity(STREAM_LEN + MAX_PAYLOAD + 4);
    let mut expected = Tally::default();
    while stream.len() < STREAM_LEN {
        let payload = &filler[..rng.below(MAX_PAYLOAD + 1)];
        write_frame(&mut stream, payload).expect("writing to a Vec cannot fail");
        expected.add(payload);
    }
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let end = (at + 1 + rng.below(MAX_CHUNK)).min(stream.len());
        chunks.push(&stream[at..end]);
        at = end;
    }
    println!(
        "decoding {:.1} MB: {} frames of 0..={MAX_PAYLOAD} bytes, pushed in {} chunks of \
         1..={MAX_CHUNK} bytes (seed {SEED:#x}); best of {ROUNDS} rounds",
        stream.len() as f64 / 1e6,
        expected.frames,
        chunks.len(),
    );

    let mut best = [Duration::MAX; 3];
    for _ in 0..ROUNDS {
        for (which, decode) in [lesson04_lent, lesson04_copied, tokio_util_codec]
            .into_iter()
            .enumerate()
        {
            let started = Instant::now();
            let tally = decode(&chunks);
            best[which] = best[which].min(started.elapsed());
            assert_eq!(tally, expected, "decoder #{which} decoded different frames");
        }
    }

    let mb_per_s = |d: Duration| stream.len() as f64 / 1e6 / d.as_secs_f64();
    let [lent, copied, tokio] = best.map(mb_per_s);
    println!("lesson04 Decoder (frames lent as &[u8]):     {lent:8.0} MB/s");
    println!("lesson04 Decoder (each frame copied to_vec): {copied:8.0} MB/s");
    println!("tokio-util LengthDelimitedCodec (BytesMut):  {tokio:8.0} MB/s");
    println!(
        "ratio lesson04 / tokio-util: {:.2}x lent, {:.2}x copied",
        lent / tokio,
        copied / tokio
    );
}

/// What a decoder produced: enough to tell two runs apart, cheap to compute.
#[derive(Debug, Default, PartialEq)]
struct Tally {
    frames: u64,
    bytes: u64,
    last_bytes: u64,
}

impl Tally {
    fn add(&mut self, frame: &[u8]) {
        self.frames += 1;
        self.bytes += frame.len() as u64;
        self.last_bytes += u64::from(frame.last().copied().unwrap_or(0));
    }
}

fn lesson04_lent(chunks: &[&[u8]]) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_frame().expect("a valid stream") {
            tally.add(black_box(frame));
        }
    }
    tally
}

fn lesson04_copied(chunks: &[&[u8]]) -> Tally {
    let mut tally = Tally::default();
    let mut decoder = Decoder::new();
    for chunk in chunks {
        decoder.push(chunk);
        while let Some(frame) = decoder.next_frame().expect("a valid stream") {
            let owned: Vec<u8> = black_box(frame.to_vec());
            tally.add(&owned);
        }
    }
    tally
}

fn tokio_util_codec(chunks: &[&[u8]]) -> Tally {
    let mut tally = Tally::default();
    // The defaults are this lesson's format: a 4-byte big-endian length, 8 MiB max.
    let mut codec = LengthDelimitedCodec::new();
    let mut buf = BytesMut::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(frame) = codec.decode(&mut buf).expect("a valid stream") {
            let owned = black_box(frame);
            tally.add(&owned);
        }
    }
    tally
}

/// A tiny seeded PRNG (SplitMix64), so every run decodes the same stream.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (the tiny bias of `%` does not matter here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
