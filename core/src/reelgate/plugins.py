"""
Loading plugins: entry points one by one, failures isolated, allow and deny lists.

`Plugins` is the typed facade over the pluggy manager and the only code that calls its
hooks. Entry points of the group ``reelgate`` are loaded one at a time, so a plugin that
fails to import or to register is reported (``reelgate providers`` shows it) while the
others still load. ``REELGATE_DISABLE_PLUGINS`` (comma-separated entry-point names) denies
plugins; ``REELGATE_PLUGINS``, when set, allows only those named.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from importlib.metadata import entry_points
from typing import Any

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError, PluginLoadError
from .provider import ProviderRegistry

__all__ = ["ENTRY_POINT_GROUP", "PluginFailure", "Plugins"]

ENTRY_POINT_GROUP = "reelgate"

log = logging.getLogger(__name__)


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded or registered, and why."""

    name: str
    error: PluginLoadError

    @property
    def reason(self) -> str:
        """One readable line."""
        return str(self.error)


def _names(variable: str) -> frozenset[str] | None:
    raw = os.environ.get(variable, "")
    if not raw.strip():
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _refuse_duplicates(staged: ProviderRegistry, registry: ProviderRegistry) -> None:
    for spec in staged.specs.values():
        if spec.type in registry.specs:
            raise PluginError(
                f"provider type {spec.type!r} is already registered by "
                f"{registry.origin(spec.type)!r}"
            )


def _manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


@attrs.define
class Plugins:
    """
    The loaded plugins and what they registered.

    Build it with `load` (entry points) or empty, then `register` objects by hand (as
    tests and embedding applications do).
    """

    _pm: pluggy.PluginManager = attrs.field(alias="pm", factory=_manager)
    failures: list[PluginFailure] = attrs.field(factory=list)

    @classmethod
    def load(
        cls,
        *,
        allow: Collection[str] | None = None,
        deny: Collection[str] | None = None,
    ) -> Plugins:
        """
        Load every entry point of the ``reelgate`` group, one by one.

        Args:
            allow: Load only these names (default: ``REELGATE_PLUGINS`` if set).
            deny: Never load these (default: ``REELGATE_DISABLE_PLUGINS``).
        """
        plugins = cls()
        allowed = frozenset(allow) if allow is not None else _names("REELGATE_PLUGINS")
        denied = (
            frozenset(deny)
            if deny is not None
            else (_names("REELGATE_DISABLE_PLUGINS") or frozenset())
        )
        seen: set[str] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if (
                ep.name in seen
                or ep.name in denied
                or (allowed is not None and ep.name not in allowed)
            ):
                continue
            seen.add(ep.name)
            try:
                obj = ep.load()
            except Exception as exc:  # noqa: BLE001  # any import failure is the plugin's
                plugins._fail(ep.name, f"cannot import {ep.value}: {_describe(exc)}", exc)
                continue
            plugins.register(obj, name=ep.name)
        return plugins

    def _fail(self, name: str, message: str, cause: BaseException | None = None) -> None:
        error = PluginLoadError(f"plugin {name!r}: {message}")
        if any(f.name == name and f.reason == str(error) for f in self.failures):
            return  # the same failure, met again by a second provider_registry()
        error.__cause__ = cause
        self.failures.append(PluginFailure(name, error))
        log.warning("reelgate plugin %r failed to load: %s", name, message)

    def register(self, plugin: object, name: str | None = None) -> bool:
        """
        Register a plugin object (a module or any object with hook implementations).

        Returns:
            Whether it was registered; a failure is recorded in `failures`.
        """
        label = name or getattr(plugin, "__name__", None) or repr(plugin)
        # A failed second registration of an object must not remove the first one.
        already = self._pm.is_registered(plugin)
        try:
            self._pm.register(plugin, name=name)
            self._pm.check_pending()
        except Exception as exc:  # noqa: BLE001  # a bad plugin must not stop the rest
            if not already and self._pm.is_registered(plugin):
                self._pm.unregister(plugin)
            self._fail(label, _describe(exc), exc)
            return False
        return True

    def unregister(self, plugin: object) -> None:
        """Remove a plugin registered earlier."""
        self._pm.unregister(plugin)

    @property
    def names(self) -> list[str]:
        """The names of the registered plugins."""
        return [name for name, _ in self._pm.list_name_plugin()]

    def provider_registry(self) -> ProviderRegistry:
        """
        Ask every plugin for its provider types.

        A plugin whose hook raises, or registers something invalid, is recorded in
        `failures` and contributes nothing; the others are unaffected.
        """
        registry = ProviderRegistry()
        hook = self._pm.hook.reelgate_register_providers
        for impl in reversed(hook.get_hookimpls()):
            staged = ProviderRegistry()
            view = staged.for_plugin(impl.plugin_name)
            kwargs: dict[str, Any] = {"registry": view}
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
                _refuse_duplicates(staged, registry)
            except Exception as exc:  # noqa: BLE001  # isolate the failing plugin
                self._fail(
                    impl.plugin_name, f"reelgate_register_providers failed: {_describe(exc)}", exc
                )
                continue
            target = registry.for_plugin(impl.plugin_name)
            for spec in staged.specs.values():
                target.add(spec)
        return registry
