"""The demo's address: a port from 1 to 65535 that is free on the host, checked before the models load (~20 s)."""
from __future__ import annotations

import argparse
import errno
import socket

MAX_PORT = 65535


def port_number(text: str) -> int:
    """--port's type: plain ASCII digits from 1 to MAX_PORT (int() would also take '+80' and '٨٠')."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 5 or not 1 <= int(digits) <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"a port is an integer from 1 to {MAX_PORT}, got {text[:40]!r}")
    return int(digits)


def unusable(host: str, port: int) -> str | None:
    """Why the demo could not serve on host:port (one line naming the flag), or None when it can."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, ValueError) as error:
        return f"--host {host[:80]!r}: not an address ({getattr(error, 'strerror', None) or error})"
    with socket.socket(family, kind) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"--port {port}: already in use on {host}; stop what holds it or choose another port"
            if error.errno == errno.EACCES:
                return f"--port {port}: not allowed here (ports below 1024 need privileges); choose another port"
            return f"--host {host[:80]!r}: cannot serve there ({error.strerror or error})"
    return None
