"""The docs cite only files inside the repository, and every one they cite exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "mlbudget/detection/drift/README.md"]
LINK = re.compile(r"\]\(([^)#\s]+)")
CITED_DOC = re.compile(r"`([^`\s<>$*]+\.md)`")


def _cited(doc: Path) -> list[str]:
    text = doc.read_text()
    return [t for t in LINK.findall(text) + CITED_DOC.findall(text) if not t.startswith(("http://", "https://"))]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_file_is_in_the_repository(doc):
    for target in _cited(doc):
        candidates = [(doc.parent / target).resolve(), (ROOT / target).resolve()]
        inside = [c for c in candidates if c.is_relative_to(ROOT)]
        assert inside, f"{doc.name} cites {target}, outside the repository"
        assert any(c.exists() for c in inside), f"{doc.name} cites {target}, which is not in the repository"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_doc_cites_the_shared_notes(doc):
    text = doc.read_text()
    assert "../shared" not in text and "MEASURING.md" not in text and "DESIGN.md" not in text
