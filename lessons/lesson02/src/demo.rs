//! `cargo run -p lesson02`: the whole lesson in one narrated run on loopback.
//!
//! It uses your exercises in order — `read_line` (2.1), `last_words` (2.2),
//! the server's `session` (2.3), then `connect_any` (2.4) — so an unfinished
//! lesson stops at the first one.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{self, MAX_REPLY};
use crate::lines::read_line;
use crate::protocol::MAX_LINE;
use crate::server::{self, last_words};

/// How long the demo's server lets a client stay silent.
const IDLE: Duration = Duration::from_millis(200);

/// Cuts bytes into lines, sorts errors, runs a server on a free port, talks
/// to it, stays silent until it gives up, then finds it again by name — and
/// shows what a name where nothing listens looks like.
pub fn run() -> io::Result<()> {
    println!("lesson 2 — streams, lines and errors, narrated\n");

    // 1. No network yet: a stream that delivers two lines in three pieces.
    let pieces: [&[u8]; 3] = [b"PI", b"NG\r\nEC", b"HO hi\n"];
    println!(
        "[lines] TCP keeps no message boundaries; say three reads return {:?}",
        pieces.map(String::from_utf8_lossy)
    );
    let mut stream = pieces[0].chain(pieces[1]).chain(pieces[2]);
    while let Some(line) = read_line(&mut stream, MAX_LINE)? {
        println!("[lines] read_line → Some({line:?})");
    }
    println!("[lines] read_line → None: the stream ended between two lines\n");

    // 2. What a server says before it hangs up, for errors of each kind —
    // first a real read timeout, on a connection that stays silent.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let _silent = TcpStream::connect(listener.local_addr()?)?;
    let (mut accepted, _) = listener.accept()?;
    accepted.set_read_timeout(Some(Duration::from_millis(50)))?;
    let timeout = match accepted.read(&mut [0u8; 1]) {
        Err(e) => e,
        Ok(_) => io::Error::other("the silent client sent something"),
    };
    let errors = [
        timeout,
        io::Error::new(io::ErrorKind::InvalidData, "line too long"),
        io::ErrorKind::ConnectionReset.into(),
    ];
    for error in &errors {
        println!(
            "[errors] {:?}: {error} → last_words says {:?}",
            error.kind(),
            last_words(error)
        );
    }
    println!();

    // 3. A server on a free port, in a background thread (its log goes to stderr).
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("[server] listening on {addr}; a client silent for {IDLE:?} is sent away");
    thread::spawn(move || server::serve(listener, IDLE));

    let stream = TcpStream::connect(addr)?;
    // The demo waits at most this long for any reply, so it cannot hang.
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut replies = BufReader::new(&stream);
    let mut requests = &stream;
    println!("[client] connected from {}", stream.local_addr()?);
    for request in ["PING", "UPPER café", "FROB"] {
        requests.write_all(format!("{request}\n").as_bytes())?;
        let reply = next_reply(&mut replies)?;
        println!("[client] sent {request:?}, got {reply:?}");
    }
    // One line in two writes: the server's read_line puts it back together.
    requests.write_all(b"ECHO in two ")?;
    requests.write_all(b"pieces\n")?;
    let reply = next_reply(&mut replies)?;
    println!("[client] sent \"ECHO in two \" and \"pieces\\n\" separately, got {reply:?}");

    // 4. Say nothing, and let the server's read timeout expire.
    println!("[client] now saying nothing…");
    let silent = Instant::now();
    let reply = next_reply(&mut replies)?;
    println!(
        "[client] after {:.1} s of silence, got {reply:?}",
        silent.elapsed().as_secs_f64()
    );
    if read_line(&mut replies, MAX_REPLY)?.is_none() {
        println!("[client] …and then end of stream: the server closed\n");
    }

    // 5. Find the server by name: a name may stand for several addresses.
    let name = format!("localhost:{}", addr.port());
    let candidates: Vec<SocketAddr> = name.to_socket_addrs()?.collect();
    println!("[client] {name:?} resolves to {candidates:?}");
    let stream = client::connect_any(name.as_str(), Duration::from_secs(1))?;
    println!(
        "[client] connect_any tried them in order: connected to {}",
        stream.peer_addr()?
    );
    let mut replies = BufReader::new(&stream);
    (&stream).write_all(b"QUIT\n")?;
    let reply = next_reply(&mut replies)?;
    println!("[client] sent \"QUIT\", got {reply:?}");

    // 6. Where nothing listens: the two addresses `localhost` has on most
    // machines, with a port that we bound a moment ago and freed.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let nowhere = [
        SocketAddr::from((Ipv6Addr::LOCALHOST, port)),
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
    ];
    println!("[client] now trying {nowhere:?}, where nothing listens");
    match client::connect_any(&nowhere[..], Duration::from_secs(1)) {
        Ok(_) => println!("[client] connected?! Another program took port {port} meanwhile"),
        Err(e) => println!("[client] connect_any reports every attempt: {e}"),
    }

    // The same build as this demo: with `--features solution`, the reference
    // solutions, so that copying these commands does not stop at a todo!().
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    println!("\nTry it yourself:");
    netlings_kit::print_commands(&[
        (
            format!("cargo run -p lesson02{features} -- server"),
            "in one terminal",
        ),
        ("nc 127.0.0.1 7002".into(), "in another; type PING"),
    ]);
    Ok(())
}

/// The server's next line; end of stream here means the server broke off.
fn next_reply(replies: &mut impl BufRead) -> io::Result<String> {
    read_line(replies, MAX_REPLY)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection instead of replying",
        )
    })
}
