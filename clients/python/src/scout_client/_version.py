"""The installed version of scout-client."""

from __future__ import annotations

from importlib import metadata

try:
    __version__: str = metadata.version("scout-client")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
