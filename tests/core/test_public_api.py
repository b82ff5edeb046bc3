"""The public names: complete ``__all__`` lists, lazy top-level exports, a light import."""

from __future__ import annotations
import __future__

import importlib
import inspect
import json
import subprocess
import sys
import types
import typing
from typing import TypeVar

import pytest

import reelgate

CORE_MODULES = [
    "reelgate",
    "reelgate.config",
    "reelgate.emulation",
    "reelgate.errors",
    "reelgate.gateway",
    "reelgate.hookspecs",
    "reelgate.http",
    "reelgate.ids",
    "reelgate.media",
    "reelgate.model",
    "reelgate.plugins",
    "reelgate.postgres",
    "reelgate.provider",
    "reelgate.sim",
    "reelgate.status",
    "reelgate.store",
    "reelgate.testing",
    "reelgate.wire",
]

#: The names DESIGN.md promises at the top level.
PROMISED = {
    "Gateway",
    "SyncGateway",
    "CreateVideo",
    "Video",
    "VideoStatus",
    "VideoOutput",
    "VideoError",
    "ContentFilter",
    "ImageInput",
    "ListQuery",
    "VideoPage",
    "Deleted",
    "Variant",
    "ProviderSpec",
    "ProviderRegistry",
    "hookimpl",
    "wire",
}


def _public_names_defined_in(module: types.ModuleType) -> set[str]:
    """Public globals the module defines itself (not imports, modules or type variables)."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or name == "TYPE_CHECKING":
            continue
        if isinstance(value, types.ModuleType | __future__._Feature | TypeVar):
            continue
        if getattr(typing, name, None) is value:
            continue
        imported = getattr(value, "__module__", module.__name__) != module.__name__
        if (inspect.isclass(value) or inspect.isroutine(value)) and imported:
            continue
        names.add(name)
    return names


@pytest.mark.parametrize("name", ["reelgate.errors", "reelgate.model"])
def test_all_lists_every_public_name(name: str) -> None:
    """errors and model export exactly the public names they define."""
    module = importlib.import_module(name)
    assert set(module.__all__) == _public_names_defined_in(module)
    assert len(module.__all__) == len(set(module.__all__))


def test_top_level_exports_every_error_and_the_promised_names() -> None:
    """reelgate re-exports every error and the names DESIGN.md promises."""
    from reelgate import errors  # noqa: PLC0415

    assert set(errors.__all__) <= set(reelgate.__all__)
    assert set(reelgate.__all__) >= PROMISED
    assert not _public_names_defined_in(reelgate) - set(reelgate.__all__)


@pytest.mark.parametrize("name", CORE_MODULES)
def test_every_listed_name_resolves(name: str) -> None:
    """Each name in a core module's __all__ exists, once."""
    module = importlib.import_module(name)
    assert module.__all__ == list(dict.fromkeys(module.__all__))
    for exported in module.__all__:
        assert getattr(module, exported) is not None


def test_lazy_names_are_the_real_objects() -> None:
    """A lazily exported name is the very object of its module."""
    from reelgate import config, gateway, hookspecs, provider, stream, sync  # noqa: PLC0415

    assert reelgate.Gateway is gateway.Gateway
    assert reelgate.SyncGateway is sync.SyncGateway
    assert reelgate.DownloadStream is stream.DownloadStream
    assert reelgate.Operation is provider.Operation
    assert reelgate.hookimpl is hookspecs.hookimpl
    assert reelgate.ProviderSpec is provider.ProviderSpec
    assert reelgate.Secret is config.Secret
    assert reelgate.wire is importlib.import_module("reelgate.wire")
    assert dir(reelgate) == sorted(reelgate.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    """A name the package does not have is an AttributeError naming it."""
    with pytest.raises(AttributeError, match="no attribute 'Gatway'"):
        _ = reelgate.Gatway  # type: ignore[attr-defined]


def test_import_is_light_and_every_name_resolves_lazily() -> None:
    """In a fresh interpreter, `import reelgate` loads no HTTP stack; each name then loads."""
    script = """
import json, sys
import reelgate
heavy = ["httpx2", "pluggy", "cattrs", "stamina", "sqlite3", "reelgate.gateway"]
before = [m for m in heavy if m in sys.modules]
resolved = {name: type(getattr(reelgate, name)).__name__ for name in reelgate.__all__}
namespace = {}
exec("from reelgate import *", namespace)
print(json.dumps({"before": before, "resolved": resolved,
                  "star": sorted(k for k in namespace if not k.startswith("__"))}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    report = json.loads(out.stdout)
    assert report["before"] == []
    assert set(report["resolved"]) == set(reelgate.__all__)
    assert report["star"] == sorted(reelgate.__all__)
