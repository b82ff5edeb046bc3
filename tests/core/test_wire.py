"""The wire format: the ``/v1/videos`` JSON shapes, read leniently and written lean."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reelgate import (
    ContentFilter,
    CreateVideo,
    Deleted,
    ImageInput,
    Video,
    VideoError,
    VideoOutput,
    VideoPage,
    VideoStatus,
    wire,
)
from reelgate.config import ProviderSettings, RetryPolicy, Timeouts
from reelgate.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoNotReadyError,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 24

# -- examples copied from the reference gateway's documents (spec/seeds, bifrost §2.2) --

OPENAI_CREATE = """{
  "id": "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5:openai",
  "created_at": 1758941485, "model": "sora-2", "object": "video", "progress": 0,
  "prompt": "A calico cat playing a piano on stage", "seconds": "4", "size": "720x1280",
  "status": "queued",
  "extra_fields": {"request_type": "video_generation", "provider": "openai",
                   "model_requested": "sora-2", "latency": 812, "chunk_index": 0}
}"""

GEMINI_CREATE = """{
  "id": "models%2Fveo-3.1-generate-preview%2Foperations%2Fk3x9abc:gemini",
  "created_at": 1760000000, "model": "veo-3.1-generate-preview", "object": "video",
  "seconds": "8", "status": "in_progress",
  "extra_fields": {"request_type": "video_generation", "provider": "gemini",
                   "model_requested": "veo-3.1-generate-preview", "latency": 640, "chunk_index": 0}
}"""

GEMINI_COMPLETED = """{
  "id": "models%2Fveo-3.1-generate-preview%2Foperations%2Fk3x9abc:gemini",
  "completed_at": 1760000093, "created_at": 1760000001, "object": "video",
  "status": "completed",
  "videos": [{"type": "url",
              "url": "https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media",
              "content_type": "video/mp4"}],
  "extra_fields": {"request_type": "video_retrieve", "provider": "gemini", "latency": 210,
                   "chunk_index": 0}
}"""

GEMINI_FILTERED = """{"id": "op1:gemini", "object": "video", "status": "failed",
 "error": {"code": "content_filtered", "message": "<first RAI reason>"},
 "content_filter": {"filtered_count": 1, "reasons": ["<reason>"]}}"""

OPENAI_LIST = """{"object": "list",
 "data": [{"id": "video_123:openai", "object": "video", "model": "sora-2", "status": "completed",
           "created_at": 1758941485, "completed_at": 1758941600, "expires_at": 1759027985,
           "progress": 100, "prompt": "...", "seconds": "4", "size": "1280x720"}],
 "first_id": "video_123:openai", "has_more": false, "last_id": "video_123:openai",
 "extra_fields": {"request_type": "video_list", "provider": "openai", "latency": 300,
                  "chunk_index": 0}}"""

SEED_RETRIEVE = """{
  "id": "string", "object": "video", "model": "string", "status": "queued", "progress": 0,
  "prompt": "string", "remixed_from_video_id": "string", "seconds": "string", "size": "string",
  "created_at": 0, "completed_at": 0, "expires_at": 0,
  "videos": [{"type": "url", "url": "http://example.com", "base64": "string",
              "content_type": "string"}],
  "error": {"code": "string", "message": "string"},
  "content_filter": {"filtered_count": 0, "reasons": ["string"]},
  "extra_fields": {"request_type": "string", "provider": "openai", "model_requested": "string",
    "model_deployment": "string", "latency": 0, "chunk_index": 0, "raw_request": {},
    "raw_response": {}, "cache_debug": {"cache_hit": true, "cache_id": "string",
    "hit_type": "string", "requested_provider": "string", "requested_model": "string",
    "provider_used": "string", "model_used": "string", "input_tokens": 0, "threshold": 0,
    "similarity": 0}}
}"""

SEED_LIST = """{
  "object": "list",
  "data": [{"id": "string", "object": "video", "model": "string", "status": "queued",
            "progress": 100, "prompt": "string", "remixed_from_video_id": "string",
            "seconds": "string", "size": "string", "created_at": 0, "completed_at": 0,
            "expires_at": 0, "error": {"code": "string", "message": "string"}}],
  "first_id": "string", "last_id": "string", "has_more": true,
  "extra_fields": {"request_type": "string", "provider": "openai", "latency": 0,
                   "chunk_index": 0, "raw_request": {}, "raw_response": {}}
}"""

SEED_ERROR = """{
  "event_id": "string", "type": "string", "is_bifrost_error": true, "status_code": 0,
  "error": {"type": "string", "code": "string", "message": "string", "param": "string",
            "event_id": "string"},
  "extra_fields": {"provider": "openai", "model_requested": "string", "request_type": "string"}
}"""


def test_openai_create_example_reads() -> None:
    """The OpenAI create example reads with its instance taken from the id."""
    video = wire.loads_video(OPENAI_CREATE)
    assert video.id == "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5:openai"
    assert video.provider == "openai"
    assert video.status is VideoStatus.QUEUED
    assert (video.model, video.progress, video.seconds, video.size) == (
        "sora-2",
        0,
        "4",
        "720x1280",
    )
    assert video.created_at == 1758941485
    assert video.prompt == "A calico cat playing a piano on stage"


def test_gemini_examples_read() -> None:
    """The Gemini examples read: escaped operation ids, URL outputs, a filtered failure."""
    started = wire.loads_video(GEMINI_CREATE)
    assert started.provider == "gemini"
    assert started.status is VideoStatus.IN_PROGRESS
    done = wire.loads_video(GEMINI_COMPLETED.encode())
    assert done.completed_at == 1760000093
    assert done.videos == (
        VideoOutput(
            type="url",
            url="https://generativelanguage.googleapis.com/v1beta/files/abc:download?alt=media",
            content_type="video/mp4",
        ),
    )
    filtered = wire.loads_video(json.loads(GEMINI_FILTERED))
    assert filtered.error == VideoError("content_filtered", "<first RAI reason>")
    assert filtered.content_filter == ContentFilter(1, ("<reason>",))


def test_list_examples_read() -> None:
    """The list examples read into pages with their has_more."""
    page = wire.page_from_dict(json.loads(OPENAI_LIST))
    assert [v.id for v in page.data] == ["video_123:openai"]
    assert page.data[0].expires_at == 1759027985
    assert page.has_more is False
    seed = wire.page_from_dict(json.loads(SEED_LIST))
    assert seed.has_more is True
    assert seed.data[0].progress == 100
    assert seed.data[0].provider is None


def test_seed_retrieve_example_reads_every_field() -> None:
    """The seed's full video object reads, every field in place, extra_fields ignored."""
    video = wire.loads_video(SEED_RETRIEVE)
    assert video.remixed_from_video_id == "string"
    assert video.seconds == "string"
    assert (video.created_at, video.completed_at, video.expires_at) == (0, 0, 0)
    assert video.videos == (
        VideoOutput(type="url", url="http://example.com", base64="string", content_type="string"),
    )
    assert video.error == VideoError("string", "string")
    assert video.content_filter == ContentFilter(0, ("string",))


def test_seed_error_example_reads() -> None:
    """The seed's error body reads; a status_code of 0 means unknown (a 500)."""
    error = wire.error_from_dict(json.loads(SEED_ERROR))
    assert type(error) is ProviderError
    assert (error.message, error.type, error.code, error.param) == ("string",) * 4
    assert (error.provider, error.request_type) == ("openai", "string")
    assert error.upstream is False


@pytest.mark.parametrize(
    ("body", "status", "cls", "upstream"),
    [
        (
            {
                "is_bifrost_error": False,
                "error": {
                    "code": "unsupported_operation",
                    "message": "video_list is not supported by gemini provider",
                },
                "extra_fields": {"provider": "gemini", "request_type": "video_list"},
            },
            400,
            UnsupportedOperationError,
            True,
        ),
        (
            {
                "is_bifrost_error": False,
                "status_code": 404,
                "error": {"type": "invalid_request_error", "message": "Video not found."},
                "extra_fields": {"provider": "openai", "request_type": "video_retrieve"},
            },
            None,
            NotFoundError,
            True,
        ),
        (
            {
                "is_bifrost_error": True,
                "status_code": 504,
                "error": {"type": "request_timed_out", "message": "request timed out"},
                "extra_fields": {"provider": "openai", "request_type": "video_download"},
            },
            None,
            ProviderTimeoutError,
            False,
        ),
    ],
)
def test_reference_error_examples_read(
    body: dict[str, Any], status: int | None, cls: type[ReelgateError], upstream: bool
) -> None:
    """The reference gateway's error bodies read into the matching errors."""
    error = wire.error_from_dict(body, status)
    assert type(error) is cls
    assert error.upstream is upstream
    assert error.provider == body["extra_fields"]["provider"]


# -- videos ---------------------------------------------------------------------------

FULL = Video(
    id="models%2Fveo%2Foperations%2Fx:gemini",
    provider="gemini",
    status="completed",
    model="veo-3",
    progress=100,
    prompt="a paper boat",
    remixed_from_video_id="src:gemini",
    seconds="8",
    size="1280x720",
    created_at=1_700_000_000,
    completed_at=1_700_000_090,
    expires_at=1_700_003_600,
    videos=[
        VideoOutput(type="url", url="https://example.com/v.mp4"),
        VideoOutput(type="base64", base64="AAAA", content_type="video/webm"),
    ],
    error=None,
    content_filter=ContentFilter(1, ("unsafe",)),
)


def test_video_round_trips() -> None:
    """A video written then read is the same video."""
    assert wire.loads_video(wire.dumps_video(FULL)) == FULL
    assert wire.video_from_dict(wire.video_to_dict(FULL)) == FULL


@given(
    status=st.sampled_from(list(VideoStatus)),
    progress=st.one_of(st.none(), st.integers(0, 100), st.floats(0, 100)),
    seconds=st.one_of(st.none(), st.integers(1, 60).map(str)),
    created_at=st.one_of(st.none(), st.integers(0, 2**40)),
    error=st.one_of(st.none(), st.builds(VideoError, st.text(), st.text())),
)
def test_any_video_round_trips(
    status: VideoStatus,
    progress: float | None,
    seconds: str | None,
    created_at: int | None,
    error: VideoError | None,
) -> None:
    """Whatever the field values, writing then reading gives the video back."""
    video = Video(
        id="job:sim",
        provider="sim",
        status=status,
        progress=progress,
        seconds=seconds,
        created_at=created_at,
        error=error,
    )
    assert wire.loads_video(wire.dumps_video(video)) == video


def test_writes_leave_out_empty_optionals() -> None:
    """A bare video is id, object and status; id and object come first."""
    data = wire.video_to_dict(Video(id="job:sim", provider="sim", status="queued"))
    assert data == {"id": "job:sim", "object": "video", "status": "queued"}
    assert list(wire.video_to_dict(FULL))[:2] == ["id", "object"]


def test_writes_keep_the_wire_types() -> None:
    """seconds is a string, whole progress an int, fractional progress a float."""
    data = json.loads(wire.dumps_video(attrs.evolve(FULL, progress=100.0)))
    assert data["seconds"] == "8"
    assert data["progress"] == 100
    assert isinstance(data["progress"], int)
    assert json.loads(wire.dumps_video(attrs.evolve(FULL, progress=42.5)))["progress"] == 42.5


def test_outputs_always_say_their_type_and_content_type() -> None:
    """Every output written has type and content_type, even the default video/mp4."""
    data = wire.video_to_dict(FULL)
    assert data["videos"] == [
        {"type": "url", "url": "https://example.com/v.mp4", "content_type": "video/mp4"},
        {"type": "base64", "base64": "AAAA", "content_type": "video/webm"},
    ]


def test_writes_never_show_provider_internals() -> None:
    """provider, poll_after and provider_metadata are not wire fields."""
    video = attrs.evolve(FULL, poll_after=3.0, provider_metadata={"credits": 7})
    data = wire.video_to_dict(video)
    assert not {"provider", "poll_after", "provider_metadata"} & set(data)


def test_extra_fields_are_appended() -> None:
    """extra_fields carry request_type, provider, model, latency and chunk_index."""
    extra = wire.ExtraFields(
        request_type="video_retrieve", provider="gemini", model_requested="veo-3", latency=12
    )
    data = wire.video_to_dict(FULL, extra_fields=extra)
    assert data["extra_fields"] == {
        "request_type": "video_retrieve",
        "provider": "gemini",
        "model_requested": "veo-3",
        "latency": 12,
        "chunk_index": 0,
    }
    minimal = wire.ExtraFields(request_type="video_list", raw_response={"a": 1}).to_dict()
    assert minimal == {
        "request_type": "video_list",
        "latency": 0,
        "chunk_index": 0,
        "raw_response": {"a": 1},
    }


def test_reads_are_lenient() -> None:
    """Unknown keys are ignored; nulls read as missing; numbers where strings are read."""
    video = wire.video_from_dict(
        {
            "id": "job:sim",
            "status": "in_progress",
            "quality": "high",
            "model": None,
            "progress": None,
            "videos": None,
            "error": None,
            "content_filter": None,
            "seconds": 8,
            "created_at": 1_700_000_000.7,
        }
    )
    assert video == Video(
        id="job:sim", provider="sim", status="in_progress", seconds="8", created_at=1_700_000_000
    )
    assert wire.video_from_dict({"id": "a:sim", "status": "queued", "seconds": 8.0}).seconds == "8"
    assert wire.video_from_dict({"id": "a:sim", "status": "queued", "progress": 42}).progress == 42
    assert (
        wire.video_from_dict({"id": "a:sim", "status": "queued", "progress": 4.5}).progress == 4.5
    )


def test_nested_nulls_and_numeric_codes_read() -> None:
    """A numeric error code reads as a string; null filter fields as empty."""
    video = wire.video_from_dict(
        {
            "id": "a:gemini",
            "status": "failed",
            "error": {"code": 3, "message": None},
            "content_filter": {"filtered_count": None, "reasons": None},
        }
    )
    assert video.error == VideoError("3", None)
    assert video.content_filter == ContentFilter(0, ())


@pytest.mark.parametrize(
    "data",
    [
        {"status": "queued"},
        {"id": "a:sim"},
        {"id": "a:sim", "status": "cancelled"},
        {"id": "a:sim", "status": "queued", "seconds": True},
        {"id": "a:sim", "status": "queued", "seconds": [8]},
        {"id": "a:sim", "status": "queued", "created_at": "yesterday"},
        {"id": "a:sim", "status": "queued", "videos": [{"type": "file"}]},
    ],
)
def test_objects_that_are_no_video_are_invalid(data: dict[str, Any]) -> None:
    """Missing id or status, an unknown status or wrong types are InvalidRequestError."""
    with pytest.raises(InvalidRequestError, match="invalid video"):
        wire.video_from_dict(data)


@pytest.mark.parametrize("text", ["not json", "[1, 2]", b"\xff", "null"])
def test_loads_refuses_non_objects(text: str | bytes) -> None:
    """Text that is not a JSON object is an InvalidRequestError."""
    with pytest.raises(InvalidRequestError, match="invalid video"):
        wire.loads_video(text)


def test_a_foreign_id_keeps_no_provider() -> None:
    """An id that is not id:provider reads, with no instance."""
    assert wire.video_from_dict({"id": "plain", "status": "queued"}).provider is None


# -- pages and deletions --------------------------------------------------------------


def test_page_round_trip_drops_outputs_from_items() -> None:
    """List items have no videos or content_filter; cursors and has_more are written."""
    page = VideoPage([FULL, attrs.evolve(FULL, id="b:gemini")], has_more=True)
    data = wire.page_to_dict(page, extra_fields=wire.ExtraFields(request_type="video_list"))
    assert data["object"] == "list"
    assert (data["first_id"], data["last_id"], data["has_more"]) == (FULL.id, "b:gemini", True)
    assert all("videos" not in item and "content_filter" not in item for item in data["data"])
    assert data["extra_fields"]["request_type"] == "video_list"
    back = wire.page_from_dict(data)
    assert back.has_more is True
    assert back.data[0] == attrs.evolve(FULL, videos=(), content_filter=None)


def test_empty_page_has_no_cursors() -> None:
    """An empty page says has_more false and names no first or last id."""
    assert wire.page_to_dict(VideoPage(())) == {"object": "list", "data": [], "has_more": False}


@pytest.mark.parametrize("data", [{}, {"data": None}, {"data": {"id": "x"}}, {"data": ["x"]}])
def test_bad_pages_are_invalid(data: dict[str, Any]) -> None:
    """A list object without an array of videos is an InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        wire.page_from_dict(data)


def test_deleted_shape() -> None:
    """A deletion is id, object video.deleted, deleted, and what happened upstream."""
    assert wire.deleted_to_dict(Deleted(id="a:sim", upstream="cancelled")) == {
        "id": "a:sim",
        "object": "video.deleted",
        "deleted": True,
        "upstream": "cancelled",
    }
    extra = wire.ExtraFields(request_type="video_delete", provider="sim")
    assert "extra_fields" in wire.deleted_to_dict(Deleted(id="a:sim"), extra_fields=extra)


# -- errors ---------------------------------------------------------------------------

STATUS_ERRORS = [
    InvalidRequestError,
    UnsupportedOperationError,
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    VideoNotReadyError,
    RateLimitError,
    ProviderError,
    ProviderTimeoutError,
]


@pytest.mark.parametrize("cls", STATUS_ERRORS)
@pytest.mark.parametrize("upstream", [False, True])
def test_error_bodies_round_trip(cls: type[ReelgateError], upstream: bool) -> None:
    """Every error with a status writes its body and reads back as the same class."""
    code = "unsupported_operation" if cls is UnsupportedOperationError else "c1"
    error = cls(
        "went wrong",
        code=code,
        param="p1",
        provider="openai",
        request_type="video_retrieve",
        upstream=upstream,
    )
    data = json.loads(wire.dumps_error(error, model_requested="sora-2"))
    assert data["is_bifrost_error"] is (not upstream)
    assert data["status_code"] == error.status_code
    assert data["error"]["message"] == "went wrong"
    assert data["extra_fields"] == {
        "provider": "openai",
        "model_requested": "sora-2",
        "request_type": "video_retrieve",
    }
    back = wire.error_from_dict(data)
    assert type(back) is cls
    assert (back.message, back.code, back.param, back.upstream) == (
        "went wrong",
        code,
        "p1",
        upstream,
    )


def test_error_body_leaves_out_empty_fields() -> None:
    """A bare error body has its type, message, status and empty extra_fields."""
    assert wire.error_to_dict(NotFoundError("no video")) == {
        "is_bifrost_error": True,
        "status_code": 404,
        "error": {"type": "not_found", "message": "no video"},
        "extra_fields": {},
    }


def test_errors_without_a_status_answer_500() -> None:
    """An error that never crosses HTTP still writes a body, as a 500."""
    assert wire.error_to_dict(ConfigurationError("bad toml"))["status_code"] == 500


def test_error_body_carries_the_raw_response() -> None:
    """An upstream error's raw body is kept in extra_fields."""
    error = NotFoundError("gone", upstream=True, raw_response={"error": {"message": "gone"}})
    assert wire.error_to_dict(error)["extra_fields"]["raw_response"] == {
        "error": {"message": "gone"}
    }


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequestError),
        (418, InvalidRequestError),
        (500, ProviderError),
        (503, ProviderError),
    ],
)
def test_error_status_wins_over_the_body(status: int, cls: type[ReelgateError]) -> None:
    """The HTTP status given decides the class; unknown ones map by their family."""
    assert type(wire.error_from_dict({"status_code": 404}, status)) is cls


@pytest.mark.parametrize(
    "body", [{}, {"error": "text"}, {"status_code": "abc"}, {"extra_fields": 1}]
)
def test_odd_error_bodies_read_leniently(body: dict[str, Any]) -> None:
    """Bodies missing pieces, or with odd ones, still read as an error."""
    error = wire.error_from_dict(body)
    assert isinstance(error, ReelgateError)
    assert error.message


# -- create requests ------------------------------------------------------------------


def test_create_collects_extra_params() -> None:
    """Known fields build the request; every other key is an extra parameter."""
    request = wire.create_from_dict(
        {
            "model": "sim/sim-1",
            "prompt": "a boat",
            "seconds": 8,
            "size": "1280x720",
            "seed": 7,
            "audio": False,
            "negative_prompt": "rain",
            "fallbacks": ["openai/sora-2"],
            "sim_outcome": "failed",
            "quality": {"level": "high"},
        }
    )
    assert request == CreateVideo(
        model="sim/sim-1",
        prompt="a boat",
        seconds="8",
        size="1280x720",
        seed=7,
        audio=False,
        negative_prompt="rain",
        fallbacks=("openai/sora-2",),
        extra_params={"sim_outcome": "failed", "quality": {"level": "high"}},
    )


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"model": 5}, "model"),
        ({"model": None}, "model"),
        ({"model": "no-prefix"}, "model"),
        ({"prompt": None}, "prompt"),
        ({"prompt": 5}, "prompt"),
        ({"prompt": "  "}, "prompt"),
        ({"seconds": 8.5}, "seconds"),
        ({"seconds": True}, "seconds"),
        ({"seconds": "soon"}, "seconds"),
        ({"seed": "7"}, "seed"),
        ({"seed": True}, "seed"),
        ({"audio": "yes"}, "audio"),
        ({"size": 1280}, "size"),
        ({"size": "big"}, "size"),
        ({"negative_prompt": ["rain"]}, "negative_prompt"),
        ({"video_uri": 1}, "video_uri"),
        ({"input_reference": 12}, "input_reference"),
        ({"fallbacks": "openai/sora-2"}, "fallbacks"),
        ({"fallbacks": [1]}, "fallbacks"),
        ({"fallbacks": ["sora-2"]}, "fallbacks"),
    ],
)
def test_create_type_errors_name_the_param(change: dict[str, Any], param: str) -> None:
    """A field of the wrong type or value is an InvalidRequestError naming it."""
    with pytest.raises(InvalidRequestError) as e:
        wire.create_from_dict({"model": "sim/sim-1", "prompt": "a boat", **change})
    assert e.value.param == param


@pytest.mark.parametrize("body", [None, [], "text", 5])
def test_create_body_must_be_an_object(body: object) -> None:
    """A body that is not a JSON object is refused."""
    with pytest.raises(InvalidRequestError, match="JSON object"):
        wire.create_from_dict(body)  # type: ignore[arg-type]


def test_create_reads_images_as_base64_data_urls_or_urls() -> None:
    """input_reference may be raw base64, a data URL or an http(s) URL."""
    raw = base64.b64encode(PNG).decode()
    for value in (raw, f"data:image/png;base64,{raw}"):
        request = wire.create_from_dict({"model": "sim/x", "prompt": "p", "input_reference": value})
        assert request.input_reference == ImageInput(data=PNG, media_type="image/png")
    url = "https://example.com/frame.png"
    request = wire.create_from_dict({"model": "sim/x", "prompt": "p", "input_reference": url})
    assert request.input_reference == ImageInput(url=url)
    empty = wire.create_from_dict({"model": "sim/x", "prompt": "p", "input_reference": ""})
    assert empty.input_reference is None


@pytest.mark.parametrize("name", ["frame.png", "AAAA", "file:///frame.png"])
def test_create_never_reads_a_path(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A string naming a real image file on this machine is refused, not read."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "frame.png").write_bytes(PNG)
    (tmp_path / "AAAA").write_bytes(PNG)
    for value in (name, str(tmp_path / "frame.png")):
        with pytest.raises(InvalidRequestError) as e:
            wire.create_from_dict({"model": "sim/x", "prompt": "p", "input_reference": value})
        assert e.value.param == "input_reference"


# -- provider settings ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Limits:
    """A nested settings table of a made-up plugin."""

    per_minute: int = 10


@attrs.frozen(kw_only=True)
class AcmeSettings(ProviderSettings):
    """A made-up plugin's settings, never structured before these tests."""

    region: str = "eu"
    limits: Limits = Limits()
    models: Mapping[str, Limits] = attrs.field(factory=dict)


def test_settings_are_structured() -> None:
    """A table becomes the settings class, nested tables included."""
    settings = wire.structure_settings(
        {
            "base_url": "http://127.0.0.1:9",
            "timeouts": {"read": 5},
            "retry": {"attempts": 1},
            "poll_interval": 0.5,
        },
        ProviderSettings,
        path="providers.x",
    )
    assert settings == ProviderSettings(
        base_url="http://127.0.0.1:9",
        timeouts=Timeouts(read=5.0),
        retry=RetryPolicy(attempts=1),
        poll_interval=0.5,
    )


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ({"bogus": 1}, "providers.acme.bogus"),
        ({"limits": {"per_hour": 1}}, "providers.acme.limits.per_hour"),
        ({"timeouts": {"reed": 1}}, "providers.acme.timeouts.reed"),
        ({"retry": {"atempts": 2}, "x": 1}, "providers.acme.retry.atempts"),
        ({"models": {"m-1": {"per_hour": 1}}}, "providers.acme.models['m-1'].per_hour"),
    ],
)
def test_unknown_settings_are_refused_with_their_path(table: dict[str, Any], where: str) -> None:
    """An unknown key, however deep, is a ConfigurationError naming its full path."""
    with pytest.raises(ConfigurationError, match="unknown setting") as e:
        wire.structure_settings(table, AcmeSettings, path="providers.acme")
    assert where in e.value.message


@pytest.mark.parametrize(
    ("table", "where"),
    [
        ({"timeouts": {"read": "fast"}}, "providers.acme.timeouts.read"),
        ({"retry": 5}, "providers.acme.retry"),
        ({"limits": {"per_minute": "many"}}, "providers.acme.limits.per_minute"),
        ({"poll_interval": "often"}, "providers.acme.poll_interval"),
    ],
)
def test_wrong_setting_types_are_refused(table: dict[str, Any], where: str) -> None:
    """A value of the wrong type is a ConfigurationError naming where it is."""
    with pytest.raises(ConfigurationError) as e:
        wire.structure_settings(table, AcmeSettings, path="providers.acme")
    assert where in e.value.message


def test_plugin_settings_keep_their_defaults() -> None:
    """Settings not given keep the class's defaults."""
    settings = wire.structure_settings({"region": "us"}, AcmeSettings, path="p")
    assert settings == AcmeSettings(region="us")
