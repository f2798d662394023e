#!/usr/bin/env python3
"""A client for lesson 5's key-value server in a few lines of Python.

Usage: python3 kv_client.py [HOST:PORT]      (default 127.0.0.1:7005; IPv6: [::1]:7005)
"""
import socket
import struct
import sys

# "!" = network byte order (big-endian), no padding; 2s B B I I =
# magic (2 bytes), version, kind, request id (u32), body length (u32).
HEADER = struct.Struct("!2sBBII")
GET, SET, DELETE = 0x01, 0x02, 0x03
NAMES = {0x80: "OK", 0x81: "VALUE", 0x82: "NOT_FOUND", 0xFF: "ERROR"}


def message(kind, request_id, body=b""):
    return HEADER.pack(b"NL", 1, kind, request_id, len(body)) + body


def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the server closed the connection")
        data += chunk
    return data


def read_response(sock):
    magic, version, kind, request_id, length = HEADER.unpack(recv_exactly(sock, HEADER.size))
    return request_id, NAMES.get(kind, hex(kind)), recv_exactly(sock, length)


host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:7005").rsplit(":", 1)
host = host.strip("[]")  # "[::1]:7005" is IPv6's ::1, port 7005
with socket.create_connection((host, int(port)), timeout=5) as sock:
    key = b"language"
    # Pipelining: four requests in one sendall, then the four answers.
    sock.sendall(message(SET, 1, struct.pack("!H", len(key)) + key + b"Rust")
                 + message(GET, 2, key)
                 + message(DELETE, 3, key)
                 + message(GET, 4, key))
    for _ in range(4):
        print(*read_response(sock))
