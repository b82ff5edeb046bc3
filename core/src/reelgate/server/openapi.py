"""
The server's OpenAPI 3.1 document, served at ``/openapi.json``.

Its schemas are the reference gateway's (``BifrostResponseExtraFields``,
``BifrostError``... named as in its published document) with two deliberate changes:
``ModelProvider`` is any configured instance name rather than a fixed list (an instance
can be called ``sim`` or ``my-sora``), and the statuses each route can answer with are
those of reelgate's error taxonomy.
"""

from __future__ import annotations

from typing import Any

from .. import __version__
from .openapi_doors import door_paths, door_schemas

__all__ = ["openapi_document"]

Schema = dict[str, Any]

_ERROR = {"$ref": "#/components/schemas/BifrostError"}
_EXTRA = {"$ref": "#/components/schemas/BifrostResponseExtraFields"}
_STRING: Schema = {"type": "string"}
_TIMESTAMP: Schema = {"type": "integer", "format": "int64"}

# The reference gateway's providers, kept as examples: reelgate instances have any name.
_KNOWN_PROVIDERS = [
    "openai", "azure", "anthropic", "bedrock", "cohere", "vertex", "vllm", "mistral", "ollama",
    "groq", "sgl", "parasail", "perplexity", "replicate", "cerebras", "gemini", "openrouter",
    "elevenlabs", "huggingface", "nebius", "xai", "runway", "fireworks",
]  # fmt: skip

_STATUS_ENUM = ["queued", "in_progress", "completed", "failed"]

# What the server checks before anything reaches a provider, as patterns.
_INSTANCE = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
_VIDEO_ID_PATTERN = f"^.+:{_INSTANCE}$"
_MODEL_PATTERN = f"^{_INSTANCE}/.+$"
_PROVIDER_PATTERN = f"^{_INSTANCE}$"
_SECONDS_PATTERN = "^[1-9][0-9]{0,3}$"
_SIZE_PATTERN = "^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$"
_TEXT_PATTERN = "\\S"


def _video_fields() -> dict[str, Schema]:
    return {
        "id": {
            "type": "string",
            "description": "`{escaped native id}:{provider}`; use it as is in paths",
        },
        "object": {"type": "string", "enum": ["video"]},
        "model": _STRING,
        "status": {"type": "string", "enum": _STATUS_ENUM},
        "progress": {"type": "number", "format": "float", "minimum": 0, "maximum": 100},
        "prompt": _STRING,
        "remixed_from_video_id": _STRING,
        "seconds": {"type": "string", "description": 'Duration in seconds, e.g. "4"'},
        "size": {"type": "string", "description": 'Resolution, e.g. "1280x720"'},
        "created_at": _TIMESTAMP,
        "completed_at": _TIMESTAMP,
        "expires_at": _TIMESTAMP,
        "error": {"$ref": "#/components/schemas/VideoCreateError"},
    }


def _schemas() -> dict[str, Schema]:
    video = _video_fields()
    return {
        "ModelProvider": {
            "type": "string",
            "description": "A configured provider instance name",
            "examples": _KNOWN_PROVIDERS,
        },
        "BifrostCacheDebug": {
            "type": "object",
            "properties": {
                "cache_hit": {"type": "boolean"},
                "cache_id": _STRING,
                "hit_type": _STRING,
                "requested_provider": _STRING,
                "requested_model": _STRING,
                "provider_used": _STRING,
                "model_used": _STRING,
                "input_tokens": {"type": "integer"},
                "threshold": {"type": "number"},
                "similarity": {"type": "number"},
            },
        },
        "BifrostResponseExtraFields": {
            "type": "object",
            "description": "Additional fields included in responses",
            "required": ["request_type", "latency"],
            "properties": {
                "request_type": {"type": "string", "description": "The operation"},
                "provider": {"$ref": "#/components/schemas/ModelProvider"},
                "model_requested": _STRING,
                "model_deployment": _STRING,
                "latency": {
                    "type": "integer",
                    "format": "int64",
                    "description": "Milliseconds spent on the provider's side",
                },
                "chunk_index": {"type": "integer"},
                "raw_request": {"type": "object"},
                "raw_response": {
                    "type": "object",
                    "description": "The provider's response (secrets scrubbed), when asked for "
                    "with `x-bf-send-back-raw-response: true`",
                },
                "cache_debug": {"$ref": "#/components/schemas/BifrostCacheDebug"},
            },
        },
        "ErrorField": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "type": _STRING,
                "code": _STRING,
                "message": _STRING,
                "param": _STRING,
                "event_id": _STRING,
            },
        },
        "BifrostErrorExtraFields": {
            "type": "object",
            "properties": {
                "provider": {"$ref": "#/components/schemas/ModelProvider"},
                "model_requested": _STRING,
                "request_type": _STRING,
                "raw_response": {"type": "object"},
            },
        },
        "BifrostError": {
            "type": "object",
            "description": "An error; `is_bifrost_error` is false when the provider reported it",
            "required": ["is_bifrost_error", "status_code", "error"],
            "properties": {
                "event_id": _STRING,
                "type": _STRING,
                "is_bifrost_error": {"type": "boolean"},
                "status_code": {"type": "integer"},
                "error": {"$ref": "#/components/schemas/ErrorField"},
                "extra_fields": {"$ref": "#/components/schemas/BifrostErrorExtraFields"},
            },
        },
        "VideoCreateError": {
            "type": "object",
            "properties": {"code": _STRING, "message": _STRING},
        },
        "VideoOutput": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"type": "string", "enum": ["url", "base64"]},
                "url": {"type": "string", "format": "uri"},
                "base64": _STRING,
                "content_type": _STRING,
            },
        },
        "ContentFilterInfo": {
            "type": "object",
            "properties": {
                "filtered_count": {"type": "integer"},
                "reasons": {"type": "array", "items": _STRING},
            },
        },
        "Video": {
            "type": "object",
            "description": "A video generation job",
            "required": ["id", "object", "status", "extra_fields"],
            "properties": {
                **video,
                "videos": {"type": "array", "items": {"$ref": "#/components/schemas/VideoOutput"}},
                "content_filter": {"$ref": "#/components/schemas/ContentFilterInfo"},
                "extra_fields": _EXTRA,
            },
        },
        "VideoListItem": {
            "type": "object",
            "required": ["id", "object", "status"],
            "properties": video,
        },
        "VideoList": {
            "type": "object",
            "required": ["object", "data", "has_more", "extra_fields"],
            "properties": {
                "object": {"type": "string", "enum": ["list"]},
                "data": {"type": "array", "items": {"$ref": "#/components/schemas/VideoListItem"}},
                "first_id": _STRING,
                "last_id": _STRING,
                "has_more": {"type": "boolean"},
                "extra_fields": _EXTRA,
            },
        },
        "VideoDeleted": {
            "type": "object",
            "required": ["id", "object", "deleted", "extra_fields"],
            "properties": {
                "id": _STRING,
                "object": {"type": "string", "enum": ["video.deleted"]},
                "deleted": {"type": "boolean"},
                "upstream": {
                    "type": "string",
                    "enum": ["deleted", "cancelled", "kept"],
                    "description": "What the provider did: deleted the job, only cancelled "
                    "it, or kept it (it can do neither); reelgate forgot it in every case.",
                },
                "extra_fields": _EXTRA,
            },
        },
        "CreateVideoRequest": {
            "type": "object",
            "description": "Every key not listed here is passed to the provider as an extra "
            "parameter",
            "required": ["model", "prompt"],
            "properties": {
                "model": {
                    "type": "string",
                    "pattern": _MODEL_PATTERN,
                    "description": "`provider/model`, e.g. `sim/sim-1`",
                },
                "prompt": {"type": "string", "pattern": _TEXT_PATTERN},
                "input_reference": {
                    "type": "string",
                    "description": "An image: a data URL, an http(s) URL or base64 bytes",
                },
                "seconds": {
                    "type": "string",
                    "pattern": _SECONDS_PATTERN,
                    "description": 'e.g. "8"',
                },
                "size": {
                    "type": "string",
                    "pattern": _SIZE_PATTERN,
                    "description": "`WIDTHxHEIGHT`",
                },
                "negative_prompt": _STRING,
                "seed": {"type": "integer"},
                "video_uri": _STRING,
                "audio": {"type": "boolean"},
                "fallbacks": {
                    "type": "array",
                    "items": _STRING,
                    "description": "`provider/model` strings tried in order when the create "
                    "fails before the provider accepted it",
                },
            },
            "additionalProperties": True,
        },
        "CreateVideoForm": {
            "type": "object",
            "required": ["model", "prompt"],
            "properties": {
                "model": {
                    "type": "string",
                    "pattern": f"^({_INSTANCE}/)?.+$",
                    "description": "`provider/model`; a bare name means the `openai` instance",
                },
                "prompt": {"type": "string", "pattern": _TEXT_PATTERN},
                "input_reference": {"type": "string", "format": "binary"},
                "seconds": {"type": "string", "pattern": _SECONDS_PATTERN},
                "size": {"type": "string", "pattern": _SIZE_PATTERN},
                "negative_prompt": _STRING,
                "seed": {"type": "integer"},
                "video_uri": _STRING,
                "audio": {"type": "boolean"},
            },
            "additionalProperties": True,
        },
        "RemixVideoRequest": {
            "type": "object",
            "required": ["prompt"],
            "properties": {"prompt": {"type": "string", "pattern": _TEXT_PATTERN}},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok"]}},
        },
    }


_ERROR_STATUSES = {
    "400": "Invalid request: a bad field, id, query parameter or body; or the provider "
    "does not support the operation (code `unsupported_operation`)",
    "401": "Missing or invalid key (this server's or the provider's)",
    "403": "The provider refused access",
    "404": "No such video (or it belongs to another key)",
    "409": "The video is not completed yet",
    "429": "The provider's rate limit, after retries",
    "500": "Internal error",
    "502": "The provider failed or answered something malformed",
    "504": "The provider timed out",
}


def _responses(ok: Schema, description: str) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": description, **ok}}
    for status, text in _ERROR_STATUSES.items():
        out[status] = {"description": text, "content": {"application/json": {"schema": _ERROR}}}
    return out


def _json_ok(name: str) -> Schema:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


_VIDEO_ID = {
    "name": "video_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": _VIDEO_ID_PATTERN},
    "description": "The id as returned, `{escaped native id}:{provider}` (e.g. "
    "`models%2Fveo%2Foperations%2Fabc:gemini`), verbatim or percent-encoded once",
}
_RAW = {
    "name": "x-bf-send-back-raw-response",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "enum": ["true", "false"]},
    "description": "`true` adds the provider's response (secrets scrubbed) to "
    "`extra_fields.raw_response`",
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "pattern": "^[!-~]([ -~]{0,253}[!-~])?$"},
    "description": "Creating again with the same key returns the same job and sends nothing "
    "new to the provider",
}


def _list_parameters(*, provider_required: bool) -> list[Schema]:
    provider: Schema = {
        "name": "provider",
        "in": "query",
        "required": provider_required,
        "schema": {"type": "string", "pattern": _PROVIDER_PATTERN},
        "description": "The provider instance to list",
    }
    return [
        provider,
        {
            "name": "after",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "pattern": _VIDEO_ID_PATTERN},
            "description": "The id of the last video of the previous page",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
        },
        {
            "name": "order",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["asc", "desc"], "default": "desc"},
        },
        _RAW,
    ]


def _video_paths(prefix: str, tag: str, *, openai: bool) -> dict[str, Any]:
    op = "openai" if openai else "video"
    create_content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/CreateVideoRequest"}},
        "multipart/form-data": {"schema": {"$ref": "#/components/schemas/CreateVideoForm"}},
    }
    list_parameters = _list_parameters(provider_required=not openai)
    if openai:
        list_parameters.append(
            {
                "name": "x-bf-video-list-provider",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": _PROVIDER_PATTERN},
                "description": "The provider instance to list (default `openai`)",
            }
        )
    download = {
        "200": {
            "description": "The asset's bytes, streamed",
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in ("video/*", "image/*", "application/octet-stream")
            },
        },
        **{k: v for k, v in _responses({}, "").items() if k != "200"},
    }
    return {
        prefix: {
            "post": {
                "tags": [tag],
                "summary": "Generate a video",
                "operationId": f"{op}Generation",
                "parameters": [_IDEMPOTENCY, _RAW],
                "requestBody": {"required": True, "content": create_content},
                "responses": _responses(_json_ok("Video"), "The new job"),
            },
            "get": {
                "tags": [tag],
                "summary": "List video generation jobs",
                "operationId": f"{op}List",
                "parameters": list_parameters,
                "responses": _responses(_json_ok("VideoList"), "One page of jobs"),
            },
        },
        f"{prefix}/{{video_id}}": {
            "parameters": [_VIDEO_ID],
            "get": {
                "tags": [tag],
                "summary": "Retrieve a video generation job",
                "operationId": f"{op}Retrieve",
                "parameters": [_RAW],
                "responses": _responses(_json_ok("Video"), "The job"),
            },
            "delete": {
                "tags": [tag],
                "summary": "Delete a video generation job",
                "operationId": f"{op}Delete",
                "parameters": [_RAW],
                "responses": _responses(_json_ok("VideoDeleted"), "Deleted"),
            },
        },
        f"{prefix}/{{video_id}}/content": {
            "parameters": [_VIDEO_ID],
            "get": {
                "tags": [tag],
                "summary": "Download video content",
                "operationId": f"{op}Download",
                "parameters": [
                    {
                        "name": "variant",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "string",
                            "enum": ["video", "thumbnail", "spritesheet", "sprite_sheet"],
                            "default": "video",
                        },
                    }
                ],
                "responses": download,
            },
        },
        f"{prefix}/{{video_id}}/remix": {
            "parameters": [_VIDEO_ID],
            "post": {
                "tags": [tag],
                "summary": "Remix a completed video with a new prompt",
                "operationId": f"{op}Remix",
                "parameters": [_RAW],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/RemixVideoRequest"}
                        }
                    },
                },
                "responses": _responses(_json_ok("Video"), "The new job"),
            },
        },
    }


_SECURITY_SCHEMES = {
    "BearerAuth": {"type": "http", "scheme": "bearer"},
    "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "VirtualKeyAuth": {"type": "apiKey", "in": "header", "name": "x-bf-vk"},
}


def openapi_document(*, auth: bool) -> dict[str, Any]:
    """
    The OpenAPI 3.1 document of the server's routes.

    Args:
        auth: Whether the server has keys (the video routes then require one).
    """
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "tags": ["Health"],
                "summary": "Health check",
                "operationId": "health",
                "security": [],
                "responses": {"200": {"description": "Up", **_json_ok("Health")}},
            }
        },
        "/openapi.json": {
            "get": {
                "tags": ["Health"],
                "summary": "This document",
                "operationId": "openapi",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        **_video_paths("/v1/videos", "Videos", openai=False),
        **_video_paths("/openai/v1/videos", "OpenAI Integration", openai=True),
        **door_paths(),
    }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "reelgate",
            "version": __version__,
            "description": "One API over every AI video-generation provider: the `/v1/videos` "
            "API of the reference gateway, and the same under `/openai/v1/videos` for "
            "OpenAI SDKs.",
        },
        "paths": paths,
        "components": {"schemas": {**_schemas(), **door_schemas()}},
    }
    if auth:
        document["components"]["securitySchemes"] = _SECURITY_SCHEMES
        document["security"] = [{name: []} for name in _SECURITY_SCHEMES]
    return document
