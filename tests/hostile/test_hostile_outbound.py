"""
Image URLs a caller supplies are never fetched from the server's own network (item 9).

A real server with a Gemini instance (the provider whose images reelgate fetches itself):
loopback, private and link-local URLs, and URLs of closed ports, all get one answer, and
no job is created upstream.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest
from hostile_support import SIM, Served, reelgate_serve, wire_error

from reelgate.emulation import serve
from reelgate.outbound import FETCH_FAILED
from reelgate_gemini.emulator import create_app as gemini_emulator

EMULATOR = gemini_emulator(job_seconds=0.1)


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(EMULATOR) as upstream:
        config = SIM + f'\n[providers.gemini]\nbase_url = "{upstream}/"\n'
        tmp = tmp_path_factory.mktemp("outbound")
        with reelgate_serve(tmp, config, env={"GEMINI_API_KEY": "gemini-key-0123"}) as served:
            yield served


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1:{port}/health",
        "https://localhost:{port}/openapi.json",
        "https://127.0.0.1:1/closed.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/router.png",
        "https://[::1]:{port}/x.png",
    ],
)
def test_private_image_urls_get_one_answer(served: Served, url: str) -> None:
    """Each is a 400 with the same text; the provider never sees a create."""
    before = len(EMULATOR.creates)
    body = {
        "model": "gemini/veo-3.1-generate-preview",
        "prompt": "x",
        "input_reference": url.format(port=served.port),
    }
    response = httpx2.post(f"{served.url}/v1/videos", json=body, timeout=40)
    error = wire_error(response, 400)
    assert error["message"] == FETCH_FAILED.format(param="input_reference")
    assert len(EMULATOR.creates) == before
