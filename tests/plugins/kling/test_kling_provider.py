"""What the Kling plugin does differently: the signed token, the envelope, two endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

import pytest
from kling_support import ACCESS, INSTANCE, JOB_SECONDS, SECRET, SECRET_ENV, Clock, claims

import reelgate_kling
from reelgate import Call, CreateVideo, ImageInput, Operation, VideoStatus
from reelgate.config import Secret
from reelgate.emulation import Fault, FaultMiddleware
from reelgate.errors import (
    AuthenticationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
)
from reelgate.gateway import Gateway
from reelgate_kling.emulator import verify_token

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _request(
    prompt: str = "a paper boat", model: str = "kling-v2-5-turbo", **kwargs: Any
) -> CreateVideo:
    return CreateVideo(model=f"{INSTANCE}/{model}", prompt=prompt, **kwargs)


def _provider(gateway: Gateway) -> reelgate_kling.KlingProvider:
    provider = gateway.instance(INSTANCE).provider
    assert isinstance(provider, reelgate_kling.KlingProvider)
    return provider


# -- the token ----------------------------------------------------------------------------


def test_the_token_is_an_hs256_jwt_of_the_access_key() -> None:
    """Header HS256/JWT, iss the access key, nbf 5 s back, exp 30 min on, signed with the secret."""
    token = reelgate_kling.sign_jwt(ACCESS, SECRET, 1_000_000.0)
    head, body, signature = token.split(".")
    assert claims(f"Bearer {token}") == {"iss": ACCESS, "exp": 1_001_800, "nbf": 999_995}
    assert json.loads(base64.urlsafe_b64decode(head + "==")) == {"alg": "HS256", "typ": "JWT"}
    expected = hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected
    assert verify_token(f"Bearer {token}", lambda _: SECRET, 1_000_000.0) is None
    assert verify_token(f"Bearer {token}", lambda _: "other", 1_000_000.0) == (
        1002,
        "Authorization is invalid",
    )
    assert verify_token(f"Bearer {token}", lambda _: SECRET, 1_001_800.0)[0] == 1004  # type: ignore[index]
    assert verify_token(f"Bearer {token}", lambda _: SECRET, 999_990.0)[0] == 1003  # type: ignore[index]


def test_a_token_is_reused_then_renewed_before_it_lapses(monkeypatch: pytest.MonkeyPatch) -> None:
    """One token serves until five minutes before its expiry; then a fresh one is signed."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    clock = Clock()
    auth = reelgate_kling.KlingAuth(secret_key_env=SECRET_ENV, clock=clock)
    first = auth(Secret(ACCESS))["Authorization"]
    clock.now += 1400
    assert auth(Secret(ACCESS))["Authorization"] == first
    clock.now += 150  # 250 s left: renewed
    second = auth(Secret(ACCESS))["Authorization"]
    assert second != first
    assert claims(second)["exp"] == int(clock.now) + 1800


async def test_requests_keep_working_past_a_token_lifetime(
    gateway: Gateway, emulator: FaultMiddleware, clock: Clock
) -> None:
    """An hour later (two token lifetimes) polls are still accepted: the token was renewed."""
    video = await gateway.create(_request())
    clock.now += 3600
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.COMPLETED
    tokens = {r.headers["authorization"] for r in emulator.faults.seen}
    assert len(tokens) == 2


async def test_a_key_written_access_colon_secret_signs_its_own_tokens(
    gateway: Gateway, emulator: FaultMiddleware, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ACCESS:SECRET in one variable needs no secret-key variable."""
    monkeypatch.delenv(SECRET_ENV)
    key = Secret(f"{ACCESS}:{SECRET}")
    call = Call(instance=INSTANCE, operation=Operation.CREATE, key=key, model="kling-v1")
    video = await _provider(gateway).create(_request(model="kling-v1"), call=call)
    assert video.status is VideoStatus.QUEUED
    assert claims(emulator.faults.seen[-1].headers["authorization"])["iss"] == ACCESS


async def test_a_missing_secret_key_is_an_authentication_error(
    gateway: Gateway, emulator: FaultMiddleware, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a secret key nothing is sent, and the error names the variable to set."""
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(AuthenticationError, match=SECRET_ENV) as caught:
        await gateway.create(_request())
    assert caught.value.provider == INSTANCE
    assert emulator.faults.seen == []


async def test_neither_secret_nor_token_shows_anywhere(
    gateway: Gateway, emulator: FaultMiddleware, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """The secret key and the JWT are in no repr, log line, error message or raw response."""
    caplog.set_level(logging.DEBUG)
    video = await gateway.create(_request())
    provider = _provider(gateway)
    token = provider.auth(Secret(ACCESS))["Authorization"].removeprefix("Bearer ")
    emulator.faults.add(
        Fault(status=400, message=f"token {token} secret {SECRET}", method="GET", times=3)
    )
    with pytest.raises(InvalidRequestError) as caught:
        await gateway.retrieve(video.id)
    texts = [
        str(caught.value),
        repr(caught.value),
        json.dumps(caught.value.raw_response),
        repr(provider),
        repr(provider.auth),
        repr(gateway.instance(INSTANCE)),
        caplog.text,
    ]
    for text in texts:
        assert SECRET not in text, text
        assert token not in text, text


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (1000, AuthenticationError),
        (1004, AuthenticationError),
        (1101, PermissionDeniedError),
        (1102, PermissionDeniedError),
        (1103, PermissionDeniedError),
        (1201, InvalidRequestError),
        (1203, NotFoundError),
        (1301, InvalidRequestError),
        (1302, RateLimitError),
        (1303, RateLimitError),
        (1304, PermissionDeniedError),
        (5000, ProviderError),
        (5001, ProviderError),
        (5002, ProviderTimeoutError),
    ],
)
def test_service_codes_map_by_class(code: int, error: type[ReelgateError]) -> None:
    """Each class of Kling's service codes is the matching reelgate error, code kept."""
    call = Call(instance=INSTANCE, operation=Operation.RETRIEVE)
    mapped = reelgate_kling.error_for_code(code, "x", call=call)
    assert type(mapped) is error
    assert mapped.code == str(code)
    assert mapped.provider == INSTANCE


def test_a_missing_resource_on_create_is_an_invalid_request() -> None:
    """1203 on a create names a model that does not exist: a bad request, not a 404."""
    call = Call(instance=INSTANCE, operation=Operation.CREATE)
    assert type(reelgate_kling.error_for_code(1203, "x", call=call)) is InvalidRequestError


async def test_a_non_zero_code_in_a_200_is_an_error(
    gateway: Gateway, emulator: FaultMiddleware
) -> None:
    """HTTP 200 with code 1200 in the envelope is an InvalidRequestError, not a task."""
    video = await gateway.create(_request())
    emulator.faults.add(Fault(status=200, message="invalid request", method="GET"))
    with pytest.raises(InvalidRequestError, match="code 1200"):
        await gateway.retrieve(video.id)


async def test_an_exhausted_resource_pack_is_not_a_rate_limit(
    gateway: Gateway, emulator: FaultMiddleware
) -> None:
    """Kling answers 1102 with HTTP 429; reelgate says permission denied (a retry won't help)."""
    body = {"code": 1102, "message": "resource pack exhausted", "request_id": "r"}
    emulator.error_body = lambda status, message: json.dumps(body).encode()
    emulator.faults.add(Fault(status=429, method="POST", times=5))
    with pytest.raises(PermissionDeniedError, match="1102"):
        await gateway.create(_request())


async def test_an_unknown_model_on_create_is_invalid(gateway: Gateway) -> None:
    """Kling's 1203 (404) for a model it lacks reads as an invalid request on model."""
    with pytest.raises(InvalidRequestError, match="1203"):
        await gateway.create(_request(model="kling-v9"))


# -- creates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param", "says"),
    [
        ({"model": "kling-v2-1"}, "input_reference", "image only"),
        (
            {"model": "kling-v2-master", "extra_params": {"cfg_scale": 0.5}},
            "extra_params",
            "cfg_scale",
        ),
        ({"extra_params": {"mode": "ultra"}}, "extra_params", "std, pro"),
        ({"seconds": 7}, "seconds", "5 or 10"),
        ({"size": "1024x768"}, "size", "16:9, 9:16, 1:1"),
        ({"size": "1280x720", "input_reference": PNG}, "size", "from the image"),
        ({"seed": 3}, "seed", "no seed"),
        ({"extra_params": {"duration": "5"}}, "extra_params", "own field"),
    ],
)
async def test_requests_kling_cannot_serve_send_nothing(
    gateway: Gateway, emulator: FaultMiddleware, kwargs: dict[str, Any], param: str, says: str
) -> None:
    """The model table rules a request out before anything is sent."""
    with pytest.raises(InvalidRequestError, match=says) as caught:
        await gateway.create(_request(**kwargs))
    assert caught.value.param == param
    assert emulator.faults.count("POST") == 0


def test_unknown_models_pass_unchecked() -> None:
    """A model outside the table is Kling's to judge: its duration and ratio go as given."""
    _, body = reelgate_kling.build_create(_request(seconds=15, size="1024x768"), "kling-v9")
    assert (body["duration"], body["aspect_ratio"]) == ("15", "4:3")


def test_text_to_video_body() -> None:
    """Size becomes aspect_ratio, seconds the string duration, extras pass through."""
    endpoint, body = reelgate_kling.build_create(
        _request(size="720x1280", seconds=10, negative_prompt="rain", extra_params={"mode": "pro"}),
        "kling-v1-6",
    )
    assert endpoint == "text2video"
    assert body == {
        "model_name": "kling-v1-6",
        "prompt": "a paper boat",
        "negative_prompt": "rain",
        "duration": "10",
        "aspect_ratio": "9:16",
        "mode": "pro",
    }


def test_images_go_as_url_or_bare_base64() -> None:
    """A URL is sent as given; bytes as base64 with no data: prefix."""
    url = "https://example.com/boat.png"
    _, by_url = reelgate_kling.build_create(
        _request(input_reference=ImageInput.from_url(url)), "kling-v1"
    )
    assert by_url["image"] == url
    endpoint, inline = reelgate_kling.build_create(_request(input_reference=PNG), "kling-v1")
    assert endpoint == "image2video"
    assert inline["image"] == base64.b64encode(PNG).decode()
    assert not inline["image"].startswith("data:")


async def test_an_image_task_is_polled_on_image2video(
    gateway: Gateway, emulator: FaultMiddleware, clock: Clock
) -> None:
    """The endpoint a task was made on is kept with the job and used to read it."""
    video = await gateway.create(_request(input_reference=PNG, model="kling-v2-1"))
    emulator.faults.seen.clear()
    clock.now += JOB_SECONDS * 2
    done = await gateway.retrieve(video.id)
    assert done.status is VideoStatus.COMPLETED
    assert [r.path for r in emulator.faults.seen] == [
        f"/v1/videos/image2video/{video.id.split(':')[0]}"
    ]


async def test_a_task_reelgate_did_not_make_is_found_on_either_endpoint(
    gateway: Gateway, clock: Clock
) -> None:
    """With no provider state, retrieve looks under text2video, then image2video."""
    video = await gateway.create(_request(input_reference=PNG, model="kling-v1"))
    native = video.id.split(":")[0]
    call = Call(instance=INSTANCE, operation=Operation.RETRIEVE, key=Secret(ACCESS))
    found = await _provider(gateway).retrieve(native, call=call)
    assert found.provider_state == {"endpoint": "image2video"}


# -- states, list, download, delete --------------------------------------------------------


async def test_task_status_msg_is_the_failure(gateway: Gateway, clock: Clock) -> None:
    """A failed task reads as failed with Kling's task_status_msg."""
    video = await gateway.create(_request("boat [emulate:filter]"))
    clock.now += JOB_SECONDS / 2
    assert (await gateway.retrieve(video.id)).status is VideoStatus.IN_PROGRESS
    clock.now += JOB_SECONDS
    failed = await gateway.retrieve(video.id)
    assert failed.status is VideoStatus.FAILED
    assert failed.error is not None
    assert "risk control" in (failed.error.message or "")


async def test_a_finished_video_expires_thirty_days_after_creation(
    gateway: Gateway, clock: Clock
) -> None:
    """Kling clears videos 30 days after they are made: expires_at says when."""
    video = await gateway.create(_request())
    clock.now += JOB_SECONDS * 2
    done = await gateway.retrieve(video.id)
    assert done.created_at == int(clock.now - JOB_SECONDS * 2)
    assert done.expires_at == done.created_at + 30 * 86_400


def test_an_unknown_task_status_is_no_news() -> None:
    """A status Kling adds later reads as unfinished and is kept in the metadata."""
    call = Call(instance="kling-x", operation=Operation.RETRIEVE)
    video = reelgate_kling.task_to_video(
        {"task_id": "1", "task_status": "paused"}, "text2video", call=call
    )
    assert video.status is VideoStatus.QUEUED
    assert video.provider_metadata["task_status"] == "paused"


async def test_list_merges_both_endpoints_newest_first(gateway: Gateway, clock: Clock) -> None:
    """Text and image tasks list together by creation time, with id cursors."""
    ids = []
    for i in range(4):
        image = PNG if i % 2 else None
        ids.append((await gateway.create(_request(f"job {i}", input_reference=image))).id)
        clock.now += 1
    first = await gateway.list(INSTANCE, limit=3)
    assert [v.id for v in first.data] == ids[::-1][:3]
    assert first.has_more is True
    rest = await gateway.list(INSTANCE, limit=3, after=first.last_id)
    assert [v.id for v in rest.data] == [ids[0]]
    assert rest.has_more is False


async def test_download_goes_to_the_cdn_without_the_token(
    gateway: Gateway, emulator: FaultMiddleware, clock: Clock
) -> None:
    """The video comes from the task's URL on another host; no Authorization goes there."""
    video = await gateway.create(_request())
    clock.now += JOB_SECONDS * 2
    emulator.faults.seen.clear()
    async with gateway.download(video.id) as stream:
        data = b"".join([chunk async for chunk in stream])
    assert data[4:8] == b"ftyp"
    cdn = [r for r in emulator.faults.seen if r.path.startswith("/kcdn/")]
    api = [r for r in emulator.faults.seen if r.path.startswith("/v1/")]
    assert len(cdn) == 1
    assert cdn[0].headers["host"] != api[0].headers["host"]
    assert "authorization" not in cdn[0].headers


async def test_delete_forgets_the_job_and_keeps_it_upstream(
    gateway: Gateway, emulator: FaultMiddleware
) -> None:
    """Kling has no delete: the gateway forgets the job and says it was kept upstream."""
    video = await gateway.create(_request())
    emulator.faults.seen.clear()
    deleted = await gateway.delete(video.id)
    assert deleted.upstream == "kept"
    assert emulator.faults.seen == []
