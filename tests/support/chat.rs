//! The behaviour of the Part III chat, checked once and run against each of
//! its three servers (lessons 8, 9 and 10).
//!
//! Each check takes the server's binary and the exercise to revisit when it
//! fails; a lesson's test file wraps each one in a test named after its own
//! exercise: `fn ex8_3_messages_reach_the_room() { chat::messages_reach_the_room(BIN, EX8_3) }`.
//! The protocol is in `chat/src/protocol.rs`; chapter 8 describes it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpStream};
#[cfg(unix)]
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{DEADLINE, Hint, Server, churn, server, show};

/// A chat client of a test: every read has a deadline, and a failure shows
/// what this client sent and received so far.
pub struct Client<'a> {
    server: &'a Server,
    pub name: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    transcript: Vec<String>,
}

impl<'a> Client<'a> {
    /// Connects and reads the welcome; the client is then `guestN`.
    pub fn connect(server: &'a Server) -> Client<'a> {
        let mut client = Client::connect_quietly(server);
        client.name = "the new client".to_string();
        let welcome = client.welcome();
        let name = welcome.strip_prefix("* welcome, ").and_then(|rest| {
            rest.strip_suffix(": /nick NAME to choose a name, /help for commands")
        });
        match name {
            Some(name) if name.starts_with("guest") => client.name = name.to_string(),
            _ => client.fail(&format!(
                "Expected the welcome, \"* welcome, guestN: /nick NAME to choose a name, \
                 /help for commands\"; got {welcome:?}"
            )),
        }
        client
    }

    /// The welcome line, or a failure that says what a missing welcome
    /// usually means.
    fn welcome(&mut self) -> String {
        match self.try_line() {
            Ok(line) => line,
            Err(why) => self.fail(&format!(
                "A new client connected and waited for its welcome; got {why}.\n\
                 The server accepted the connection (or the kernel did, into the backlog) but \
                 never welcomed it. If the clients before it were welcomed, something is \
                 blocking the server where it joins a new client: a lock on the chat held by \
                 a thread or task that is waiting (in a read, or in a send to a full queue), \
                 or an accept loop that is not running."
            )),
        }
    }

    /// Connects without reading anything.
    pub fn connect_quietly(server: &'a Server) -> Client<'a> {
        let stream = server.connect().stream;
        // A test sends a burst of lines and then asks a question: without
        // this, Nagle's algorithm holds the question back until the server
        // acknowledges the burst, up to 40 ms with a delayed ACK.
        let _ = stream.set_nodelay(true);
        Client {
            server,
            name: "a client not welcomed yet".to_string(),
            writer: stream.try_clone().expect("try_clone"),
            reader: BufReader::new(stream),
            transcript: Vec::new(),
        }
    }

    /// Sends `line` and `\n`.
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.transcript.push(format!("→ {}", show(bytes)));
        if let Err(e) = self.writer.write_all(bytes) {
            self.fail(&format!("sending {} failed: {e}", show(bytes)));
        }
    }

    /// The next line, without its `\n`; fails the test if none comes.
    pub fn line(&mut self) -> String {
        match self.try_line() {
            Ok(line) => line,
            Err(why) => self.fail(&format!("Expected a line; got {why}")),
        }
    }

    /// The next line, or what came instead (a close, silence).
    pub fn try_line(&mut self) -> Result<String, String> {
        let mut line = Vec::new();
        match self.reader.read_until(b'\n', &mut line) {
            Ok(_) if line.ends_with(b"\n") => {
                line.pop();
                let line = String::from_utf8_lossy(&line).into_owned();
                self.transcript.push(format!("← {line:?}"));
                if line.ends_with('\r') {
                    self.fail("The server ended a line with \"\\r\\n\"; it sends \"\\n\" only");
                }
                Ok(line)
            }
            Ok(_) => Err(format!(
                "{} and then end of stream: the server closed the connection",
                show(&line)
            )),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(format!("{} and then nothing for {DEADLINE:?}", show(&line)))
            }
            Err(e) => Err(format!("{} and then an error: {e}", show(&line))),
        }
    }

    /// Checks that the next line is `expected`.
    pub fn expect(&mut self, expected: &str) {
        let got = match self.try_line() {
            Ok(line) => format!("{line:?}"),
            Err(why) => why,
        };
        if got != format!("{expected:?}") {
            self.fail(&format!("Expected: {expected:?}\nGot:      {got}"));
        }
    }

    /// Sends `line` and checks the answer.
    pub fn ask(&mut self, line: &str, expected: &str) {
        self.send(line);
        self.expect(expected);
    }

    /// Checks that the server closes the connection next (a reset counts).
    pub fn expect_close(&mut self, why: &str) {
        let mut rest = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        loop {
            let mut line = Vec::new();
            match self.reader.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => rest.push(String::from_utf8_lossy(&line).into_owned()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            if Instant::now() > deadline {
                break;
            }
        }
        self.fail(&format!(
            "The server should have closed the connection ({why}); it stayed open for \
             {DEADLINE:?} and sent {rest:?}"
        ))
    }

    /// `/nick name`, checking the confirmation.
    pub fn rename(&mut self, name: &str) {
        self.ask(&format!("/nick {name}"), &format!("* you are now {name}"));
        self.name = name.to_string();
    }

    /// Fails the test with `what`, this client's transcript, and the server's log.
    pub fn fail(&self, what: &str) -> ! {
        let mut shown: Vec<&str> = self.transcript.iter().map(String::as_str).collect();
        if shown.is_empty() {
            shown.push("(nothing sent or received yet)");
        }
        let from = shown.len().saturating_sub(12);
        self.server.fail(&format!(
            "{what}\n\n{}'s conversation so far{}:\n    {}",
            self.name,
            if from > 0 { " (its last lines)" } else { "" },
            shown[from..].join("\n    ")
        ))
    }

    /// Resets the connection (SO_LINGER 0, then close): the server sees a
    /// reset, not an end of stream.
    pub fn reset(self) {
        let _ = socket2::SockRef::from(&self.writer).set_linger(Some(Duration::ZERO));
    }
}

/// `names.len()` clients in the lobby, each renamed, every notice about the
/// others already read: ready to chat.
pub fn lobby<'a>(server: &'a Server, names: &[&str]) -> Vec<Client<'a>> {
    let mut clients: Vec<Client<'a>> = Vec::new();
    for name in names {
        let mut new = Client::connect(server);
        let guest = new.name.clone();
        for earlier in clients.iter_mut() {
            earlier.expect(&format!("* {guest} joined lobby"));
        }
        new.rename(name);
        for earlier in clients.iter_mut() {
            earlier.expect(&format!("* {guest} is now {name}"));
        }
        clients.push(new);
    }
    clients
}

/// The server, started with `extra` flags.
pub fn start(binary: &str, hint: Hint, extra: &[&str]) -> Server {
    server(binary, hint, extra)
}

/// A new client is welcomed as guestN, the lobby hears of it, and every
/// guest number is different.
pub fn welcome_and_the_lobby_hears(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut first = Client::connect(&server);
    let second = Client::connect(&server);
    first.expect(&format!("* {} joined lobby", second.name));
    if first.name == second.name {
        first.fail(&format!("Two clients were both welcomed as {}", first.name));
    }
}

/// Messages reach every other member of the room, in the order sent, and
/// not the sender.
pub fn messages_reach_the_room_in_order(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada", "bob", "cy"]);
    for i in 0..200 {
        c[0].send(&format!("message {i}"));
    }
    for receiver in &mut c[1..] {
        for i in 0..200 {
            receiver.expect(&format!("ada: message {i}"));
        }
    }
    // The sender's next line is the answer to /who, not its own messages.
    c[0].ask("/who", "* in lobby: ada, bob, cy");
    c[1].send("hi ada");
    c[0].expect("bob: hi ada");
}

/// `/nick`: names are checked and unique, guests' names included.
pub fn names_are_checked_and_unique(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada"]);
    let mut guest = Client::connect(&server);
    c[0].expect(&format!("* {} joined lobby", guest.name));
    guest.ask("/nick ada", "! name ada is taken");
    c[0].ask(
        &format!("/nick {}", guest.name),
        &format!("! name {} is taken", guest.name),
    );
    for bad in [
        "/nick",
        "/nick a b",
        "/nick ada!",
        "/nick seventeen_chars_x",
        "/nick café",
    ] {
        guest.ask(bad, "! invalid name");
    }
    let old = guest.name.clone();
    guest.rename("sixteen_chars-ok");
    c[0].expect(&format!("* {old} is now sixteen_chars-ok"));
    // The old name is free again.
    c[0].ask(&format!("/nick {old}"), &format!("* you are now {old}"));
    guest.expect(&format!("* ada is now {old}"));
}

/// `/join` moves a client between rooms, both rooms hear it, and messages
/// stay in their room; `/who` lists the room, sorted.
pub fn rooms_keep_their_messages(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["cy", "ada", "bob"]);
    c[2].ask("/join den", "* you joined den (1 here)");
    c[0].expect("* bob left lobby");
    c[1].expect("* bob left lobby");
    c[0].ask("/join den", "* you joined den (2 here)");
    c[1].expect("* cy left lobby");
    c[2].expect("* cy joined den");
    c[0].send("in the den");
    c[2].expect("cy: in the den");
    c[1].ask("/who", "* in lobby: ada");
    c[2].ask("/who", "* in den: bob, cy");
    c[1].ask("/join no/slashes", "! invalid room");
    c[1].ask("/join", "! invalid room");
    c[1].ask(&format!("/join {}", "r".repeat(33)), "! invalid room");
    c[1].ask(
        &format!("/join {}", "r".repeat(32)),
        &format!("* you joined {} (1 here)", "r".repeat(32)),
    );
}

/// `/help`, unknown commands, empty lines, `\r\n` endings and bytes that
/// are not UTF-8: each gets its answer and the connection stays.
pub fn commands_and_bad_lines(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada", "bob"]);
    c[0].send("/help");
    c[0].send("/who");
    let mut help = 0;
    loop {
        let line = c[0].line();
        if line == "* in lobby: ada, bob" {
            break;
        }
        if !line.starts_with("* ") {
            c[0].fail(&format!(
                "Every line of /help's answer starts with \"* \"; got {line:?}"
            ));
        }
        help += 1;
    }
    if help == 0 {
        c[0].fail("/help answered nothing");
    }
    c[0].ask("/dance now", "! unknown command /dance");
    c[0].send("");
    c[0].send_bytes(b"/nick ada2\r\n");
    c[0].expect("* you are now ada2");
    c[1].expect("* ada is now ada2");
    c[0].send_bytes(b"caf\xe9\n");
    c[0].expect("! invalid UTF-8");
    c[0].send_bytes(b"still here\r\n");
    c[1].expect("ada2: still here");
}

/// `/quit`, the end of the stream and a reset mid-line: the room hears each.
pub fn leaving_is_announced(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada", "bob", "cy", "dee"]);
    let dee = c.pop().unwrap();
    let mut cy = c.pop().unwrap();
    let mut bob = c.pop().unwrap();
    bob.ask("/quit", "* bye");
    bob.expect_close("after /quit");
    c[0].expect("* bob left lobby");
    cy.send_bytes(b"half a li");
    cy.reset();
    c[0].expect("* cy left lobby");
    let _ = dee.writer.shutdown(Shutdown::Write);
    c[0].expect("* dee left lobby");
    c[0].ask("/who", "* in lobby: ada");
}

/// A line of exactly 1024 bytes is fine; 1025 gets `! line too long` and a close.
pub fn long_lines_are_refused(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada", "bob"]);
    let longest = "x".repeat(1024);
    c[0].send(&longest);
    c[1].expect(&format!("ada: {longest}"));
    c[0].send_bytes(format!("{longest}\r\n").as_bytes());
    c[1].expect(&format!("ada: {longest}"));
    c[0].send(&format!("{longest}y"));
    c[0].expect("! line too long");
    c[0].expect_close("after a line too long");
    c[1].expect("* ada left lobby");
    // A line that never ends is refused just the same.
    let mut endless = Client::connect(&server);
    c[1].expect(&format!("* {} joined lobby", endless.name));
    endless.send_bytes(&vec![b'z'; 64 * 1024]);
    endless.expect("! line too long");
    endless.expect_close("after a line too long");
}

/// `--max-clients 2`: the third client gets `! server full` and is closed;
/// once a place is free, the next is welcome.
pub fn a_full_server_says_so(binary: &str, hint: Hint) {
    let server = start(binary, hint, &["--max-clients", "2"]);
    let mut c = lobby(&server, &["ada", "bob"]);
    let mut third = Client::connect_quietly(&server);
    third.expect("! server full");
    third.expect_close("after \"! server full\"");
    c[1].ask("/quit", "* bye");
    c[0].expect("* bob left lobby");
    let fourth = Client::connect(&server);
    c[0].expect(&format!("* {} joined lobby", fourth.name));
}

/// `--idle-secs`: a silent client gets `! idle timeout`, is closed, and the
/// room hears `(idle)`; a client that talks stays.
pub fn idle_clients_are_sent_away(binary: &str, hint: Hint) {
    let server = start(binary, hint, &["--idle-secs", "0.3"]);
    let mut c = lobby(&server, &["silent", "talker"]);
    // The talker keeps talking (a /who every 20 ms) until it hears the news.
    let deadline = Instant::now() + DEADLINE;
    loop {
        c[1].send("/who");
        let line = c[1].line();
        if line == "* silent left lobby (idle)" {
            break;
        }
        if !line.starts_with("* in lobby") {
            c[1].fail(&format!(
                "Expected \"* silent left lobby (idle)\"; got {line:?}"
            ));
        }
        if Instant::now() > deadline {
            c[1].fail("The silent client was never sent away (--idle-secs 0.3)");
        }
        thread::sleep(Duration::from_millis(20));
    }
    c[0].expect("! idle timeout");
    c[0].expect_close("after \"! idle timeout\"");
}

/// A client that never reads is sent away as too slow; the others get
/// every message, in order, and the server's memory stays bounded.
pub fn a_client_that_never_reads_is_dropped(binary: &str, hint: Hint) {
    let server = start(binary, hint, &["--stall-secs", "0.5"]);
    let mut c = lobby(&server, &["sender", "reader", "sleeper"]);
    // The sleeper's socket takes little before the server's writes stall.
    let sleeper = c.pop().unwrap();
    let _ = socket2::SockRef::from(&sleeper.writer).set_recv_buffer_size(4096);
    let mut reader = c.pop().unwrap();
    let mut sender = c.pop().unwrap();

    let heard = Arc::new(AtomicBool::new(false));
    let heard_by_reader = Arc::clone(&heard);
    // How many messages the reader has got: the sender stays at most a few
    // hundred ahead, so the reader is never the one that falls behind.
    let progress = Arc::new(AtomicU64::new(0));
    let reader_progress = Arc::clone(&progress);
    let line = "x".repeat(1000);
    // The reader reads on a thread of its own while the sender floods the
    // room: it must get every message, in order.
    let reading = {
        let mut stream = BufReader::new(reader.reader.get_ref().try_clone().unwrap());
        let line = line.clone();
        thread::spawn(move || -> Result<u64, String> {
            let mut next = 0u64;
            let mut got = Vec::new();
            loop {
                got.clear();
                match stream.read_until(b'\n', &mut got) {
                    Ok(0) => return Err("the server closed the reader's connection".into()),
                    Ok(_) => {}
                    Err(e) => return Err(format!("the reader's read failed: {e}")),
                }
                let text = String::from_utf8_lossy(&got);
                let text = text.trim_end_matches('\n');
                if text == "* sleeper left lobby (too slow)" {
                    heard_by_reader.store(true, Ordering::SeqCst);
                } else if text == "sender: done" {
                    return Ok(next);
                } else if text == format!("sender: {next} {line}") {
                    next += 1;
                    reader_progress.store(next, Ordering::SeqCst);
                } else {
                    return Err(format!(
                        "expected \"sender: {next} xxx…\", got {:?}",
                        text.chars().take(60).collect::<String>()
                    ));
                }
            }
        })
    };
    let mut sent = 0u64;
    let limit = 50_000;
    while !heard.load(Ordering::SeqCst) && sent < limit {
        if sent >= progress.load(Ordering::SeqCst) + 300
            && !super::wait_until(|| sent < progress.load(Ordering::SeqCst) + 300)
        {
            break;
        }
        sender.send(&format!("{sent} {line}"));
        sent += 1;
    }
    sender.send("done");
    let result = super::within("the reader to get every message", move || reading.join());
    match result {
        Ok(Ok(n)) if n == sent => {}
        Ok(Ok(n)) => reader.fail(&format!("The reader got {n} of the {sent} messages")),
        Ok(Err(why)) => reader.fail(&format!("While the sender flooded the room, {why}")),
        Err(_) => reader.fail("The reader's thread panicked"),
    }
    if !heard.load(Ordering::SeqCst) {
        reader.fail(&format!(
            "After {sent} messages of 1 KB, the client that never reads was still in the room; \
             expected \"* sleeper left lobby (too slow)\": its queue is bounded, and so is the \
             time a write to it may stall (--stall-secs 0.5)"
        ));
    }
    if let Some(peak) = server
        .peak_memory()
        .filter(|&peak| peak > 200 * 1024 * 1024)
    {
        reader.fail(&format!(
            "The server's memory peaked at {} MB: something grew without bound",
            peak / (1024 * 1024)
        ));
    }
    drop(sleeper);
    reader.writer.flush().ok();
}

/// 1,000 connect/disconnect cycles (half of them resets) and 20 clients
/// that send half a line and stall: the others are still served.
pub fn churn_and_slowloris_leave_others_served(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut c = lobby(&server, &["ada", "bob"]);
    let slowloris: Vec<Client<'_>> = (0..20)
        .map(|_| {
            let mut s = Client::connect_quietly(&server);
            s.send_bytes(b"I am typing very slow");
            s
        })
        .collect();
    // Every connection is announced in the lobby. Every 50 connections, ada
    // reads until she has heard of all of them: the churn waits for the
    // server to accept what it sent so far, as real clients would, rather
    // than overflowing its listen backlog (a dropped SYN is retried only
    // after a second).
    let ada = &mut c[0];
    let mut announced = 0;
    let mut calls = 0;
    churn(server.addr(), 1000, || {
        // `churn` calls this before its 50th, 100th, … connection.
        calls += 1;
        while announced < calls * 50 - 1 {
            if ada.line().ends_with(" joined lobby") {
                announced += 1;
            }
        }
    });
    // Every arrival and departure above was announced in the lobby; what
    // matters is that a message still gets through.
    c[0].send("still there?");
    let deadline = Instant::now() + DEADLINE;
    loop {
        let line = c[1].line();
        if line == "ada: still there?" {
            break;
        }
        if !line.starts_with("* ") || Instant::now() > deadline {
            c[1].fail(&format!(
                "Expected \"ada: still there?\" at last; got {line:?}"
            ));
        }
    }
    drop(slowloris);
}

/// Ctrl-C or SIGTERM: every client that reads gets `* server shutting
/// down`, is closed, and the process exits with status 0 — even while a
/// client that never reads has a full queue.
#[cfg(unix)]
pub fn shutdown_says_goodbye(binary: &str, hint: Hint) {
    let server = start(binary, hint, &["--stall-secs", "10"]);
    let mut c = lobby(&server, &["ada", "bob", "sleeper", "sender"]);
    let mut sender = c.pop().unwrap();
    let sleeper = c.pop().unwrap();
    let _ = socket2::SockRef::from(&sleeper.writer).set_recv_buffer_size(4096);
    // Enough to fill the sleeper's socket, not its queue: ada and bob read.
    let line = "y".repeat(1000);
    for i in 0..200 {
        sender.send(&format!("{i} {line}"));
        for reader in c.iter_mut() {
            reader.expect(&format!("sender: {i} {line}"));
        }
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status();
    if !killed.is_ok_and(|s| s.success()) {
        panic!("could not run `kill -TERM {}`", server.pid());
    }
    for client in c.iter_mut() {
        client.expect("* server shutting down");
        client.expect_close("the server is shutting down");
    }
    match server.wait_for_exit() {
        Some(status) if status.success() => {}
        Some(status) => server.fail(&format!(
            "After SIGTERM the server should exit with status 0; it ended with {status}"
        )),
        None => server.fail(&format!(
            "After SIGTERM the server should exit within 2 s; it was still running after \
             {DEADLINE:?}"
        )),
    }
    drop(sleeper);
}

/// 300 clients at once in one room: a message reaches all of them.
pub fn many_clients_at_once(binary: &str, hint: Hint) {
    let server = start(binary, hint, &[]);
    let mut boss = lobby(&server, &["boss"]).pop().unwrap();
    let mut others: Vec<Client<'_>> = (0..300).map(|_| Client::connect(&server)).collect();
    // The boss does not read the 300 "joined" notices: they wait in its queue.
    boss.send("hello, all 300");
    for other in others.iter_mut() {
        loop {
            let line = other.line();
            if line == "boss: hello, all 300" {
                break;
            }
            if !line.starts_with("* ") {
                other.fail(&format!("Expected \"boss: hello, all 300\"; got {line:?}"));
            }
        }
    }
}
