"""The documents a newcomer reads: README.md stays short, and every relative link in it, in docs/
and in experiments/README.md leads to a file that exists (and, for a Markdown file, to a heading
that exists when the link names one)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 220
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def documents() -> list[Path]:
    docs = sorted((ROOT / "docs").rglob("*.md"))
    return [ROOT / "README.md", *docs, ROOT / "experiments" / "README.md"]


def prose(path: Path, inline_code: bool = False) -> str:
    """The Markdown without its fenced code blocks and (unless ``inline_code``) its inline code: a
    link inside code is not a link."""
    out, fenced = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line.strip()):
            fenced = not fenced
            continue
        if not fenced:
            out.append(line if inline_code else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(path, inline_code=True).splitlines():
        m = re.match(r"^#{1,6}\s+(.*)$", line)
        if not m:
            continue
        base = slug(m.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(prose(path))]


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target) and not target.startswith("//")


@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_leads_somewhere(doc: Path) -> None:
    assert doc.is_file(), doc
    broken = []
    for target in links(doc):
        if not relative(target):
            continue
        file_part, _, anchor = target.partition("#")
        dest = doc if not file_part else (doc.parent / unquote(file_part)).resolve()
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no heading '#{anchor}' in {dest.relative_to(ROOT)})")
    assert not broken, f"{doc.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_is_short_and_keeps_its_quick_start() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    assert "## Quick start" in text
    assert "bash scripts/run-app.sh" in text and "bash scripts/test.sh" in text
    assert "python -m training.judges" in text, "the Results table says how to reproduce it"


def test_the_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Title\n\nsee [b](b.md) and [here](#title) and [x](#nope)\n")
    (tmp_path / "b.md").write_text("# Other\n")
    assert links(tmp_path / "a.md") == ["b.md", "#title", "#nope"]
    assert anchors(tmp_path / "a.md") == {"title"}
    assert slug("Phase, vocoder and decode-time changes") == "phase-vocoder-and-decode-time-changes"
    assert slug("Is the head or the trunk the limit? (`experiments/natural_voice_headfit.py`)") == (
        "is-the-head-or-the-trunk-the-limit-experimentsnatural_voice_headfitpy"
    )


def test_no_sitting_or_ticket_numbers_in_the_documents() -> None:
    pattern = re.compile(r"\b[Ss]ession [0-9]|\b[Ii]ssue[- ][0-9]|\(issue")
    hits = [
        f"{doc.relative_to(ROOT)}:{i}"
        for doc in documents()
        for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not hits, hits
