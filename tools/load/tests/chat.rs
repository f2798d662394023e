//! Runs `netlings-load` against a tiny chat server written here, so the
//! tool is tested without depending on lessons 8–10: just the welcome,
//! `/join` and broadcasting to the rest of the room.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Every run of the tool must be over by then.
const DEADLINE: Duration = Duration::from_secs(30);

#[test]
fn every_message_reaches_the_rest_of_its_room() {
    let server = ChatServer::start(usize::MAX);
    let (json, stderr) = load(
        server.addr,
        "--clients 20 --room-size 5 --rate 5 --duration 1",
    )
    .expect("the tool exits with success");
    let field = |name: &str| {
        json[name]
            .as_u64()
            .unwrap_or_else(|| panic!("no {name}: {json}"))
    };
    assert_eq!(field("connected"), 20, "{json}\n{stderr}");
    assert_eq!(field("connect_failures"), 0, "{json}\n{stderr}");
    assert_eq!(field("lost"), 0, "{json}\n{stderr}");
    assert!(field("received") > 0, "{json}\n{stderr}");
    assert_eq!(field("received"), field("expected"), "{json}\n{stderr}");
    // Everyone stayed, so each message was for the 4 others of its room.
    assert_eq!(field("expected"), 4 * field("sent"), "{json}\n{stderr}");
    // 5 a second for a second, unless the machine is very busy.
    assert!((80..=100).contains(&field("sent")), "{json}\n{stderr}");
    assert_eq!(field("errors"), 0, "{json}\n{stderr}");
    assert!(json["latency_us"]["p99"].as_u64().is_some(), "{json}");
}

#[test]
fn a_full_server_is_reported_and_the_rest_still_measured() {
    let server = ChatServer::start(15);
    let (json, stderr) = load(
        server.addr,
        "--clients 20 --room-size 5 --rate 5 --duration 0.3",
    )
    .expect("the tool exits with success");
    assert_eq!(json["connected"], 15, "{json}\n{stderr}");
    assert_eq!(json["connect_failure_reasons"]["server full"], 5, "{json}");
    assert_eq!(json["lost"], 0, "{json}\n{stderr}");
    assert_eq!(json["received"], json["expected"], "{json}\n{stderr}");
}

#[test]
fn nobody_listening_is_a_failure_with_the_reason() {
    // A port that was free a moment ago: nothing listens there now.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap();
    let (json, stderr) = load(addr, "--clients 3 --room-size 2 --rate 1 --duration 1")
        .expect_err("the tool fails when nobody can join");
    assert_eq!(json["connect_failure_reasons"]["refused"], 3, "{json}");
    assert_eq!(json["connected"], 0, "{json}");
    assert!(stderr.contains("no client could join"), "{stderr}");
}

/// Runs `netlings-load chat ADDR ARGS --json`; returns its report and its
/// stderr, as `Ok` if it exited with success.
type Outcome = Result<(serde_json::Value, String), (serde_json::Value, String)>;

fn load(addr: SocketAddr, args: &str) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_netlings-load"))
        .arg("chat")
        .arg(addr.to_string())
        .args(args.split_whitespace())
        .arg("--json")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    // Read both pipes on threads, so the test can give up at the deadline.
    let (done, finished) = std::sync::mpsc::channel();
    for (which, mut pipe) in [
        (
            0,
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        ),
        (1, Box::new(child.stderr.take().unwrap())),
    ] {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = done.send((which, text));
        });
    }
    let mut outputs = [String::new(), String::new()];
    for _ in 0..2 {
        match finished.recv_timeout(DEADLINE) {
            Ok((which, text)) => outputs[which] = text,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("netlings-load {args} still running after {DEADLINE:?}");
            }
        }
    }
    let status = child.wait().unwrap();
    let [stdout, stderr] = outputs;
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout:?}\nstderr: {stderr}"));
    if status.success() {
        Ok((json, stderr))
    } else {
        Err((json, stderr))
    }
}

/// A chat server just big enough for the tool: guests, `/join`, and
/// messages to the other members of the room. Stops when dropped.
struct ChatServer {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

/// Each member's name, room, and the queue its writer task drains.
type Members = Arc<Mutex<HashMap<u64, (String, String, mpsc::UnboundedSender<String>)>>>;

impl ChatServer {
    fn start(max_clients: usize) -> ChatServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        runtime.spawn(async move {
            let members = Members::default();
            for id in 1.. {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(stream, id, members.clone(), max_clients));
            }
        });
        ChatServer {
            addr,
            _runtime: runtime,
        }
    }
}

async fn serve(stream: TcpStream, id: u64, members: Members, max_clients: usize) {
    let (reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let name = format!("guest{id}");
    let full = {
        let mut members = members.lock().unwrap();
        let full = members.len() >= max_clients;
        if !full {
            let welcome =
                format!("* welcome, {name}: /nick NAME to choose a name, /help for commands");
            let _ = tx.send(welcome + "\n");
            tell(&members, "lobby", id, &format!("* {name} joined lobby"));
            members.insert(id, (name.clone(), "lobby".into(), tx));
        }
        full
    };
    if full {
        let _ = writer.write_all(b"! server full\n").await;
        return;
    }
    // The writer ends when the member's queue is dropped, as it leaves.
    tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            if writer.write_all(line.as_bytes()).await.is_err() {
                break;
            }
        }
    });
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut members = members.lock().unwrap();
        let old = members[&id].1.clone();
        if let Some(room) = line.strip_prefix("/join ") {
            tell(&members, &old, id, &format!("* {name} left {old}"));
            tell(&members, room, id, &format!("* {name} joined {room}"));
            let here = 1 + members.values().filter(|m| m.1 == room).count();
            let member = members.get_mut(&id).unwrap();
            member.1 = room.to_string();
            let _ = member
                .2
                .send(format!("* you joined {room} ({here} here)\n"));
        } else {
            tell(&members, &old, id, &format!("{name}: {line}"));
        }
    }
    let mut members = members.lock().unwrap();
    if let Some((_, room, _)) = members.remove(&id) {
        tell(&members, &room, id, &format!("* {name} left {room}"));
    }
}

/// Sends `line` to every member of `room` but `from`.
fn tell(
    members: &HashMap<u64, (String, String, mpsc::UnboundedSender<String>)>,
    room: &str,
    from: u64,
    line: &str,
) {
    for (id, (_, their_room, tx)) in members {
        if *id != from && their_room == room {
            let _ = tx.send(format!("{line}\n"));
        }
    }
}
