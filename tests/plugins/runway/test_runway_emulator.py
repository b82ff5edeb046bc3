"""The Runway emulator answers as the Runway API does (providers.md section 3)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from runway_support import JOB_SECONDS, START, Clock

from reelgate.emulation import Fault
from reelgate_runway.emulator import RunwayEmulator, create_app

pytestmark = pytest.mark.anyio

HEADERS = {"Authorization": "Bearer key_test", "X-Runway-Version": "2024-11-06"}
T2V = {"model": "gen4.5", "promptText": "a paper boat", "ratio": "1280:720", "duration": 5}


@pytest.fixture(name="client")
async def _client(emulator: RunwayEmulator) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=emulator), base_url="http://emulator.test"
    ) as client:
        yield client


async def start(client: httpx2.AsyncClient, body: dict[str, Any] | None = None) -> str:
    """Create a text-to-video task and return its id."""
    answer = await client.post("/v1/text_to_video", json=body or T2V, headers=HEADERS)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


async def test_version_header_is_required(client: httpx2.AsyncClient) -> None:
    """Without X-Runway-Version, or with an unknown one, a request is a 400 with an error body."""
    missing = await client.post(
        "/v1/text_to_video", json=T2V, headers={"Authorization": "Bearer k"}
    )
    assert missing.status_code == 400
    assert "X-Runway-Version" in missing.json()["error"]
    wrong = await client.get("/v1/tasks/x", headers={**HEADERS, "X-Runway-Version": "2023-01-01"})
    assert wrong.status_code == 400
    assert "2023-01-01" in wrong.json()["error"]


async def test_bearer_key_is_required(client: httpx2.AsyncClient) -> None:
    """Without a bearer key a request is a 401 with an error body."""
    answer = await client.get("/v1/tasks/x", headers={"X-Runway-Version": "2024-11-06"})
    assert answer.status_code == 401
    assert set(answer.json()) == {"error"}


async def test_only_configured_keys_are_accepted() -> None:
    """With keys given, any other key is a 401."""
    app = create_app(keys={"key_good"})
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://e"
    ) as client:
        bad = await client.post("/v1/text_to_video", json=T2V, headers=HEADERS)
        good = await client.post(
            "/v1/text_to_video", json=T2V, headers={**HEADERS, "Authorization": "Bearer key_good"}
        )
    assert (bad.status_code, good.status_code) == (401, 200)


async def test_create_answers_id_and_estimated_cost(client: httpx2.AsyncClient) -> None:
    """A create answers only the task's UUID and its estimated cost."""
    answer = await client.post("/v1/text_to_video", json=T2V, headers=HEADERS)
    body = answer.json()
    assert set(body) == {"id", "estimatedCost"}
    assert len(body["id"]) == 36
    assert body["estimatedCost"] == {"credits": 60}


@pytest.mark.parametrize(
    ("path", "body", "issue"),
    [
        (
            "/v1/text_to_video",
            {**T2V, "ratio": "960:960"},
            {
                "code": "invalid_value",
                "values": ["1280:720", "720:1280"],
                "path": ["ratio"],
                "message": 'Invalid option: expected one of "1280:720"|"720:1280"',
            },
        ),
        (
            "/v1/text_to_video",
            {**T2V, "duration": 11},
            {
                "origin": "number",
                "code": "too_big",
                "maximum": 10,
                "inclusive": True,
                "path": ["duration"],
                "message": "Too big: expected number to be <=10",
            },
        ),
        (
            "/v1/text_to_video",
            {"model": "veo3.1", "promptText": "x", "ratio": "1280:720", "duration": 5},
            {
                "code": "invalid_value",
                "values": [4, 6, 8],
                "path": ["duration"],
                "message": "Invalid option: expected one of 4|6|8",
            },
        ),
        (
            "/v1/text_to_video",
            {"model": "gen4.5", "ratio": "1280:720", "duration": 5},
            {
                "expected": "string",
                "code": "invalid_type",
                "path": ["promptText"],
                "message": "Invalid input: expected string, received undefined",
            },
        ),
        (
            "/v1/text_to_video",
            {**T2V, "model": "gen4_turbo"},
            {
                "code": "invalid_union",
                "errors": [],
                "note": "No matching discriminator",
                "discriminator": "model",
                "path": ["model"],
                "message": "Invalid input",
            },
        ),
        (
            "/v1/image_to_video",
            {"model": "gen4_turbo", "ratio": "1280:720", "promptImage": "http://example.com/a.jpg"},
            {
                "code": "custom",
                "path": ["promptImage"],
                "message": "Invalid input: expected an HTTPS URL, a runway:// URI or a data URI",
            },
        ),
        (
            "/v1/image_to_video",
            {
                "model": "gen4.5",
                "promptText": "x",
                "ratio": "1280:720",
                "duration": 5,
                "promptImage": [{"uri": "https://e/a.jpg", "position": "last"}],
            },
            {
                "code": "invalid_value",
                "values": ["first"],
                "path": ["promptImage", 0, "position"],
                "message": 'Invalid option: expected one of "first"',
            },
        ),
        (
            "/v1/video_to_video",
            {"model": "aleph2", "promptText": "x"},
            {
                "expected": "string",
                "code": "invalid_type",
                "path": ["videoUri"],
                "message": "Invalid input: expected string, received undefined",
            },
        ),
    ],
)
async def test_validation_lists_zod_issues(
    client: httpx2.AsyncClient, path: str, body: dict[str, Any], issue: dict[str, Any]
) -> None:
    """An invalid body is a 400 listing zod-style issues, field by field."""
    answer = await client.post(path, json=body, headers=HEADERS)
    assert answer.status_code == 400
    error = answer.json()
    assert error["error"] == "Validation of body failed"
    assert error["docUrl"] == "https://docs.dev.runwayml.com/api"
    assert issue in error["issues"]


async def test_task_goes_pending_throttled_running_succeeded(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    """A task is PENDING, then THROTTLED, then RUNNING with a 0..1 progress, then SUCCEEDED."""
    task_id = await start(client)
    seen = []
    for moment in (0.0, 0.2, 0.5, 1.0):
        clock.now = START + JOB_SECONDS * moment
        seen.append((await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json())
    assert [t["status"] for t in seen] == ["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED"]
    assert 0 < seen[2]["progress"] < 1
    assert seen[2]["progress"] != int(seen[2]["progress"])
    assert all(t["createdAt"] == "2026-11-18T11:06:40.250Z" for t in seen)
    assert seen[0]["estimatedCost"] == {"credits": 60}
    done = seen[3]
    assert set(done) == {"id", "status", "createdAt", "output", "cost"}
    assert done["cost"] == {"credits": 60}
    assert done["output"][0].startswith("http://assets.emulator.test/_files/")
    assert ".mp4?_jwt=" in done["output"][0]


@pytest.mark.parametrize(
    ("directive", "code"),
    [("[emulate:fail]", "INTERNAL.BAD_OUTPUT.CODE01"), ("[emulate:filter]", "SAFETY.INPUT.TEXT")],
)
async def test_directives_make_tasks_fail(
    client: httpx2.AsyncClient, clock: Clock, directive: str, code: str
) -> None:
    """A FAIL or FILTER directive ends the task FAILED with a failureCode and a failure."""
    task_id = await start(client, {**T2V, "promptText": f"boat {directive}"})
    clock.advance(JOB_SECONDS)
    task = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()
    assert task["status"] == "FAILED"
    assert task["failureCode"] == code
    assert task["failure"]
    assert task["cost"] == {"credits": 0}


async def test_signed_url_serves_the_video_until_it_expires(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    """An output URL serves an MP4 without a key until its lifetime ends; then it is a 403."""
    task_id = await start(client)
    clock.advance(JOB_SECONDS)
    url = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()["output"][0]
    video = await client.get(url)
    assert video.status_code == 200
    assert video.headers["content-type"] == "video/mp4"
    assert video.content[4:8] == b"ftyp"
    clock.advance(601)
    expired = await client.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.json()["error"]
    fresh = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()["output"][0]
    assert (await client.get(fresh)).status_code == 200


async def test_tampered_or_missing_token_is_refused(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    """A URL whose token is changed or missing is a 403."""
    task_id = await start(client)
    clock.advance(JOB_SECONDS)
    url = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()["output"][0]
    assert (await client.get(url[:-2] + "xx")).status_code == 403
    assert (await client.get(url.partition("?")[0])).status_code == 403


async def test_delete_answers_204_then_the_task_is_gone(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    """DELETE of a finished task is a 204 with no body; the task and its file are then 404."""
    task_id = await start(client)
    clock.advance(JOB_SECONDS)
    url = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()["output"][0]
    deleted = await client.delete(f"/v1/tasks/{task_id}", headers=HEADERS)
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 404
    assert (await client.delete(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 404
    assert (await client.get(url)).status_code == 404


async def test_cancelled_task_shows_cancelled_for_a_while(
    client: httpx2.AsyncClient, clock: Clock
) -> None:
    """A deleted pending task is CANCELLED and refunded for cancel_window seconds, then 404."""
    task_id = await start(client)
    assert (await client.delete(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 204
    task = (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).json()
    assert (task["status"], task["cost"]) == ("CANCELLED", {"credits": 0})
    clock.advance(30)
    assert (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 404


async def test_cancelled_task_is_gone_at_once_by_default() -> None:
    """With the default cancel window, a cancelled task is 404 straight away."""
    app = create_app()
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://e"
    ) as client:
        task_id = await start(client)
        assert (await client.delete(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 204
        assert (await client.get(f"/v1/tasks/{task_id}", headers=HEADERS)).status_code == 404


async def test_unknown_routes_and_methods_answer_runway_errors(client: httpx2.AsyncClient) -> None:
    """An unknown path is a JSON 404 and a wrong method a JSON 405."""
    missing = await client.get("/v1/nothing", headers=HEADERS)
    assert (missing.status_code, set(missing.json())) == (404, {"error"})
    wrong = await client.put("/v1/tasks/x", headers=HEADERS)
    assert (wrong.status_code, set(wrong.json())) == (405, {"error"})


async def test_faults_answer_with_a_runway_error_body(
    client: httpx2.AsyncClient, emulator: RunwayEmulator
) -> None:
    """A scripted fault's body is Runway's ``{"error": ...}``."""
    emulator.faults.add(Fault(status=503, message="overloaded"))
    answer = await client.get("/v1/tasks/x", headers=HEADERS)
    assert (answer.status_code, answer.json()) == (503, {"error": "overloaded"})


async def test_received_keeps_each_create_body(
    client: httpx2.AsyncClient, emulator: RunwayEmulator
) -> None:
    """The emulator records each create as received, valid or not."""
    await start(client)
    await client.post("/v1/image_to_video", json={"model": "x"}, headers=HEADERS)
    assert emulator.received == [("text_to_video", T2V), ("image_to_video", {"model": "x"})]


def test_emulator_has_a_command_line() -> None:
    """``python -m reelgate_runway.emulator`` documents its options."""
    out = subprocess.run(
        [sys.executable, "-m", "reelgate_runway.emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--port" in out.stdout
