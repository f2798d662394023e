//! The server: accepts connections, reads their requests (§12.3), routes
//! each to a file or to the small API, and writes the answers.
//!
//! | target        | methods          | answer                                  |
//! | ------------- | ---------------- | --------------------------------------- |
//! | `/api/hello`  | GET, HEAD        | `{"hello":"world"}`                     |
//! | `/api/echo`   | POST             | the body received, described as JSON    |
//! | anything else | GET, HEAD        | a file, or a directory's `index.html` or listing |
//!
//! A method the server knows but the target does not allow is 405 with
//! `Allow`; a method it does not know at all is 501.
//!
//! Files are looked up on tokio's blocking threads; a small one is read
//! whole, sent with its head in one write, and kept in memory for a second
//! ([`FileCache`]); a large one is streamed in pieces of [`PIECE`] bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use crate::connection::{Connection, Incoming, keep_alive, read_request};
use crate::files::{self, Ranged};
use crate::request::{Request, Version};
use crate::response::{Length, Persistence, write_chunked, write_head};
use crate::{Config, HttpError};

/// Files up to this size are read whole and sent with their head in one
/// write; larger ones are streamed in pieces of this size.
pub const PIECE: usize = 64 * 1024;

/// The most connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;

/// Methods this server knows (RFC 9110's); others are 501.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// What every connection's task shares.
pub struct Site {
    /// The served directory, canonical.
    pub root: PathBuf,
    pub config: Config,
    /// Small files recently read.
    pub cache: FileCache,
}

impl Site {
    pub fn new(root: PathBuf, config: Config) -> Site {
        Site {
            root,
            config,
            cache: FileCache::default(),
        }
    }
}

/// Accepts connections for ever, a task for each.
pub async fn run(listener: TcpListener, site: Site) {
    let site = Arc::new(site);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // Waiting for a free slot before accepting leaves extra clients in
        // the kernel's backlog rather than in our memory.
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let site = Arc::clone(&site);
                tokio::spawn(async move {
                    serve(stream, peer, &site).await;
                    drop(slot);
                });
            }
            Err(e) => {
                if netlings_kit::accept_failure_logged(&e) {
                    tokio::time::sleep(netlings_kit::ACCEPT_PAUSE).await;
                }
            }
        }
    }
}

// ANCHOR: serve
/// Serves one connection: request after request, each answer written before
/// the next request is read (so pipelined requests are answered in order),
/// until the peer leaves, an error, or an answer that closes.
pub async fn serve(stream: TcpStream, peer: SocketAddr, site: &Site) {
    // Answers leave whole, in one write: Nagle would only delay them.
    let _ = stream.set_nodelay(true);
    let mut conn = Connection::new(stream, peer);
    let mut out = Vec::with_capacity(PIECE + 1024);
    loop {
        out.clear();
        let incoming = match read_request(&mut conn, &site.config).await {
            Ok(Some(incoming)) => incoming,
            Ok(None) => return,
            Err(e) => {
                // After a broken request we cannot know where the next one
                // starts: answer, and close.
                let sent = error(&mut out, e, Persistence::Close);
                if write(&mut conn, &out, site).await.is_ok() {
                    if !site.config.quiet {
                        log(peer, None, e.status, sent);
                    }
                    close_gently(&mut conn).await;
                }
                return;
            }
        };
        let keep = keep_alive(&incoming.request);
        let Ok((status, sent)) = answer(&mut conn, &incoming, keep, site, &mut out).await else {
            return; // the peer is gone, or takes nothing: nobody to tell
        };
        if !site.config.quiet {
            log(peer, Some(&incoming.request), status, sent);
        }
        if !keep {
            close_gently(&mut conn).await;
            return;
        }
    }
}
// ANCHOR_END: serve

/// How long a closing connection still reads (and drops) what its peer sends.
pub const LINGER: Duration = Duration::from_millis(500);

/// Closes a connection so that the peer gets the whole answer: says "no
/// more" (FIN) first, then reads and drops whatever the peer still sends,
/// for at most [`LINGER`]. Closing a socket with unread bytes in it makes the
/// kernel send a reset instead, and a reset can destroy the answer on its
/// way — a 413 the client never sees, because it was still sending the body.
async fn close_gently(conn: &mut Connection) {
    let _ = conn.stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = timeout(LINGER, async {
        while let Ok(1..) = conn.stream.read(&mut sink).await {}
    })
    .await;
}

/// One access-log line on stdout: `PEER "METHOD TARGET VERSION" STATUS BYTES`.
fn log(peer: SocketAddr, request: Option<&Request>, status: u16, sent: u64) {
    let mut out = io::stdout().lock();
    let _ = match request {
        Some(r) => writeln!(
            out,
            "{peer} \"{} {} {}\" {status} {sent}",
            r.method,
            r.target,
            r.version.as_str()
        ),
        None => writeln!(out, "{peer} \"-\" {status} {sent}"),
    };
    let _ = out.flush();
}

/// Writes `bytes`, giving up if the peer takes none of them for the idle
/// timeout.
async fn write(conn: &mut Connection, bytes: &[u8], site: &Site) -> io::Result<()> {
    match timeout(site.config.idle_timeout, conn.stream.write_all(bytes)).await {
        Ok(result) => result,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// An error answer in `out`: its status and why, as text. Returns the body's length.
pub fn error(out: &mut Vec<u8>, e: HttpError, persistence: Persistence) -> u64 {
    let body = format!(
        "{} {}: {}\n",
        e.status,
        crate::response::reason(e.status),
        e.why
    );
    write_head(
        out,
        e.status,
        &[("Content-Type", "text/plain; charset=utf-8")],
        Length::Known(body.len() as u64),
        persistence,
    );
    out.extend_from_slice(body.as_bytes());
    body.len() as u64
}

/// Answers one request: writes the whole answer. Returns its status and how
/// many body bytes were sent.
async fn answer(
    conn: &mut Connection,
    incoming: &Incoming,
    keep: bool,
    site: &Site,
    out: &mut Vec<u8>,
) -> io::Result<(u16, u64)> {
    let request = &incoming.request;
    let persistence = match (keep, request.version) {
        (false, _) => Persistence::Close,
        (true, Version::Http11) => Persistence::Default,
        (true, Version::Http10) => Persistence::KeepAlive,
    };
    let head = request.method == "HEAD";
    let path = request.target.split('?').next().unwrap_or("");
    let allowed: &[&str] = match path {
        "/api/echo" => &["POST"],
        _ => &["GET", "HEAD"],
    };
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1, at most one in HTTP/1.0.
    let hosts = request.headers("host").count();
    if hosts > 1 || (hosts == 0 && request.version == Version::Http11) {
        let why = if hosts > 1 {
            "more than one Host field"
        } else {
            "an HTTP/1.1 request without a Host field"
        };
        let sent = error(out, HttpError::bad(why), persistence);
        write(conn, out, site).await?;
        return Ok((400, sent));
    }
    if !KNOWN_METHODS.contains(&request.method.as_str()) {
        let sent = error(
            out,
            HttpError::not_implemented("an unknown method"),
            persistence,
        );
        write(conn, out, site).await?;
        return Ok((501, sent));
    }
    if !allowed.contains(&request.method.as_str()) {
        let body = b"405 Method Not Allowed\n";
        write_head(
            out,
            405,
            &[
                ("Allow", &allowed.join(", ")),
                ("Content-Type", "text/plain; charset=utf-8"),
            ],
            Length::Known(body.len() as u64),
            persistence,
        );
        out.extend_from_slice(body);
        write(conn, out, site).await?;
        return Ok((405, body.len() as u64));
    }
    match path {
        "/api/hello" => {
            let body = b"{\"hello\":\"world\"}\n";
            write_head(
                out,
                200,
                &[("Content-Type", "application/json")],
                Length::Known(body.len() as u64),
                persistence,
            );
            if !head {
                out.extend_from_slice(body);
            }
            write(conn, out, site).await?;
            Ok((200, if head { 0 } else { body.len() as u64 }))
        }
        "/api/echo" => {
            let body = echo_json(incoming);
            write_head(
                out,
                200,
                &[("Content-Type", "application/json")],
                Length::Known(body.len() as u64),
                persistence,
            );
            out.extend_from_slice(body.as_bytes());
            write(conn, out, site).await?;
            Ok((200, body.len() as u64))
        }
        _ => serve_file(conn, request, persistence, site, out).await,
    }
}

/// What `POST /api/echo` answers: the body it received, described.
fn echo_json(incoming: &Incoming) -> String {
    let text = String::from_utf8_lossy(&incoming.body);
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            c if (c as u32) < 0x20 => escaped.push_str(&format!("\\u{:04x}", c as u32)),
            c => escaped.push(c),
        }
    }
    let chunked = incoming.request.header("transfer-encoding").is_some();
    format!(
        "{{\"bytes\":{},\"chunked\":{chunked},\"body\":\"{escaped}\"}}\n",
        incoming.body.len()
    )
}

/// What looking a target up on disk found.
enum Found {
    /// A file: what every answer about it needs, and the open file when it
    /// is too large to have been read whole.
    File(Arc<FileInfo>, Option<File>),
    /// A directory without `index.html`: its listing.
    Listing(String),
    /// A directory asked for without its final `/`: where to go instead.
    Redirect(String),
}

/// A file as its answers see it.
pub struct FileInfo {
    pub content_type: &'static str,
    pub etag: String,
    pub len: u64,
    /// The whole content, for a file of at most [`PIECE`] bytes.
    pub bytes: Option<Bytes>,
}

/// How long a small file read from disk is served from memory before it is
/// looked up again: changes on disk show within this time.
pub const FRESH: Duration = Duration::from_secs(1);

/// The most small files kept in memory at once.
pub const CACHED_FILES: usize = 1024;

/// Small files recently read, by target path: like nginx's
/// `open_file_cache`, it spares the system calls of a lookup (resolve's
/// `canonicalize`, open, fstat, read, close) for a file asked for again and
/// again, at the price of serving a changed file up to [`FRESH`] late.
#[derive(Default)]
pub struct FileCache {
    files: Mutex<HashMap<String, (Arc<FileInfo>, Instant)>>,
}

impl FileCache {
    fn get(&self, path: &str) -> Option<Arc<FileInfo>> {
        let files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        let (info, read_at) = files.get(path)?;
        (read_at.elapsed() < FRESH).then(|| Arc::clone(info))
    }

    fn put(&self, path: &str, info: &Arc<FileInfo>) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if files.len() >= CACHED_FILES {
            // Crude but bounded: start again rather than grow.
            files.clear();
        }
        files.insert(path.to_string(), (Arc::clone(info), Instant::now()));
    }
}

/// Looks `target` up under `root`: on a blocking thread, for it waits for
/// the disk. A small file is read whole; a large one is left open.
fn look_up(root: &std::path::Path, target: &str) -> Result<Found, HttpError> {
    let mut path = files::resolve(root, target)?;
    let raw = target.split('?').next().unwrap_or("");
    // `/hello.txt/` names a directory, and there is none: 404, as nginx says.
    if raw.ends_with('/') && !path.is_dir() {
        return Err(HttpError::NOT_FOUND);
    }
    if path.is_dir() {
        if !raw.ends_with('/') {
            return Ok(Found::Redirect(format!("{raw}/")));
        }
        if !path.join("index.html").is_file() {
            let url = files::url_path(target);
            let page = files::listing(&path, &url).map_err(|_| HttpError::FORBIDDEN)?;
            return Ok(Found::Listing(page));
        }
        // Resolved like any other target: `index.html` may be a symlink
        // out of the root too.
        path = files::resolve(root, &format!("{raw}index.html"))?;
    }
    let mut file = File::open(&path).map_err(|_| HttpError::FORBIDDEN)?;
    let meta = file.metadata().map_err(|_| HttpError::FORBIDDEN)?;
    if !meta.is_file() {
        return Err(HttpError::FORBIDDEN);
    }
    let mut info = FileInfo {
        content_type: files::content_type(&path),
        etag: files::etag(&meta),
        len: meta.len(),
        bytes: None,
    };
    if info.len > PIECE as u64 {
        return Ok(Found::File(Arc::new(info), Some(file)));
    }
    let mut bytes = vec![0u8; info.len as usize];
    file.read_exact(&mut bytes).map_err(|_| HttpError {
        status: 500,
        why: "reading the file failed",
    })?;
    info.bytes = Some(Bytes::from(bytes));
    Ok(Found::File(Arc::new(info), None))
}

/// GET or HEAD of a file or directory.
async fn serve_file(
    conn: &mut Connection,
    request: &Request,
    persistence: Persistence,
    site: &Site,
    out: &mut Vec<u8>,
) -> io::Result<(u16, u64)> {
    let head = request.method == "HEAD";
    let path = request.target.split('?').next().unwrap_or("");
    let cached = site.cache.get(path);
    let found = match cached.clone() {
        Some(info) => Ok(Found::File(info, None)),
        None => {
            let root = site.root.clone();
            let target = request.target.clone();
            tokio::task::spawn_blocking(move || look_up(&root, &target))
                .await
                .unwrap_or(Err(HttpError {
                    status: 500,
                    why: "looking the file up failed",
                }))
        }
    };
    let (info, file) = match found {
        Ok(Found::File(info, file)) => {
            if cached.is_none() && info.bytes.is_some() {
                site.cache.put(path, &info);
            }
            (info, file)
        }
        Ok(Found::Redirect(url)) => {
            write_head(
                out,
                301,
                &[("Location", &url)],
                Length::Known(0),
                persistence,
            );
            write(conn, out, site).await?;
            return Ok((301, 0));
        }
        Ok(Found::Listing(page)) => {
            let fields = [("Content-Type", "text/html; charset=utf-8")];
            // A listing's length is known only once it is written: an
            // HTTP/1.1 client gets it chunked, as a page made on the fly would be.
            if request.version == Version::Http11 {
                write_head(out, 200, &fields, Length::Chunked, persistence);
                if !head {
                    write_chunked(out, page.as_bytes(), 4096);
                }
            } else {
                let length = Length::Known(page.len() as u64);
                write_head(out, 200, &fields, length, persistence);
                if !head {
                    out.extend_from_slice(page.as_bytes());
                }
            }
            write(conn, out, site).await?;
            return Ok((200, if head { 0 } else { page.len() as u64 }));
        }
        Err(e) => {
            let sent = error(out, e, persistence);
            write(conn, out, site).await?;
            return Ok((e.status, sent));
        }
    };
    if request
        .header("if-none-match")
        .is_some_and(|tags| files::none_match(tags, &info.etag))
    {
        write_head(out, 304, &[("ETag", &info.etag)], Length::None, persistence);
        write(conn, out, site).await?;
        return Ok((304, 0));
    }
    let ranged = match request.header("range") {
        Some(range) => files::parse_range(range, info.len),
        None => Ranged::Whole,
    };
    let content_range;
    let mut fields = vec![
        ("Content-Type", info.content_type),
        ("Accept-Ranges", "bytes"),
        ("ETag", info.etag.as_str()),
    ];
    let (status, start, len) = match ranged {
        Ranged::Whole => (200, 0, info.len),
        Ranged::Part { start, end } => {
            content_range = format!("bytes {start}-{end}/{}", info.len);
            fields.push(("Content-Range", &content_range));
            (206, start, end - start + 1)
        }
        Ranged::Unsatisfiable => {
            let range = format!("bytes */{}", info.len);
            let fields = [("Content-Range", range.as_str())];
            write_head(out, 416, &fields, Length::Known(0), persistence);
            write(conn, out, site).await?;
            return Ok((416, 0));
        }
    };
    write_head(out, status, &fields, Length::Known(len), persistence);
    if head {
        write(conn, out, site).await?;
        return Ok((status, 0));
    }
    match (&info.bytes, file) {
        // Small: head and body leave in one write.
        (Some(bytes), _) => {
            out.extend_from_slice(&bytes[start as usize..(start + len) as usize]);
            write(conn, out, site).await?;
        }
        (None, Some(file)) => {
            write(conn, out, site).await?;
            let mut sent = 0;
            if let Err(e) = stream(conn, file, start, len, site, &mut sent).await {
                // Cut off (a download stopped halfway): the log says how
                // much did leave, then the connection is given up.
                if !site.config.quiet {
                    log(conn.peer, Some(request), status, sent);
                }
                return Err(e);
            }
        }
        (None, None) => return Err(io::ErrorKind::NotFound.into()),
    }
    Ok((status, len))
}

// ANCHOR: stream
/// Sends `len` bytes of `file` from byte `start`, a piece at a time: one
/// piece in memory, however large the file. Counts in `sent` the bytes
/// written, for the log of an answer cut off on its way.
async fn stream(
    conn: &mut Connection,
    file: File,
    start: u64,
    len: u64,
    site: &Site,
    sent: &mut u64,
) -> io::Result<()> {
    let mut file = file;
    if start > 0 {
        file = tokio::task::spawn_blocking(move || file.seek(SeekFrom::Start(start)).map(|_| file))
            .await
            .map_err(io::Error::other)??;
    }
    let mut piece = vec![0u8; PIECE];
    let mut left = len;
    while left > 0 {
        let want = left.min(PIECE as u64) as usize;
        let (f, p, read) = tokio::task::spawn_blocking(move || {
            let read = file.read(&mut piece[..want]);
            (file, piece, read)
        })
        .await
        .map_err(io::Error::other)?;
        (file, piece) = (f, p);
        let n = read?;
        if n == 0 {
            // The file shrank since we measured it: the promised length
            // cannot be kept, so the connection must end here.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        write(conn, &piece[..n], site).await?;
        left -= n as u64;
        *sent += n as u64;
    }
    Ok(())
}
// ANCHOR_END: stream
