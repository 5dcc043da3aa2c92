"""A listening socket made before any server starts: a taken port is then one line of ours, not
uvicorn's start-up lines, its bind error and exit code 3."""

from __future__ import annotations

import socket


class CannotListen(Exception):
    """The address cannot be listened on; the message is the one line to print."""


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound and listening, so that early visitors wait in the backlog instead of being refused."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except (OSError, OverflowError) as error:
        sock.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise CannotListen(f"cannot listen on {host}:{port} ({reason}); pick another port with --port") from None
    return sock
