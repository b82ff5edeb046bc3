"""
Slow and greedy clients leave the server answering others (item 6).

Idle and slowloris connections are closed when their request head does not arrive in
time; 1,100 of them do not stop ``/health``; one key cannot hold more than its share of
creates and downloads.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from hostile_support import SIM, Served, reelgate_serve, wire_error

from reelgate.emulation import Fault, Faults, serve
from reelgate_openai.emulator import create_app as openai_emulator

FAULTS = Faults()
HEADER_TIMEOUT = 1.0


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(openai_emulator(job_seconds=0.2, faults=FAULTS)) as upstream:
        config = SIM + (
            f'\n[providers.openai]\nbase_url = "{upstream}/v1"\n'
            f"\n[server]\nheader_timeout = {HEADER_TIMEOUT}\n"
            "max_concurrent_creates = 1\nmax_concurrent_downloads = 1\n"
        )
        tmp = tmp_path_factory.mktemp("slow")
        with reelgate_serve(tmp, config, env={"OPENAI_API_KEY": "sk-upstream-0123"}) as served:
            yield served


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes `sock` within `seconds`."""
    sock.settimeout(seconds)
    try:
        return sock.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


class TestSlowClients:
    """Connections that do not send a request in time are closed, quietly."""

    def test_an_idle_connection_is_closed(self, served: Served) -> None:
        """A connection that sends nothing is closed after the header timeout."""
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            started = time.monotonic()
            assert closed_within(sock, HEADER_TIMEOUT + 3)
            assert time.monotonic() - started >= HEADER_TIMEOUT * 0.8

    def test_a_slowloris_head_is_closed(self, served: Served) -> None:
        """Trickling a request head a byte at a time does not keep a connection open."""
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
            deadline = time.monotonic() + HEADER_TIMEOUT + 3
            closed = False
            for byte in head:
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    closed = True
                    break
                if closed_within(sock, 0.05) or time.monotonic() > deadline:
                    closed = True
                    break
            assert closed

    def test_a_kept_alive_connection_must_send_its_next_head_in_time(self, served: Served) -> None:
        """After one answer, the next request head has the same deadline."""
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            answer = b""
            while not answer.endswith(b'"ok"}'):
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200")
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            assert closed_within(sock, HEADER_TIMEOUT + 6)

    def test_1100_slow_connections_leave_health_answering(self, served: Served) -> None:
        """With 1,100 idle and half-sent connections open, /health answers at once."""
        socks: list[socket.socket] = []
        try:
            for i in range(1100):
                sock = socket.create_connection(("127.0.0.1", served.port))
                if i % 2:
                    sock.sendall(b"POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                socks.append(sock)
            started = time.monotonic()
            response = httpx2.get(f"{served.url}/health", timeout=5)
            assert response.status_code == 200
            assert time.monotonic() - started < 2
        finally:
            for sock in socks:
                sock.close()
        time.sleep(HEADER_TIMEOUT + 0.5)
        # Closing slow clients is quiet: no line per connection.
        assert served.log().count("\n") < 100


class TestPerKeyLimits:
    """One key holds at most its configured creates and downloads at once (429 beyond)."""

    def test_a_second_concurrent_download_is_429(self, served: Served) -> None:
        """While one download streams, the same key's next download is refused."""
        body = {"model": "sim/sim-1", "prompt": "big", "sim_bytes": 256 << 20}
        vid = httpx2.post(f"{served.url}/v1/videos", json=body).json()["id"]
        with httpx2.stream("GET", f"{served.url}/v1/videos/{vid}/content") as first:
            assert first.status_code == 200
            second = httpx2.get(f"{served.url}/v1/videos/{vid}/content")
            error = wire_error(second, 429)
            assert error["code"] == "too_many_concurrent_requests"
        # Once the first is done, downloads are served again.
        time.sleep(0.2)
        with httpx2.stream("GET", f"{served.url}/v1/videos/{vid}/content") as third:
            assert third.status_code == 200

    def test_a_second_concurrent_create_is_429(self, served: Served) -> None:
        """A create held up upstream keeps the key's one create slot."""
        FAULTS.add(Fault(delay=1.5, method="POST", path="/videos$"))

        def create() -> httpx2.Response:
            return httpx2.post(
                f"{served.url}/v1/videos",
                json={"model": "openai/sora-2", "prompt": "a boat"},
                timeout=30,
            )

        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(create)
            time.sleep(0.5)
            fast = pool.submit(create)
            statuses = sorted([slow.result().status_code, fast.result().status_code])
        assert statuses == [200, 429]
        assert wire_error(fast.result(), 429)["code"] == "too_many_concurrent_requests"
