"""Every relative link in every Markdown file of the repository resolves inside the repository."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: `[text](target)` links; images too. Targets with a scheme or a bare anchor are not files.
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
#: An absolute path on someone's machine, e.g. `/work/...` or `/home/...`: never in the docs.
MACHINE_PATH = re.compile(r"(?<![\w.:/])/(?:work|home|Users)/[\w./-]+")


def _markdown_files() -> list[Path]:
    """Tracked *.md files (falls back to a walk outside a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, check=True,
                             capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        out = []
    files = [ROOT / f for f in out] or [
        p for p in ROOT.rglob("*.md") if not {".venv", ".git", "node_modules"} & set(p.parts)
    ]
    return sorted(files)


FILES = _markdown_files()


def broken_links(path: Path) -> list[str]:
    """The relative link targets in one Markdown file that do not resolve inside the repository."""
    text = path.read_text(encoding="utf-8")
    problems = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue
        file_part = target.split("#", 1)[0]
        resolved = (ROOT / file_part.lstrip("/")) if file_part.startswith("/") else (
            path.parent / file_part)
        resolved = resolved.resolve()
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            problems.append(target)
    problems += [f"machine path {m}" for m in MACHINE_PATH.findall(text)]
    return problems


def test_markdown_files_are_found() -> None:
    """The README and the simulator README are among the files checked."""
    names = {str(p.relative_to(ROOT)) for p in FILES}
    assert {"README.md", "noetl_ib_plugin/simulator/README.md"} <= names


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_every_relative_link_resolves(path: Path) -> None:
    """Each `[text](relative/path)` target exists in the repository; no machine paths."""
    assert broken_links(path) == []


def test_the_checker_flags_missing_outside_and_machine_paths(tmp_path: Path) -> None:
    """A missing file, a path escaping the repository and `/work/...` are all reported."""
    doc = ROOT / "README.md"
    fake = tmp_path / "x.md"
    fake.write_text("[a](README.md) [b](nope.md) [c](../../etc/passwd) [d](https://x.y) "
                    "speaks `/work/shared/ibkr-web-api.md`")
    assert broken_links(doc) == []
    found = broken_links(fake)
    assert "nope.md" in found and "../../etc/passwd" in found and "README.md" in found
    assert "machine path /work/shared/ibkr-web-api.md" in found
