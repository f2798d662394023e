//! `cargo run -p lesson01`: the whole lesson in one narrated run on loopback.
//!
//! It uses your exercises in order — `echo` (1.1), then `serve` (1.2), then
//! `round_trip` (1.3) — so an unfinished lesson stops at the first one.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread;

use crate::{client, echo};

/// Runs a server on a free port, talks to it, and prints each step.
pub fn run() -> io::Result<()> {
    println!("lesson 1 — TCP echo, narrated\n");

    // Port 0 asks the operating system for any free port; local_addr says which.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!(
        "[server] bind(127.0.0.1:0) + listen: the OS picked port {}",
        addr.port()
    );

    println!("\n1. One connection, echoed by your `echo` (exercise 1.1)");
    let server = thread::spawn(move || -> io::Result<TcpListener> {
        let (mut stream, peer) = listener.accept()?;
        println!("[server] accept() returned a new stream, connected to {peer}");
        let n = echo::echo(&mut stream)?;
        println!("[server] echo() read end of stream after echoing {n} bytes; closing");
        Ok(listener)
    });
    plain_client(addr, b"hello, netlings!\n")?;
    let listener = server.join().expect("the server thread panicked")?;

    println!("\n2. Clients one after another, by your `serve` (exercise 1.2)");
    println!("[server] serve() runs in the background; its log goes to stderr");
    // Nobody waits for this thread: it serves until the process ends.
    thread::spawn(move || echo::serve(listener));
    plain_client(addr, b"first client\n")?;

    println!("\n3. The same, with your client `round_trip` (exercise 1.3)");
    let message = b"second client, via round_trip\n";
    let stream = TcpStream::connect(addr)?;
    let mut reply = Vec::new();
    let received = client::round_trip(&stream, &message[..], &mut reply)?;
    println!(
        "[client] round_trip sent {} bytes and received {received}",
        message.len()
    );

    if reply != message {
        return Err(io::Error::other("the echo differs from what was sent"));
    }
    // Suggest the same build the learner just ran: their code, or the solution.
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    println!("\nEvery echo came back intact. Try it yourself:");
    netlings_kit::print_commands(&[
        (
            format!("cargo run -p lesson01{features} -- server"),
            "in one terminal",
        ),
        ("nc 127.0.0.1 7001".into(), "in another; type a line"),
    ]);
    Ok(())
}

/// A client written with plain std calls, narrated: connect, send, half-close,
/// read until the server closes.
fn plain_client(addr: SocketAddr, message: &[u8]) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    println!("[client] connect({addr}) from {}", stream.local_addr()?);
    stream.write_all(message)?;
    stream.shutdown(Shutdown::Write)?;
    println!(
        "[client] sent {} bytes, then shutdown(Write), which says \"I'm done sending\"",
        message.len()
    );
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    if reply != message {
        return Err(io::Error::other("the echo differs from what was sent"));
    }
    println!(
        "[client] read until end of stream: {:?}",
        String::from_utf8_lossy(&reply)
    );
    Ok(())
}
