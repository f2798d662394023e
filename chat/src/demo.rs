//! The narrated demo of lessons 8, 9 and 10: one server, three clients
//! chatting over loopback. The three lessons reach the same behaviour with
//! three different servers, so they share one demo.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use anyhow::{Context, bail};

/// Starts `serve` on a loopback port on a thread of its own, plays a short
/// chat against it, and prints how to try it by hand. `lesson` is e.g.
/// `"lesson08"`, `port` the lesson's default port, and `solution` whether
/// the lesson was built with `--features solution` (the commands printed
/// then say so, so that copying them runs the same code).
pub fn run(
    lesson: &str,
    port: u16,
    solution: bool,
    serve: impl FnOnce(TcpListener) + Send + 'static,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").context("could not bind 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    thread::spawn(move || serve(listener));
    println!("A chat server is listening on {addr}. Three clients connect and talk.");
    println!("(`→` is what a client sends, `←` what it receives.)\n");

    let mut ada = Client::connect("ada", addr)?;
    ada.hear()?;
    ada.say("/nick ada")?;
    ada.hear()?;
    let mut bob = Client::connect("bob", addr)?;
    bob.hear()?;
    ada.hear()?;
    bob.say("/nick bob")?;
    bob.hear()?;
    ada.hear()?;
    let mut cy = Client::connect("cy", addr)?;
    cy.hear()?;
    ada.hear()?;
    bob.hear()?;
    cy.say("/nick cy")?;
    cy.hear()?;
    ada.hear()?;
    bob.hear()?;
    ada.say("hello, everyone")?;
    bob.hear()?;
    cy.hear()?;
    cy.say("/join den")?;
    cy.hear()?;
    ada.hear()?;
    bob.hear()?;
    bob.say("/who")?;
    bob.hear()?;
    bob.say("/quit")?;
    bob.hear()?;
    ada.hear()?;

    let features = if solution { " --features solution" } else { "" };
    let run = format!("cargo run -p {lesson}{features} --");
    println!("\nTry it yourself:");
    netlings_kit::print_commands(&[
        (format!("{run} server"), "in one terminal"),
        (
            format!("nc -C 127.0.0.1 {port}"),
            "in two or three others; type lines, /help",
        ),
        (
            format!("{run} server --help"),
            "the limits: --max-clients, --idle-secs, --stall-secs",
        ),
    ]);
    Ok(())
}

/// A named client of the demo.
struct Client {
    name: &'static str,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(name: &'static str, addr: SocketAddr) -> anyhow::Result<Client> {
        let stream =
            TcpStream::connect(addr).with_context(|| format!("could not connect to {addr}"))?;
        // A demo that waits forever teaches nothing: give up after 5 s.
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        println!("{:>4} connects", name);
        Ok(Client {
            name,
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn say(&mut self, line: &str) -> anyhow::Result<()> {
        println!("{:>4} → {line}", self.name);
        self.writer.write_all(format!("{line}\n").as_bytes())?;
        Ok(())
    }

    /// Reads and prints the next line (all of them, for `/help`).
    fn hear(&mut self) -> anyhow::Result<()> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => bail!("the server closed {}'s connection unexpectedly", self.name),
            Ok(_) => {
                println!("{:>4} ← {}", self.name, line.trim_end());
                Ok(())
            }
            Err(e) => Err(e).with_context(|| {
                format!("{} expected a line from the server within 5 s", self.name)
            }),
        }
    }
}
