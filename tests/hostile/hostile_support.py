"""Helpers of the hostile suite: a real ``reelgate serve`` process on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx2
import pytest

#: A simulator instance whose jobs finish at once unless asked otherwise.
SIM = """
[index]
kind = "memory"

[gateway]
default_instances = false

[providers.sim]
type = "sim"
duration = 0
"""

KEY_A = "sk-hostile-key-AAAA-0123456789"
KEY_B = "sk-hostile-key-BBBB-9876543210"


@attrs.frozen
class Served:
    """A running ``reelgate serve``."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    stderr: Path

    def log(self) -> str:
        """What the server wrote to stderr so far."""
        return self.stderr.read_text(errors="replace")


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def reelgate_serve(
    tmp: Path,
    config: str,
    *,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
) -> Iterator[Served]:
    """Run ``reelgate --config FILE serve`` on 127.0.0.1 until the block ends."""
    path = tmp / "reelgate.toml"
    path.write_text(config)
    port = free_port()
    command = ["--config", str(path), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    environ.update({"REELGATE_STATE_DIR": str(tmp / "state"), **(env or {})})
    stderr_path = tmp / "stderr.txt"
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "reelgate.cli", *command], env=environ, stderr=stderr
        )
    served = Served(f"http://127.0.0.1:{port}", port, process, stderr_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{served.url}/health").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {served.log()}")
            time.sleep(0.05)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wire_error(response: httpx2.Response, status: int) -> dict[str, object]:
    """The wire's error body, with `status`; returns its ``error`` object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == status
    assert isinstance(body["is_bifrost_error"], bool)
    assert body["error"]["message"]
    error: dict[str, object] = body["error"]
    return error
