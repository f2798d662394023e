//! `cargo run -p lesson05`: the whole lesson in one narrated run on loopback.
//!
//! It uses your exercises in order — the header (5.1), its validation (5.2),
//! request bodies (5.3), then the server with your handler (5.4) — so an
//! unfinished lesson stops at the first one.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use crate::client::Client;
use crate::message::{GET, Request, Response, SET};
use crate::server;
use crate::wire::{HEADER_LEN, MAGIC, RawHeader, VERSION};

/// Takes a header apart and checks some strangers' bytes, then runs a server
/// on a free port and talks to it: pipelined requests, then a client that
/// does not speak the protocol.
pub fn run() -> io::Result<()> {
    println!("lesson 5 — binary protocols, narrated\n");

    println!("1. A header to bytes and back, by your RawHeader::encode and decode (exercise 5.1)");
    let header = RawHeader {
        magic: MAGIC,
        version: VERSION,
        kind: GET,
        id: 0x1234_5678,
        body_len: 4,
    };
    let bytes = header.encode();
    println!("    GET, request id 0x12345678, a body of 4 bytes, encoded:");
    println!("    {}", hex(&bytes));
    println!("    NL    v  k  request id  body length   (v: version, k: kind)");
    let back = RawHeader::decode(&bytes);
    println!(
        "    decoded: id 0x{:08x}, body length {}",
        back.id, back.body_len
    );
    if back != header {
        return Err(io::Error::other(format!(
            "decode(encode(h)) gave {back:?}, not {header:?}"
        )));
    }

    println!("\n2. Twelve bytes from a stranger, judged by your validate (exercise 5.2)");
    let mut little_endian = bytes;
    little_endian[8..12].copy_from_slice(&4u32.to_le_bytes());
    let strangers: [(&[u8; HEADER_LEN], &str); 3] = [
        (&bytes, "the header above"),
        (b"GET / HTTP/1", "a web browser"),
        (&little_endian, "a length of 4, sent little-endian"),
    ];
    for (bytes, who) in strangers {
        let verdict = match RawHeader::decode(bytes).validate() {
            Ok(header) => format!(
                "a header: kind 0x{:02x}, id 0x{:08x}, {} bytes of body",
                header.kind(),
                header.id(),
                header.body_len()
            ),
            Err(e) => e.to_string(),
        };
        println!("    {}  ({who})\n      -> {verdict}", hex(bytes));
    }

    println!("\n3. Request bodies, by your Request::encode_body and decode (exercise 5.3)");
    let set = Request::Set {
        key: b"lang".to_vec(),
        value: b"Rust".to_vec(),
    };
    let body = set
        .encode_body()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    println!("    {} -> {}", describe(&set), hex(&body));
    let liar = [0x00, 0x09, b'a'];
    let verdict = match Request::decode(SET, &liar) {
        Ok(request) => describe(&request),
        Err(e) => e.to_string(),
    };
    println!(
        "    a SET body {} that claims a 9-byte key\n      -> {verdict}",
        hex(&liar)
    );

    println!("\n4. The server, with your handle_connection (exercise 5.4)");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("[server] listening on {addr}, one client at a time (its log goes to stderr)");
    thread::spawn(move || server::serve(listener, server::IDLE_TIMEOUT));

    let mut client = Client::new(TcpStream::connect(addr)?)?;
    let requests = [
        Request::Set {
            key: b"greeting".to_vec(),
            value: b"hello".to_vec(),
        },
        Request::Get {
            key: b"greeting".to_vec(),
        },
        Request::Get {
            key: b"nobody".to_vec(),
        },
        Request::Delete {
            key: b"greeting".to_vec(),
        },
    ];
    println!(
        "[client] pipelining: {} requests sent before reading any reply",
        requests.len()
    );
    for request in &requests {
        let id = client.send(request)?;
        println!("[client]   id {id}  {}", describe(request));
    }
    for _ in &requests {
        let (id, response) = client.receive()?;
        println!("[client] reply to id {id}: {}", show(&response));
    }

    // One client at a time: hang up, or the next connection waits forever.
    drop(client);

    println!("\n[client] a web browser connects by mistake and sends \"GET / HTTP/1.1\"...");
    let mut stranger = TcpStream::connect(addr)?;
    stranger.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
    let mut rest = Vec::new();
    match stranger.read_to_end(&mut rest) {
        // A reset is a close too: the server hung up with our bytes unread.
        Err(e) if e.kind() != io::ErrorKind::ConnectionReset => return Err(e),
        _ => {}
    }
    println!(
        "[client] the server closed it after {} bytes of reply (its log says why)",
        rest.len()
    );

    let mut again = Client::new(TcpStream::connect(addr)?)?;
    let response = again.call(&Request::Get {
        key: b"greeting".to_vec(),
    })?;
    println!(
        "[client] a third connection: GET greeting -> {}",
        show(&response)
    );

    if response != Response::NotFound {
        return Err(io::Error::other(format!(
            "expected NOT_FOUND, got {response:?}"
        )));
    }
    // The same build as this demo: with `--features solution`, the reference
    // solutions, so that copying these commands does not stop at a todo!().
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let run = format!("cargo run -p lesson05{features} --");
    println!("\nThe server survived the stranger and remembers the DELETE. Try it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} server"), "one terminal"),
        (format!("{run} client 127.0.0.1:7005 set k v"), "another"),
        ("python3 lessons/lesson05/kv_client.py".into(), "or Python"),
    ]);
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

fn describe(request: &Request) -> String {
    match request {
        Request::Get { key } => format!("GET {}", text(key)),
        Request::Set { key, value } => format!("SET {} = {}", text(key), text(value)),
        Request::Delete { key } => format!("DELETE {}", text(key)),
    }
}

fn show(response: &Response) -> String {
    match response {
        Response::Ok => "OK".to_string(),
        Response::Value(value) => format!("VALUE {}", text(value)),
        Response::NotFound => "NOT_FOUND".to_string(),
        Response::Error(message) => format!("ERROR {message:?}"),
    }
}
