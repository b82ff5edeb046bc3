"""
reelgate: one Python API over every AI video-generation provider.

::

    import reelgate

    async with reelgate.Gateway.from_config() as gw:
        video = await gw.create(reelgate.CreateVideo(model="sim/sim-1", prompt="a paper boat"))
        video = (await gw.wait(video.id)).raise_for_status()
        await gw.download_to(video.id, "boat.mp4")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    IndexUnavailableError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PluginError,
    PluginLoadError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ReelgateError,
    UnsupportedOperationError,
    VideoFailedError,
    VideoNotReadyError,
    WaitTimeoutError,
)
from .model import (
    ContentFilter,
    CreateVideo,
    Deleted,
    ImageInput,
    ListQuery,
    Variant,
    Video,
    VideoError,
    VideoOutput,
    VideoPage,
    VideoStatus,
)

if TYPE_CHECKING:
    from . import wire
    from .call import Call, Operation
    from .config import ProviderSettings, RetryPolicy, Secret, Timeouts
    from .gateway import Gateway
    from .hookspecs import hookimpl
    from .provider import ProviderRegistry, ProviderSetup, ProviderSpec
    from .stream import DownloadStream
    from .sync import SyncGateway

__version__ = "0.1.0"

# Loaded on first use, so that `import reelgate` stays fast (the HTTP stack, pluggy and
# the converter are only imported by code that needs them).
_LAZY = {
    "Gateway": "gateway",
    "SyncGateway": "sync",
    "hookimpl": "hookspecs",
    "Call": "call",
    "DownloadStream": "stream",
    "Operation": "call",
    "ProviderRegistry": "provider",
    "ProviderSetup": "provider",
    "ProviderSpec": "provider",
    "ProviderSettings": "config",
    "RetryPolicy": "config",
    "Secret": "config",
    "Timeouts": "config",
}

__all__ = [
    "AuthenticationError",
    "Call",
    "ConfigurationError",
    "ConflictError",
    "ContentFilter",
    "CreateVideo",
    "Deleted",
    "DownloadStream",
    "Gateway",
    "ImageInput",
    "IndexUnavailableError",
    "InvalidRequestError",
    "ListQuery",
    "NotFoundError",
    "Operation",
    "PermissionDeniedError",
    "PluginError",
    "PluginLoadError",
    "ProviderError",
    "ProviderRegistry",
    "ProviderSettings",
    "ProviderSetup",
    "ProviderSpec",
    "ProviderTimeoutError",
    "RateLimitError",
    "ReelgateError",
    "RetryPolicy",
    "Secret",
    "SyncGateway",
    "Timeouts",
    "UnsupportedOperationError",
    "Variant",
    "Video",
    "VideoError",
    "VideoFailedError",
    "VideoNotReadyError",
    "VideoOutput",
    "VideoPage",
    "VideoStatus",
    "WaitTimeoutError",
    "hookimpl",
    "wire",
]


def __getattr__(name: str) -> Any:
    if name == "wire":
        return importlib.import_module(".wire", __name__)
    if (module := _LAZY.get(name)) is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'reelgate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
