//! `cargo run -p lesson12`: the lesson in one narrated run on loopback — a
//! server on a temporary directory, and raw requests typed byte by byte.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use crate::Config;
use crate::body::{decode_chunked, framing};
use crate::request::{Limits, parse_head};
use crate::server::{self, Site};

/// How long the demo waits for any answer before deciding something is wrong.
const PATIENCE: Duration = Duration::from_secs(5);

/// Starts a server on a directory it fills, sends it requests, prints each step.
pub fn run() -> io::Result<()> {
    println!("lesson 12 — HTTP/1.1 from scratch, narrated\n");

    println!("0. The parsers alone, on bytes (exercises 12.1 and 12.2)");
    let bytes: &[u8] =
        b"POST /api/echo HTTP/1.1\r\nHost: demo\r\nTransfer-Encoding: chunked\r\n\r\n\
                         5\r\nHello\r\n0\r\n\r\nGET /next";
    println!(
        "[parse] {} bytes arrived: {:?}",
        bytes.len(),
        String::from_utf8_lossy(bytes)
    );
    let half = parse_head(&bytes[..30], &Limits::default());
    println!("[parse] parse_head(first 30 bytes) -> {half:?}: wait for more");
    match parse_head(bytes, &Limits::default()) {
        Ok(Some((request, n))) => {
            println!(
                "[parse] parse_head(all) -> {} {} {}, {} fields, head of {n} bytes",
                request.method,
                request.target,
                request.version.as_str(),
                request.headers.len()
            );
            let framed = framing(&request, 1024);
            println!("[parse] framing -> {framed:?}");
            let mut body = Vec::new();
            let progress = decode_chunked(&bytes[n..], &mut body, 1024);
            println!(
                "[parse] decode_chunked -> {progress:?}, body {:?}; what is left is the next request",
                String::from_utf8_lossy(&body)
            );
        }
        other => println!("[parse] parse_head(all) -> {other:?}"),
    }
    let dir = Scratch::new()?;
    std::fs::write(dir.0.join("hello.txt"), "Hello, HTTP!\n")?;
    std::fs::write(
        dir.0.join("index.html"),
        "<!DOCTYPE html>\n<h1>It works</h1>\n",
    )?;
    std::fs::write(dir.0.join("..").join(secret_name()), "the secret")?;
    let addr = start_server(dir.0.clone())?;
    println!("\n[server] serving {} on {addr}", dir.0.display());

    println!("\n1. One request, one answer (exercises 12.3 and 12.4)");
    let mut conn = Client::connect(addr)?;
    conn.send("GET /hello.txt HTTP/1.1\r\nHost: demo\r\n\r\n")?;
    conn.answer(&["Content-Type", "Content-Length", "ETag"])?;

    println!("\n2. Keep-alive: a second request on the same connection");
    conn.send("GET / HTTP/1.1\r\nHost: demo\r\n\r\n")?;
    conn.answer(&["Content-Type", "Content-Length"])?;

    println!("\n3. Pipelining: three requests in one write, three answers in order");
    conn.send(
        "HEAD /hello.txt HTTP/1.1\r\nHost: demo\r\n\r\n\
         GET /api/hello HTTP/1.1\r\nHost: demo\r\n\r\n\
         GET /missing.txt HTTP/1.1\r\nHost: demo\r\n\r\n",
    )?;
    conn.head_answer(&["Content-Length"])?;
    conn.answer(&["Content-Length"])?;
    conn.answer(&["Content-Length"])?;

    println!("\n4. A chunked body (exercise 12.2)");
    conn.send(
        "POST /api/echo HTTP/1.1\r\nHost: demo\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nHello\r\n7\r\n, chunk\r\n0\r\n\r\n",
    )?;
    conn.answer(&["Content-Type"])?;

    println!("\n5. A conditional request: If-None-Match with the ETag from step 1");
    let etag = conn.last_etag.clone().unwrap_or_default();
    conn.send(&format!(
        "GET /hello.txt HTTP/1.1\r\nHost: demo\r\nIf-None-Match: {etag}\r\n\r\n"
    ))?;
    conn.answer(&["ETag", "Content-Length"])?;

    println!("\n6. A range (exercise 12.5): bytes 7 to 10 of hello.txt");
    conn.send("GET /hello.txt HTTP/1.1\r\nHost: demo\r\nRange: bytes=7-10\r\n\r\n")?;
    conn.answer(&["Content-Range", "Content-Length"])?;

    println!("\n7. Climbing out of the served directory (exercise 12.4)");
    conn.send(&format!(
        "GET /%2e%2e/{} HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n",
        secret_name()
    ))?;
    conn.answer(&["Connection"])?;
    let mut rest = Vec::new();
    conn.reader.read_to_end(&mut rest)?;
    println!("[client] then end of stream: the server closed, as `Connection: close` asked");

    println!("\nTry it yourself (in another terminal):");
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    netlings_kit::print_commands(&[
        (
            format!("cargo run -p lesson12{features} -- serve book/src"),
            "serve a directory on 127.0.0.1:7012",
        ),
        (
            "curl -v http://127.0.0.1:7012/".to_string(),
            "a listing or index.html, with every header",
        ),
        (
            "curl -r 0-99 http://127.0.0.1:7012/lesson12.md".to_string(),
            "the first 100 bytes",
        ),
        (
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 7012".to_string(),
            "HTTP by hand",
        ),
    ]);
    Ok(())
}

/// The file the demo hides next to (not inside) the served directory.
fn secret_name() -> String {
    format!("netlings-demo12-secret-{}.txt", std::process::id())
}

/// Runs the server on a thread of its own, with a runtime of its own.
fn start_server(root: PathBuf) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let config = Config {
        quiet: true,
        ..Config::default()
    };
    thread::spawn(move || {
        runtime.block_on(async {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                server::run(listener, Site::new(root, config)).await;
            }
        });
    });
    Ok(addr)
}

/// A raw HTTP client: writes what it is given, reads answers by their
/// `Content-Length`.
struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    last_etag: Option<String>,
}

impl Client {
    fn connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(PATIENCE))?;
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            last_etag: None,
        })
    }

    fn send(&mut self, request: &str) -> io::Result<()> {
        for request in request.split_inclusive("\r\n\r\n") {
            println!("[client] > {request:?}");
        }
        self.writer.write_all(request.as_bytes())
    }

    /// Reads one answer; prints its status line, the fields named in
    /// `show`, and its body.
    fn answer(&mut self, show: &[&str]) -> io::Result<()> {
        self.read_answer(show, false)
    }

    /// Reads the answer to a HEAD request: a head, never a body.
    fn head_answer(&mut self, show: &[&str]) -> io::Result<()> {
        self.read_answer(show, true)
    }

    fn read_answer(&mut self, show: &[&str], head: bool) -> io::Result<()> {
        let mut status = String::new();
        self.reader.read_line(&mut status)?;
        if status.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection without an answer",
            ));
        }
        println!("[server] < {:?}", status.trim_end());
        let mut length = 0;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.trim();
            if show.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                println!("[server] <   {name}: {value}");
            }
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().unwrap_or(0);
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = true;
            }
            if name.eq_ignore_ascii_case("etag") {
                self.last_etag = Some(value.to_string());
            }
        }
        if chunked {
            println!("[server] <   (a chunked body: the demo skips it)");
            return Ok(());
        }
        if head {
            println!("[server] <   (an answer to HEAD: the headers, no body)");
            return Ok(());
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body)?;
        if !body.is_empty() {
            println!("[server] < {:?}", String::from_utf8_lossy(&body));
        }
        Ok(())
    }
}

/// A directory under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> io::Result<Scratch> {
        let path = std::env::temp_dir().join(format!("netlings-demo12-{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(std::env::temp_dir().join(secret_name()));
    }
}
