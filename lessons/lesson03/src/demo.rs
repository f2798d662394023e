//! `cargo run -p lesson03`: the whole lesson in one narrated run on loopback.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::thread;
use std::time::Duration;

use crate::echo::{self, Dropper};
use crate::ping::{self, Options};
use crate::wire::MAX_PAYLOAD;

/// How long the demo waits for any echo before deciding something is wrong.
const PATIENCE: Duration = Duration::from_secs(2);

/// Starts echo servers on free ports, talks to them and prints each step.
pub fn run() -> io::Result<()> {
    println!("lesson 3 — UDP, narrated\n");

    let server = start_server(Dropper::never())?;
    println!(
        "[server] bind(127.0.0.1:0): the OS picked port {}",
        server.port()
    );
    println!("[server] no listen, no accept: a UDP socket just receives datagrams from anyone");

    // An unconnected socket: it may talk to anyone, so each send names the peer.
    let client = UdpSocket::bind("127.0.0.1:0")?;
    client.set_read_timeout(Some(PATIENCE))?;
    println!(
        "[client] bind(127.0.0.1:0): port {}",
        client.local_addr()?.port()
    );

    // 1. Boundaries: three sends, three receives.
    println!("\n1. Datagrams keep their boundaries");
    println!("[client] sending \"one\", \"two\", \"three\" with three send_to() calls");
    for word in ["one", "two", "three"] {
        client.send_to(word.as_bytes(), server)?;
    }
    let mut buf = vec![0u8; echo::BUF_SIZE];
    for _ in 0..3 {
        let (n, from) = client.recv_from(&mut buf)?;
        println!(
            "[client] recv_from() -> {n} bytes from {from}: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    println!("         (over TCP the three could have arrived as one \"onetwothree\")");

    // 2. An empty datagram is a message, not an end of stream.
    println!("\n2. An empty datagram");
    client.send_to(b"", server)?;
    let (n, _) = client.recv_from(&mut buf)?;
    println!("[client] sent 0 bytes, recv_from() -> {n} bytes: an empty datagram came back");
    println!("         (in TCP, reading 0 bytes means end of stream; UDP has no stream)");

    // 3. The size limit.
    println!("\n3. The largest datagram");
    match client.send_to(&vec![b'x'; MAX_PAYLOAD], server) {
        Ok(_) => {
            let (n, _) = client.recv_from(&mut buf)?;
            println!("[client] sent {MAX_PAYLOAD} bytes (65,535 - 20 IP - 8 UDP), got {n} back");
        }
        // macOS sends at most 9,216 bytes unless told otherwise
        // (sysctl net.inet.udp.maxdgram).
        Err(e) => println!("[client] sending {MAX_PAYLOAD} bytes fails on this system: {e}"),
    }
    match client.send_to(&vec![b'x'; MAX_PAYLOAD + 1], server) {
        Ok(n) => println!("[client] sent {n} bytes: this system allows more than IPv4 does"),
        Err(e) => println!("[client] sending {} bytes fails: {e}", MAX_PAYLOAD + 1),
    }

    // 4. Truncation.
    println!("\n4. A buffer that is too small");
    client.send_to(b"a datagram of 32 bytes, or so...", server)?;
    let mut small = [0u8; 8];
    match client.recv_from(&mut small) {
        Ok((n, _)) => println!(
            "[client] recv_from() into 8 bytes -> {n} bytes {:?}; the rest is gone, silently",
            String::from_utf8_lossy(&small[..n])
        ),
        Err(e) => println!("[client] recv_from() into 8 bytes fails: {e} (the Windows way)"),
    }

    // 5. Connected UDP: nothing listening.
    println!("\n5. Connected UDP and a closed port");
    let closed = UdpSocket::bind("127.0.0.1:0")?.local_addr()?; // bound, then freed
    let lonely = ping::connect(closed)?;
    lonely.set_read_timeout(Some(PATIENCE))?;
    lonely.send(b"anyone?")?;
    println!("[client] connect({closed}) + send(\"anyone?\"): the send succeeds...");
    match lonely.recv(&mut buf) {
        // Linux and macOS say ConnectionRefused; Windows, ConnectionReset.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            ) =>
        {
            println!("[client] ...but the next recv() fails: {e}");
            println!("         an ICMP \"port unreachable\" came back: nothing is listening")
        }
        other => println!("[client] recv() -> {other:?} (this system did not report the ICMP)"),
    }

    // 6. Ping a server that loses datagrams.
    println!("\n6. Ping through a lossy network (the server drops 30%, seed 7)");
    let lossy = start_server(Dropper::new(0.3, 7))?;
    let options = Options {
        count: 5,
        timeout: Duration::from_millis(50),
        retries: 3,
    };
    ping::run(lossy, &options, &mut io::stdout())?;

    // The same build as this demo: with `--features solution`, the reference
    // solutions, so that copying these commands does not stop at a todo!().
    let features = if cfg!(feature = "solution") {
        " --features solution"
    } else {
        ""
    };
    let run = format!("cargo run -p lesson03{features} --");
    println!("\nTry it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} server"), "in one terminal"),
        ("nc -u 127.0.0.1 7003".into(), "in another; type a line"),
        (format!("{run} ping 127.0.0.1:7003"), ""),
    ]);
    println!("And a server that loses 30% of the datagrams, for ping to cope with:");
    println!("    {run} server --drop-rate 0.3 --seed 7");
    Ok(())
}

/// Binds an echo server to a free loopback port and serves on a background
/// thread (its log goes to stderr; the thread ends with the process).
fn start_server(mut dropper: Dropper) -> io::Result<SocketAddr> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let addr = socket.local_addr()?;
    thread::spawn(move || {
        // Wait for the first datagram before serving (peek leaves it queued),
        // so that the narration before it is printed even if `serve` is still
        // an unfinished exercise that stops the demo.
        let _ = socket.peek_from(&mut [0u8; 1]);
        echo::serve(&socket, &mut dropper)
    });
    Ok(addr)
}
