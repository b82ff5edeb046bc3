"""Idempotent create, raw upstream responses (scrubbed), and latency."""

from __future__ import annotations

import json

import httpx2
import pytest
from server_relay import KEY, RelayState
from server_support import KEY_A, KEY_B, KEYS, Serve

pytestmark = pytest.mark.anyio

RELAY = {"model": "relay/relay-1", "prompt": "a paper boat"}
RAW = {"x-bf-send-back-raw-response": "true"}


async def test_same_idempotency_key_same_job_nothing_sent_again(
    server: str, relay_state: RelayState
) -> None:
    """A repeated Idempotency-Key answers the first job; the provider sees one create."""
    async with httpx2.AsyncClient(base_url=server) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = await client.post("/v1/videos", json=RELAY, headers=headers)
        again = await client.post("/v1/videos", json=RELAY, headers=headers)
        other = await client.post("/v1/videos", json=RELAY, headers={"Idempotency-Key": "43"})
    assert first.status_code == again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["extra_fields"]["request_type"] == "video_generation"
    assert other.json()["id"] != first.json()["id"]
    assert relay_state.creates == 2
    assert relay_state.faults.count("POST", "^/ops$") == 2


async def test_idempotency_keys_are_per_caller(make_server: Serve, relay_state: RelayState) -> None:
    """Two server keys using the same Idempotency-Key get two jobs."""
    url = make_server(keys=KEYS)
    async with httpx2.AsyncClient(base_url=url) as client:
        made = [
            await client.post(
                "/v1/videos",
                json=RELAY,
                headers={"Idempotency-Key": "same", "x-api-key": key},
            )
            for key in (KEY_A, KEY_B, KEY_A)
        ]
    ids = [m.json()["id"] for m in made]
    assert ids[0] == ids[2] != ids[1]
    assert relay_state.creates == 2


async def test_raw_response_on_request_scrubbed(server: str) -> None:
    """x-bf-send-back-raw-response: true adds the upstream body, without the key."""
    async with httpx2.AsyncClient(base_url=server) as client:
        plain = await client.post("/v1/videos", json=RELAY)
        raw = await client.post("/v1/videos", json=RELAY, headers=RAW)
        retrieved = await client.get(f"/v1/videos/{raw.json()['id']}", headers=RAW)
    assert "raw_response" not in plain.json()["extra_fields"]
    for response in (raw, retrieved):
        upstream = response.json()["extra_fields"]["raw_response"]
        assert upstream["name"] == "models/relay/operations/op-2"
        assert "***" in upstream["debug"]
        assert KEY not in response.text
        assert KEY not in json.dumps(upstream)


async def test_raw_response_of_an_upstream_error_only_on_request(
    server: str, relay_state: RelayState
) -> None:
    """An upstream error carries the provider's body only when the caller asked."""
    async with httpx2.AsyncClient(base_url=server) as client:
        missing = "/v1/videos/models%2Fgone:relay"
        quiet = await client.get(missing)
        loud = await client.get(missing, headers=RAW)
    assert quiet.status_code == loud.status_code == 404
    assert "raw_response" not in quiet.json()["extra_fields"]
    assert loud.json()["extra_fields"]["raw_response"] == {
        "error": {"message": "no such operation"}
    }
    assert loud.json()["is_bifrost_error"] is False


async def test_sim_has_no_raw_response_to_give(server: str) -> None:
    """The simulator has no upstream, so there is no raw response even when asked."""
    async with httpx2.AsyncClient(base_url=server) as client:
        made = await client.post(
            "/v1/videos", json={"model": "sim/sim-1", "prompt": "x"}, headers=RAW
        )
    assert "raw_response" not in made.json()["extra_fields"]
