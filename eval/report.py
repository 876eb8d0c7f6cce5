"""Tables, the floor and ``eval/RESULTS.md``: what the eval prints and records."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.run import FINDINGS_UNSERVED, DossierResult
from eval.scoring import Ratio

HERE = Path(__file__).resolve().parent
FLOOR_PATH = HERE / "floor.json"
RESULTS_PATH = HERE / "RESULTS.md"

TOLERANCE = 0.0
"""Allowed drop below the floor. The offline model is deterministic, so none; a
provider's numbers are compared with the same floor, which they must beat."""


@dataclass(frozen=True)
class Metric:
    """One column of the tables: its key in floor.json and which way is better."""

    key: str
    label: str
    higher_is_better: bool = True


METRICS = (
    Metric("fact_recall", "fact recall"),
    Metric("facts_stated", "facts stated"),
    Metric("wrong_fact_rate", "wrong facts", higher_is_better=False),
    Metric("citation_precision", "cit. precision"),
    Metric("citation_coverage", "cit. coverage"),
    Metric("findings_accuracy", "findings"),
    Metric("outline_compliance", "outline"),
)


def ratios(result: DossierResult) -> dict[str, Ratio | None]:
    """The scored metrics of one dossier as ratios (None: not measurable)."""
    score = result.score
    return {
        "fact_recall": score.fact_recall,
        "facts_stated": score.facts_stated,
        "wrong_fact_rate": score.wrong_facts,
        "citation_precision": score.citations,
        "citation_coverage": score.coverage,
        "findings_accuracy": score.findings,
        "outline_compliance": score.outline,
    }


def overall(results: Sequence[DossierResult]) -> dict[str, Ratio | None]:
    """Metrics over all dossiers (hits and totals summed, so bigger dossiers weigh more)."""
    total: dict[str, Ratio | None] = {}
    for result in results:
        for key, ratio in ratios(result).items():
            if ratio is None:
                total.setdefault(key, None)
                continue
            acc = total.get(key) or Ratio()
            acc.add(ratio)
            total[key] = acc
    return total


def values(metrics: Mapping[str, Ratio | None]) -> dict[str, float | None]:
    """Ratios → rounded shares, as stored in floor.json."""
    return {k: (None if r is None or r.value is None else round(r.value, 4))
            for k, r in metrics.items()}


def _cell(metric: str, ratio: Ratio | None) -> str:
    if ratio is None:
        return FINDINGS_UNSERVED if metric == "findings_accuracy" else "n/a"
    if ratio.value is None:
        return "n/a (0/0)"
    return f"{ratio.value:.2f} ({ratio.hits}/{ratio.total})"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|",
            *(line(r) for r in rows)]


def _cost(value: float | None) -> str:
    return "n/a (not reported)" if value is None else f"{value:.4f}"


def dossier_table(result: DossierResult, floor: Mapping[str, Any] | None) -> list[str]:
    """One dossier: every metric with its counts and the floor."""
    floor_values = (floor or {}).get("dossiers", {}).get(result.dossier, {})
    rows = [[m.label + ("" if m.higher_is_better else " (lower is better)"),
             _cell(m.key, ratio), _floor_cell(floor_values, m.key)]
            for m, ratio in zip(METRICS, ratios(result).values(), strict=True)]
    rows += [["tokens", f"{result.tokens:,}", ""], ["cost", _cost(result.cost), ""],
             ["wall time", f"{result.wall_s:.1f} s", ""]]
    title = (f"### {result.dossier} — run {result.state or '?'} ({result.provider or '?'}), "
             f"sources: {result.sources_status}")
    return [title, "", *_table(["metric", "value", "floor"], rows)]


def _floor_cell(floor_values: Mapping[str, Any], key: str) -> str:
    if key not in floor_values:
        return "-"
    value = floor_values[key]
    return "null" if value is None else f"{value:.2f}"


def overall_table(results: Sequence[DossierResult]) -> list[str]:
    """Every dossier and the total, one row each."""
    header = ["dossier", *(m.label for m in METRICS), "tokens", "cost", "wall"]
    rows = []
    for result in results:
        rows.append([result.dossier,
                     *(_short(r) for r in ratios(result).values()),
                     f"{result.tokens:,}", _cost(result.cost), f"{result.wall_s:.1f} s"])
    total = overall(results)
    costs = [r.cost for r in results]
    rows.append(["**overall**", *(_short(r) for r in total.values()),
                 f"{sum(r.tokens for r in results):,}",
                 _cost(None if None in costs else sum(c or 0.0 for c in costs)), ""])
    return _table(header, rows)


def _short(ratio: Ratio | None) -> str:
    if ratio is None:
        return "n/a"
    return "n/a" if ratio.value is None else f"{ratio.value:.2f}"


# -- the floor -----------------------------------------------------------------------------


def floor_data(results: Sequence[DossierResult], provider: str, model: str) -> dict[str, Any]:
    """What ``--record-floor`` writes."""
    return {
        "recorded": datetime.now(UTC).strftime("%Y-%m-%d"),
        "provider": provider,
        "model": model,
        "commit": git_commit(),
        "note": ("Provisional: recorded before the server cites sources; re-record with "
                 "`make eval RECORD_FLOOR=1` when citations, ListSources or GetFindings land."),
        "tolerance": TOLERANCE,
        "overall": values(overall(results)),
        "dossiers": {r.dossier: values(ratios(r)) for r in results},
    }


def load_floor(path: Path = FLOOR_PATH) -> dict[str, Any] | None:
    """The recorded floor, or None before one is recorded."""
    if not path.is_file():
        return None
    floor: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return floor


def regressions(results: Sequence[DossierResult], floor: Mapping[str, Any]) -> list[str]:
    """Every metric (per dossier and overall) that fell below the floor."""
    tolerance = float(floor.get("tolerance", TOLERANCE))
    found = []
    scopes: list[tuple[str, Mapping[str, float | None], Mapping[str, Any]]] = [
        ("overall", values(overall(results)), floor.get("overall", {}))]
    scopes += [(r.dossier, values(ratios(r)), floor.get("dossiers", {}).get(r.dossier, {}))
               for r in results]
    for scope, now, then in scopes:
        for metric in METRICS:
            want = then.get(metric.key)
            if want is None:
                continue  # nothing recorded (e.g. GetFindings was not served then)
            got = now.get(metric.key)
            if got is None:
                found.append(f"{scope}: {metric.label} is not measured now (floor {want:.2f})")
            elif metric.higher_is_better and got < want - tolerance - 1e-9:
                found.append(f"{scope}: {metric.label} {got:.2f} < floor {want:.2f}")
            elif not metric.higher_is_better and got > want + tolerance + 1e-9:
                found.append(f"{scope}: {metric.label} {got:.2f} > floor {want:.2f}")
    return found


# -- provider, model, results file ---------------------------------------------------------

_MODEL_VARIABLES = {
    "bedrock": ("BEDROCK_MODEL_ID", "bedrock_model_id"),
    "anthropic": ("SCOUT_ANTHROPIC_MODEL_ID", "anthropic_model_id"),
    "openai": ("SCOUT_OPENAI_MODEL_ID", "openai_model_id"),
    "ollama": ("SCOUT_OLLAMA_MODEL_ID", "ollama_model_id"),
}


def provider_and_model(env: Mapping[str, str]) -> tuple[str, str]:
    """The provider the server will use and its model id (the server's defaults)."""
    from scout_service.config import Settings

    provider = env.get("SCOUT_MODEL_PROVIDER", "offline") or "offline"
    if provider not in _MODEL_VARIABLES:
        return provider, "extractive analyser (no language model)"
    variable, field_name = _MODEL_VARIABLES[provider]
    default = next(f.default for f in dataclasses.fields(Settings) if f.name == field_name)
    return provider, env.get(variable) or str(default)


def git_commit() -> str:
    """Short commit of the checkout (with '+dirty' for uncommitted changes), or ''."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True, check=True).stdout.strip()
        # The eval's own outputs do not make a checkout dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".",
                                ":!eval/RESULTS.md", ":!eval/floor.json"], cwd=HERE.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""
    return commit + ("+dirty" if dirty else "")


def append_results(results: Sequence[DossierResult], provider: str, model: str, wall_s: float,
                   problems: Sequence[str], path: Path = RESULTS_PATH) -> None:
    """Append this run's overall table to RESULTS.md."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["", f"## {stamp} — provider `{provider}`, model `{model}`, commit "
                 f"`{git_commit() or '?'}`, {wall_s:.0f} s", "", *overall_table(results)]
    statuses = sorted({r.sources_status for r in results} | {r.findings_status for r in results})
    lines += ["", "Sources / findings: " + "; ".join(statuses) + "."]
    if problems:
        lines += ["", "Below the floor: " + "; ".join(problems) + "."]
    if not path.exists():
        path.write_text("# Eval results\n\nAppended by `make eval` (newest last); see "
                        "eval/README.md for what each column means.\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
