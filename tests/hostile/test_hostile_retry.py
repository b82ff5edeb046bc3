"""
Answers an official SDK must not resend carry ``x-should-retry: false`` (issue 10, item 2).

The openai SDK resends 408, 409, 429 and 5xx answers twice by default; after a create
whose answer was lost, that is a second paid job.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest
from hostile_support import SIM, Served, reelgate_serve, wire_error

from reelgate.emulation import Fault, Faults, serve
from reelgate_openai.emulator import create_app as openai_emulator

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

UPSTREAM_KEY = "sk-upstream-openai-0123456789"


FAULTS = Faults()


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server: the simulator, and OpenAI's emulator behind a fault script."""
    with serve(openai_emulator(job_seconds=0.2, faults=FAULTS)) as upstream:
        config = SIM + f'\n[providers.openai]\nbase_url = "{upstream}/v1"\n'
        tmp = tmp_path_factory.mktemp("retry")
        with reelgate_serve(tmp, config, env={"OPENAI_API_KEY": UPSTREAM_KEY}) as served:
            yield served


@pytest.fixture(autouse=True)
def _clean() -> None:
    FAULTS.clear()


class TestShouldRetry:
    """Which answers say ``x-should-retry: false``, and the SDK obeying it."""

    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("POST", "/v1/videos", b"{", 400),
            ("GET", "/v1/videos/nope", None, 400),
            ("GET", "/v1/videos/nope:sim", None, 404),
            ("GET", "/v1/videos/x:nowhere", None, 404),
            ("GET", "/nowhere", None, 404),
            ("PUT", "/v1/videos", None, 405),
        ],
    )
    def test_client_errors_say_do_not_resend(
        self, served: Served, method: str, path: str, body: bytes | None, status: int
    ) -> None:
        """A 4xx other than 408/429 answers the same however often it is sent."""
        headers = {"content-type": "application/json"}
        response = httpx2.request(method, served.url + path, content=body, headers=headers)
        wire_error(response, status)
        assert response.headers["x-should-retry"] == "false"

    def test_not_ready_409_says_do_not_resend(self, served: Served) -> None:
        """Downloading an unfinished job is a 409 the SDK must not resend."""
        created = httpx2.post(
            f"{served.url}/v1/videos",
            json={"model": "sim/sim-1", "prompt": "slow", "sim_duration": 600},
        ).json()
        response = httpx2.get(f"{served.url}/v1/videos/{created['id']}/content")
        wire_error(response, 409)
        assert response.headers["x-should-retry"] == "false"

    def test_ambiguous_create_failure_says_do_not_resend(self, served: Served) -> None:
        """A create whose upstream answered 5xx may exist upstream: no resend."""
        FAULTS.add(Fault(status=502, method="POST", path="/videos$"))
        response = httpx2.post(
            f"{served.url}/v1/videos", json={"model": "openai/sora-2", "prompt": "a boat"}
        )
        assert response.status_code >= 500
        assert response.headers["x-should-retry"] == "false"

    def test_openai_sdk_sends_a_failed_create_once(self, served: Served) -> None:
        """The openai SDK (default retries) honours the header: one upstream create, not 3."""
        FAULTS.add(Fault(status=502, method="POST", path="/videos$", times=5))
        with openai.OpenAI(base_url=f"{served.url}/openai/v1", api_key="unused") as sdk:
            assert sdk.max_retries == 2
            with pytest.raises(openai.APIStatusError):
                sdk.videos.create(model="sora-2", prompt="a paper boat")
        assert FAULTS.count("POST", "/videos$") == 1

    def test_openai_sdk_asks_once_for_a_video_not_ready(self, served: Served) -> None:
        """A 409 (not ready) reaches the SDK's caller at once, not after two resends."""
        created = httpx2.post(
            f"{served.url}/v1/videos",
            json={"model": "sim/sim-1", "prompt": "slow", "sim_duration": 600},
        ).json()
        seen: list[httpx2.Request] = []
        http = httpx2.Client(event_hooks={"request": [seen.append]})
        with (
            openai.OpenAI(
                base_url=f"{served.url}/openai/v1", api_key="unused", http_client=http
            ) as sdk,
            pytest.raises(openai.ConflictError),
        ):
            sdk.videos.download_content(created["id"])
        assert len(seen) == 1


def test_the_suite_runs_from_its_own_directory() -> None:
    """The helpers import from this directory (pytest's rootdir-relative imports)."""
    assert Path(__file__).with_name("hostile_support.py").is_file()
