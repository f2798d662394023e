//! `cargo run -p lesson01`: the whole lesson in one narrated run on loopback.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::thread;

use crate::{client, echo};

/// Runs a server on a free port, sends it one message and prints each step.
pub fn run() -> io::Result<()> {
    println!("lesson 1 — TCP echo, narrated\n");

    // Port 0 asks the operating system for any free port; local_addr says which.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!(
        "[server] bind(127.0.0.1:0) + listen: the OS picked port {}",
        addr.port()
    );
    println!("[server] accepting connections in a background thread (its log goes to stderr)");
    // The server thread runs until the process ends; nobody waits for it.
    thread::spawn(move || echo::serve(listener));

    let message = b"hello, netlings!\n";
    println!("[client] connect({addr})");
    let stream = TcpStream::connect(addr)?;
    println!("[client] connected from {}", stream.local_addr()?);
    println!(
        "[client] sending {} bytes, then shutdown(Write): \"I'm done sending\"",
        message.len()
    );
    let mut reply = Vec::new();
    let received = client::round_trip(&stream, &message[..], &mut reply)?;
    println!(
        "[client] read until end of stream: {received} bytes back: {:?}",
        String::from_utf8_lossy(&reply)
    );

    if reply == message {
        println!("\nThe echo came back intact. Try it yourself:");
        println!("    cargo run -p lesson01 -- server          # in one terminal");
        println!("    nc 127.0.0.1 7001                        # in another; type a line");
        Ok(())
    } else {
        Err(io::Error::other("the echo differs from what was sent"))
    }
}
