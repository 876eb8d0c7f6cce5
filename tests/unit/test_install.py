"""The install: a lean runtime, extras for the rest, lock files that match pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from scout_service import __main__ as cli
from scout_service.store import embedded
from scout_service.store.embedded import EmbeddedDynamo

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# moto[server]'s stack, which a production replica never runs.
SERVER_STACK = {"moto", "flask", "flask-cors", "cfn-lint", "docker", "sympy", "networkx",
                "aws-xray-sdk", "openapi-spec-validator", "graphql-core"}


def _names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def _locked(name: str) -> dict[str, str]:
    text = (ROOT / "requirements" / name).read_text(encoding="utf-8")
    return {canonicalize_name(m[1]): m[2]
            for m in re.finditer(r"^([A-Za-z0-9._-]+)==(\S+) \\$", text, re.M)}


def test_the_runtime_needs_no_moto_server_stack_nor_weasyprint() -> None:
    runtime = _names(PROJECT["dependencies"])
    assert not runtime & SERVER_STACK
    assert "weasyprint" not in runtime
    extras = PROJECT["optional-dependencies"]
    assert {"moto", "flask", "flask-cors", "werkzeug"} <= _names(extras["embedded"])
    assert _names(extras["pdf"]) == {"weasyprint"}
    assert "crypto" in next(Requirement(r) for r in PROJECT["dependencies"]
                            if r.startswith("pypdf")).extras


def test_the_image_lock_has_no_moto_server_stack() -> None:
    runtime = _locked("runtime.txt")
    assert runtime and not set(runtime) & SERVER_STACK
    assert "weasyprint" in runtime and "opentelemetry-sdk" in runtime


@pytest.mark.parametrize("lock", ["dev.txt", "runtime.txt", "build.txt"])
def test_every_lock_entry_has_hashes(lock: str) -> None:
    text = (ROOT / "requirements" / lock).read_text(encoding="utf-8")
    entries = re.findall(r"^[A-Za-z0-9._-]+==\S+ \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)",
                         text, re.M)
    assert len(entries) == len(_locked(lock)) > 0


def test_the_locks_pin_what_pyproject_pins() -> None:
    dev, runtime = _locked("dev.txt"), _locked("runtime.txt")
    extras = PROJECT["optional-dependencies"]
    for group, lock in (("dependencies", runtime), ("embedded", dev), ("pdf", runtime),
                        ("otel", runtime), ("dev", dev), ("dependencies", dev)):
        pins = PROJECT["dependencies"] if group == "dependencies" else extras[group]
        for text in pins:
            req = Requirement(text)
            name = canonicalize_name(req.name)
            if name == "scout-client":
                continue  # the local package, installed on top of the lock
            assert name in lock, f"{name} ({group}) is not locked: run make lock"
            assert req.specifier.contains(lock[name], prereleases=True), (
                f"{name}: pyproject says {req.specifier}, the lock {lock[name]}: run make lock")
    # One version of each package across the locks (runtime is compiled against dev).
    assert all(dev[name] == version for name, version in runtime.items() if name in dev)


def test_serve_names_the_extra_when_the_embedded_dynamodb_is_missing(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    for name in ("DYNAMODB_ENDPOINT_URL", "SCOUT_DYNAMODB_ENDPOINT", "SCOUT_EMBEDDED_DYNAMODB",
                 "AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(embedded, "embedded_available", lambda: False)
    monkeypatch.setattr(cli, "_configure_logging", lambda settings: None)
    assert cli.main(["serve"]) == 2
    assert "pip install 'scout-service[embedded]'" in capsys.readouterr().err


def test_the_embedded_server_names_the_extra_when_moto_is_missing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded, "embedded_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"scout-service\[embedded\]"):
        EmbeddedDynamo().start()
    monkeypatch.undo()
    assert embedded.embedded_available()  # this checkout's venv has the extra


def test_tracing_without_the_otel_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from scout_service import tracing
    from scout_service.config import ConfigError

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # not installed
    with pytest.raises(ConfigError, match=r"pip install 'scout-service\[otel\]'"):
        tracing.configure(True)
    assert tracing.configure(False) is False and tracing.tracer is None
