//! The framed echo client: each line of input goes out as one frame, and each
//! frame that comes back is printed as one line.

use std::io::{self, BufRead, Read, Write};
use std::net::TcpStream;

use crate::framing::{Decoder, write_frame};

// ANCHOR: read_frame
/// Reads from `reader` until `decoder` holds a complete frame and returns a
/// copy of its payload; `Ok(None)` when the stream ends cleanly between two
/// frames.
pub fn read_frame<R: Read>(reader: &mut R, decoder: &mut Decoder) -> io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 8 * 1024];
    loop {
        // First the frames already buffered: one read may have brought several.
        if let Some(frame) = decoder.next_frame()? {
            return Ok(Some(frame.to_vec()));
        }
        match reader.read(&mut buf) {
            Ok(0) if decoder.buffered() == 0 => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the stream ended in the middle of a frame ({} bytes of it arrived)",
                        decoder.buffered()
                    ),
                ));
            }
            Ok(n) => decoder.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: read_frame

// ANCHOR: exchange
/// Sends each line of `input` (without its `\n`) as a frame, waits for the
/// reply frame, and writes it to `output` followed by `\n`. Returns how many
/// frames came back.
///
/// One request, one reply, in turn: the server echoes a frame only once it
/// has all of it, so there is no risk of both sides blocking on full buffers.
pub fn exchange<R: BufRead, W: Write>(
    stream: &TcpStream,
    input: R,
    mut output: W,
) -> io::Result<u64> {
    let (mut reader, mut writer) = (stream, stream);
    let mut decoder = Decoder::new();
    let mut replies = 0;
    for line in input.split(b'\n') {
        write_frame(&mut writer, &line?)?;
        let reply = read_frame(&mut reader, &mut decoder)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection instead of replying",
            )
        })?;
        output.write_all(&reply)?;
        output.write_all(b"\n")?;
        output.flush()?;
        replies += 1;
    }
    Ok(replies)
}
// ANCHOR_END: exchange
