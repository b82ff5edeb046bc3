"""What the Google plugin's tests share besides fixtures: the keys and the connect signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from reelgate import Gateway

KEY = "AIza-reelgate-test-key-0123456789"
OTHER_KEY = "AIza-reelgate-test-key-9876543210"

#: ``await connect(emulator, provider_type, settings=...)``: a gateway on the emulator.
Connect = Callable[..., Awaitable[Gateway]]
