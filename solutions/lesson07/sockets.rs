//! The two sockets of discovery: one that receives what is sent to a group
//! (or broadcast) — several programs on one host may share it — and one
//! that sends, on the interface we choose.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// The group `announce` and `discover` use when given none: in 239.255.0.0/16,
/// the administratively scoped "local scope" of RFC 2365, which routers at a
/// site's edge do not pass on.
pub const DEFAULT_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 70, 7);
/// The broadcast address of loopback (127.0.0.0/8): `--broadcast` uses it.
pub const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);
/// The port of the course's lesson 7.
pub const DEFAULT_PORT: u16 = 7007;

// ANCHOR: bind_addr
/// The address a receiving socket binds to hear what is sent to `channel`
/// (a group or a broadcast address, and a port).
///
/// On Linux and macOS, the channel's own address: the socket then hears
/// only datagrams sent to it — not another group's on the same port, nor
/// unicast to the port. Windows refuses to bind a multicast or broadcast
/// address: there one binds the unspecified address and the port ("bind the
/// port, not the group"), and hears everything sent to the port.
pub fn bind_addr(channel: SocketAddrV4) -> SocketAddrV4 {
    if cfg!(windows) {
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, channel.port())
    } else {
        channel
    }
}
// ANCHOR_END: bind_addr

// ANCHOR: open_receiver
/// Exercise 7.1: the receiving socket — book §7.1.
///
/// Return a UDP socket that receives the datagrams sent to `channel` — a
/// multicast group and port (`239.255.70.7:7007`) or a broadcast address
/// and port (`127.255.255.255:7007`) — on the interface whose address is
/// `iface` (`127.0.0.1` for loopback).
///
/// - Several programs on one host may hear the same channel: the socket
///   allows its address to be reused (SO_REUSEADDR), and says so before it
///   binds, since that is when the kernel checks.
/// - It binds [`bind_addr`]`(channel)`. Port 0 lets the system pick a free
///   port; `local_addr()` tells which.
/// - For a multicast group, it joins the group on `iface` (IP_ADD_MEMBERSHIP):
///   without that, the interface does not pass the group's datagrams up.
///   A broadcast address has nothing to join.
/// - Any failure is returned: a port in use without SO_REUSEADDR, an address
///   this host does not have (`iface`), a bind the system refuses.
pub fn open_receiver(channel: SocketAddrV4, iface: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    // Before bind: the kernel decides at bind time whether the port may be shared.
    socket.set_reuse_address(true)?;
    socket.bind(&bind_addr(channel).into())?;
    if channel.ip().is_multicast() {
        // Membership is per interface: name the one to listen on, never "any".
        socket.join_multicast_v4(channel.ip(), &iface)?;
    }
    Ok(socket.into())
}
// ANCHOR_END: open_receiver

// ANCHOR: open_sender
/// The sending socket: bound to `iface` and a free port, with its multicast
/// datagrams sent out of that interface (IP_MULTICAST_IF), looped back to
/// this host's own members (IP_MULTICAST_LOOP), one hop far (TTL 1: no
/// router passes them on), and allowed to broadcast (SO_BROADCAST).
///
/// Answers come back to its address, so it is also where `discover` listens.
pub fn open_sender(iface: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.bind(&SocketAddrV4::new(iface, 0).into())?;
    // Without IP_MULTICAST_IF the system picks the interface of its default
    // route — a real network. This course keeps to the one it was given.
    socket.set_multicast_if_v4(&iface)?;
    socket.set_multicast_loop_v4(true)?;
    socket.set_multicast_ttl_v4(1)?;
    socket.set_broadcast(true)?;
    Ok(socket.into())
}
// ANCHOR_END: open_sender
