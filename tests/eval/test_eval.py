"""``make eval`` with the offline model: no metric may fall below eval/floor.json."""

from __future__ import annotations

import os

import pytest

from eval.report import load_floor, regressions
from eval.run import dossier_folders, run_eval

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(180)
def test_offline_eval_meets_the_floor() -> None:
    floor = load_floor()
    assert floor is not None, "eval/floor.json is missing: run `make eval RECORD_FLOOR=1`"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCOUT_")}
    env["SCOUT_MODEL_PROVIDER"] = "offline"
    results, _ = run_eval(dossier_folders(), env)
    assert {r.dossier for r in results} == set(floor["dossiers"])
    assert all(r.state == "SUCCEEDED" for r in results), [(r.dossier, r.state) for r in results]
    assert all(r.cost == 0.0 for r in results)
    assert regressions(results, floor) == []
