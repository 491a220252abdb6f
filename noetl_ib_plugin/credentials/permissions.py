"""Who may have written a file that holds credentials: only this user (or root), never group/others."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

from ..errors import ConfigurationError

__all__ = ["check_trusted", "trusted_owners"]


def trusted_owners() -> frozenset[int]:
    """This process's effective uid and root: the only users who may own credential files."""
    return frozenset({os.geteuid(), 0}) if hasattr(os, "geteuid") else frozenset()


def _user_name() -> str:
    """The current user's name for a copy-pasteable `chown` (falls back to the uid)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # pragma: no cover - no pwd database
        return str(os.geteuid()) if hasattr(os, "geteuid") else "$USER"


def check_trusted(st: os.stat_result, path: Path, *, directory: bool, field: str) -> None:
    """Refuse a file or directory that group/others can write or another user owns.

    Anyone who can write a credential file can point `token_url` at their own host, so such a
    file is not loaded at all. Raises ConfigurationError whose fix is the exact command to run.
    Skipped where the OS has no uids (Windows).
    """
    owners = trusted_owners()
    if not owners:  # pragma: no cover - Windows
        return
    what = "directory" if directory else "file"
    if st.st_uid not in owners:
        raise ConfigurationError(
            f"credential {what} {str(path)!r} is owned by uid {st.st_uid}, not by you; whoever "
            "owns it can change where your keys and tokens are sent",
            field=field,
            fix=f"check its content, then run `chown {_user_name()} {shlex.quote(str(path))}`.",
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        wanted = "700" if directory else "600"
        raise ConfigurationError(
            f"credential {what} {str(path)!r} is writable by group or others (mode {mode:o}); "
            "anyone who can write it can change where your keys and tokens are sent",
            field=field,
            fix=f"check its content, then run `chmod {wanted} {shlex.quote(str(path))}`.",
        )
