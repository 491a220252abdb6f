"""`warm start` never works inside a directory another user can rename things in."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from .warmfix import Warm


@pytest.fixture
def shared_parent() -> Iterator[Path]:
    """A directory under /tmp that the test opens to others (no sticky bit)."""
    parent = Path(tempfile.mkdtemp(prefix="nibanc", dir="/tmp"))
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _start(cache: Path) -> tuple[int, dict[str, object], str]:
    proc = Warm(cache=cache).run("warm", "start", "--idle", "30")
    error = json.loads(proc.stderr.strip().splitlines()[-1])["error"] if proc.stderr else {}
    return proc.returncode, error, proc.stdout


def test_parent_writable_by_others_refuses_start(shared_parent: Path) -> None:
    """NOETL_IB_CACHE_DIR under a world-writable, non-sticky directory: start is refused, no socket."""
    os.chmod(shared_parent, 0o777)
    cache = shared_parent / "cache"
    code, error, out = _start(cache)
    assert (code, out) == (2, "")
    assert error["field"] == "NOETL_IB_CACHE_DIR"
    assert "writable by group or others (mode 777)" in str(error["message"])
    assert not (cache / "warm").exists()


def test_cache_dir_owned_by_another_user_refuses_start(shared_parent: Path) -> None:
    """A cache directory another uid owns (and could swap `warm/` in) is refused before any bind."""
    if os.geteuid() != 0:
        pytest.skip("chown to another uid needs root")
    cache = shared_parent / "cache"
    cache.mkdir(mode=0o755)
    os.chown(cache, 1001, 1001)
    code, error, _ = _start(cache)
    assert code == 2
    assert "owned by uid 1001" in str(error["message"])
    assert not (cache / "warm").exists()
