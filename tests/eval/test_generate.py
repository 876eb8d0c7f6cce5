"""The frozen set is reproducible: regenerating it gives the committed bytes."""

from __future__ import annotations

import json
from pathlib import Path

from eval.content import DOSSIERS
from eval.generate import DOSSIERS_DIR, generate
from scout_service.documents import extract_text


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    written = generate(tmp_path)
    committed = sorted(p.relative_to(DOSSIERS_DIR) for p in DOSSIERS_DIR.rglob("*") if p.is_file())
    assert sorted(p.relative_to(tmp_path) for p in written) == committed
    for relative in committed:
        assert (tmp_path / relative).read_bytes() == (DOSSIERS_DIR / relative).read_bytes(), (
            f"{relative} differs: run `python -m eval.generate` and commit")


def test_the_set_has_what_the_issue_asks_for() -> None:
    formats = {doc.format for d in DOSSIERS for doc in d.documents if doc is d.documents[0]}
    assert formats == {"md", "pdf", "docx"}
    assert len(DOSSIERS) >= 4
    for dossier in DOSSIERS:
        assert 2 <= len(dossier.documents) <= 4
        key = json.loads((DOSSIERS_DIR / dossier.id / "key.json").read_text())
        assert {c["report"] for c in key["checkpoints"]} == {
            "market", "competition", "price", "legal", "final"}
        assert key["distractors"]
    # One key fact sits past the first 400,000 characters of a long plan.
    plan = DOSSIERS_DIR / "skyscan" / "skyscan-plan.md"
    text = extract_text(plan.read_bytes(), plan.name, max_chars=10_000_000).text
    assert len(plan.read_bytes()) >= 300_000
    assert text.find("EUR 2,950 per turbine") > 400_000
