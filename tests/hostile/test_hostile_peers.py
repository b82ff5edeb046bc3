"""
Clients nobody here wrote, served as they expect (items 12, 13 and 15).

The openai SDK with the reference gateway's own ``base_url`` convention (``{gateway}/openai``,
so ``/openai/videos...`` without ``/v1``), its video tests 31a-31f replayed; OpenAI's
``Video`` schema on every OpenAI-compatible answer; keys read in the reference gateway's
header order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pytest
from hostile_support import KEY_A, KEY_B, SIM, Served, reelgate_serve
from openai.types import Video as OpenAIVideo

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")

LIST_SIM = {"x-bf-video-list-provider": "sim"}
#: The fields OpenAI's Video schema requires, from the SDK's own model.
REQUIRED = {name for name, field in OpenAIVideo.model_fields.items() if field.is_required()}


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("peers")
    env = {"REELGATE_SERVER_KEYS": "TEAM_A,TEAM_B", "TEAM_A": KEY_A, "TEAM_B": KEY_B}
    with reelgate_serve(tmp, SIM, env=env) as served:
        yield served


def finished(sdk: openai.OpenAI, video_id: str) -> Any:
    """Poll with the SDK until the job is done."""
    deadline = time.monotonic() + 30
    while True:
        video = sdk.videos.retrieve(video_id)
        if video.status in ("completed", "failed") or time.monotonic() > deadline:
            return video
        time.sleep(0.05)


class TestReferenceGatewayTests:
    """The reference gateway's openai video tests (31a-31f), with its base_url."""

    @pytest.fixture(name="sdk", scope="class")
    @staticmethod
    def _sdk(served: Served) -> Iterator[openai.OpenAI]:
        with openai.OpenAI(base_url=f"{served.url}/openai", api_key=KEY_A) as sdk:
            yield sdk

    def test_31a_to_31f(self, sdk: openai.OpenAI) -> None:
        """Create, retrieve, list, download_content, delete and remix under /openai/videos."""
        video = sdk.videos.create(model="sim/sim-1", prompt="a paper boat", seconds="4")
        assert video.object in ("video", "video.task")
        assert video.status in ("queued", "in_progress", "completed", "failed")
        assert video.model
        got = sdk.videos.retrieve(video.id)
        assert got.id == video.id
        assert got.created_at
        listed = sdk.videos.list(extra_headers=LIST_SIM)
        assert video.id in {v.id for v in listed.data}
        done = finished(sdk, video.id)
        content = sdk.videos.download_content(video.id)
        assert content.content
        kind = content.response.headers["content-type"]
        assert kind.startswith("video/") or kind == "application/octet-stream"
        remix = sdk.videos.remix(done.id, prompt="a paper plane")
        assert remix.id != video.id
        assert sdk.videos.delete(video.id).id == video.id

    def test_the_routes_without_v1_are_the_routes_with_it(self, served: Served) -> None:
        """Every video route answers the same under /openai/videos and /openai/v1/videos."""
        headers = {"x-bf-vk": KEY_A}
        for prefix in ("/openai/videos", "/openai/v1/videos"):
            created = httpx2.post(
                served.url + prefix,
                json={"model": "sim/sim-1", "prompt": "x"},
                headers=headers,
            )
            assert created.status_code == 200, created.text
            vid = created.json()["id"]
            for method, suffix in (("GET", ""), ("GET", "/content"), ("DELETE", "")):
                response = httpx2.request(
                    method, f"{served.url}{prefix}/{vid}{suffix}", headers=headers
                )
                assert response.status_code == 200, (prefix, suffix, response.text)


class TestOpenAIVideoSchema:
    """Every video object on the OpenAI routes has every required field; progress an int."""

    def check(self, video: dict[str, Any]) -> None:
        missing = REQUIRED - set(video)
        assert not missing, (missing, video)
        assert type(video["progress"]) is int
        assert 0 <= video["progress"] <= 100
        assert video["object"] == "video"
        OpenAIVideo.model_validate(video)

    @pytest.mark.parametrize("duration", [0, 600])
    def test_create_retrieve_and_list(self, served: Served, duration: int) -> None:
        """Queued and completed jobs alike, on create, retrieve and list."""
        headers = {"x-bf-vk": KEY_A}
        base = f"{served.url}/openai/v1/videos"
        body = {"model": "sim/sim-1", "prompt": "x", "sim_duration": duration}
        created = httpx2.post(base, json=body, headers=headers).json()
        self.check(created)
        self.check(httpx2.get(f"{base}/{created['id']}", headers=headers).json())
        page = httpx2.get(base, headers={**headers, **LIST_SIM}).json()
        assert page["data"]
        for item in page["data"]:
            self.check(item)


class TestKeyHeaders:
    """Keys are read x-bf-vk first, then x-api-key, then Authorization."""

    @pytest.mark.parametrize(
        "headers",
        [
            {"x-bf-vk": KEY_A, "authorization": "Bearer sk-a-provider-key"},
            {"x-bf-vk": KEY_A, "x-api-key": "sk-something-else"},
            {"x-api-key": KEY_A, "authorization": "Bearer sk-a-provider-key"},
            {"authorization": f"Bearer {KEY_A}"},
        ],
        ids=["vk-over-authorization", "vk-over-api-key", "api-key-over-authorization", "bearer"],
    )
    def test_the_first_header_in_order_decides(
        self, served: Served, headers: dict[str, str]
    ) -> None:
        """The gateway key goes in x-bf-vk while Authorization carries something else."""
        response = httpx2.get(f"{served.url}/v1/videos?provider=sim", headers=headers)
        assert response.status_code == 200, response.text

    def test_a_wrong_first_header_is_not_rescued_by_a_later_one(self, served: Served) -> None:
        """x-bf-vk is the key when present, even with a valid key further down."""
        headers = {"x-bf-vk": "wrong", "authorization": f"Bearer {KEY_A}"}
        response = httpx2.get(f"{served.url}/v1/videos?provider=sim", headers=headers)
        assert response.status_code == 401
