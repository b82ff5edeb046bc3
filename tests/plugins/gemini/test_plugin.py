"""The entry point registers both types, configured from the usual environment variables."""

from __future__ import annotations

import pytest
from gemini_support import KEY, OTHER_KEY

from reelgate import CreateVideo, Gateway
from reelgate.http import emulator_transport, make_client
from reelgate.plugins import Plugins
from reelgate_gemini.emulator import create_app


def test_one_entry_point_registers_both_types() -> None:
    """The gemini entry point registers the gemini and vertex types, each polling every 10 s."""
    plugins = Plugins.load(allow=["gemini"])
    assert [f for f in plugins.failures if f.name == "gemini"] == []
    registry = plugins.provider_registry()
    assert {"gemini", "vertex"} <= set(registry.specs)
    assert registry.origin("gemini") == registry.origin("vertex") == "gemini"
    assert registry.specs["gemini"].poll_interval == registry.specs["vertex"].poll_interval == 10.0


def test_denying_the_plugin_removes_both_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """REELGATE_DISABLE_PLUGINS=gemini disables both types, since one entry point registers them."""
    monkeypatch.setenv("REELGATE_DISABLE_PLUGINS", "gemini")
    specs = Plugins.load().provider_registry().specs
    assert "gemini" not in specs
    assert "vertex" not in specs


@pytest.mark.anyio
async def test_environment_configures_the_default_instances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GOOGLE_GEMINI_BASE_URL and GEMINI_API_KEY (first of the two key variables) configure it."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://emulator.test/")
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    monkeypatch.setenv("GOOGLE_API_KEY", OTHER_KEY)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project")
    emulator = create_app(job_seconds=0.0)
    client = make_client(transport=emulator_transport(emulator))
    async with Gateway(plugins=Plugins.load(allow=["gemini"]), http_client=client) as gateway:
        gemini = gateway.instance("gemini")
        assert [key.name for key in gemini.keys] == ["GEMINI_API_KEY"]
        assert gemini.poll_interval == 10.0
        assert gateway.instance("vertex").provider.settings.project == "env-project"  # type: ignore[attr-defined]
        video = await gateway.create(
            CreateVideo(model="gemini/veo-3.1-generate-preview", prompt="x")
        )
        assert video.provider == "gemini"
    await client.aclose()
    seen = emulator.faults.seen[-1]
    assert (seen.headers["host"], seen.path) == (
        "emulator.test",
        "/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
    )
    assert seen.headers["x-goog-api-key"] == KEY
