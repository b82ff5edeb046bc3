"""
The seeds' curl examples, run with curl against ``reelgate serve`` on the simulator.

The examples are the reference gateway's documented commands (spec/seeds), with the
documentation's placeholder host replaced by the server's address and, where the
placeholder values name nothing that exists, run once as written (a clear 400) and once
with real values (a 200).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

# As the seeds write them (000, 002, 003, 004).
SEED_LIST = 'curl -X GET "http://localhost:8080/v1/videos?provider=string"'
SEED_LIST_PAGED = (
    'curl -X GET "https://loading/{AI_GATEWAY_URL}/v1/videos'
    '?provider=string&after=string&limit=20&order=asc"'
)
SEED_RETRIEVE = 'curl -X GET "http://localhost:8080/v1/videos/string"'
SEED_CREATE = (
    'curl -X POST "http://localhost:8080/v1/videos" \\\n'
    '  -H "Content-Type: application/json" \\\n'
    '  -d \'{ "model": "string", "prompt": "string" }\''
)

CONFIG = """
[index]
kind = "memory"

[gateway]
default_instances = false

[providers.sim]
type = "sim"
duration = 0.5
"""


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``reelgate --config FILE serve --port PORT`` in a new process."""
    config = tmp / "reelgate.toml"
    config.write_text(CONFIG)
    port = free_port()
    command = ["--config", str(config), "serve", "--host", "127.0.0.1", "--port", str(port)]
    # stderr goes to a file: a pipe nobody reads could fill up and stall the server.
    with (tmp / "stderr.txt").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "reelgate.cli", *command],
            env={**env, "REELGATE_STATE_DIR": str(tmp / "state")},
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx2.get(f"{url}/health").status_code == 200:
                return process, url
        except httpx2.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the server did not start: {stop(process, tmp)}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes], tmp: Path) -> str:
    """Stop the server; return what it wrote to stderr."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    return (tmp / "stderr.txt").read_text(errors="replace")


@pytest.fixture(name="url", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    tmp = tmp_path_factory.mktemp("serve")
    process, url = start(tmp, env)
    yield url
    stop(process, tmp)


def curl(command: str, url: str, *extra: str) -> tuple[int, bytes]:
    """Run a seed's curl command against `url`; return the status and the body."""
    for placeholder in ("http://localhost:8080", "https://loading/{AI_GATEWAY_URL}"):
        command = command.replace(placeholder, url)
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "curl"
    done = subprocess.run(
        [shutil.which("curl") or "curl", "-sS", "-w", "\n%{http_code}", *args[1:], *extra],
        capture_output=True,
        check=True,
        timeout=60,
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def json_of(body: bytes) -> Any:
    """The body as JSON."""
    return json.loads(body)


def check_error(body: bytes, status: int) -> str:
    """The seeds' error body; returns its message."""
    error = json_of(body)
    assert error["status_code"] == status
    assert isinstance(error["is_bifrost_error"], bool)
    message: str = error["error"]["message"]
    return message


def test_seed_create(url: str) -> None:
    """POST /v1/videos as the seed writes it: 400 for model "string", 200 for a real one."""
    status, body = curl(SEED_CREATE, url)
    assert status == 400
    assert "provider/model" in check_error(body, 400)
    status, body = curl(SEED_CREATE.replace('"string", "prompt"', '"sim/sim-1", "prompt"'), url)
    assert status == 200
    video = json_of(body)
    assert video["object"] == "video"
    assert video["id"].endswith(":sim")
    assert video["extra_fields"]["request_type"] == "video_generation"


def test_seed_retrieve(url: str) -> None:
    """GET /v1/videos/{video_id}: "string" is not an id (400); a real id answers 200."""
    status, body = curl(SEED_RETRIEVE, url)
    assert status == 400
    assert "id:provider" in check_error(body, 400)
    _, made = curl(SEED_CREATE.replace('"string", "prompt"', '"sim/sim-1", "prompt"'), url)
    video_id = json_of(made)["id"]
    status, body = curl(SEED_RETRIEVE.replace("/string", f"/{video_id}"), url)
    assert status == 200
    assert json_of(body)["id"] == video_id
    assert json_of(body)["extra_fields"]["request_type"] == "video_retrieve"


def test_seed_list(url: str) -> None:
    """GET /v1/videos?provider=...: an unknown provider is a 400; sim lists its jobs."""
    status, body = curl(SEED_LIST, url)
    assert status == 400
    assert "unknown provider 'string'" in check_error(body, 400)
    status, body = curl(SEED_LIST.replace("provider=string", "provider=sim"), url)
    assert status == 200
    listing = json_of(body)
    assert listing["object"] == "list"
    assert listing["extra_fields"]["request_type"] == "video_list"


def test_seed_list_with_cursor(url: str) -> None:
    """The paged list example: after, limit and order work with real values."""
    status, body = curl(SEED_LIST_PAGED, url)
    assert status == 400
    create = SEED_CREATE.replace('"string", "prompt"', '"sim/sim-1", "prompt"')
    ids = [json_of(curl(create, url)[1])["id"] for _ in range(2)]
    paged = SEED_LIST_PAGED.replace("provider=string", "provider=sim").replace(
        "after=string", f"after={ids[0]}"
    )
    status, body = curl(paged, url)
    assert status == 200
    assert [v["id"] for v in json_of(body)["data"]] == [ids[1]]


def test_download_and_delete_with_curl(url: str, tmp_path: Path) -> None:
    """The undocumented-in-seeds routes with curl: content to a file, then delete."""
    create = SEED_CREATE.replace('"string", "prompt"', '"sim/sim-1", "prompt"').replace(
        '"prompt": "string"', '"prompt": "string", "sim_duration": 0'
    )
    video_id = json_of(curl(create, url)[1])["id"]
    target = tmp_path / "boat.mp4"
    status, _ = curl(f'curl "{url}/v1/videos/{video_id}/content"', url, "-o", str(target))
    assert status == 200
    assert target.read_bytes()[4:8] == b"ftyp"
    status, body = curl(f'curl -X DELETE "{url}/v1/videos/{video_id}"', url)
    assert status == 200
    deleted = json_of(body)
    assert (deleted["id"], deleted["object"], deleted["deleted"]) == (
        video_id,
        "video.deleted",
        True,
    )
    assert deleted["extra_fields"]["request_type"] == "video_delete"


def test_without_keys_it_says_it_is_loopback_only(tmp_path: Path) -> None:
    """Started with no keys, the server says it is bound to 127.0.0.1 only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    process, url = start(tmp_path, env)
    assert httpx2.get(f"{url}/v1/videos?provider=sim").status_code == 200
    err = stop(process, tmp_path)
    assert "bound to 127.0.0.1 only" in err
    assert "no server keys" in err


def test_with_keys_curl_needs_one(tmp_path: Path) -> None:
    """Started with REELGATE_SERVER_KEYS, the server wants a key; curl sends one."""
    key = "sk-curl-test-key-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("REELGATE_")}
    env |= {"REELGATE_SERVER_KEYS": "CURL_TEST_KEY", "CURL_TEST_KEY": key}
    process, url = start(tmp_path, env)
    try:
        status, body = curl(SEED_LIST.replace("string", "sim"), url)
        assert status == 401
        assert "API key is required" in check_error(body, 401)
        status, _ = curl(SEED_LIST.replace("string", "sim"), url, "-H", f"x-bf-vk: {key}")
        assert status == 200
    finally:
        err = stop(process, tmp_path)
    assert "CURL_TEST_KEY" in err
    assert key not in err
