"""A Socket Mode endpoint for the tests: the WebSocket side of Slack, just enough of RFC 6455.

FakeSlack answers apps.connections.open with this server's ws:// URL. It completes the handshake,
says "hello" as Slack does, sends the envelopes a test gives it, records what the client sends back
(acknowledgements) and answers pings. `drop()` closes the connection, as Slack does when it
closes one. Loopback only; one thread per connection; stops with the test.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import socket
import struct
import threading
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class SocketModeServer:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket=test"
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connections = 0
        self._current: socket.socket | None = None
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def send(self, envelope: dict[str, Any]) -> None:
        with self._lock:
            assert self._current is not None, "no client connected"
            self._current.sendall(_frame(0x1, json.dumps(envelope).encode()))

    def drop(self) -> None:
        """Closes the connection from Slack's side: a close frame (1001, going away), then the socket."""
        with self._lock:
            if self._current is not None:
                with contextlib.suppress(OSError):  # the client may have gone already
                    self._current.sendall(_frame(0x8, struct.pack("!H", 1001) + b"going away"))
                self._current.close()
                self._current = None

    def close(self) -> None:
        self.drop()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            headers = dict(line.split(": ", 1) for line in request.decode().split("\r\n")[1:] if ": " in line)
            key = {k.lower(): v for k, v in headers.items()}["sec-websocket-key"].strip()
            accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()
            conn.sendall(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
            )
            with self._lock:
                self._current = conn
                self.connections += 1
            conn.sendall(_frame(0x1, json.dumps({"type": "hello", "num_connections": 1}).encode()))
            while True:
                opcode, payload = _read_frame(conn)
                if opcode == 0x8:  # close
                    return
                if opcode == 0x9:  # ping
                    conn.sendall(_frame(0xA, payload))
                elif opcode == 0x1:
                    self.received.put(json.loads(payload))
        except (OSError, ValueError, KeyError):
            return
        finally:
            with self._lock:
                if self._current is conn:
                    self._current = None
            conn.close()


def _frame(opcode: int, payload: bytes) -> bytes:
    """A server frame: final, unmasked."""
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        return head + bytes([len(payload)]) + payload
    if len(payload) < 2**16:
        return head + bytes([126]) + struct.pack("!H", len(payload)) + payload
    return head + bytes([127]) + struct.pack("!Q", len(payload)) + payload


def _read_exactly(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def _read_frame(conn: socket.socket) -> tuple[int, bytes]:
    """A client frame (always masked, RFC 6455 5.3); fragments are not used by slack_sdk's client."""
    first, second = _read_exactly(conn, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exactly(conn, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exactly(conn, 8))
    mask = _read_exactly(conn, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(_read_exactly(conn, length)))
    return first & 0x0F, payload
