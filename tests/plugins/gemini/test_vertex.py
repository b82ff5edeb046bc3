"""Vertex AI: its URLs and body, Cloud Storage outputs, and OAuth2 tokens from a service account."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gemini_support import KEY, Connect

from reelgate import (
    AuthenticationError,
    ConfigurationError,
    CreateVideo,
    Gateway,
    InvalidRequestError,
    ReelgateError,
    UnsupportedOperationError,
    VideoStatus,
)
from reelgate.emulation import Fault, serve
from reelgate.http import observe_upstream
from reelgate_gemini.emulator import GoogleEmulator, create_app

pytestmark = pytest.mark.anyio

MODEL = "g/veo-3.1-generate-001"
VERTEX_PATH = (
    "/v1/projects/reelgate-test/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
)
NO_KEY: tuple[str, ...] = ("REELGATE_GEMINI_UNSET_KEY",)


@pytest.fixture(name="private_key", scope="session")
def _private_key() -> str:
    """An RSA key for a test service account, made once."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(name="service_account")
def _service_account(private_key: str, tmp_path: Path) -> Any:
    """Writes a service account's JSON key whose token endpoint is the emulator's."""

    def write(token_uri: str = "http://emulator.test/token") -> str:  # noqa: S107  # a URL
        path = tmp_path / "service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": "sa-project",
                    "private_key_id": "0123456789abcdef",
                    "private_key": private_key,
                    "client_email": "reelgate-test@sa-project.iam.gserviceaccount.com",
                    "client_id": "1234567890",
                    "token_uri": token_uri,
                }
            )
        )
        return str(path)

    return write


def _tokens(emulator: GoogleEmulator) -> int:
    return emulator.faults.count("POST", r"^/token$")


def _bearer(emulator: GoogleEmulator) -> str:
    authorization = [
        r.headers.get("authorization", "") for r in emulator.faults.seen if "/projects/" in r.path
    ]
    assert authorization, "no Vertex AI request was seen"
    return authorization[-1].removeprefix("Bearer ")


async def _finish(gateway: Gateway, prompt: str = "a paper boat", **kwargs: Any) -> str:
    video = await gateway.create(CreateVideo(model=MODEL, prompt=prompt, **kwargs))
    done = await gateway.wait(video.id, timeout=10)
    assert done.status is VideoStatus.COMPLETED, done
    return done.id


async def test_body_and_url(connect: Connect, emulator: GoogleEmulator) -> None:
    """Vertex AI gets seed and generateAudio at its project URL, the key in a header."""
    gateway = await connect(emulator, "vertex")
    await gateway.create(
        CreateVideo(
            model=MODEL,
            prompt="x",
            seed=42,
            audio=True,
            size="720x1280",
            extra_params={"resize_mode": "pad"},
        )
    )
    record = emulator.creates[-1]
    assert record.path == f"{VERTEX_PATH}:predictLongRunning"
    assert record.body["parameters"] == {
        "seed": 42,
        "generateAudio": True,
        "aspectRatio": "9:16",
        "resolution": "720p",
        "resizeMode": "pad",
    }
    seen = emulator.faults.seen[-1]
    assert seen.headers["x-goog-api-key"] == KEY
    assert "key=" not in seen.query


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("global", "aiplatform.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
    ],
)
async def test_base_url_follows_the_location(
    connect: Connect, emulator: GoogleEmulator, location: str, host: str
) -> None:
    """Without a base_url, requests go to the location's host (the global one has no prefix)."""
    gateway = await connect(emulator, "vertex", settings={"base_url": None, "location": location})
    video = await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    await gateway.retrieve(video.id)
    assert [r.headers["host"] for r in emulator.faults.seen] == [host, host]
    assert emulator.faults.seen[-1].path.endswith("/veo-3.1-generate-001:fetchPredictOperation")


async def test_cloud_storage_inputs_and_outputs(connect: Connect, emulator: GoogleEmulator) -> None:
    """gs:// inputs pass through; a video in Cloud Storage is listed, not downloaded."""
    gateway = await connect(emulator, "vertex")
    video_id = await _finish(
        gateway,
        video_uri="gs://bucket/in.mp4",
        extra_params={"lastFrame": "gs://bucket/last.png", "storageUri": "gs://bucket/out/"},
    )
    instance = emulator.creates[-1].body["instances"][0]
    assert instance["video"] == {"gcsUri": "gs://bucket/in.mp4", "mimeType": "video/mp4"}
    assert instance["lastFrame"] == {"gcsUri": "gs://bucket/last.png", "mimeType": "image/png"}
    video = await gateway.retrieve(video_id)
    assert video.videos[0].url is not None
    assert video.videos[0].url.startswith("gs://bucket/out/")
    with pytest.raises(UnsupportedOperationError, match="Cloud Storage") as caught:
        async with gateway.download(video_id):
            pass
    assert caught.value.code == "cloud_storage_output"
    assert "gcloud storage cp" in caught.value.message


async def test_video_uri_must_be_cloud_storage(connect: Connect, emulator: GoogleEmulator) -> None:
    """Vertex AI extends videos from Cloud Storage only, so an https video_uri is refused unsent."""
    gateway = await connect(emulator, "vertex")
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.create(
            CreateVideo(model=MODEL, prompt="x", video_uri="https://example.test/v.mp4")
        )
    assert caught.value.param == "video_uri"
    assert emulator.faults.seen == []


async def test_key_without_project_is_a_configuration_error(
    connect: Connect, emulator: GoogleEmulator
) -> None:
    """An API key names no project, so Vertex AI needs one configured."""
    gateway = await connect(emulator, "vertex", settings={"project": None})
    with pytest.raises(ConfigurationError, match="project"):
        await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert emulator.faults.seen == []


async def test_service_account_token_is_cached(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """A service account's token is obtained once, sent as a bearer token, and reused."""
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    video_id = await _finish(gateway)
    await gateway.retrieve(video_id)
    async with gateway.download(video_id) as stream:
        assert (await stream.read())[4:8] == b"ftyp"
    assert _tokens(emulator) == 1
    assert _bearer(emulator).startswith("ya29.emulated-")
    assert all("x-goog-api-key" not in r.headers for r in emulator.faults.seen)


async def test_token_near_expiry_is_replaced(connect: Connect, service_account: Any) -> None:
    """A token that expires within the refresh margin is replaced before each use."""
    emulator = create_app(job_seconds=0.05, token_seconds=60)
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    video = await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    await gateway.retrieve(video.id)
    await gateway.retrieve(video.id)
    assert _tokens(emulator) == 3


async def test_token_appears_in_no_error_or_repr(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """The bearer token is scrubbed from errors, raw responses and reprs."""
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    video = await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    token = _bearer(emulator)
    instance = gateway.instance("g")
    provider: Any = instance.provider
    for text in (
        repr(instance),
        repr(provider),
        repr(provider.tokens),
        str(provider.tokens.current()),
    ):
        assert token not in text
    for status in (400, 403, 429, 500):
        emulator.faults.add(
            Fault(
                status=status,
                message=f"token {token} rejected",
                path="fetchPredictOperation",
                times=5,
            )
        )
        with pytest.raises(ReelgateError) as caught:
            await gateway.retrieve(video.id)
        for text in (str(caught.value), repr(caught.value), json.dumps(caught.value.raw_response)):
            assert token not in text
        emulator.faults.clear()


async def test_token_response_stays_out_of_raw_logs(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """Observing upstream responses (as the server does for raw_response) never records a token."""
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    with observe_upstream(keep_raw=True) as log:
        await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert _tokens(emulator) == 1
    assert [set(raw) for raw in log.raw_responses] == [{"name"}]
    assert "ya29" not in json.dumps(log.raw_responses)


async def test_rejected_token_is_dropped(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """After Google answers 401 the cached token is dropped, and the next call gets a new one."""
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    video = await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    emulator.faults.add(Fault(status=401, message="token expired", path="fetchPredictOperation"))
    with pytest.raises(AuthenticationError):
        await gateway.retrieve(video.id)
    await gateway.retrieve(video.id)
    assert _tokens(emulator) == 2


async def test_token_endpoint_refusal_is_an_authentication_error(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """A refusing token endpoint is an AuthenticationError, and nothing is created."""
    gateway = await connect(
        emulator, "vertex", key_env=NO_KEY, settings={"credentials": service_account()}
    )
    emulator.faults.add(
        Fault(status=400, message="invalid_grant: account disabled", path="^/token$")
    )
    with pytest.raises(AuthenticationError, match="account disabled"):
        await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert emulator.creates == []


async def test_project_comes_from_the_credentials(
    connect: Connect, emulator: GoogleEmulator, service_account: Any
) -> None:
    """Without a project setting, the service account's project is used."""
    settings = {"credentials": service_account(), "project": None}
    gateway = await connect(emulator, "vertex", key_env=NO_KEY, settings=settings)
    await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert emulator.creates[-1].path.startswith("/v1/projects/sa-project/locations/us-central1/")


async def test_application_default_credentials(
    connect: Connect,
    emulator: GoogleEmulator,
    service_account: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With no credentials setting, application default credentials are used."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", service_account())
    gateway = await connect(emulator, "vertex", key_env=NO_KEY)
    await _finish(gateway)
    assert _tokens(emulator) == 1


@pytest.mark.parametrize("content", [None, "{not json", json.dumps({"type": "nonsense"})])
async def test_unusable_credentials_file(
    connect: Connect, emulator: GoogleEmulator, tmp_path: Path, content: str | None
) -> None:
    """A missing or malformed credentials file is a ConfigurationError, and nothing is created."""
    path = tmp_path / "credentials.json"
    if content is not None:
        path.write_text(content)
    gateway = await connect(emulator, "vertex", key_env=NO_KEY, settings={"credentials": str(path)})
    with pytest.raises(ConfigurationError, match="credentials"):
        await gateway.create(CreateVideo(model=MODEL, prompt="x"))
    assert emulator.faults.seen == []


async def test_service_account_over_loopback_http(connect: Connect, service_account: Any) -> None:
    """The whole OAuth2 path works against the emulator over real HTTP, token endpoint included."""
    emulator = create_app(job_seconds=0.05)
    with serve(emulator) as url:
        gateway = await connect(
            emulator,
            "vertex",
            key_env=NO_KEY,
            settings={"base_url": url, "credentials": service_account(f"{url}/token")},
            loopback=True,
        )
        video_id = await _finish(gateway)
        async with gateway.download(video_id) as stream:
            assert (await stream.read())[4:8] == b"ftyp"
    assert _tokens(emulator) == 1
