"""
The front doors' part of the OpenAPI document: ``/genai`` (Google) and ``/runway``.

Their bodies are the providers' own shapes, described as far as reelgate reads them;
fields reelgate does not know are passed to the provider as extra parameters.
"""

from __future__ import annotations

from typing import Any

__all__ = ["door_paths", "door_schemas"]

Schema = dict[str, Any]

_STRING: Schema = {"type": "string"}
_TEXT: Schema = {"type": "string", "pattern": "\\S"}
_OBJECT: Schema = {"type": "object"}
_GOOGLE_ERROR = {"$ref": "#/components/schemas/GoogleError"}
_RUNWAY_ERROR = {"$ref": "#/components/schemas/RunwayError"}

_GOOGLE_STATUSES = {
    "400": "INVALID_ARGUMENT: a bad field, or an unknown instance",
    "401": "UNAUTHENTICATED: missing or invalid key",
    "403": "PERMISSION_DENIED: the provider refused access",
    "404": "NOT_FOUND: no such operation, file or route (or another key's)",
    "409": "FAILED_PRECONDITION: the video is not finished",
    "429": "RESOURCE_EXHAUSTED: the provider's rate limit",
    "500": "INTERNAL",
    "502": "UNAVAILABLE: the provider failed",
    "503": "UNAVAILABLE: the job index is unreachable",
    "504": "DEADLINE_EXCEEDED: the provider timed out",
}
_RUNWAY_STATUSES = {
    "400": "A bad field (with `issues`), or an unknown instance",
    "401": "Missing or invalid key",
    "403": "The provider refused access",
    "404": "No such task (or another key's), or no such route",
    "405": "The path does not serve this method",
    "429": "The provider's rate limit",
    "500": "Internal error",
    "502": "The provider failed",
    "503": "The job index is unreachable",
    "504": "The provider timed out",
}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _responses(ok: Schema, description: str, errors: dict[str, str], error: Schema) -> Schema:
    out: Schema = {"200": {"description": description, **ok}}
    for status, text in errors.items():
        out[status] = {"description": text, **_json(error)}
    return out


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _path(name: str, description: str, pattern: str = "^[^/]+$") -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": pattern},
        "description": description,
    }


_INSTANCE = _path("instance", "A provider instance, e.g. `sim`", "^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_MODEL = _path("model", "The instance's model, e.g. `sim-1`", "^[^/:]+$")
_VERSION = _path("version", "The API version the SDK names", "^(v1|v1beta|v1beta1)$")
_PROJECT = _path("project", "Any project name (kept in the operation name)", "^[^/:]+$")
_LOCATION = _path("location", "Any location (kept in the operation name)", "^[^/:]+$")


def _google_paths() -> dict[str, Any]:
    create = {
        "tags": ["Google GenAI Integration"],
        "requestBody": {"required": True, **_json(_ref("GenerateVideosRequest"))},
        "responses": _responses(
            _json(_ref("Operation")), "The operation", _GOOGLE_STATUSES, _GOOGLE_ERROR
        ),
    }
    fetch = {
        "tags": ["Google GenAI Integration"],
        "requestBody": {"required": True, **_json(_ref("FetchPredictOperationRequest"))},
        "responses": _responses(
            _json(_ref("Operation")), "The operation", _GOOGLE_STATUSES, _GOOGLE_ERROR
        ),
    }
    publisher = "/genai/{version}/publishers/{instance}/models/{model}"
    scoped = "/genai/{version}/projects/{project}/locations/{location}/publishers/{instance}/models/{model}"  # noqa: E501  # a path
    return {
        "/genai/v1beta/models/{instance}/{model}:predictLongRunning": {
            "parameters": [_INSTANCE, _MODEL],
            "post": {
                **create,
                "summary": "Generate a video (Gemini API shape)",
                "operationId": "genaiPredictLongRunning",
            },
        },
        "/genai/v1beta/models/{instance}/{model}/operations/{operation}": {
            "parameters": [
                _INSTANCE,
                _MODEL,
                _path("operation", "The video id `{escaped native id}:{instance}`", "^.+:.+$"),
            ],
            "get": {
                "tags": ["Google GenAI Integration"],
                "summary": "Read an operation (Gemini API shape)",
                "operationId": "genaiGetOperation",
                "responses": _responses(
                    _json(_ref("Operation")), "The operation", _GOOGLE_STATUSES, _GOOGLE_ERROR
                ),
            },
        },
        f"{publisher}:predictLongRunning": {
            "parameters": [_VERSION, _INSTANCE, _MODEL],
            "post": {
                **create,
                "summary": "Generate a video (Vertex AI shape)",
                "operationId": "vertexPredictLongRunning",
            },
        },
        f"{publisher}:fetchPredictOperation": {
            "parameters": [_VERSION, _INSTANCE, _MODEL],
            "post": {
                **fetch,
                "summary": "Read an operation (Vertex AI shape)",
                "operationId": "vertexFetchPredictOperation",
            },
        },
        f"{scoped}:predictLongRunning": {
            "parameters": [_VERSION, _PROJECT, _LOCATION, _INSTANCE, _MODEL],
            "post": {
                **create,
                "summary": "Generate a video (Vertex AI shape, with a project)",
                "operationId": "vertexProjectPredictLongRunning",
            },
        },
        f"{scoped}:fetchPredictOperation": {
            "parameters": [_VERSION, _PROJECT, _LOCATION, _INSTANCE, _MODEL],
            "post": {
                **fetch,
                "summary": "Read an operation (Vertex AI shape, with a project)",
                "operationId": "vertexProjectFetchPredictOperation",
            },
        },
        "/genai/{version}/files/{file}:download": {
            "parameters": [
                _VERSION,
                _path("file", "The file name from the operation", "^[a-z0-9]+$"),
            ],
            "get": {
                "tags": ["Google GenAI Integration"],
                "summary": "Download a finished video (the SDK's files.download)",
                "operationId": "genaiDownloadFile",
                "responses": {
                    "200": {
                        "description": "The video, streamed",
                        "content": {"video/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **{
                        k: v
                        for k, v in _responses({}, "", _GOOGLE_STATUSES, _GOOGLE_ERROR).items()
                        if k != "200"
                    },
                },
            },
        },
    }


def _runway_paths() -> dict[str, Any]:
    def create(endpoint: str, summary: str) -> Schema:
        return {
            "post": {
                "tags": ["Runway Integration"],
                "summary": summary,
                "operationId": f"runway{endpoint.title().replace('_', '')}",
                "requestBody": {"required": True, **_json(_ref("RunwayCreateRequest"))},
                "responses": _responses(
                    _json(_ref("RunwayTaskCreated")), "The task", _RUNWAY_STATUSES, _RUNWAY_ERROR
                ),
            }
        }

    task_id = _path("id", "The task id: the video id `{escaped native id}:{instance}`", "^.+:.+$")
    errors = {
        k: v for k, v in _responses({}, "", _RUNWAY_STATUSES, _RUNWAY_ERROR).items() if k != "200"
    }
    return {
        "/runway/v1/text_to_video": create("text_to_video", "Generate a video from text"),
        "/runway/v1/image_to_video": create("image_to_video", "Generate a video from an image"),
        "/runway/v1/video_to_video": create("video_to_video", "Generate a video from a video"),
        "/runway/v1/tasks/{id}": {
            "parameters": [task_id],
            "get": {
                "tags": ["Runway Integration"],
                "summary": "Read a task",
                "operationId": "runwayGetTask",
                "responses": _responses(
                    _json(_ref("RunwayTask")), "The task", _RUNWAY_STATUSES, _RUNWAY_ERROR
                ),
            },
            "delete": {
                "tags": ["Runway Integration"],
                "summary": "Cancel or delete a task",
                "operationId": "runwayDeleteTask",
                "responses": {"204": {"description": "Deleted"}, **errors},
            },
        },
        "/runway/_outputs/{token}": {
            "parameters": [_path("token", "A signed output token, from a task's `output`")],
            "get": {
                "tags": ["Runway Integration"],
                "summary": "A task's output video (signed URL: no key)",
                "operationId": "runwayOutput",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The video, streamed",
                        "content": {"video/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "404": {
                        "description": "Unknown, forged or expired token, or the task is gone",
                        **_json(_RUNWAY_ERROR),
                    },
                    **{
                        k: v
                        for k, v in errors.items()
                        if k in ("409", "429", "500", "502", "503", "504")
                    },
                },
            },
        },
    }


def door_paths() -> dict[str, Any]:
    """The front doors' paths."""
    return {**_google_paths(), **_runway_paths()}


def door_schemas() -> dict[str, Schema]:
    """The front doors' schemas."""
    image: Schema = {
        "type": "object",
        "properties": {"bytesBase64Encoded": _STRING, "mimeType": _STRING, "gcsUri": _STRING},
    }
    return {
        "GoogleError": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "status"],
                    "properties": {
                        "code": {"type": "integer"},
                        "message": _STRING,
                        "status": _STRING,
                        "details": {"type": "array", "items": _OBJECT},
                    },
                }
            },
        },
        "GenerateVideosRequest": {
            "type": "object",
            "required": ["instances"],
            "description": "Veo's predictLongRunning body; `parameters` names "
            "(durationSeconds, aspectRatio, resolution, negativePrompt, seed, generateAudio, "
            "sampleCount, and any other, passed to the provider) are described in the docs",
            "properties": {
                "instances": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["prompt"],
                        "properties": {"prompt": _TEXT, "image": image, "lastFrame": image},
                    },
                },
                "parameters": _OBJECT,
            },
        },
        "FetchPredictOperationRequest": {
            "type": "object",
            "required": ["operationName"],
            "properties": {"operationName": {"type": "string", "pattern": "/operations/.+:.+"}},
        },
        "Operation": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": _STRING,
                "done": {"type": "boolean"},
                "metadata": _OBJECT,
                "error": {
                    "type": "object",
                    "properties": {
                        "code": {"type": "integer"},
                        "message": _STRING,
                        "details": {"type": "array", "items": _OBJECT},
                    },
                },
                "response": _OBJECT,
            },
        },
        "RunwayError": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": _STRING,
                "issues": {"type": "array", "items": _OBJECT},
                "docUrl": _STRING,
            },
        },
        "RunwayCreateRequest": {
            "type": "object",
            "required": ["model", "promptText"],
            "description": "Runway's create body; fields reelgate does not read are passed to "
            "the provider as extra parameters",
            "properties": {
                "model": {"type": "string", "description": "`instance/model`, e.g. `sim/sim-1`"},
                "promptText": _TEXT,
                "promptImage": {
                    "description": "An https URL or a data URI, or [{uri, position}]",
                    "oneOf": [
                        {"type": "string", "pattern": "^(https?|data):"},
                        {"type": "array", "items": _OBJECT},
                    ],
                },
                "videoUri": _STRING,
                "ratio": {"type": "string", "pattern": "^[1-9][0-9]{0,4}:[1-9][0-9]{0,4}$"},
                "duration": {"type": "integer", "minimum": 1, "maximum": 9999},
                "seed": {"type": "integer"},
                "negativePrompt": _STRING,
                "audio": {"type": "boolean"},
            },
        },
        "RunwayTaskCreated": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": _STRING},
        },
        "RunwayTask": {
            "type": "object",
            "required": ["id", "status", "createdAt"],
            "properties": {
                "id": _STRING,
                "status": {
                    "type": "string",
                    "enum": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"],
                },
                "createdAt": {"type": "string", "format": "date-time"},
                "progress": {"type": "number", "minimum": 0, "maximum": 1},
                "output": {"type": "array", "items": {"type": "string", "format": "uri"}},
                "failure": _STRING,
                "failureCode": _STRING,
                "estimatedCost": _OBJECT,
                "cost": _OBJECT,
            },
        },
    }
