"""The emulator speaks like Google: 200 only, no done while running, Google's errors."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from reelgate.emulation import Fault
from reelgate.http import emulator_transport
from reelgate_gemini.emulator import GoogleEmulator, create_app

pytestmark = pytest.mark.anyio

CREATE = "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
VERTEX = "/v1/projects/p/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
BODY = {"instances": [{"prompt": "a paper boat"}]}


@pytest.fixture(name="emulator")
def _emulator() -> GoogleEmulator:
    """An emulator whose jobs finish at once."""
    return create_app(job_seconds=0.0)


@pytest.fixture(name="http")
async def _http(emulator: GoogleEmulator) -> AsyncIterator[httpx2.AsyncClient]:
    """A plain HTTP client talking to the emulator in-process."""
    async with httpx2.AsyncClient(
        transport=emulator_transport(emulator), base_url="http://emulator.test"
    ) as client:
        yield client


def _google_error(response: httpx2.Response, status: int, name: str) -> dict[str, Any]:
    assert response.status_code == status
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (status, name)
    assert error["message"]
    return dict(error)


async def test_running_operation_has_no_done(http: httpx2.AsyncClient) -> None:
    """Create answers 200 with a bare operation name, and a running operation has no done field."""
    slow = {"instances": [{"prompt": "a boat [emulate:slow]"}]}
    created = await http.post(CREATE, json=slow, headers={"x-goog-api-key": "k"})
    assert created.status_code == 200
    name = created.json()["name"]
    assert created.json() == {"name": name}
    polled = await http.get(f"/v1beta/{name}", params={"key": "k"})
    assert polled.status_code == 200
    assert polled.json() == {"name": name}


async def test_finished_operation_and_signed_download(http: httpx2.AsyncClient) -> None:
    """A finished operation names an https file, downloaded through a signed redirect."""
    key = {"key": "sk-emulator-download-key"}
    name = (await http.post(CREATE, json=BODY, params=key)).json()["name"]
    operation = (await http.get(f"/v1beta/{name}", params=key)).json()
    assert operation["done"] is True
    uri = operation["response"]["generateVideoResponse"]["generatedSamples"][0]["video"]["uri"]
    assert uri.startswith("https://emulator.test/v1beta/files/")
    file_path = uri.removeprefix("https://emulator.test").split("?")[0]
    redirect = await http.get(file_path, params={"alt": "media", **key})
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert "/blob/" in location
    assert key["key"] not in location
    blob = await http.get(location)
    assert blob.status_code == 200
    assert blob.headers["content-type"] == "video/mp4"
    assert blob.content[4:8] == b"ftyp"
    forged = await http.get(location.split("?")[0], params={"sig": "0" * 64})
    _google_error(forged, 403, "PERMISSION_DENIED")


async def test_keys_and_visibility(http: httpx2.AsyncClient) -> None:
    """No key is refused with 403; an operation is invisible to another key (404 NOT_FOUND)."""
    _google_error(await http.post(CREATE, json=BODY), 403, "PERMISSION_DENIED")
    name = (await http.post(CREATE, json=BODY, headers={"x-goog-api-key": "a"})).json()["name"]
    _google_error(await http.get(f"/v1beta/{name}", params={"key": "b"}), 404, "NOT_FOUND")
    missing = "/v1beta/models/veo-3.1-generate-preview/operations/nosuchoperation"
    _google_error(await http.get(missing, params={"key": "a"}), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"instances": [{"prompt": "x"}], "parameters": {"seed": 1}},
            "Unknown name \"seed\" at 'parameters'",
        ),
        (
            {"instances": [{"prompt": "x", "colour": "red"}]},
            "Unknown name \"colour\" at 'instances[0]'",
        ),
        ({"instances": [{"prompt": "x"}], "extra": 1}, 'Unknown name "extra"'),
        (
            {"instances": [{"prompt": "x"}], "parameters": {"durationSeconds": 12}},
            "between 4 and 8",
        ),
        (
            {
                "instances": [
                    {"prompt": "x", "image": {"bytesBase64Encoded": "@@", "mimeType": "image/png"}}
                ]
            },
            "base64",
        ),
        ({"instances": []}, "exactly one instance"),
    ],
)
async def test_invalid_bodies_are_refused(
    http: httpx2.AsyncClient, body: Any, message: str
) -> None:
    """Unknown fields and bad values are refused with Google's INVALID_ARGUMENT."""
    response = await http.post(CREATE, json=body, params={"key": "k"})
    assert message in _google_error(response, 400, "INVALID_ARGUMENT")["message"]


async def test_scripted_faults_speak_google(
    http: httpx2.AsyncClient, emulator: GoogleEmulator
) -> None:
    """A scripted fault answers with Google's error envelope and canonical status."""
    emulator.faults.add(Fault(status=503, message="try later"))
    response = await http.post(CREATE, json=BODY, params={"key": "k"})
    assert _google_error(response, 503, "UNAVAILABLE")["message"] == "try later"


async def test_vertex_routes(http: httpx2.AsyncClient) -> None:
    """Vertex AI creates, then polls with fetchPredictOperation and gets the video inline."""
    _google_error(
        await http.post(f"{VERTEX}:predictLongRunning", json=BODY), 401, "UNAUTHENTICATED"
    )
    headers = {"x-goog-api-key": "k"}
    created = await http.post(f"{VERTEX}:predictLongRunning", json=BODY, headers=headers)
    name = created.json()["name"]
    assert name.startswith(VERTEX.removeprefix("/v1/") + "/operations/")
    polled = await http.post(
        f"{VERTEX}:fetchPredictOperation", json={"operationName": name}, headers=headers
    )
    video = polled.json()["response"]["videos"][0]
    assert base64.b64decode(video["bytesBase64Encoded"])[4:8] == b"ftyp"
    other_model = VERTEX.replace("veo-3.1-generate-001", "veo-3.0-generate-001")
    wrong = await http.post(
        f"{other_model}:fetchPredictOperation", json={"operationName": name}, headers=headers
    )
    _google_error(wrong, 400, "INVALID_ARGUMENT")
    bad_token = {"authorization": "Bearer ya29.made-up"}
    _google_error(
        await http.post(f"{VERTEX}:predictLongRunning", json=BODY, headers=bad_token),
        401,
        "UNAUTHENTICATED",
    )


def _jwt(claims: dict[str, Any], alg: str = "RS256") -> str:
    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


async def test_token_endpoint(http: httpx2.AsyncClient) -> None:
    """The token endpoint trades a well-formed JWT assertion for a token Vertex AI routes accept."""
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = {
        "iss": "sa@p.iam.gserviceaccount.com",
        "aud": "http://emulator.test/token",
        "iat": 1,
        "exp": 4102444800,
    }
    refused = await http.post("/token", data={"grant_type": "password", "assertion": _jwt(claims)})
    assert refused.json()["error"] == "unsupported_grant_type"
    unsigned = await http.post(
        "/token", data={"grant_type": grant, "assertion": _jwt(claims, alg="none")}
    )
    assert unsigned.json()["error"] == "invalid_grant"
    granted = await http.post("/token", data={"grant_type": grant, "assertion": _jwt(claims)})
    assert granted.status_code == 200
    token = granted.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    headers = {"authorization": f"Bearer {token['access_token']}"}
    assert (
        await http.post(f"{VERTEX}:predictLongRunning", json=BODY, headers=headers)
    ).status_code == 200
