"""
An emulator of the OpenAI videos API (``/v1/videos``): an ASGI app with scriptable faults.

It follows providers.md §1 closely enough that OpenAI's own SDK completes every operation
against it.

Run it with ``python -m reelgate_openai.emulator --port 8090`` and point a client at
``http://127.0.0.1:8090/v1``. It takes:

* create as multipart/form-data (as the SDK sends it, ``input_reference`` a file part,
  or the bracketed ``input_reference[image_url]``) or as JSON (``input_reference`` an
  object ``{"image_url": ...}``), checking model, seconds, size and the image against each
  other as OpenAI does;
* retrieve, list (``after``, ``limit``, ``order``; ``first_id``, ``last_id``,
  ``has_more``), download of the ``video`` (MP4), ``thumbnail`` (WebP) and
  ``spritesheet`` (JPEG) variants, delete, remix.

Jobs are queued, then in progress with rising ``progress``, then completed after
``job_seconds``. A prompt with ``[emulate:fail]`` fails half-way (error code
``video_generation_failed``), with ``[emulate:filter]`` is blocked by moderation as it
leaves the queue (``moderation_blocked``), with ``[emulate:slow]`` takes a minute. Responses carry
``openai-poll-after-ms``; errors are OpenAI's envelope ``{"error": {"message", "type",
"param", "code"}}``; every request needs ``Authorization: Bearer <key>``.

``create_app(mode="azure")`` (``--mode azure``) is Azure OpenAI's v1 API instead: the same
operations under ``/openai/v1``, the key in an ``api-key`` header or a bearer token (an
Entra token), an optional ``api-version`` query parameter, and Azure's own 401 body
``{"error": {"code": "401", "message": ...}}``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import secrets
import struct
import time
from collections.abc import Callable, Collection, Mapping
from functools import cache
from typing import Any

import attrs
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reelgate import media
from reelgate.emulation import FaultMiddleware, Faults, directives, main
from reelgate.model import Variant

from . import DEFAULT_MODELS, POLL_AFTER_HEADER, ModelLimits

__all__ = ["Received", "Upload", "create_app", "error_body", "image_size"]

_CONTENT_TYPES = {
    Variant.VIDEO: "video/mp4",
    Variant.THUMBNAIL: "image/webp",
    Variant.SPRITESHEET: "image/jpeg",
}
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")
_CREATE_FIELDS = frozenset({"prompt", "model", "seconds", "size", "input_reference"})
_DEFAULT_MODEL, _DEFAULT_SECONDS, _DEFAULT_SIZE = "sora-2", "4", "720x1280"
_MAX_PROMPT = 32000
_EXPIRES_AFTER = 3600
_SLOW_SECONDS = 60.0
_MAX_IMAGE_BYTES = 20 * 1024 * 1024


# -- errors ------------------------------------------------------------------------------


def _default_type(status: int) -> str:
    if status == 429:
        return "requests"
    return "server_error" if status >= 500 else "invalid_request_error"


def error_body(
    status: int,
    message: str,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> bytes:
    """OpenAI's error envelope: ``{"error": {"message", "type", "param", "code"}}``."""
    if code is None and status == 429:
        code = "rate_limit_exceeded"
    error = {
        "message": message,
        "type": type or _default_type(status),
        "param": param,
        "code": code,
    }
    return json.dumps({"error": error}).encode()


def _headers() -> dict[str, str]:
    return {"x-request-id": f"req_{secrets.token_hex(16)}", "openai-processing-ms": "1"}


def _error(
    status: int, message: str, *, param: str | None = None, code: str | None = None
) -> Response:
    body = error_body(status, message, param=param, code=code)
    return Response(body, status, headers=_headers(), media_type="application/json")


def _invalid(message: str, param: str | None, code: str | None = "invalid_value") -> Response:
    return _error(400, message, param=param, code=code)


def _ok(data: Any, extra: Mapping[str, str] | None = None) -> Response:
    headers = {**_headers(), **(extra or {})}
    return Response(json.dumps(data), 200, headers=headers, media_type="application/json")


def _choices(values: Collection[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else "".join(quoted)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    return (
        "an object"
        if isinstance(value, dict)
        else "an array"
        if isinstance(value, list)
        else "null"
    )


# -- images ------------------------------------------------------------------------------


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        # Start-of-frame markers (baseline, progressive...) carry height then width.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """The (width, height) of a PNG, JPEG or WebP image; None when it cannot tell."""
    kind = _sniff(data)
    if kind == "image/png" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if kind == "image/jpeg":
        return _jpeg_size(data)
    if kind == "image/webp":
        return _webp_size(data)
    return None


@cache
def _video_bytes(total: int) -> bytes:
    """The sample MP4, padded to `total` bytes with a ``free`` box (it still plays)."""
    body = media.sample(Variant.VIDEO)
    padding = total - len(body)
    if padding < 16:
        return body
    return body + struct.pack(">I4s", padding, b"free") + bytes(padding - 8)


# -- jobs --------------------------------------------------------------------------------


@attrs.frozen
class Upload:
    """A file part as the emulator received it."""

    filename: str | None
    content_type: str | None
    data: bytes = attrs.field(repr=lambda d: f"<{len(d)} bytes>")


@attrs.frozen
class Received:
    """
    A create request as the emulator read it (for tests that check what a client sent).

    Attributes:
        form: ``multipart`` or ``json``.
        fields: The fields other than a file part, as sent.
        file: The ``input_reference`` file part, if any.
        headers: The request's headers, lower-cased.
    """

    form: str
    fields: Mapping[str, Any]
    file: Upload | None
    headers: Mapping[str, str]


@attrs.define
class _Job:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created: float
    duration: float
    outcome: str | None
    remixed_from: str | None = None
    deleted: bool = False

    def _finished(self) -> float:
        # A moderation block comes before any rendering, right after the queue; a
        # failure half-way through the rendering.
        share = {"filter": 0.2, "fail": 0.6}.get(self.outcome or "", 1.0)
        return self.created + self.duration * share

    def status(self, now: float) -> str:
        elapsed = now - self.created
        if now >= self._finished():
            return "failed" if self.outcome else "completed"
        return "queued" if elapsed < self.duration * 0.2 else "in_progress"

    def progress(self, now: float) -> int:
        queued = self.duration * 0.2
        share = (min(now, self._finished()) - self.created - queued) / max(
            1e-9, self.duration - queued
        )
        return max(0, min(99, int(100 * share)))

    def to_dict(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        finished = int(self._finished()) if status in ("completed", "failed") else None
        error = None
        if status == "failed":
            error = (
                {
                    "code": "moderation_blocked",
                    "message": "Your request was blocked by our moderation system.",
                }
                if self.outcome == "filter"
                else {
                    "code": "video_generation_failed",
                    "message": "The video could not be generated.",
                }
            )
        return {
            "id": self.id,
            "object": "video",
            "model": self.model,
            "status": status,
            "progress": 100 if status == "completed" else self.progress(now),
            "created_at": int(self.created),
            "completed_at": finished,
            "expires_at": finished + _EXPIRES_AFTER if finished and status == "completed" else None,
            "prompt": self.prompt,
            "size": self.size,
            "seconds": self.seconds,
            "remixed_from_video_id": self.remixed_from,
            "error": error,
        }


async def _read_form(
    items: list[tuple[str, str | UploadFile]],
) -> Response | tuple[dict[str, Any], Upload | None, str]:
    fields: dict[str, Any] = {}
    upload: Upload | None = None
    for name, value in items:
        if isinstance(value, UploadFile):
            if name != "input_reference":
                return _invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
            upload = Upload(value.filename, value.content_type, await value.read())
        elif name in ("input_reference[image_url]", "input_reference[file_id]"):
            # The bracketed form OpenAI's SDK would use for the object in multipart.
            fields.setdefault("input_reference", {})[name[16:-1]] = value
        elif name == "input_reference":
            return _invalid(
                "Invalid type for 'input_reference': expected a file, but got a string instead.",
                "input_reference",
                "invalid_type",
            )
        else:
            fields[name] = value
    return fields, upload, "multipart"


# -- the app -----------------------------------------------------------------------------


def create_app(
    *,
    job_seconds: float = 2.0,
    faults: Faults | None = None,
    video_bytes: int | None = None,
    api_keys: Collection[str] | None = None,
    models: Mapping[str, ModelLimits] | None = None,
    poll_after_ms: int = 10,
    received: list[Received] | None = None,
    mode: str = "openai",
    api_versions: Collection[str] | None = None,
) -> FaultMiddleware:
    """
    A fresh emulator with its own jobs.

    Args:
        job_seconds: How long a job takes from create to completed.
        faults: A fault script to share (a new one by default); also ``app.faults``.
        video_bytes: Serve the ``video`` variant padded to this many bytes (e.g. 10 MiB
            for a benchmark); the sample MP4 as it is by default.
        api_keys: Accept only these keys (default: any bearer key).
        models: The models served, with their durations and sizes (default: OpenAI's).
        poll_after_ms: The ``openai-poll-after-ms`` hint sent with every video.
        received: A list to append every create request to, as it was read.
        mode: ``openai`` (paths under ``/v1``, ``Authorization: Bearer``) or ``azure``
            (Azure OpenAI's v1 API: paths under ``/openai/v1``, the key in ``api-key`` or
            a bearer token, Azure's 401 body).
        api_versions: In ``azure`` mode, the ``api-version`` values accepted (default:
            any, or none).
    """
    if mode not in ("openai", "azure"):
        raise ValueError(f"mode must be 'openai' or 'azure', not {mode!r}")
    azure = mode == "azure"
    prefix = "/openai/v1" if azure else "/v1"
    jobs: dict[str, _Job] = {}
    served = dict(models if models is not None else DEFAULT_MODELS)
    poll = {POLL_AFTER_HEADER: str(poll_after_ms)}
    keys = frozenset(api_keys) if api_keys is not None else None

    def denied(request: Request) -> Response | None:
        if azure:
            return _azure_denied(request, keys, api_versions)
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return _error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if keys is not None and key not in keys:
            masked = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "***"
            return _error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def find(video_id: str) -> _Job | Response:
        job = jobs.get(video_id)
        if job is None or job.deleted:
            return _error(404, f"Video with id '{video_id}' not found.", param="video_id")
        return job

    def check_image(data: bytes, size: str) -> Response | None:
        if len(data) > _MAX_IMAGE_BYTES:
            return _invalid("input_reference is larger than 20 MiB.", "input_reference")
        if _sniff(data) not in _IMAGE_TYPES:
            return _invalid(
                "Invalid file format for 'input_reference'. "
                f"Supported formats are: {_choices(_IMAGE_TYPES)}.",
                "input_reference",
                "invalid_image_format",
            )
        dimensions = image_size(data)
        if dimensions is not None and f"{dimensions[0]}x{dimensions[1]}" != size:
            return _error(400, "Inpaint image must match the requested width and height")
        return None

    def check_fields(  # noqa: PLR0911  # one answer per way a field can be wrong
        fields: Mapping[str, Any],
    ) -> Response | tuple[str, str, str, str]:
        for name in fields:
            if name not in _CREATE_FIELDS:
                return _invalid(f"Unknown parameter: '{name}'.", name, "unknown_parameter")
        prompt = fields.get("prompt")
        if prompt is None:
            return _invalid(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        if not isinstance(prompt, str):
            return _invalid(
                "Invalid type for 'prompt': expected a string.", "prompt", "invalid_type"
            )
        if not 1 <= len(prompt) <= _MAX_PROMPT:
            return _invalid(f"'prompt' must be 1 to {_MAX_PROMPT} characters long.", "prompt")
        model = fields.get("model", _DEFAULT_MODEL)
        if model not in served:
            return _invalid(
                f"Invalid value: '{model}'. Supported values are: {_choices(served)}.", "model"
            )
        limits = served[model]
        seconds = fields.get("seconds", _DEFAULT_SECONDS)
        if not isinstance(seconds, str):
            return _invalid(
                f"Invalid type for 'seconds': expected one of {_choices(limits.seconds or ['4'])}, "
                f"but got {_json_kind(seconds)} instead.",
                "seconds",
                "invalid_type",
            )
        if limits.seconds and seconds not in limits.seconds:
            return _invalid(
                f"Invalid value: '{seconds}'. Supported values are: {_choices(limits.seconds)}.",
                "seconds",
            )
        size = fields.get("size", _DEFAULT_SIZE)
        if not isinstance(size, str) or (limits.sizes and size not in limits.sizes):
            choices = _choices(limits.sizes or [_DEFAULT_SIZE])
            return _invalid(f"Invalid value: '{size}'. Supported values are: {choices}.", "size")
        return prompt, str(model), seconds, size

    async def read_create(  # one answer per malformed body
        request: Request,
    ) -> Response | tuple[dict[str, Any], Upload | None, str]:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("multipart/form-data"):
            async with request.form() as form:  # closes the uploads' temporary files
                return await _read_form(form.multi_items())
        if content_type.startswith("application/json"):
            try:
                body = json.loads(await request.body())
            except ValueError:
                return _invalid(
                    "We could not parse the JSON body of your request. "
                    "(HINT: This likely means you "
                    "aren't using your HTTP library correctly.)",
                    None,
                    None,
                )
            if not isinstance(body, dict):
                return _invalid("The request body must be a JSON object.", None, "invalid_type")
            return body, None, "json"
        return _invalid(
            "Invalid Content-Type header: expected multipart/form-data or application/json.",
            None,
            None,
        )

    def reference(  # noqa: PLR0911  # one answer per way a reference can be wrong
        fields: Mapping[str, Any], upload: Upload | None, size: str
    ) -> Response | None:
        if upload is not None:
            return check_image(upload.data, size)
        ref = fields.get("input_reference")
        if ref is None:
            return None
        if not isinstance(ref, dict) or len(ref) != 1 or not ({"image_url", "file_id"} & set(ref)):
            return _invalid(
                "'input_reference' must be an object with exactly one of 'image_url' or 'file_id'.",
                "input_reference",
            )
        if "file_id" in ref:
            return _invalid(f"No such File object: {ref['file_id']}", "input_reference.file_id")
        url = ref["image_url"]
        if isinstance(url, str) and url.startswith("data:"):
            header, _, payload = url.partition(",")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                return _invalid(
                    "'input_reference.image_url' is not a valid data URL.",
                    "input_reference.image_url",
                )
            return check_image(data, size) if header.endswith(";base64") else check_image(b"", size)
        if not isinstance(url, str) or not url.startswith("https://"):
            return _invalid(
                "'input_reference.image_url' must be an https URL or a data URL.",
                "input_reference.image_url",
            )
        return None  # A real server would fetch it; the emulator has no network.

    def new_job(
        prompt: str, model: str, seconds: str, size: str, remixed_from: str | None = None
    ) -> _Job:
        flags = directives(prompt)
        outcome = "filter" if "filter" in flags else "fail" if "fail" in flags else None
        job = _Job(
            id=f"video_{secrets.token_hex(24)}",
            model=model,
            prompt=prompt,
            seconds=seconds,
            size=size,
            created=time.time(),
            duration=max(_SLOW_SECONDS, job_seconds) if "slow" in flags else job_seconds,
            outcome=outcome,
            remixed_from=remixed_from,
        )
        jobs[job.id] = job
        return job

    async def create(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        read = await read_create(request)
        if isinstance(read, Response):
            return read
        fields, upload, form = read
        if received is not None:
            received.append(Received(form, dict(fields), upload, dict(request.headers)))
        checked = check_fields(fields)
        if isinstance(checked, Response):
            return checked
        prompt, model, seconds, size = checked
        if (bad := reference(fields, upload, size)) is not None:
            return bad
        job = new_job(prompt, model, seconds, size)
        return _ok(job.to_dict(time.time()), poll)

    async def retrieve(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        job = find(request.path_params["video_id"])
        return job if isinstance(job, Response) else _ok(job.to_dict(time.time()), poll)

    async def list_videos(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        query = request.query_params
        try:
            limit = int(query.get("limit", "20"))
        except ValueError:
            return _invalid("Invalid 'limit': expected an integer.", "limit", "invalid_type")
        if not 0 <= limit <= 100:
            return _invalid(f"Invalid 'limit': {limit}. It must be between 0 and 100.", "limit")
        order = query.get("order", "desc")
        if order not in ("asc", "desc"):
            return _invalid(
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.", "order"
            )
        ordered = list(jobs.values()) if order == "asc" else list(reversed(jobs.values()))
        if (after := query.get("after")) is not None:
            position = next((i for i, job in enumerate(ordered) if job.id == after), None)
            if position is None:
                return _invalid(f"Invalid 'after': no video with id '{after}'.", "after")
            ordered = ordered[position + 1 :]
        live = [job for job in ordered if not job.deleted]
        now = time.time()
        data = [job.to_dict(now) for job in live[:limit]]
        return _ok(
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": len(live) > limit,
            }
        )

    async def content(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        job = find(request.path_params["video_id"])
        if isinstance(job, Response):
            return job
        try:
            variant = Variant(request.query_params.get("variant", "video"))
        except ValueError:
            value = request.query_params.get("variant")
            return _invalid(
                f"Invalid value: '{value}'. "
                "Supported values are: 'video', 'thumbnail', and 'spritesheet'.",
                "variant",
            )
        now = time.time()
        state = job.to_dict(now)
        if state["status"] != "completed":
            return _error(404, f"Video '{job.id}' is not ready: its status is {state['status']}.")
        if now >= state["expires_at"]:
            return _error(404, f"The assets of video '{job.id}' have expired.")
        body = _video_bytes(video_bytes or 0) if variant is Variant.VIDEO else media.sample(variant)
        return Response(body, 200, headers=_headers(), media_type=_CONTENT_TYPES[variant])

    async def delete(request: Request) -> Response:
        if (refused := denied(request)) is not None:
            return refused
        job = find(request.path_params["video_id"])
        if isinstance(job, Response):
            return job
        job.deleted = True
        return _ok({"id": job.id, "object": "video.deleted", "deleted": True})

    async def remix(request: Request) -> Response:  # noqa: PLR0911  # one answer per refusal
        if (refused := denied(request)) is not None:
            return refused
        source = find(request.path_params["video_id"])
        if isinstance(source, Response):
            return source
        read = await read_create(request)
        if isinstance(read, Response):
            return read
        fields, _, _ = read
        if unknown := sorted(set(fields) - {"prompt"}):
            return _invalid(f"Unknown parameter: '{unknown[0]}'.", unknown[0], "unknown_parameter")
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= _MAX_PROMPT:
            return _invalid(
                "Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter"
            )
        status = source.status(time.time())
        if status != "completed":
            return _invalid(
                f"Video '{source.id}' is {status}; only completed videos can be remixed.",
                "video_id",
            )
        job = new_job(prompt, source.model, source.seconds, source.size, remixed_from=source.id)
        return _ok(job.to_dict(time.time()), poll)

    routes = Starlette(
        routes=[
            Route(f"{prefix}/videos", create, methods=["POST"]),
            Route(f"{prefix}/videos", list_videos, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}", retrieve, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}", delete, methods=["DELETE"]),
            Route(f"{prefix}/videos/{{video_id}}/content", content, methods=["GET"]),
            Route(f"{prefix}/videos/{{video_id}}/remix", remix, methods=["POST"]),
        ]
    )
    return FaultMiddleware(routes, faults, error_body=error_body)


_AZURE_NO_KEY = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
_AZURE_BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API "
    "endpoint for your resource."
)


def _azure_error(status: int, code: str, message: str) -> Response:
    """Azure's own envelope, ``{"error": {"code", "message"}}``, for what its gateway refuses."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = {**_headers(), "apim-request-id": secrets.token_hex(16), "x-ms-region": "East US 2"}
    return Response(body, status, headers=headers, media_type="application/json")


def _azure_denied(
    request: Request, keys: frozenset[str] | None, api_versions: Collection[str] | None
) -> Response | None:
    """Azure's checks: ``api-key`` or a bearer token, then the ``api-version``."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    key = request.headers.get("api-key") or (token.strip() if scheme.lower() == "bearer" else "")
    if not key:
        return _azure_error(401, "401", _AZURE_NO_KEY)
    if keys is not None and key not in keys:
        return _azure_error(401, "401", _AZURE_BAD_KEY)
    version = request.query_params.get("api-version")
    if api_versions is not None and version not in api_versions:
        return _azure_error(
            400, "BadRequest", f"API version not supported: {version or '(none given)'}"
        )
    return None


def _cli(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    parser.add_argument("--video-bytes", type=int, default=None)
    parser.add_argument("--mode", choices=("openai", "azure"), default="openai")
    options, rest = parser.parse_known_args(argv)
    make: Callable[[], FaultMiddleware] = lambda: create_app(  # noqa: E731  # a factory for main
        job_seconds=options.job_seconds, video_bytes=options.video_bytes, mode=options.mode
    )
    main(
        make,
        description="Emulator of the OpenAI videos API "
        "(options: --job-seconds S, --video-bytes N, --mode openai|azure)",
        default_port=8090,
        argv=rest,
    )


if __name__ == "__main__":
    _cli()
