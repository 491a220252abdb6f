"""One copy of the OAuth 1.0a vectors under tests/, equal to the shared source where it is present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT / "tests" / "data" / "oauth1a_vectors.json"
SHARED = ROOT.parent / "shared" / "vectors" / "oauth1a.json"


def test_exactly_one_copy_under_tests() -> None:
    """No second vectors file hides anywhere under tests/."""
    copies = [p for p in (ROOT / "tests").rglob("*.json") if "vectors" in p.name]
    assert copies == [VECTORS]


def test_header_names_source_and_checks() -> None:
    """The copy says where it comes from and what checked it."""
    head = json.loads(VECTORS.read_text())
    assert "shared/vectors/oauth1a.json" in head["source"]
    assert "independent implementation" in head["checked_by"]


def test_cases_equal_the_shared_source() -> None:
    """The cases are the shared file's cases, unchanged (skipped outside this workspace)."""
    if not SHARED.is_file():
        pytest.skip("shared/vectors/oauth1a.json is not beside this checkout")
    assert json.loads(VECTORS.read_text())["cases"] == json.loads(SHARED.read_text())["cases"]
