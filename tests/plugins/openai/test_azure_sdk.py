"""OpenAI's SDK, as Azure's docs use it, completes every operation on the emulator's azure mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest

from reelgate.emulation import serve as serve_app
from reelgate_openai.emulator import create_app

# The SDK marks every videos method deprecated (OpenAI's own endpoint shut down); Azure
# serves the wire on, which is what these tests check.
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API is scheduled:DeprecationWarning")

KEY = "azure-sdk-key-0123456789abcdef"
TOKEN = "entra-sdk-token-0123456789"


@pytest.fixture(name="served")
def _served() -> Iterator[tuple[str, Any]]:
    """The emulator in azure mode over loopback HTTP (`KEY`, `TOKEN`, api-version preview)."""
    app = create_app(job_seconds=0.2, mode="azure", api_keys={KEY, TOKEN}, api_versions={"preview"})
    with serve_app(app) as url:
        yield url, app


def _clients(url: str) -> dict[str, Callable[[], openai.OpenAI]]:
    base = f"{url}/openai/v1"
    return {
        "azure-key": lambda: openai.AzureOpenAI(
            base_url=base, api_key=KEY, api_version="preview", max_retries=0
        ),
        "azure-entra": lambda: openai.AzureOpenAI(
            base_url=base,
            azure_ad_token_provider=lambda: TOKEN,
            api_version="preview",
            max_retries=0,
        ),
        "openai-v1": lambda: openai.OpenAI(
            base_url=base, api_key=KEY, default_query={"api-version": "preview"}, max_retries=0
        ),
    }


@pytest.mark.parametrize("kind", ["azure-key", "azure-entra", "openai-v1"])
def test_create_retrieve_list_download_delete(
    served: tuple[str, Any], kind: str, make_png: Callable[[int, int], bytes]
) -> None:
    """Each client form Azure documents runs the whole flow, with the headers it is known by."""
    url, app = served
    with _clients(url)[kind]() as client:
        video = client.videos.create(
            prompt="a paper boat",
            model="sora-2",
            seconds="4",
            size="1280x720",
            input_reference=("ref.png", make_png(1280, 720), "image/png"),
        )
        assert (video.status, video.model, video.size) == ("queued", "sora-2", "1280x720")
        assert client.videos.retrieve(video.id).id == video.id
        done = client.videos.poll(video.id)
        assert done.status == "completed"
        assert [v.id for v in client.videos.list()] == [video.id]
        content = client.videos.download_content(video.id)
        assert content.content[4:8] == b"ftyp"
        deleted = client.videos.delete(video.id)
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            client.videos.retrieve(video.id)
    seen = app.faults.seen
    assert all(r.path.startswith("/openai/v1/videos") for r in seen)
    assert all("api-version=preview" in r.query for r in seen)
    if kind == "azure-entra":
        assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in seen)
    elif kind == "azure-key":
        assert all(r.headers["api-key"] == KEY for r in seen)
    else:
        assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in seen)


def test_remix(served: tuple[str, Any]) -> None:
    """remix works on Azure's path too."""
    url, _ = served
    with _clients(url)["azure-key"]() as client:
        video = client.videos.create_and_poll(prompt="a paper boat")
        remixed = client.videos.remix(video.id, prompt="the same, at night")
        assert remixed.remixed_from_video_id == video.id


def test_a_wrong_key_is_an_authentication_error_in_azures_shape(served: tuple[str, Any]) -> None:
    """Azure's 401 body reaches the SDK as AuthenticationError with code "401"."""
    url, _ = served
    with (
        openai.AzureOpenAI(
            base_url=f"{url}/openai/v1", api_key="wrong", api_version="preview", max_retries=0
        ) as client,
        pytest.raises(openai.AuthenticationError, match="invalid subscription key") as caught,
    ):
        client.videos.list()
    assert caught.value.code == "401"


def test_an_unsupported_api_version_is_refused(served: tuple[str, Any]) -> None:
    """An api-version the resource does not serve is a 400 the SDK raises."""
    url, _ = served
    with (
        openai.AzureOpenAI(
            base_url=f"{url}/openai/v1", api_key=KEY, api_version="1999-01-01", max_retries=0
        ) as client,
        pytest.raises(openai.BadRequestError, match="API version not supported"),
    ):
        client.videos.list()
