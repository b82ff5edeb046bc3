"""
Every hook a reelgate plugin can implement.

Hooks are called with keyword arguments only. An implementation may accept fewer
arguments than its spec, so a hook may gain parameters in later versions but never loses
or renames one. Implement a hook with `reelgate.hookimpl`::

    import reelgate

    @reelgate.hookimpl
    def reelgate_register_providers(registry):
        registry.add(reelgate.ProviderSpec(type="acme", factory=AcmeProvider))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .provider import ProviderRegistry

__all__ = ["PROJECT", "hookimpl", "reelgate_register_providers"]

PROJECT = "reelgate"

_hookspec = pluggy.HookspecMarker(PROJECT)

#: Marks a function as the implementation of a reelgate hook.
hookimpl = pluggy.HookimplMarker(PROJECT)


@_hookspec
def reelgate_register_providers(registry: ProviderRegistry) -> None:
    """
    Register provider types. Called once, when plugins are loaded.

    Args:
        registry: Call ``registry.add(ProviderSpec(...))`` for each provider type the
            plugin offers. A type name may be registered once; a second registration,
            or anything that is not a `ProviderSpec`, is reported as a plugin error and
            the plugin's other registrations are discarded.
    """
