//! Lesson 8 — a chat server with a thread per client. Run with `cargo test -p lesson08`.
//!
//! Tests named `ex8_k_...` check exercise 8.k; `given_...` check given code.
//! Tests of 8.1, 8.2 and 8.4 first call the library directly (a `Chat` with
//! queues the test made; `write_lines` on a real socket), then the server.
//! The chat's behaviour is checked by `tests/support/chat.rs`, the same
//! checks lessons 9 and 10 run against their servers.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};
use std::thread;
use std::time::Duration;

use lesson08::chat::Chat;
use lesson08::writer::write_lines;
use netlings_chat::Line;
use support::chat;
use support::{DEADLINE, Hint, within};

const BIN: &str = env!("CARGO_BIN_EXE_lesson08");

const EX8_1: Hint =
    Hint("exercise 8.1, `Chat::deliver` in lessons/lesson08/src/chat.rs — book §8.1");
const EX8_2: Hint =
    Hint("exercise 8.2, `write_lines` in lessons/lesson08/src/writer.rs — book §8.2");
const EX8_3: Hint =
    Hint("exercise 8.3, `serve_client` in lessons/lesson08/src/client.rs — book §8.3");
const EX8_4: Hint =
    Hint("exercise 8.4, `Chat::shut_down` in lessons/lesson08/src/chat.rs — book §8.4");

/// A connected pair of sockets on loopback: (the server's end, the client's end).
fn socket_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.set_read_timeout(Some(DEADLINE)).unwrap();
    (server, client)
}

/// A client of a `Chat` made by a test: its queue's receiving end, and the
/// client's end of its socket.
struct Member {
    id: u64,
    lines: Receiver<Line>,
    peer: TcpStream,
    // What the client's two threads hold in the server: the socket stays
    // open until someone shuts it down.
    _threads_hold: Arc<TcpStream>,
}

fn join(chat: &mut Chat, queue: usize) -> Member {
    let (outbox, lines) = sync_channel(queue);
    let (server_end, peer) = socket_pair();
    let server_end = Arc::new(server_end);
    let id = chat.join(outbox, Arc::clone(&server_end));
    Member {
        id,
        lines,
        peer,
        _threads_hold: server_end,
    }
}

/// Everything in a member's queue now, as text.
fn queued(member: &Member) -> Vec<String> {
    let mut got = Vec::new();
    while let Ok(line) = member.lines.try_recv() {
        got.push(line.trim_end().to_string());
    }
    got
}

/// Fails a test of the library, naming the exercise to revisit.
fn fail(what: &str, hint: Hint) -> ! {
    support::quiet_panics();
    let id = hint
        .0
        .trim_start_matches("exercise ")
        .split(',')
        .next()
        .unwrap_or("");
    panic!("\n\n{what}\n\nRevisit: {hint}\n(Stuck? `cargo xtask hint {id}` gives a hint.)\n")
}

/// `Chat::deliver` (8.1) as a check for later exercises' tests.
fn deliver_works() -> Result<(), String> {
    let mut chat = Chat::new();
    let a = join(&mut chat, 10);
    let b = join(&mut chat, 10);
    chat.handle(a.id, b"hi");
    let got = queued(&b);
    if got.last().map(String::as_str) != Some("guest1: hi") {
        return Err(format!(
            "a message from guest1 left guest2's queue with {got:?}"
        ));
    }
    Ok(())
}

// ---- 8.1: deliver without ever blocking -------------------------------------

#[test]
fn ex8_1_every_line_goes_into_its_clients_queue_in_order() {
    let got = within("Chat::deliver", || {
        let mut chat = Chat::new();
        let a = join(&mut chat, 100);
        let b = join(&mut chat, 100);
        let c = join(&mut chat, 100);
        for i in 0..20 {
            chat.handle(a.id, format!("line {i}").as_bytes());
        }
        (queued(&a), queued(&b), queued(&c))
    });
    let (a, b, c) = got;
    let expected_b: Vec<String> = [
        "* welcome, guest2: /nick NAME to choose a name, /help for commands".to_string(),
        "* guest3 joined lobby".to_string(),
    ]
    .into_iter()
    .chain((0..20).map(|i| format!("guest1: line {i}")))
    .collect();
    if b != expected_b {
        fail(
            &format!(
                "Three clients joined, then guest1 sent 20 lines.\nExpected guest2's queue to \
                 hold:\n    {expected_b:?}\nIt holds:\n    {b:?}"
            ),
            EX8_1,
        );
    }
    if c.len() != 21 || a.len() != 3 {
        fail(
            &format!(
                "Expected guest3's queue to hold its welcome and the 20 lines, and guest1's its \
                 welcome and two \"joined\" notices, nothing of its own.\nguest1: {a:?}\n\
                 guest3: {c:?}"
            ),
            EX8_1,
        );
    }
}

#[test]
fn ex8_1_a_full_queue_means_too_slow_and_never_waits() {
    let result = within("Chat::deliver with a full queue", || {
        let mut chat = Chat::new();
        let a = join(&mut chat, 100);
        let b = join(&mut chat, 100);
        let slow = join(&mut chat, 3);
        // slow's queue: its welcome, then room for two more lines.
        chat.handle(a.id, b"one");
        chat.handle(a.id, b"two");
        chat.handle(a.id, b"three");
        chat.handle(a.id, b"four");
        let b_got = queued(&b);
        let slow_got = queued(&slow);
        // The slow client's socket was shut down: its end reads end of stream.
        let closed = matches!(slow_peer_read(&slow), Ok(0));
        (b_got, slow_got, closed, chat.len())
    });
    let (b_got, slow_got, closed, members) = result;
    if slow_got.len() != 3 {
        fail(
            &format!("A client with a queue of 3 lines got {slow_got:?} in it"),
            EX8_1,
        );
    }
    if !b_got.contains(&"* guest3 left lobby (too slow)".to_string()) {
        fail(
            &format!(
                "guest3's queue (3 lines) was full when guest1's fourth line came. Expected \
                 the room to hear \"* guest3 left lobby (too slow)\"; guest2's queue holds:\n    \
                 {b_got:?}"
            ),
            EX8_1,
        );
    }
    if members != 2 {
        fail(
            &format!("After guest3 was too slow, the chat should have 2 clients; it has {members}"),
            EX8_1,
        );
    }
    if !closed {
        fail(
            "guest3 was too slow, but its socket was not shut down: its threads would never \
             learn that it is gone. Shut its `stream` down (Shutdown::Both).",
            EX8_1,
        );
    }
}

fn slow_peer_read(member: &Member) -> std::io::Result<usize> {
    let mut buf = [0u8; 4096];
    let mut peer = &member.peer;
    // The server end wrote nothing (the test drains the queues itself), so
    // the first read sees the shutdown.
    peer.read(&mut buf)
}

#[test]
fn ex8_1_a_client_that_never_reads_is_dropped_and_the_room_goes_on() {
    chat::a_client_that_never_reads_is_dropped(BIN, EX8_1);
}

// ---- 8.2: the writer thread ---------------------------------------------------

#[test]
fn ex8_2_writes_every_line_in_order_then_returns() {
    let (server_end, client) = socket_pair();
    let (outbox, lines) = sync_channel::<Line>(10_000);
    let filler = "w".repeat(1000);
    let expected: String = (0..5000).map(|i| format!("line {i} {filler}\n")).collect();
    for i in 0..5000 {
        outbox.send(format!("line {i} {filler}\n").into()).unwrap();
    }
    drop(outbox);
    let writer = thread::spawn(move || {
        let result = write_lines(&server_end, &lines, DEADLINE);
        drop(server_end);
        result
    });
    let mut got = String::new();
    let mut reader = BufReader::new(&client);
    let read = reader.read_to_string(&mut got);
    let result = within("write_lines", move || writer.join());
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => fail(&format!("write_lines returned an error: {e}"), EX8_2),
        Err(_) => fail("write_lines panicked (its message is above)", EX8_2),
    }
    if let Err(e) = read {
        fail(&format!("reading what write_lines sent failed: {e}"), EX8_2);
    }
    if got != expected {
        fail(
            &format!(
                "5,000 lines of 1 KB were queued, then the queue closed. Expected all of them on \
                 the socket, in order; {}. Got {} bytes of {}.",
                support::first_difference(expected.as_bytes(), got.as_bytes()),
                got.len(),
                expected.len()
            ),
            EX8_2,
        );
    }
}

#[test]
fn ex8_2_waits_for_lines_that_come_later() {
    let (server_end, client) = socket_pair();
    let (outbox, lines) = sync_channel::<Line>(10);
    let writer = thread::spawn(move || write_lines(&server_end, &lines, DEADLINE));
    let mut reader = BufReader::new(&client);
    for i in 0..3 {
        outbox.send(format!("late {i}\n").into()).unwrap();
        let mut got = String::new();
        let _ = reader.read_line(&mut got);
        if got != format!("late {i}\n") {
            fail(
                &format!(
                    "A line was queued after the writer had sent everything before it. \
                     Expected it on the socket: {:?}; got {got:?}. (Wait for the next line \
                     with `recv`; only the lines after it are taken without waiting.)",
                    format!("late {i}\n")
                ),
                EX8_2,
            );
        }
    }
    drop(outbox);
    let _ = within("write_lines after its queue closed", move || writer.join());
}

#[test]
fn ex8_2_a_write_that_stalls_fails_within_the_stall_time() {
    let (server_end, client) = socket_pair();
    let _ = socket2::SockRef::from(&client).set_recv_buffer_size(4096);
    let (outbox, lines) = sync_channel::<Line>(100_000);
    // 32 MB: more than the two sockets' buffers hold; the client never reads.
    let line: Line = format!("{}\n", "z".repeat(1023)).into();
    for _ in 0..32 * 1024 {
        outbox.send(Arc::clone(&line)).unwrap();
    }
    let result = within("write_lines to a client that never reads", move || {
        write_lines(&server_end, &lines, Duration::from_millis(300))
    });
    drop(outbox);
    match result {
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
            ) => {}
        Err(e) => fail(
            &format!(
                "Expected an error of kind TimedOut; got {e} ({:?})",
                e.kind()
            ),
            EX8_2,
        ),
        Ok(()) => fail(
            "write_lines returned Ok while the client never read 32 MB",
            EX8_2,
        ),
    }
    drop(client);
}

// ---- 8.3: the reader thread -----------------------------------------------------

fn needs_8_1() {
    support::needs(EX8_1, deliver_works);
}

#[test]
fn ex8_3_welcome_and_the_lobby_hears() {
    needs_8_1();
    chat::welcome_and_the_lobby_hears(BIN, EX8_3);
}

#[test]
fn ex8_3_messages_reach_the_room_in_order() {
    needs_8_1();
    chat::messages_reach_the_room_in_order(BIN, EX8_3);
}

#[test]
fn ex8_3_names_are_checked_and_unique() {
    needs_8_1();
    chat::names_are_checked_and_unique(BIN, EX8_3);
}

#[test]
fn ex8_3_rooms_keep_their_messages() {
    needs_8_1();
    chat::rooms_keep_their_messages(BIN, EX8_3);
}

#[test]
fn ex8_3_commands_and_bad_lines() {
    needs_8_1();
    chat::commands_and_bad_lines(BIN, EX8_3);
}

#[test]
fn ex8_3_leaving_is_announced() {
    needs_8_1();
    chat::leaving_is_announced(BIN, EX8_3);
}

#[test]
fn ex8_3_long_lines_are_refused() {
    needs_8_1();
    chat::long_lines_are_refused(BIN, EX8_3);
}

#[test]
fn ex8_3_idle_clients_are_sent_away() {
    needs_8_1();
    chat::idle_clients_are_sent_away(BIN, EX8_3);
}

#[test]
fn ex8_3_one_silent_client_does_not_stop_the_others() {
    needs_8_1();
    let server = chat::start(BIN, EX8_3, &[]);
    let mut c = chat::lobby(&server, &["ada", "bob"]);
    // A client that connects and says nothing: its reader thread waits in
    // `read`, and must not hold the chat's lock while it does.
    let silent = chat::Client::connect(&server);
    c[0].expect(&format!("* {} joined lobby", silent.name));
    c[1].expect(&format!("* {} joined lobby", silent.name));
    c[0].send("anyone?");
    c[1].expect("ada: anyone?");
}

#[test]
fn ex8_3_churn_and_slowloris_leave_others_served() {
    needs_8_1();
    chat::churn_and_slowloris_leave_others_served(BIN, EX8_3);
}

#[test]
fn ex8_3_many_clients_at_once() {
    needs_8_1();
    chat::many_clients_at_once(BIN, EX8_3);
}

#[test]
fn ex8_3_a_full_server_says_so() {
    needs_8_1();
    chat::a_full_server_says_so(BIN, EX8_3);
}

// ---- 8.4: shut down ----------------------------------------------------------------

#[test]
fn ex8_4_everyone_hears_goodbye_and_every_queue_closes() {
    let (a, b) = within("Chat::shut_down", || {
        let mut chat = Chat::new();
        let a = join(&mut chat, 100);
        let b = join(&mut chat, 100);
        queued(&a);
        queued(&b);
        chat.shut_down();
        let after = |m: &Member| -> (Vec<String>, bool) {
            let got = queued(m);
            let closed = matches!(m.lines.try_recv(), Err(TryRecvError::Disconnected));
            (got, closed)
        };
        (after(&a), after(&b))
    });
    for (got, closed) in [a, b] {
        if got != ["* server shutting down"] {
            fail(
                &format!(
                    "After shut_down, expected each client's queue to hold \"* server shutting \
                     down\"; one holds {got:?}"
                ),
                EX8_4,
            );
        }
        if !closed {
            fail(
                "After shut_down, a client's queue was still open: its writer thread would \
                 wait for more lines forever instead of hanging up. Drop every queue (empty \
                 `self.clients`).",
                EX8_4,
            );
        }
    }
}

#[test]
fn ex8_4_a_full_queue_does_not_hold_up_the_shutdown() {
    let (got, closed) = within("Chat::shut_down with a full queue", || {
        let mut chat = Chat::new();
        // A queue of one line, already holding its welcome: full.
        let full = join(&mut chat, 1);
        chat.shut_down();
        let got = queued(&full);
        (
            got,
            matches!(full.lines.try_recv(), Err(TryRecvError::Disconnected)),
        )
    });
    if got.len() != 1 || !closed {
        fail(
            &format!(
                "A client whose queue was full should keep what it had ({got:?}) and see its \
                 queue closed"
            ),
            EX8_4,
        );
    }
}

#[cfg(unix)]
#[test]
fn ex8_4_sigterm_says_goodbye_and_exits() {
    needs_8_1();
    chat::shutdown_says_goodbye(BIN, EX8_4);
}

// ---- given code -----------------------------------------------------------------

#[test]
fn given_server_prints_the_address_it_really_bound() {
    support::given::server_prints_the_address_it_really_bound(BIN);
}

#[test]
fn given_server_explains_a_port_that_is_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    support::given::server_explains_a_port_that_is_in_use(
        BIN,
        taken.local_addr().unwrap(),
        "in use",
    );
}

#[test]
fn given_lines_are_read_with_a_limit() {
    use lesson08::lines::{Next, read_line};
    let mut input: &[u8] = b"one\r\ntwo\nhalf";
    let mut line = Vec::new();
    assert_eq!(read_line(&mut input, &mut line).unwrap(), Next::Line);
    assert_eq!(line, b"one\r");
    assert_eq!(read_line(&mut input, &mut line).unwrap(), Next::Line);
    assert_eq!(line, b"two");
    assert_eq!(read_line(&mut input, &mut line).unwrap(), Next::End);
    let long = vec![b'x'; 5000];
    assert_eq!(read_line(&mut &long[..], &mut line).unwrap(), Next::TooLong);
    assert!(line.len() <= 1026);
    let mut exact = vec![b'x'; 1024];
    exact.extend_from_slice(b"\r\n");
    assert_eq!(read_line(&mut &exact[..], &mut line).unwrap(), Next::Line);
    let mut over = vec![b'x'; 1025];
    over.push(b'\n');
    assert_eq!(read_line(&mut &over[..], &mut line).unwrap(), Next::TooLong);
}

/// stdin, stdout, stderr and the listener.
const FILES_FOR_THE_LISTENER_ALONE: u32 = 4;

#[cfg(unix)]
#[test]
fn given_calm_when_out_of_files() {
    needs_8_1();
    // The server raises its soft limit to the hard one at start: this
    // sets both, so there is no room to raise it.
    let server = support::Server::start_with_hard_file_limit(
        BIN,
        &["server", "127.0.0.1:0"],
        FILES_FOR_THE_LISTENER_ALONE,
        EX8_3,
    );
    let _waiting = TcpStream::connect(server.addr()).unwrap();
    support::assert_calm_when_out_of_files(&server, "the given accept loop (server.rs)");
}

#[test]
fn given_the_demo_chats() {
    support::assert_demo_runs(
        BIN,
        &["ada ← * you are now ada", "bob ← ada: hello, everyone"],
    );
}
