"""
Caps on what one request may ask, and text that cannot be stored (items 7 and 8).

Each is a 400 at the door in the wire's error body, with nothing started.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx2
import pytest
from hostile_support import SIM, Served, reelgate_serve, wire_error

JSON = {"content-type": "application/json"}


@pytest.fixture(name="served", scope="module")
def _served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("caps")
    with reelgate_serve(tmp, SIM + '\n[providers.other]\ntype = "sim"\n') as served:
        yield served


def create(served: Served, body: bytes) -> httpx2.Response:
    """POST a raw create body."""
    return httpx2.post(f"{served.url}/v1/videos", content=body, headers=JSON)


def jobs(served: Served) -> int:
    """How many jobs the simulator instance lists."""
    return len(httpx2.get(f"{served.url}/v1/videos?provider=sim&limit=100").json()["data"])


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"prompt": "x" * 32_001}, "prompt"),
        ({"fallbacks": ["other/a", "other/b", "other/c", "other/d"]}, "fallbacks"),
        ({"sim_bytes": (8 << 30) + 1}, "sim_bytes"),
        ({"sim_duration": 86_401}, "sim_duration"),
        ({"sim_duration": 1e300}, "sim_duration"),
    ],
    ids=["prompt", "fallbacks", "sim_bytes", "sim_duration", "sim_duration_huge"],
)
def test_over_a_cap_is_400(served: Served, extra: dict[str, object], param: str) -> None:
    """A prompt, fallbacks or simulator knob over its cap is refused, naming the field."""
    before = jobs(served)
    body = json.dumps({"model": "sim/sim-1", "prompt": "x", **extra}).encode()
    error = wire_error(create(served, body), 400)
    assert error["param"] == param
    assert jobs(served) == before


def test_at_the_caps_is_accepted(served: Served) -> None:
    """The caps themselves are allowed: 32,000 characters, 3 fallbacks."""
    body = {
        "model": "sim/sim-1",
        "prompt": "x" * 32_000,
        "fallbacks": ["other/a", "other/b", "other/c"],
    }
    response = httpx2.post(f"{served.url}/v1/videos", json=body)
    assert response.status_code == 200, response.text


def test_a_long_remix_prompt_is_400(served: Served) -> None:
    """Remix prompts have the same cap."""
    vid = httpx2.post(f"{served.url}/v1/videos", json={"model": "sim/sim-1", "prompt": "x"})
    response = httpx2.post(
        f"{served.url}/v1/videos/{vid.json()['id']}/remix", json={"prompt": "y" * 32_001}
    )
    assert wire_error(response, 400)["param"] == "prompt"


@pytest.mark.parametrize(
    "body",
    [
        rb'{"model": "sim/sim-1", "prompt": "a \ud800 boat"}',
        rb'{"model": "sim/sim-1", "prompt": "x", "style": "\udfff"}',
        rb'{"model": "sim/sim-1", "prompt": "x", "nested": {"a": ["\uDBFF"]}}',
        rb'{"model": "sim/sim-1", "prompt": "x", "\ud800": 1}',
    ],
)
def test_a_lone_surrogate_is_400(served: Served, body: bytes) -> None:
    """Text that is no Unicode, anywhere in the body, is refused before it is stored."""
    before = jobs(served)
    assert wire_error(create(served, body), 400)["code"] == "invalid_json"
    assert jobs(served) == before
    # And nothing stored makes the list answer anything but 200.
    assert httpx2.get(f"{served.url}/v1/videos?provider=sim").status_code == 200


def test_a_surrogate_pair_is_text(served: Served) -> None:
    """An escaped pair (an emoji) is valid text and is kept as sent."""
    body = rb'{"model": "sim/sim-1", "prompt": "a boat \ud83d\udea3"}'
    response = create(served, body)
    assert response.status_code == 200, response.text
    assert response.json()["prompt"] == "a boat \N{ROWBOAT}"


def test_a_remix_with_a_lone_surrogate_is_400(served: Served) -> None:
    """The remix body is checked the same way."""
    vid = httpx2.post(f"{served.url}/v1/videos", json={"model": "sim/sim-1", "prompt": "x"})
    response = httpx2.post(
        f"{served.url}/v1/videos/{vid.json()['id']}/remix",
        content=rb'{"prompt": "\ud800"}',
        headers=JSON,
    )
    wire_error(response, 400)
