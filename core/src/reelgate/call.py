"""
`Operation` and `Call`: what the gateway tells a provider about one operation.

Below both the HTTP layer (which labels its errors from a call) and the provider contract
(whose methods take one), so that neither imports the other.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from ._redact import Secret
from .errors import InvalidRequestError

__all__ = ["OPERATIONS", "Call", "Operation", "ProviderState"]


class Operation(enum.StrEnum):
    """
    Every operation a provider may implement, in the order reelgate lists them.

    The value is the provider's method name; `request_type` is the operation's name on
    the wire (the ``request_type`` of errors).
    """

    CREATE = "create"
    RETRIEVE = "retrieve"
    LIST = "list"
    DOWNLOAD = "download"
    DELETE = "delete"
    CANCEL = "cancel"
    REMIX = "remix"

    @property
    def request_type(self) -> str:
        """``video_generation``, ``video_retrieve``... as the reference gateway names them."""
        return _REQUEST_TYPES[self]


_REQUEST_TYPES = {
    Operation.CREATE: "video_generation",
    Operation.RETRIEVE: "video_retrieve",
    Operation.LIST: "video_list",
    Operation.DOWNLOAD: "video_download",
    Operation.DELETE: "video_delete",
    Operation.CANCEL: "video_delete",
    Operation.REMIX: "video_remix",
}

#: Every operation's name, in the order reelgate lists them.
OPERATIONS = tuple(op.value for op in Operation)

#: JSON-able per-job data a provider keeps with the job index (`Video.provider_state`).
ProviderState = Mapping[str, Any]


@attrs.frozen(kw_only=True)
class Call:
    """
    What the gateway tells a provider about one operation.

    Attributes:
        instance: The provider instance name.
        operation: The operation (`Operation`).
        key: The API key to use: for an existing job, the key that created it.
        model: The native model name (create only).
        job_state: The `provider_state` the provider returned with the job (at create,
            or since); None for jobs the index never saw (a native list's rows, an id
            typed by hand).
    """

    instance: str
    operation: Operation = attrs.field(converter=Operation)
    key: Secret | None = None
    model: str | None = None
    job_state: ProviderState | None = None

    @property
    def request_type(self) -> str:
        """The operation's wire name, e.g. ``video_retrieve``."""
        return self.operation.request_type

    def require_state(self, video_id: str, *names: str) -> ProviderState:
        """
        The job's provider state, which must hold `names`.

        Raises:
            InvalidRequestError: The job was not created through reelgate (or its state
                lacks a name), so the provider cannot reach it.
        """
        state = self.job_state or {}
        missing = [name for name in names if name not in state]
        if self.job_state is None or missing:
            raise InvalidRequestError(
                f"video {video_id} was not created through this gateway, and "
                f"{self.instance} needs what its create recorded "
                f"({', '.join(missing or names) or 'its provider state'}) to reach it",
                param="video_id",
                provider=self.instance,
                request_type=self.request_type,
            )
        return state
