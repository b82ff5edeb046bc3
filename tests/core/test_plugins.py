"""Plugin loading: entry points one by one, failures isolated, allow and deny lists."""

from __future__ import annotations

import logging
import secrets
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import reelgate
from reelgate.errors import PluginError, PluginLoadError
from reelgate.plugins import Plugins
from reelgate.provider import ProviderRegistry, ProviderSpec

GOOD = """
import reelgate

class {cls}:
    pass

@reelgate.hookimpl
def reelgate_register_providers(registry):
    registry.add(reelgate.ProviderSpec(type={type!r}, factory=lambda setup: {cls}()))
"""

AS_OBJECT = """
import reelgate

class Plugin:
    @reelgate.hookimpl
    def reelgate_register_providers(self, registry):
        registry.add(reelgate.ProviderSpec(type={type!r}, factory=lambda setup: object()))

plugin = Plugin()
"""

BROKEN_IMPORT = """
raise ImportError("No module named 'acme_sdk'")
"""

MISSPELT = """
import reelgate

@reelgate.hookimpl
def reelgate_register_provider(registry):
    pass
"""

Install = Callable[..., str]


@pytest.fixture(name="install")
def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """
    Install throwaway distributions: a module and a ``*.dist-info`` with entry points.

    ``install(source, type=...)`` writes a module from `source` (formatted with
    ``type`` and ``cls``) and a distribution whose ``reelgate`` entry point, named
    `type`, loads it (``attr`` appends ``:attr``; ``same_module_as`` points the entry
    point at the module of an earlier one). It returns the entry-point name.
    """
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    modules: list[str] = []
    by_name: dict[str, str] = {}

    def install(
        source: str,
        *,
        type: str | None = None,
        attr: str | None = None,
        same_module_as: str | None = None,
    ) -> str:
        tag = secrets.token_hex(4)
        name = type or f"rgtest-{tag}"
        if same_module_as is not None:
            module = by_name[same_module_as]
        else:
            module = f"rgtest_plugin_{tag}"
            (root / f"{module}.py").write_text(
                textwrap.dedent(source).format(type=name, cls=f"Provider{tag}")
            )
        by_name[name] = module
        info = root / f"rgtest_dist_{tag}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: rgtest-dist-{tag}\nVersion: 0.1\n"
        )
        target = f"{module}:{attr}" if attr else module
        (info / "entry_points.txt").write_text(f"[reelgate]\n{name} = {target}\n")
        modules.append(module)
        return name

    yield install
    for module in modules:
        sys.modules.pop(module, None)


def _failed(plugins: Plugins) -> dict[str, str]:
    return {failure.name: failure.reason for failure in plugins.failures}


def test_entry_points_load_and_register(install: Install) -> None:
    """Modules and objects named by entry points are loaded and their types registered."""
    module = install(GOOD)
    obj = install(AS_OBJECT, attr="plugin")
    plugins = Plugins.load(allow={module, obj})
    assert plugins.failures == []
    assert set(plugins.names) == {module, obj}
    registry = plugins.provider_registry()
    assert set(registry.specs) == {module, obj}
    assert registry.origin(module) == module


def test_a_broken_import_is_reported_and_the_rest_load(
    install: Install, caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin that fails to import is a recorded failure; the others still load."""
    first = install(GOOD)
    broken = install(BROKEN_IMPORT)
    missing_attr = install(GOOD, attr="no_such_object")
    last = install(GOOD)
    with caplog.at_level(logging.WARNING, logger="reelgate.plugins"):
        plugins = Plugins.load(allow={first, broken, missing_attr, last})
    failed = _failed(plugins)
    assert set(failed) == {broken, missing_attr}
    assert "cannot import" in failed[broken]
    assert "ImportError: No module named 'acme_sdk'" in failed[broken]
    assert "AttributeError" in failed[missing_attr]
    assert set(plugins.provider_registry().specs) == {first, last}
    failure = next(f for f in plugins.failures if f.name == broken)
    assert isinstance(failure.error, PluginLoadError)
    assert isinstance(failure.error.__cause__, ImportError)
    assert any(broken in record.getMessage() for record in caplog.records)


def test_disable_plugins_denies_by_name(install: Install, monkeypatch: pytest.MonkeyPatch) -> None:
    """REELGATE_DISABLE_PLUGINS keeps the named plugins out, broken ones included."""
    kept = install(GOOD)
    denied = install(GOOD)
    broken = install(BROKEN_IMPORT)
    monkeypatch.setenv("REELGATE_PLUGINS", f"{kept},{denied},{broken}")
    monkeypatch.setenv("REELGATE_DISABLE_PLUGINS", f" {denied} ,, {broken}")
    plugins = Plugins.load()
    assert plugins.names == [kept]
    assert plugins.failures == []


def test_reelgate_plugins_allows_only_those_named(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    """REELGATE_PLUGINS loads only the plugins it names: not even the simulator."""
    wanted = install(GOOD)
    install(GOOD)
    monkeypatch.setenv("REELGATE_PLUGINS", wanted)
    plugins = Plugins.load()
    assert plugins.names == [wanted]
    assert "sim" not in plugins.provider_registry().specs


def test_an_empty_allow_list_is_no_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """REELGATE_PLUGINS set to nothing (or blanks) restricts nothing."""
    monkeypatch.setenv("REELGATE_PLUGINS", " ")
    assert "sim" in Plugins.load().provider_registry().specs


def test_without_lists_every_entry_point_loads(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With neither variable set, the simulator and every installed plugin load."""
    extra = install(GOOD)
    plugins = Plugins.load()
    assert {"sim", extra} <= set(plugins.names)
    monkeypatch.setenv("REELGATE_DISABLE_PLUGINS", "sim")
    assert "sim" not in Plugins.load().names


def test_explicit_lists_override_the_environment(
    install: Install, monkeypatch: pytest.MonkeyPatch
) -> None:
    """allow= and deny= given in code win over the environment variables."""
    one = install(GOOD)
    two = install(GOOD)
    monkeypatch.setenv("REELGATE_PLUGINS", one)
    assert Plugins.load(allow={one, two}, deny={one}).names == [two]


def test_two_entry_points_for_one_module(install: Install) -> None:
    """A second entry point naming an already loaded module is reported; the first stays."""
    first = install(GOOD)
    second = install("", same_module_as=first)
    plugins = Plugins.load(allow={first, second})
    assert len(plugins.names) == 1
    (loaded,) = plugins.names
    assert set(_failed(plugins)) == {first, second} - {loaded}
    assert list(plugins.provider_registry().specs) == [first]


def test_a_misspelt_hook_is_caught(install: Install) -> None:
    """A hookimpl with a name no spec has (reelgate_register_provider) is reported."""
    misspelt = install(MISSPELT)
    good = install(GOOD)
    plugins = Plugins.load(allow={misspelt, good})
    failed = _failed(plugins)
    assert set(failed) == {misspelt}
    assert "reelgate_register_provider" in failed[misspelt]
    assert plugins.names == [good]
    assert list(plugins.provider_registry().specs) == [good]


# -- registration through the hook, with plugin objects --------------------------------


def _spec(type: str) -> ProviderSpec:
    return ProviderSpec(type=type, factory=lambda setup: object())


class Registers:
    """A plugin object that registers the given specs."""

    def __init__(self, *specs: object) -> None:
        self.specs = specs

    @reelgate.hookimpl
    def reelgate_register_providers(self, registry: ProviderRegistry) -> None:
        """Add each spec."""
        for spec in self.specs:
            registry.add(spec)  # type: ignore[arg-type]


class RegistersThenRaises(Registers):
    """Registers its specs, then fails."""

    @reelgate.hookimpl
    def reelgate_register_providers(self, registry: ProviderRegistry) -> None:
        """Add each spec, then raise."""
        super().reelgate_register_providers(registry)
        raise RuntimeError("lost the config")


class TakesNothing:
    """A hook implementation with fewer arguments than the spec."""

    called = False

    @reelgate.hookimpl
    def reelgate_register_providers(self) -> None:
        """Be told that registration happens, and register nothing."""
        TakesNothing.called = True


@pytest.fixture(name="plugins")
def _plugins() -> Iterator[Plugins]:
    """An empty plugin manager; every plugin registered in a test is removed after it."""
    plugins = Plugins()
    yield plugins
    for name in plugins.names:
        plugins.unregister(plugins._pm.get_plugin(name))
    assert plugins.names == []


def test_register_and_unregister(plugins: Plugins) -> None:
    """A plugin object registers its types and is gone once unregistered."""
    plugin = Registers(_spec("alpha"), _spec("beta"))
    assert plugins.register(plugin, name="throwaway")
    assert plugins.names == ["throwaway"]
    assert set(plugins.provider_registry().specs) == {"alpha", "beta"}
    plugins.unregister(plugin)
    assert plugins.provider_registry().specs == {}


def test_a_hook_that_raises_contributes_nothing(plugins: Plugins) -> None:
    """Types registered before the hook raised are discarded; others are unaffected."""
    plugins.register(RegistersThenRaises(_spec("lost")), name="flaky")
    plugins.register(Registers(_spec("kept")), name="steady")
    registry = plugins.provider_registry()
    assert set(registry.specs) == {"kept"}
    failed = _failed(plugins)
    assert set(failed) == {"flaky"}
    assert "RuntimeError: lost the config" in failed["flaky"]


@pytest.mark.parametrize("bad", ["openai", None, {"type": "openai"}])
def test_registering_a_non_spec_is_reported(plugins: Plugins, bad: object) -> None:
    """Anything but a ProviderSpec is refused, and the plugin's other types with it."""
    plugins.register(Registers(_spec("first"), bad), name="sloppy")
    registry = plugins.provider_registry()
    assert registry.specs == {}
    assert "not a ProviderSpec" in _failed(plugins)["sloppy"]


def test_a_duplicate_type_is_reported(plugins: Plugins) -> None:
    """Of two plugins registering one type, one wins whole and the other is reported."""
    plugins.register(Registers(_spec("video")), name="first")
    plugins.register(Registers(_spec("video"), _spec("extra")), name="second")
    registry = plugins.provider_registry()
    winner = registry.origin("video")
    loser = {"first", "second"} - {winner}
    assert set(_failed(plugins)) == loser
    assert set(registry.specs) == ({"video", "extra"} if winner == "second" else {"video"})
    (reason,) = _failed(plugins).values()
    assert f"'video' is already registered by {winner!r}" in reason


def test_a_duplicate_within_one_plugin_is_reported(plugins: Plugins) -> None:
    """Registering the same type twice in one plugin is reported too."""
    plugins.register(Registers(_spec("twice"), _spec("twice")), name="stutter")
    assert plugins.provider_registry().specs == {}
    assert "already registered" in _failed(plugins)["stutter"]


def test_fewer_arguments_work(plugins: Plugins) -> None:
    """A hookimpl may take fewer arguments than the spec: it is called and fails nothing."""
    TakesNothing.called = False
    assert plugins.register(TakesNothing(), name="quiet")
    assert plugins.provider_registry().specs == {}
    assert TakesNothing.called
    assert plugins.failures == []


def test_registering_the_same_object_twice_is_reported(plugins: Plugins) -> None:
    """A second registration of one object is a recorded failure, not an exception."""
    plugin = Registers(_spec("once"))
    assert plugins.register(plugin, name="one")
    assert not plugins.register(plugin, name="two")
    assert "two" in _failed(plugins)
    assert plugins.names == ["one"]


def test_the_registry_refuses_directly() -> None:
    """ProviderRegistry.add itself raises PluginError for a non-spec or a taken type."""
    registry = ProviderRegistry()
    registry.for_plugin("p").add(_spec("x"))
    with pytest.raises(PluginError, match="not a ProviderSpec"):
        registry.add("x")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="already registered by 'p'"):
        registry.for_plugin("q").add(_spec("x"))
    assert registry.origin("x") == "p"
    assert registry.origin("y") is None


def test_spec_types_must_be_instance_names() -> None:
    """A provider type must be usable as an instance name."""
    with pytest.raises(reelgate.InvalidRequestError):
        _spec("not valid")
    assert ProviderSpec(type="t", factory=object, key_env="T_KEY").key_env == ("T_KEY",)


def test_asking_twice_reports_a_failure_once(plugins: Plugins) -> None:
    """Building the registry again (a second gateway) does not repeat a failure."""
    plugins.register(RegistersThenRaises(_spec("lost")), name="flaky")
    plugins.provider_registry()
    plugins.provider_registry()
    assert [f.name for f in plugins.failures] == ["flaky"]
