# A framed client in Python: a 4-byte big-endian length, then the payload.
# Usage: python3 frames.py [HOST:PORT]   (default 127.0.0.1:7004)
import socket, struct, sys

def send_frame(sock, payload):
    sock.sendall(struct.pack("!I", len(payload)) + payload)

def recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data

def recv_frame(sock):
    (length,) = struct.unpack("!I", recv_exactly(sock, 4))
    return recv_exactly(sock, length)

host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:7004").rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=5)
for message in [b"sticky", b"packets", b"", b"\x00\n\xff"]:
    send_frame(s, message)
for _ in range(4):
    print(recv_frame(s))
