"""Every `noetl.plugins` plugin's code is in the warm server's fingerprint (issue 25 item 7).

An editable third-party plugin (its dist-info on sys.path, its source in a working tree, as a
path-based editable install leaves them) edited after `warm start` is never served stale.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from .warmfix import Warm, pid_alive, poll

PLUGIN = """
from pydantic import BaseModel
from noetl_ib_plugin import Action, hookimpl


class EchoIn(BaseModel):
    text: str


@hookimpl
def noetl_register_actions(register):
    register(Action("nibplug_echo", EchoIn, lambda client, args: {"echo": args.text},
                    "Echo, version {version}."))
"""


def _editable_plugin(root: Path) -> tuple[Path, str]:
    """A plugin `nibplug` whose dist-info and source live in two temp dirs; (source, PYTHONPATH)."""
    site, src = root / "site", root / "src" / "nibplug"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text(textwrap.dedent(PLUGIN).replace("{version}", "1"))
    dist = site / "nibplug-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nibplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[noetl.plugins]\nnibplug = nibplug\n")
    return src / "__init__.py", f"{site}{os.pathsep}{src.parent}"


def _description(warm: Warm, pythonpath: str, *flags: str) -> tuple[str, str]:
    """The plugin action's description as `noetl-ib actions --json` prints it, and stderr."""
    proc = warm.run(*flags, "actions", "--json", PYTHONPATH=pythonpath)
    assert proc.returncode == 0, proc.stderr
    actions = json.loads(proc.stdout)
    listed = actions["actions"] if isinstance(actions, dict) else actions
    (echo,) = [a for a in listed if a["name"] == "nibplug_echo"]
    return str(echo["description"]), proc.stderr


def test_editable_plugin_edited_after_start_is_not_served_stale(warm: Warm, tmp_path: Path) -> None:
    """A plugin edited after `warm start` runs its new code, the stale server exits, a new one serves."""
    source, pythonpath = _editable_plugin(tmp_path)
    start = warm.run("warm", "start", PYTHONPATH=pythonpath)
    assert start.returncode == 0, start.stderr
    pid = warm.pid = json.loads(start.stdout)["pid"]
    assert _description(warm, pythonpath, "-v") == ("Echo, version 1.", "")  # served
    source.write_text(textwrap.dedent(PLUGIN).replace("{version}", "2"))
    st = source.stat()
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    description, err = _description(warm, pythonpath, "-v")
    assert description == "Echo, version 2."
    assert "installed code changed" in err
    poll(lambda: not pid_alive(pid), what="the stale server to exit")
    restart = warm.run("warm", "start", PYTHONPATH=pythonpath)
    warm.pid = json.loads(restart.stdout)["pid"]
    description, err = _description(warm, pythonpath, "-v")
    assert (description, err) == ("Echo, version 2.", "")  # served, not refused


def test_plugin_roots_locate_the_plugin_source_without_importing_it(tmp_path: Path) -> None:
    """`plugin_roots` finds an entry point's package directory by its finder, not by importing it."""
    import sys

    from noetl_ib_plugin.cli.warm.paths import plugin_roots

    _, pythonpath = _editable_plugin(tmp_path)
    sys.path[:0] = pythonpath.split(os.pathsep)
    try:
        assert plugin_roots() == [str(tmp_path / "src" / "nibplug")]
        assert "nibplug" not in sys.modules
    finally:
        del sys.path[:2]


def test_every_file_of_the_package_is_in_the_code_fingerprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """An edit under noetl_ib_plugin/actions (not only cli/) changes the code key: never served stale."""
    import noetl_ib_plugin
    from noetl_ib_plugin.cli.warm import paths

    monkeypatch.setattr(paths, "plugin_roots", list)  # the package alone, not as its own plugin
    source = Path(noetl_ib_plugin.__file__).parent / "actions" / "accounts.py"
    before = paths.code_key()
    st = source.stat()
    try:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        assert paths.code_key() != before
    finally:
        os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert paths.code_key() == before
