"""
Several ``reelgate serve`` processes on one job index (an SQLite file, and PostgreSQL).

They sit in front of the openai emulator over loopback.

One idempotency key sent 50 times at once over three servers reaches the upstream once; a
reused key with another body is a 409; a create whose answer is lost is ambiguous and a
retry with its key a 409 ``idempotency_outcome_unknown``; the watcher completes jobs no
client polls, and a server killed with SIGKILL leaves its jobs to the others.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest

from reelgate.emulation import Fault, Faults, serve

emulator = pytest.importorskip("reelgate_openai.emulator")

sys.path.insert(0, str(Path(__file__).parents[1] / "postgres"))
from local_postgres import LocalPostgres, find_bindir, started  # noqa: E402

UPSTREAM_KEY = "sk-upstream-REPLICAS-0123456789"
CREATE = {"model": "openai/sora-2", "prompt": "a paper boat", "seconds": "4"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(name="pg_server", scope="module")
def _pg_server() -> Iterator[LocalPostgres]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries on this machine")
    pytest.importorskip("psycopg")
    server = started(bindir)
    yield server
    server.cleanup()


@pytest.fixture(name="upstream")
def _upstream() -> Iterator[tuple[str, Faults]]:
    """The openai emulator on loopback; jobs take 1.5 s."""
    faults = Faults()
    with serve(emulator.create_app(job_seconds=1.5, faults=faults)) as url:
        yield url, faults


@pytest.fixture(name="index_env", params=["sqlite", "postgres"])
def _index_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The environment that points every server at one shared index."""
    if request.param == "sqlite":
        return {"REELGATE_TEST_INDEX_PATH": str(tmp_path / "shared.sqlite3")}
    import psycopg  # noqa: PLC0415

    server: LocalPostgres = request.getfixturevalue("pg_server")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server.url(), autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{schema}"')
    return {"REELGATE_INDEX_URL": f"{server.url()}?options=-csearch_path%3D{schema}"}


Start = Callable[..., tuple[subprocess.Popen[bytes], str]]


@pytest.fixture(name="start")
def _start(
    tmp_path: Path, upstream: tuple[str, Faults], index_env: dict[str, str]
) -> Iterator[Start]:
    """Start ``reelgate serve`` processes sharing the index; all stopped at the end."""
    url, _ = upstream
    path = index_env.get("REELGATE_TEST_INDEX_PATH")
    config = tmp_path / "reelgate.toml"
    config.write_text(
        ("" if path is None else f'[index]\npath = "{path}"\n\n')
        + "[gateway]\ndefault_instances = false\n\n"
        + f'[providers.openai]\ntype = "openai"\nbase_url = "{url}/v1"\n'
        + 'api_key_env = "UPSTREAM_KEY"\npoll_interval = 0.1\n'
    )
    processes: list[subprocess.Popen[bytes]] = []

    def start(*options: str) -> tuple[subprocess.Popen[bytes], str]:
        port = _free_port()
        log = tmp_path / f"serve-{port}.txt"
        env = {
            **os.environ,
            **index_env,
            "UPSTREAM_KEY": UPSTREAM_KEY,
            "REELGATE_PLUGINS": "openai",
            "REELGATE_STATE_DIR": str(tmp_path / "state"),
        }
        env.pop("REELGATE_SERVER_KEYS", None)
        command = ["--config", str(config), "serve", "--port", str(port), *options]
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "reelgate.cli", *command], env=env, stderr=stderr
            )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx2.get(f"{base}/health").status_code == 200:
                    return process, base
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"reelgate serve did not start: {log.read_text()}")
            time.sleep(0.05)

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _posts(faults: Faults) -> int:
    return faults.count("POST", r"/videos$")


def test_fifty_creates_with_one_key_over_three_servers_reach_upstream_once(
    start: Start, upstream: tuple[str, Faults]
) -> None:
    """50 concurrent creates, one Idempotency-Key, three servers: one upstream POST."""
    _, faults = upstream
    servers = [start("--no-watch")[1] for _ in range(3)]
    headers = {"Idempotency-Key": "one-key"}

    def create(i: int) -> httpx2.Response:
        return httpx2.post(f"{servers[i % 3]}/v1/videos", json=CREATE, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(create, range(50)))
    ok = [a for a in answers if a.status_code == 200]
    assert all(a.status_code in (200, 409) for a in answers), [a.text for a in answers]
    assert {a.json()["error"]["code"] for a in answers if a.status_code == 409} <= {
        "idempotency_in_progress"
    }
    assert len(ok) >= 40
    assert len({a.json()["id"] for a in ok}) == 1
    assert _posts(faults) == 1
    # A later create with the key, on any server, answers the job and sends nothing.
    for server in servers:
        again = httpx2.post(f"{server}/v1/videos", json=CREATE, headers=headers, timeout=30)
        assert again.json()["id"] == ok[0].json()["id"]
    assert _posts(faults) == 1


def test_a_reused_key_with_another_body_is_a_409(
    start: Start, upstream: tuple[str, Faults]
) -> None:
    """The key names the first request: another body with it is idempotency_key_reused."""
    _, faults = upstream
    one, two = start("--no-watch")[1], start("--no-watch")[1]
    headers = {"Idempotency-Key": "reused"}
    assert httpx2.post(f"{one}/v1/videos", json=CREATE, headers=headers).status_code == 200
    other = {**CREATE, "prompt": "a stone boat"}
    answer = httpx2.post(f"{two}/v1/videos", json=other, headers=headers)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "idempotency_key_reused"
    assert _posts(faults) == 1


def test_a_lost_answer_is_ambiguous_and_its_key_outcome_unknown(
    start: Start, upstream: tuple[str, Faults]
) -> None:
    """The emulator creates the job and drops the answer: no second create, ever."""
    _, faults = upstream
    one, two = start("--no-watch")[1], start("--no-watch")[1]
    faults.add(Fault(lose_answer=True, method="POST", path=r"/videos$"))
    headers = {"Idempotency-Key": "lost"}
    first = httpx2.post(f"{one}/v1/videos", json=CREATE, headers=headers, timeout=60)
    assert first.status_code >= 500, first.text
    assert first.json()["error"]["ambiguous"] is True
    for server in (one, two):
        again = httpx2.post(f"{server}/v1/videos", json=CREATE, headers=headers, timeout=60)
        assert again.status_code == 409, again.text
        error = again.json()["error"]
        assert error["code"] == "idempotency_outcome_unknown"
        assert "may exist upstream" in error["message"]
    assert _posts(faults) == 1


def _statuses(servers: list[str], ids: list[str]) -> dict[str, str]:
    """The stored status of each job, read from the index through a list (no polling)."""
    seen: dict[str, str] = {}
    for server in servers:
        try:
            page = httpx2.get(
                f"{server}/v1/videos", params={"provider": "openai", "limit": 100}, timeout=10
            ).json()
        except httpx2.TransportError:
            continue
        for video in page.get("data", []):
            if video["id"] in ids:
                seen[video["id"]] = video["status"]
        if seen:
            return seen
    return seen


def _wait_done(read: Callable[[], dict[str, str]], ids: list[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        statuses = read()
        if len(statuses) == len(ids) and all(s == "completed" for s in statuses.values()):
            return
        assert time.monotonic() < deadline, statuses
        time.sleep(0.2)


def _create_jobs(server: str, n: int) -> list[str]:
    return [
        httpx2.post(f"{server}/v1/videos", json=CREATE, timeout=30).json()["id"] for _ in range(n)
    ]


def _retrieves(faults: Faults) -> int:
    return faults.count("GET", r"/videos/[^/]+$")


def test_the_watcher_completes_jobs_no_client_polls(
    start: Start, upstream: tuple[str, Faults], index_env: dict[str, str]
) -> None:
    """Jobs made on a watching server reach completed upstream and in the index, unpolled."""
    _, faults = upstream
    _, server = start()
    ids = _create_jobs(server, 5)
    deadline = time.monotonic() + 30
    while _retrieves(faults) < 10:  # the watcher polls (nobody else does)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    _wait_done(lambda: _read_index(index_env, ids), ids, 30)


def _read_index(index_env: dict[str, str], ids: list[str]) -> dict[str, str]:
    """The stored status of each job, read straight from the shared index."""
    natives = {i.rpartition(":")[0]: i for i in ids}
    rows: list[Any]
    if (path := index_env.get("REELGATE_TEST_INDEX_PATH")) is not None:
        with sqlite3.connect(path) as db:
            rows = db.execute(
                "SELECT native_id, json_extract(video, '$.status') FROM jobs"
            ).fetchall()
    else:
        import psycopg  # noqa: PLC0415

        with psycopg.connect(index_env["REELGATE_INDEX_URL"]) as db:
            rows = db.execute("SELECT native_id, video->>'status' FROM reelgate_jobs").fetchall()
    return {natives[n]: s for n, s in rows if n in natives}


def test_a_killed_servers_jobs_are_watched_by_another(
    start: Start, upstream: tuple[str, Faults], index_env: dict[str, str]
) -> None:
    """SIGKILL one of two watching servers mid-watch: the other completes every job."""
    _, faults = upstream
    victim, first = start("--watch-lease", "1")
    _, second = start("--watch-lease", "1")
    ids = _create_jobs(first, 6) + _create_jobs(second, 6)
    time.sleep(0.5)  # both watch by now
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    _wait_done(lambda: _read_index(index_env, ids), ids, 40)
    assert _statuses([second], ids)
    assert _posts(faults) == 12
