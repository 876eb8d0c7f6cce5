"""``make eval`` / ``python -m eval``: score Scout's dossiers on the frozen set.

Starts a real server on the embedded store with the model settings of this
environment (offline unless ``SCOUT_MODEL_PROVIDER`` says otherwise), runs
every dossier of ``eval/dossiers/`` through it concurrently, prints one
table per dossier and an overall table, appends the overall table to
``eval/RESULTS.md`` and compares every metric with ``eval/floor.json``.

Exit status: 0 when no metric is below the floor, 1 when one is (or a run
did not succeed), 2 on a usage error. ``--record-floor`` writes the numbers
of this run as the new floor instead of comparing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from eval.report import (
    FLOOR_PATH,
    append_results,
    dossier_table,
    floor_data,
    load_floor,
    overall_table,
    provider_and_model,
    regressions,
)
from eval.run import LIST_SOURCES_UNSERVED, dossier_folders, run_eval


def main(argv: Sequence[str] | None = None) -> int:
    """Run the eval; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--record-floor", action="store_true",
                        help="write this run's numbers to eval/floor.json")
    parser.add_argument("--dossier", action="append", default=[],
                        help="run only this dossier (repeatable)")
    parser.add_argument("--no-results", action="store_true",
                        help="do not append to eval/RESULTS.md (tests use this)")
    parser.add_argument("--notes", type=int, default=12,
                        help="misses and problems printed per dossier")
    args = parser.parse_args(argv)

    folders = dossier_folders(only=args.dossier)
    if not folders:
        print("eval: no dossiers found", file=sys.stderr)
        return 2
    provider, model = provider_and_model(os.environ)
    print(f"▶ eval: {len(folders)} dossiers, provider {provider}, model {model}", flush=True)
    results, wall_s = run_eval(folders)

    floor = load_floor()
    for result in results:
        print()
        print("\n".join(dossier_table(result, floor)))
        for note in result.score.notes[: args.notes]:
            print(f"  · {note}")
        if len(result.score.notes) > args.notes:
            print(f"  · … {len(result.score.notes) - args.notes} more")
    print("\n### overall\n")
    print("\n".join(overall_table(results)))
    if any(r.sources_status == LIST_SOURCES_UNSERVED for r in results):
        print("\n!!! ListSources answered UNIMPLEMENTED: citation precision is scored as FAILED "
              "(0) for every dossier until the server lists its sources. !!!")
    failed_runs = [r.dossier for r in results if r.state != "SUCCEEDED"]

    problems: list[str] = []
    if args.record_floor:
        FLOOR_PATH.write_text(json.dumps(floor_data(results, provider, model), indent=2) + "\n",
                              encoding="utf-8")
        print(f"\n▶ recorded the floor in {FLOOR_PATH}")
    elif floor is None:
        print("\n▶ no floor recorded yet: run with --record-floor (make eval RECORD_FLOOR=1)")
    else:
        problems = regressions(results, floor)
        for problem in problems:
            print(f"✘ below the floor: {problem}")
        if not problems:
            print(f"\n✔ no metric below the floor ({floor.get('provider')}, "
                  f"recorded {floor.get('recorded')})")
    if not args.no_results:
        append_results(results, provider, model, wall_s, problems)
    print(f"▶ eval finished in {wall_s:.1f} s")
    if failed_runs:
        print(f"✘ runs that did not succeed: {', '.join(failed_runs)}")
    return 1 if problems or failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
