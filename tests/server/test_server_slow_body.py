"""A request body trickled in too slowly is cut short with a 408 (issue 10, item 6)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from server_support import Serve

from reelgate.server import bodies


def test_a_slow_body_is_408(make_server: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    """A create whose body stops arriving is answered 408 and the connection freed."""
    monkeypatch.setattr(bodies, "BODY_TIMEOUT", 0.5)
    url = urlsplit(make_server())
    with socket.create_connection((url.hostname, url.port)) as sock:
        head = (
            "POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        sock.sendall(head.encode() + b'{"model": "sim/sim-1",')
        started = time.monotonic()
        sock.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert time.monotonic() - started < 5
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 408 " in status_line
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["status_code"] == 408
    assert body["error"]["code"] == "body_timeout"
