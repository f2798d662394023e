//! From a request target to a file: a path that cannot leave the served
//! directory, the file's type and validator, ranges, and directory listings.
//!
//! Everything here touches the disk or is pure: the server runs it on
//! tokio's blocking threads (`spawn_blocking`), never on the threads that
//! run the connections' tasks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::HttpError;

/// Decodes `%XY` escapes in one segment of a path. 400 for a `%` that is
/// not followed by two hex digits.
pub fn percent_decode(segment: &str) -> Result<Vec<u8>, HttpError> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(HttpError::bad(
                    "a % in the path is not followed by two hex digits",
                ))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

// ANCHOR: resolve
/// Exercise 12.4: a path that stays inside the root — book §12.4.
///
/// Maps the request `target` (`/docs/a%20b.txt?x=1`) to a file or
/// directory under `root`, which is canonical (absolute, no symlinks, no
/// `..`). The answer is canonical too, and always inside `root`:
/// - the query (from `?`) is not part of the path; a target that does not
///   start with `/` is 400;
/// - the path is split at `/` first and each segment percent-decoded after
///   ([`percent_decode`]), so `%2f` cannot make a new segment; empty
///   segments and `.` are skipped;
/// - a decoded segment that is `..`, or contains `/`, `\`, or a NUL byte,
///   or is not UTF-8, is 400;
/// - a path that does not exist is 404; one that exists but, with its
///   symlinks followed, ends outside `root` is 403.
pub fn resolve(root: &Path, target: &str) -> Result<PathBuf, HttpError> {
    let _ = (root, target); // unused until you write the function
    todo!("exercise 12.4: a path that stays inside the root — book §12.4")
}
// ANCHOR_END: resolve

// ANCHOR: ranged
/// Which bytes of a file a `Range` field asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranged {
    /// The whole file, 200: no `Range`, or one this server ignores.
    Whole,
    /// Bytes `start..=end` (both inclusive, as in `Content-Range`), 206.
    Part { start: u64, end: u64 },
    /// None of the file: 416 with `Content-Range: bytes */LEN`.
    Unsatisfiable,
}
// ANCHOR_END: ranged

// ANCHOR: parse_range
/// Exercise 12.5: which bytes a `Range` asks for — book §12.5.
///
/// `range` is the value of a `Range` field, `len` the file's length. One
/// range of bytes is answered (the unit `bytes` compared without case):
/// - `bytes=A-B`: bytes A to B inclusive; B past the end means up to the
///   end;
/// - `bytes=A-`: from A to the end;
/// - `bytes=-N`: the last N bytes (the whole file if it has fewer);
/// - a first byte at or past the end, or `-0`, or any range of an empty
///   file: [`Ranged::Unsatisfiable`].
///
/// Anything else is ignored — [`Ranged::Whole`], as RFC 9110 allows: another
/// unit than `bytes`, several ranges (`bytes=0-1,5-6`), a range whose last
/// byte comes before its first (`bytes=5-2`), numbers that are not plain
/// decimal digits.
pub fn parse_range(range: &str, len: u64) -> Ranged {
    let _ = (range, len); // unused until you write the function
    todo!("exercise 12.5: which bytes a `Range` asks for — book §12.5")
}
// ANCHOR_END: parse_range

/// The `Content-Type` of a file, from its extension.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" | "rs" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A validator for the file's current content: its length and modification
/// time, as nginx does. A changed file gets a new one.
pub fn etag(meta: &std::fs::Metadata) -> String {
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{modified:x}\"", meta.len())
}

/// Whether an `If-None-Match` value names `etag` (or is `*`). Weak
/// comparison: `W/"x"` matches `"x"`.
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `text` with the characters that mean something in HTML escaped: a file
/// called `<script>…` is shown, not run.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` percent-encoded for a link: everything but unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The most entries a listing shows.
pub const MAX_LISTING: usize = 10_000;

/// A directory listing as a small HTML page; `url_path` is the directory's
/// path as the browser sees it, ending in `/`.
pub fn listing(dir: &Path, url_path: &str) -> std::io::Result<String> {
    let mut names: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(dir)?.take(MAX_LISTING) {
        let entry = entry?;
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    let title = html_escape(url_path);
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Index of {title}</title></head>\n\
         <body><h1>Index of {title}</h1>\n<ul>\n"
    );
    if url_path != "/" {
        page.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for name in &names {
        let (stem, slash) = match name.strip_suffix('/') {
            Some(stem) => (stem, "/"),
            None => (name.as_str(), ""),
        };
        let _ = writeln!(
            page,
            "<li><a href=\"{}{slash}\">{}</a></li>",
            html_escape(&percent_encode(stem)),
            html_escape(name)
        );
    }
    page.push_str("</ul></body></html>\n");
    Ok(page)
}

/// Where the served files are, and the one path they may be read from.
pub fn canonical_root(dir: &Path) -> std::io::Result<PathBuf> {
    let root = dir.canonicalize()?;
    if !root.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    Ok(root)
}

/// The path of a file as the browser sees it, for a listing's links:
/// decoded, without the query. (`resolve` has checked it already.)
pub fn url_path(target: &str) -> String {
    let path = target.split('?').next().unwrap_or(target);
    let decoded: Vec<u8> = path
        .split('/')
        .flat_map(|s| {
            let mut seg = percent_decode(s).unwrap_or_default();
            seg.push(b'/');
            seg
        })
        .collect();
    let mut text = String::from_utf8_lossy(&decoded[..decoded.len() - 1]).into_owned();
    if !text.ends_with('/') {
        text.push('/');
    }
    text
}
