"""
A keyless server keeps web pages out: DNS rebinding and cross-site requests (item 5).

Raw requests set exactly the headers a browser would (``Host`` of a rebound name,
``Origin``, ``Sec-Fetch-Site``, the "simple" content types a page may post without a
preflight).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from hostile_support import KEY_A, SIM, Served, reelgate_serve, wire_error

CREATE = b'{"model": "sim/sim-1", "prompt": "a paper boat"}'
JSON = {"content-type": "application/json"}


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    config = SIM + '\n[server]\nallowed_hosts = ["videos.lan"]\n'
    tmp = tmp_path_factory.mktemp("browser")
    with reelgate_serve(tmp, config, args=["--allow-host", "reelgate.internal"]) as served:
        yield served


@pytest.fixture(name="keyed", scope="module")
def _keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("keyed")
    env = {"REELGATE_SERVER_KEYS": "TEAM_A", "TEAM_A": KEY_A}
    with reelgate_serve(tmp, SIM, env=env) as served:
        yield served


class TestHost:
    """Only the server's own names are answered (421 otherwise): no DNS rebinding."""

    @pytest.mark.parametrize(
        "host",
        ["127.0.0.1", "localhost", "[::1]", "videos.lan", "reelgate.internal", "LOCALHOST"],
    )
    def test_own_names_are_answered(self, served: Served, host: str) -> None:
        """Loopback names, the configured and the --allow-host names (any port)."""
        response = httpx2.get(
            f"{served.url}/v1/videos?provider=sim", headers={"host": f"{host}:{served.port}"}
        )
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "host", ["attacker.example", "127.0.0.1.attacker.example", "videos.lan.evil", "::1"]
    )
    def test_other_names_are_421(self, served: Served, host: str) -> None:
        """A rebound name reaches the socket but gets no answer but a 421."""
        for method, path, body in (
            ("GET", "/v1/videos?provider=sim", None),
            ("POST", "/v1/videos", CREATE),
            ("GET", "/health", None),
        ):
            response = httpx2.request(
                method, served.url + path, content=body, headers={**JSON, "host": host}
            )
            error = wire_error(response, 421)
            assert "Host" in str(error["message"])
            assert response.headers["x-should-retry"] == "false"


class TestCrossSite:
    """Requests a browser marks as cross-site, or could send without a preflight: 403."""

    @pytest.mark.parametrize(
        "headers",
        [
            {"origin": "https://attacker.example"},
            {"origin": "null"},
            {"origin": "http://localhost:1"},
            {"sec-fetch-site": "cross-site"},
            {"content-type": "text/plain"},
            {"content-type": "application/x-www-form-urlencoded"},
            {"content-type": "text/plain;charset=UTF-8"},
        ],
        ids=str,
    )
    def test_cross_site_create_is_403(self, served: Served, headers: dict[str, str]) -> None:
        """No job is started by a page on another site."""
        before = httpx2.get(f"{served.url}/v1/videos?provider=sim").json()["data"]
        response = httpx2.post(
            f"{served.url}/v1/videos", content=CREATE, headers={**JSON, **headers}
        )
        assert wire_error(response, 403)["code"] == "cross_site_refused"
        after = httpx2.get(f"{served.url}/v1/videos?provider=sim").json()["data"]
        assert after == before

    def test_cross_site_read_is_403(self, served: Served) -> None:
        """A page cannot read the job list either."""
        response = httpx2.get(
            f"{served.url}/v1/videos?provider=sim", headers={"origin": "https://attacker.example"}
        )
        wire_error(response, 403)

    @pytest.mark.parametrize("site", ["same-origin", "none"])
    def test_own_origin_is_answered(self, served: Served, site: str) -> None:
        """The server's own origin (its docs page, a local tool) is served."""
        headers = {**JSON, "origin": served.url, "sec-fetch-site": site}
        response = httpx2.post(f"{served.url}/v1/videos", content=CREATE, headers=headers)
        assert response.status_code == 200, response.text

    def test_multipart_from_a_command_line_client_is_answered(self, served: Served) -> None:
        """Multipart (the OpenAI SDK's create) without browser headers passes."""
        response = httpx2.post(
            f"{served.url}/v1/videos",
            data={"model": "sim/sim-1", "prompt": "a paper boat"},
            files={"unused": ("a.txt", b"x", "text/plain")},
        )
        assert response.status_code != 403, response.text


def test_a_server_with_keys_needs_no_guard(keyed: Served) -> None:
    """With keys a page cannot call anyway: any Host, and the key decides."""
    headers = {"host": "videos.example.com", "x-bf-vk": KEY_A}
    response = httpx2.get(f"{keyed.url}/v1/videos?provider=sim", headers=headers)
    assert response.status_code == 200, response.text
    wire_error(httpx2.get(f"{keyed.url}/v1/videos?provider=sim"), 401)
