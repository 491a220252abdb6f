"""Write a bearer into NoETL's local alias store, as `auth: {type: bearer, credential: X}` reads it."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import tempfile
from pathlib import Path

__all__ = ["validate_alias", "write_alias"]

log = logging.getLogger(__name__)

_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def validate_alias(alias: str) -> str:
    """An alias is a plain file name: letters, digits, `_ . -`; never a path."""
    from ..errors import InputError

    if not _ALIAS.match(alias or "") or alias in (".", ".."):
        raise InputError(
            f"alias {alias!r} is not a valid NoETL credential alias",
            field="export_alias",
            fix="use letters, digits, '_', '.' or '-' (e.g. ib_bearer); it becomes a file name.",
        )
    return alias


def write_alias(alias: str, secret: str, directory: Path | None = None) -> Path:
    """Atomically write `<dir>/<alias>` (dir 0700, file 0600): the raw token and a newline.

    That is exactly what `noetl credential set ALIAS` stores; NoETL trims the newline and sends
    `Authorization: Bearer <content>`. It refuses files readable by group or others, and a
    directory another user owns (ConfigurationError, field NOETL_CREDENTIALS_DIR).
    """
    validate_alias(alias)
    from ..credentials.permissions import check_trusted, trusted_owners
    from ..wiring.settings import credentials_dir_from

    target_dir = directory if directory is not None else credentials_dir_from(os.environ)
    target_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = target_dir.stat()
    if hasattr(os, "geteuid") and st.st_uid not in trusted_owners():
        # Not ours: root must not chmod it nor leave a bearer where its owner can swap files.
        check_trusted(st, target_dir, directory=True, field="NOETL_CREDENTIALS_DIR")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        log.info("tightening %s from %o to 700", target_dir, mode)
        os.chmod(target_dir, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{alias}.", suffix=".tmp", dir=target_dir)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secret.strip() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        path = target_dir / alias
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
