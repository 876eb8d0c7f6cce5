"""Moved to ``scout_service.embedded`` (local infrastructure, not a store backend)."""

import sys

from scout_service.embedded.server import (
    EMBEDDED_MODULES,
    FAKE_CREDENTIALS,
    INSTALL_HINT,
    EmbeddedDynamo,
    embedded_available,
)

__all__ = [
    "EMBEDDED_MODULES",
    "FAKE_CREDENTIALS",
    "INSTALL_HINT",
    "EmbeddedDynamo",
    "embedded_available",
]

# The old path is the same module object, so a monkeypatch through it is seen by its users.
sys.modules[__name__] = sys.modules["scout_service.embedded.server"]
