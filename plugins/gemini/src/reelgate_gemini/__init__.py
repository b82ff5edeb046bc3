"""
Google Veo for reelgate: the provider types ``gemini`` and ``vertex``.

``gemini`` speaks the Gemini API, ``vertex`` speaks Vertex AI, and
`reelgate_gemini.emulator` emulates both.

One entry point, ``gemini = "reelgate_gemini"``, registers both types: pluggy registers a
plugin object once, so a second entry point naming this same module would fail to
register. ``REELGATE_DISABLE_PLUGINS=gemini`` therefore disables both types.

::

    import reelgate

    async with reelgate.Gateway.from_config() as gw:       # GEMINI_API_KEY is set
        video = await gw.create(
            reelgate.CreateVideo(model="gemini/veo-3.1-generate-preview", prompt="a paper boat")
        )
        video = (await gw.wait(video.id)).raise_for_status()
        await gw.download_to(video.id, "boat.mp4")
"""

from __future__ import annotations

import reelgate

from ._request import SIZES
from ._wire import parse_error
from .gemini import GeminiProvider, GeminiSettings
from .vertex import VertexProvider, VertexSettings

__all__ = [
    "POLL_INTERVAL",
    "SIZES",
    "GeminiProvider",
    "GeminiSettings",
    "VertexProvider",
    "VertexSettings",
    "parse_error",
    "reelgate_register_providers",
]

__version__ = "0.1.0"

#: Seconds between polls: Google's own examples poll Veo every 10 seconds.
POLL_INTERVAL = 10.0


@reelgate.hookimpl
def reelgate_register_providers(registry: reelgate.ProviderRegistry) -> None:
    """Register the ``gemini`` and ``vertex`` provider types."""
    registry.add(
        reelgate.ProviderSpec(
            type="gemini",
            factory=GeminiProvider.from_setup,
            settings=GeminiSettings,
            key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
            env={"base_url": "GOOGLE_GEMINI_BASE_URL"},
            poll_interval=POLL_INTERVAL,
            description="Google Veo through the Gemini API",
        )
    )
    registry.add(
        reelgate.ProviderSpec(
            type="vertex",
            factory=VertexProvider.from_setup,
            settings=VertexSettings,
            key_env=("VERTEX_API_KEY",),
            env={
                "base_url": "GOOGLE_VERTEX_BASE_URL",
                "project": "GOOGLE_CLOUD_PROJECT",
                "location": "GOOGLE_CLOUD_LOCATION",
            },
            requires_key=False,
            poll_interval=POLL_INTERVAL,
            description="Google Veo through Vertex AI (API key or OAuth2 credentials)",
        )
    )
