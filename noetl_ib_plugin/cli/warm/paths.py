"""Where the warm server's socket lives, who may own it, and the fingerprint of the code it serves.

Standard library only: the `noetl-ib` console script calls this before it decides to import
anything heavy. The ownership rules are those of the token cache (`auth/cache.py`): a 0700
directory this user owns, never a symlink, inside the same cache directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path

from ...common.ancestors import unsafe_ancestor as _unsafe_parent

__all__ = [
    "APPLIED_ENV",
    "MAX_SOCKET_PATH",
    "PLUGIN_GROUP",
    "cache_dir_problem",
    "code_key",
    "job_key",
    "plugin_roots",
    "socket_path",
    "unsafe_ancestor",
    "untrusted_reason",
    "warm_dir",
]

#: AF_UNIX paths are limited to 108 bytes including the terminating NUL (Linux `sun_path`).
MAX_SOCKET_PATH = 107
#: The noetl_ib_plugin package (this file is noetl_ib_plugin/cli/warm/paths.py): all of it is
#: fingerprinted, not only cli/.
PACKAGE_DIR = Path(__file__).resolve().parents[2]
#: PYTHON* variables a forked child applies itself (all others must match the server's).
APPLIED_ENV = frozenset({"PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUNBUFFERED"})


def cache_dir(env: Mapping[str, str]) -> Path:
    """`NOETL_IB_CACHE_DIR`, else `$XDG_CACHE_HOME/noetl-ib`, else `~/.cache/noetl-ib` (as auth/cache.py)."""
    explicit = env.get("NOETL_IB_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    home = env.get("HOME")
    base = Path(xdg).expanduser() if xdg else (Path(home) if home else Path.home()) / ".cache"
    return base / "noetl-ib"


def cache_dir_problem(env: Mapping[str, str]) -> str | None:
    """Why the cache directory cannot hold the socket, or None: a relative path would name a
    different directory in every working directory (and the server runs in /)."""
    for name in ("NOETL_IB_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):  # cache_dir's order
        value = env.get(name)
        if value:
            if os.path.isabs(os.path.expanduser(value)):
                return None
            return f"{name}={value!r} is a relative path"
    return None


def warm_dir(env: Mapping[str, str]) -> Path:
    """The directory of the sockets: `<cache dir>/warm`, mode 0700."""
    return cache_dir(env) / "warm"


def socket_path(env: Mapping[str, str]) -> Path:
    """One socket per interpreter and installed package, so two venvs never share a server."""
    ident = hashlib.sha256(f"{sys.executable}\0{PACKAGE_DIR}".encode()).hexdigest()[:12]
    return warm_dir(env) / f"s-{ident}.sock"


def _euid() -> int:
    return os.geteuid()


def _own_plain_directory(path: Path) -> tuple[os.stat_result, str | None]:
    """`path`'s lstat and why it is not a plain directory of this user (None when it is)."""
    try:
        st = os.lstat(path)
    except OSError as exc:
        return os.stat_result((0,) * 10), f"cannot stat {path}: {exc.strerror}"
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        return st, f"{path} is not a plain directory"
    if st.st_uid != _euid():
        return st, f"{path} is owned by uid {st.st_uid}, not by this user (uid {_euid()})"
    return st, None


def untrusted_reason(directory: Path, sock: Path | None) -> str | None:
    """Why `directory` (and `sock`, if given) must not be used, or None when both are ours.

    The directory must be a real directory this user owns with no group/other access; the
    socket a socket this user owns. The peer's SO_PEERCRED uid is checked after connecting too.
    """
    st, problem = _own_plain_directory(directory)
    if problem is not None:
        return problem
    if stat.S_IMODE(st.st_mode) & 0o077:
        return f"{directory} is open to group or others (mode {stat.S_IMODE(st.st_mode):o}, want 700)"
    if sock is None:
        return None
    try:
        sst = os.lstat(sock)
    except OSError as exc:
        return f"cannot stat {sock.name}: {exc.strerror}"
    if not stat.S_ISSOCK(sst.st_mode):
        return f"{sock.name} is not a socket"
    if sst.st_uid != _euid():
        return f"{sock.name} is owned by uid {sst.st_uid}, not by this user (uid {_euid()})"
    return None


def unsafe_ancestor(cache: Path) -> str | None:
    """Why the cache directory or one above it lets another user swap `warm/` away, or None.

    The token cache's rule (`auth/cache.py`): the cache directory is this user's and no symlink;
    every directory above it belongs to this user or root and is not writable by group or
    others unless sticky (/tmp). Else its owner could replace `warm/` by a symlink between
    `warm start`'s checks and its bind, unlink and log writes.
    """
    _, problem = _own_plain_directory(cache)
    if problem is not None:
        return problem
    unsafe = _unsafe_parent(cache)
    if unsafe is not None:
        parent, problem = unsafe
        return f"its parent {parent} is {problem}, who could replace it"
    return None


#: The entry-point group of NoETL plugins (`plugins.ENTRY_POINT_GROUP`; importing it costs pluggy).
PLUGIN_GROUP = "noetl.plugins"


def _py_files(root: str) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every .py file under `root` (a directory, or one module file)."""
    out: list[tuple[str, int, int]] = []
    if not os.path.isdir(root):
        try:
            st = os.stat(root)
        except OSError:
            return [(root, -1, -1)]
        return [(root, st.st_size, st.st_mtime_ns)]
    todo = [root]
    while todo:
        current = todo.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name != "__pycache__":
                            todo.append(entry.path)
                    elif entry.name.endswith(".py"):
                        st = entry.stat()
                        out.append((entry.path, st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((current, -1, -1))
    out.sort()
    return out


def _group_modules(text: str) -> set[str]:
    """Top-level module names of the `noetl.plugins` entry points in an entry_points.txt."""
    tops: set[str] = set()
    section = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == PLUGIN_GROUP and "=" in line and not line.startswith(("#", ";")):
            value = line.split("=", 1)[1].strip()
            tops.add(value.split(":", 1)[0].split(".", 1)[0].strip())
    tops.discard("")
    return tops


def plugin_roots() -> list[str]:
    """Where the code of every installed `noetl.plugins` entry point lives, editable ones too.

    Found as `plugins.plugin_distributions` finds them (each `*.dist-info`/`*.egg-info` on
    sys.path), then the entry point's top-level module located without importing it
    (`importlib.util.find_spec` asks the same finders an import would: an editable install's
    finder, a .pth path entry, site-packages).
    """
    import importlib.util

    tops: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.lower().endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(entry or ".", name, "entry_points.txt"),
                              encoding="utf-8") as fh:
                        text = fh.read()
                except OSError:
                    continue
                if PLUGIN_GROUP in text:
                    tops |= _group_modules(text)
    roots: list[str] = []
    for top in sorted(tops - {PACKAGE_DIR.name}):
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            roots.append(f"<missing {top}>")
        elif spec.submodule_search_locations:
            roots.extend(sorted(spec.submodule_search_locations))
        elif spec.origin:
            roots.append(spec.origin)
    return roots


def code_key() -> str:
    """Digest of what a fresh process would import: interpreter, sys.path, the package's files
    and the files of every `noetl.plugins` plugin (editable installs included).

    Site directories contribute their mtime (installing or removing a distribution changes it);
    the .py files their size and mtime. A server whose key differs from its client's
    serves stale code, so the client runs in process and the server exits.
    """
    from ..._version import __version__

    h = hashlib.sha256()
    h.update(f"{__version__}\0{sys.executable}\0{sys.version}\0".encode())
    sites = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    for entry in sites:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = -1
        h.update(f"p\0{entry}\0{mtime}\0".encode())
    for root in [str(PACKAGE_DIR), *plugin_roots()]:
        h.update(f"r\0{root}\0".encode("utf-8", "surrogateescape"))
        for path, size, mtime in _py_files(root):
            h.update(f"f\0{path}\0{size}\0{mtime}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def job_key(env: Mapping[str, str]) -> str:
    """Digest of what shapes an interpreter or pydantic at start-up: sys.path, PYTHON*, PYDANTIC*.

    A child cannot apply them after the fact (imports, hash seed, plugins), so a job whose
    values differ from the server's runs in process instead (the server stays).
    """
    h = hashlib.sha256()
    h.update("\0".join(sys.path).encode("utf-8", "surrogateescape"))
    for name in sorted(env):
        if name.startswith(("PYTHON", "PYDANTIC")) and name not in APPLIED_ENV:
            h.update(f"{name}\0{env[name]}\0".encode("utf-8", "surrogateescape"))
    return h.hexdigest()
