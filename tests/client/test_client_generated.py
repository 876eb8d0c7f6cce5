"""The blocking client is exactly what scripts/unasync.py makes of the asyncio one."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

import scout_client
from scout_client import AsyncScoutClient, ScoutClient

ROOT = Path(__file__).resolve().parents[2]


def _unasync() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", ROOT / "scripts/unasync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_blocking_client_is_generated_from_the_asyncio_one() -> None:
    unasync = _unasync()
    package = Path(scout_client.__file__).parent
    for name, wanted in unasync.generate(unasync.read_sources()).items():
        assert (package / name).read_text(encoding="utf-8") == wanted, name


def test_both_clients_have_the_same_methods_and_docs() -> None:
    def public(cls: type) -> dict[str, str]:
        return {name: inspect.getdoc(value) or "" for name, value in inspect.getmembers(cls)
                if not name.startswith("_") and callable(value)}

    sync, aio = public(ScoutClient), public(AsyncScoutClient)
    assert sync.keys() == aio.keys()
    differing = {name for name in sync if sync[name] != aio[name]}
    # The only docs that differ are the upload's (an async iterable is asyncio-only).
    assert differing == {"upload_file"}
