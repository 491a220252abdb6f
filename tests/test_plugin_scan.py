"""The direct entry-point scan finds exactly the distributions importlib.metadata would."""

from __future__ import annotations

import sys
import zipfile
from collections.abc import Iterable
from importlib.metadata import Distribution, distributions
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noetl_ib_plugin.wiring import plugins

_KINDS = st.sampled_from(["plugin", "other_group", "no_entry_points", "egg_info_plugin",
                          "upper_case_plugin", "mention_in_comment"])


def _write(site: Path, index: int, kind: str) -> None:
    """One installed distribution of the given kind."""
    name = f"pad{index}"
    suffix = {"egg_info_plugin": ".egg-info", "upper_case_plugin": ".DIST-INFO"}.get(
        kind, ".dist-info")
    info = site / f"{name}-1.0{suffix}"
    info.mkdir()
    meta = "PKG-INFO" if suffix == ".egg-info" else "METADATA"
    (info / meta).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    text = {
        "plugin": f"[noetl.plugins]\n{name} = {name}\n",
        "egg_info_plugin": f"[noetl.plugins]\n{name} = {name}\n",
        "upper_case_plugin": f"[noetl.plugins]\n{name} = {name}\n",
        "other_group": f"[console_scripts]\n{name} = {name}:main\n",
        "mention_in_comment": f"# noetl.plugins\n[console_scripts]\n{name} = {name}:main\n",
    }.get(kind)
    if text is not None:
        (info / "entry_points.txt").write_text(text)


def _names(dists: Iterable[Distribution]) -> list[str]:
    """Distribution names, in order."""
    return [d.metadata["Name"] for d in dists]


def _reference() -> list[str]:
    """importlib.metadata's own answer: every distribution whose entry points mention the group."""
    return _names([d for d in distributions()
                   if "noetl.plugins" in (d.read_text("entry_points.txt") or "")])


@settings(max_examples=25, deadline=None)
@given(kinds=st.lists(_KINDS, max_size=8))
def test_direct_scan_equals_importlib_metadata(kinds: list[str], tmp_path_factory:
                                               pytest.TempPathFactory) -> None:
    """Over generated site directories the direct scan lists the same distributions, in order."""
    site = tmp_path_factory.mktemp("site")
    for index, kind in enumerate(kinds):
        _write(site, index, kind)
    saved = list(sys.path)
    sys.path.insert(0, str(site))
    try:
        assert _names(plugins.plugin_distributions()) == _reference()
    finally:
        sys.path[:] = saved


def test_zip_on_sys_path_takes_the_full_scan(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A zip on sys.path holding a plugin is found: the scan falls back to importlib.metadata."""
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[noetl.plugins]\nzipped = zipped\n")
    monkeypatch.syspath_prepend(str(archive))
    assert "zipped" in _names(plugins.plugin_distributions())
    assert _names(plugins.plugin_distributions()) == _reference()
