//! A client for the key-value server. Given code; it uses your header code
//! (5.1, 5.2) and your request bodies (5.3).

use std::io::{self, BufReader};
use std::net::TcpStream;

use crate::frame::{read_message, write_message};
use crate::message::{Request, Response};

// ANCHOR: client
/// One connection to the server. Each request gets a fresh id; responses come
/// back in order, each with the id of its request.
pub struct Client {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    next_id: u32,
}

impl Client {
    /// Wraps a connected stream.
    pub fn new(stream: TcpStream) -> io::Result<Client> {
        Ok(Client {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            next_id: 1,
        })
    }

    /// Sends `request` without waiting for its answer; returns its id. Call it
    /// several times, then [`Client::receive`] as often: that is pipelining.
    pub fn send(&mut self, request: &Request) -> io::Result<u32> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let body = request
            .encode_body()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        write_message(&mut self.writer, request.kind(), id, &body)?;
        Ok(id)
    }

    /// Reads the next response and the id of the request it answers.
    pub fn receive(&mut self) -> io::Result<(u32, Response)> {
        let Some((header, body)) = read_message(&mut self.reader)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        };
        let response = Response::decode(header.kind(), &body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok((header.id(), response))
    }

    /// Sends `request` and waits for its answer.
    pub fn call(&mut self, request: &Request) -> io::Result<Response> {
        let id = self.send(request)?;
        let (answered, response) = self.receive()?;
        if answered != id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("sent request {id} but the answer is for request {answered}"),
            ));
        }
        Ok(response)
    }
}
// ANCHOR_END: client
