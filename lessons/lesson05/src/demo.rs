//! `cargo run -p lesson05`: the whole lesson in one narrated run on loopback.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;

use crate::client::Client;
use crate::message::{Request, Response};
use crate::server;
use crate::wire::RawHeader;

/// Shows byte order, then runs a server on a free port and talks to it:
/// pipelined requests, then a client that does not speak the protocol.
pub fn run() -> io::Result<()> {
    println!("lesson 5 — binary protocols and byte order, narrated\n");

    let n: u32 = 0x1234_5678;
    let native = if cfg!(target_endian = "big") {
        "big"
    } else {
        "little"
    };
    println!("The number 0x{n:08x} as four bytes:");
    println!(
        "    big-endian (network order): {}   to_be_bytes",
        hex(&n.to_be_bytes())
    );
    println!(
        "    little-endian:              {}   to_le_bytes",
        hex(&n.to_le_bytes())
    );
    println!(
        "    this {native}-endian machine: {}   to_ne_bytes\n",
        hex(&n.to_ne_bytes())
    );

    let header = RawHeader {
        magic: *b"NL",
        version: 1,
        kind: crate::message::GET,
        id: n,
        body_len: 5,
    };
    println!("A header: GET, request id 0x{n:08x}, a body of 5 bytes:");
    println!("    {}", hex(&header.encode()));
    println!("    NL    v  k  request id  body length   (v: version, k: kind)\n");

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("[server] listening on {addr}, one client at a time (its log goes to stderr)");
    thread::spawn(move || server::serve(listener));

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

    if response == Response::NotFound {
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
    } else {
        Err(io::Error::other(format!(
            "expected NOT_FOUND, got {response:?}"
        )))
    }
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
