"""
Reading requests, each mistake a 400 with a message that says what to fix.

Bodies are read under a size cap; create bodies are JSON or multipart/form-data; query
parameters and headers are checked before anything is sent to a provider.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import anyio
import attrs
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from .. import wire
from ..errors import InvalidRequestError
from ..model import CreateVideo, ImageInput, ListQuery

__all__ = [
    "BODY_TIMEOUT",
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_IDEMPOTENCY_KEY",
    "create_request",
    "idempotency_key",
    "json_object",
    "json_request",
    "list_query",
    "read_body",
    "single_query",
    "wants_raw",
]

#: The default cap on a request body: a 20 MiB image as base64 in JSON, with room to spare.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Seconds a whole request body may take to arrive.
BODY_TIMEOUT = 60.0
#: The longest idempotency key accepted.
MAX_IDEMPOTENCY_KEY = 255

_FORM_BOOL = {"true": True, "1": True, "false": False, "0": False}


class _BodyTooLargeError(InvalidRequestError):
    def __init__(self, cap: int) -> None:
        super().__init__(
            f"request body is larger than this server accepts ({cap} bytes)",
            code="body_too_large",
        )


class _BodyTimeoutError(InvalidRequestError):
    http_status = 408

    def __init__(self) -> None:
        super().__init__(
            f"the request body did not arrive within {BODY_TIMEOUT:g} seconds",
            code="body_timeout",
        )


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, cap: int) -> bytes:
    """
    The whole body, refusing more than `cap` bytes before reading them.

    Raises:
        InvalidRequestError: The body is larger than `cap` (``body_too_large``), or its
            Content-Length is not a number.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise InvalidRequestError("Content-Length must be a number of bytes")
        if int(declared) > cap:
            raise _BodyTooLargeError(cap)
    parts: list[bytes] = []
    size = 0
    try:
        with anyio.fail_after(BODY_TIMEOUT):
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise _BodyTooLargeError(cap)
                parts.append(chunk)
    except ClientDisconnect:
        raise InvalidRequestError("the client went away before sending the whole body") from None
    except TimeoutError:
        # A body trickled in slowly holds a connection and a task: cut it short.
        raise _BodyTimeoutError from None
    return b"".join(parts)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_object(body: bytes, *, what: str = "request body") -> dict[str, Any]:
    """
    Parse a JSON object body.

    Raises:
        InvalidRequestError: The body is empty, not JSON, or not an object.
    """
    if not body.strip():
        raise InvalidRequestError(f"{what} is empty; send a JSON object", code="invalid_json")
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise InvalidRequestError(f"{what} is not UTF-8 text", code="invalid_json") from None
    except ValueError as e:
        raise InvalidRequestError(f"{what} is not valid JSON: {e}", code="invalid_json") from None
    except RecursionError:
        raise InvalidRequestError(f"{what} is nested too deeply", code="invalid_json") from None
    if not isinstance(data, dict):
        raise InvalidRequestError(f"{what} must be a JSON object", code="invalid_json")
    if _SURROGATE_ESCAPE.search(body) is not None:
        _encodable(data, what)
    return data


# A JSON escape of a UTF-16 surrogate: only then can parsed text hold one on its own.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _encodable(data: Any, what: str) -> None:
    """Refuse text that cannot be written as UTF-8 (a lone surrogate) before it is stored."""
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise InvalidRequestError(
            f"{what} holds text that is not valid Unicode (a lone surrogate escape)",
            code="invalid_json",
        ) from None


def _unsupported_type(request: Request, accepted: str) -> InvalidRequestError:
    given = request.headers.get("content-type") or "none"
    return InvalidRequestError(
        f"Content-Type must be {accepted}; got {given}", code="unsupported_content_type"
    )


async def _once(body: bytes) -> AsyncGenerator[bytes]:
    yield body


def _form_value(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a text field, not a file", param=name)
    return value


async def _form_create(
    request: Request, body: bytes, cap: int, default_provider: str | None
) -> CreateVideo:
    parser = MultiPartParser(
        request.headers, _once(body), max_files=1, max_fields=200, max_part_size=cap
    )
    try:
        form = await parser.parse()
    except MultiPartException as e:
        raise InvalidRequestError(
            f"malformed multipart/form-data body: {e.message}", code="invalid_multipart"
        ) from None
    data: dict[str, Any] = {}
    image: ImageInput | None = None
    fallbacks: list[str] = []
    try:
        for name, value in form.multi_items():
            if name in data and name != "fallbacks":
                raise InvalidRequestError(f"{name} is given more than once", param=name)
            if name == "input_reference" and isinstance(value, UploadFile):
                content = await value.read()
                if content:
                    image = ImageInput.from_bytes(content, _image_type(value.content_type))
                continue
            text = _form_value(value, name)
            if name == "fallbacks":
                fallbacks.extend(_fallbacks_field(text))
            elif name == "seed":
                data[name] = _form_int(text, name)
            elif name == "audio":
                data[name] = _form_bool(text, name)
            else:
                data[name] = text
    finally:
        await form.close()
    if fallbacks:
        data["fallbacks"] = fallbacks
    request_ = wire.create_from_dict(_with_provider(data, default_provider))
    return attrs.evolve(request_, input_reference=image) if image is not None else request_


def _image_type(content_type: str | None) -> str | None:
    if content_type and content_type.lower().startswith("image/"):
        return content_type.split(";", 1)[0].strip().lower()
    return None


def _fallbacks_field(text: str) -> list[str]:
    if text.lstrip().startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidRequestError("fallbacks must be provider/model strings", param="fallbacks")
        return value
    return [part.strip() for part in text.split(",") if part.strip()]


def _form_int(text: str, name: str) -> int:
    stripped = text.strip()
    digits = stripped.removeprefix("-")
    if not digits.isdigit() or len(digits) > 18:
        raise InvalidRequestError(f"{name} must be an integer; got {text!r}", param=name)
    return int(stripped)


def _form_bool(text: str, name: str) -> bool:
    try:
        return _FORM_BOOL[text.strip().lower()]
    except KeyError:
        raise InvalidRequestError(
            f"{name} must be true or false; got {text!r}", param=name
        ) from None


async def create_request(
    request: Request, cap: int, *, default_provider: str | None = None
) -> CreateVideo:
    """
    Read a create body: JSON, or multipart/form-data with an ``input_reference`` file.

    Args:
        request: The request.
        cap: The most bytes the body may have.
        default_provider: The instance a bare model name (no ``provider/``) belongs to.

    Raises:
        InvalidRequestError: The body is too large, malformed, of another content type, or
            describes an invalid request.
    """
    media_type = _media_type(request)
    if media_type not in ("", "application/json", "multipart/form-data") and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise _unsupported_type(request, "application/json or multipart/form-data")
    body = await read_body(request, cap)
    if media_type == "multipart/form-data":
        return await _form_create(request, body, cap, default_provider)
    return wire.create_from_dict(_with_provider(json_object(body), default_provider))


def _with_provider(data: dict[str, Any], default_provider: str | None) -> dict[str, Any]:
    model = data.get("model")
    if default_provider and isinstance(model, str) and model and "/" not in model:
        data["model"] = f"{default_provider}/{model}"
    return data


async def json_request(request: Request, cap: int) -> dict[str, Any]:
    """
    Read a JSON object body (remix).

    Raises:
        InvalidRequestError: The body is too large, not JSON, or of another content type.
    """
    media_type = _media_type(request)
    if media_type not in ("", "application/json") and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise _unsupported_type(request, "application/json")
    return json_object(await read_body(request, cap))


def single_query(request: Request, name: str) -> str | None:
    """
    A query parameter given at most once.

    Raises:
        InvalidRequestError: It is given more than once.
    """
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise InvalidRequestError(f"{name} is given more than once", param=name)
    return values[0] if values else None


def list_query(request: Request) -> ListQuery:
    """
    ``limit``, ``order`` and ``after`` of a list request, validated.

    Raises:
        InvalidRequestError: A value is out of range or given twice.
    """
    limit = single_query(request, "limit")
    if limit is not None and not limit.strip().isdigit():
        raise InvalidRequestError(
            f"limit must be an integer from 1 to 100; got {limit!r}", param="limit"
        )
    return ListQuery(
        limit=limit, order=single_query(request, "order"), after=single_query(request, "after")
    )


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """
    The ``Idempotency-Key`` header, checked.

    Raises:
        InvalidRequestError: It is empty, too long or not printable ASCII.
    """
    value = headers.get("idempotency-key")
    if value is None:
        return None
    value = value.strip()
    if (
        not value
        or len(value) > MAX_IDEMPOTENCY_KEY
        or not value.isascii()
        or not value.isprintable()
    ):
        raise InvalidRequestError(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
            param="Idempotency-Key",
        )
    return value


def wants_raw(headers: Mapping[str, str]) -> bool:
    """Whether the caller asked for the upstream raw response."""
    return headers.get("x-bf-send-back-raw-response", "").strip().lower() == "true"
