"""The parent-directory rule for directories we write secrets or sockets into (stdlib only).

Shared by the token cache and the warm step server; kept free of imports so the warm client,
which runs before anything heavy is loaded, can use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["unsafe_ancestor"]


def unsafe_ancestor(directory: Path) -> tuple[Path, str] | None:
    """The first directory above `directory` whose entries another user could change, and why.

    Every parent (of the path as given and as resolved) must belong to this user or root and
    not be writable by group or others unless sticky (a /tmp is fine): else its owner could
    swap `directory` for a symlink between our checks and our writes. None on no-uid systems.
    """
    if not hasattr(os, "geteuid"):  # pragma: no cover - no uids (Windows)
        return None
    euid = os.geteuid()
    absolute = Path(os.path.abspath(directory))
    for parent in sorted({*absolute.parents, *absolute.resolve().parents}):
        try:
            st = os.stat(parent)
        except OSError:
            continue
        if st.st_uid not in (euid, 0):
            return parent, f"owned by uid {st.st_uid}"
        if stat.S_IMODE(st.st_mode) & 0o022 and not st.st_mode & stat.S_ISVTX:
            return parent, f"writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
    return None
