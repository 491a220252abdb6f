"""Reading a file a credential names (records file, key file): bounded, never blocking, a regular file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["MAX_KEY_FILE_BYTES", "MAX_RECORDS_FILE_BYTES", "NotARegularFile", "TooLarge",
           "read_bounded_text"]

#: A PEM key or DH prime is a few KiB; the README promises PEM <= 64 KiB.
MAX_KEY_FILE_BYTES = 64 * 1024
#: A records file holds a handful of records with their PEM keys.
MAX_RECORDS_FILE_BYTES = 1024 * 1024


class NotARegularFile(OSError):
    """The path is a FIFO, device, socket or directory: reading it could block or never end."""


class TooLarge(OSError):
    """The file is larger than the bound for its kind."""


def read_bounded_text(path: Path, limit: int) -> tuple[str, os.stat_result]:
    """UTF-8 text of the regular file `path` (at most `limit` bytes) and its fstat.

    Opened with O_NONBLOCK so a FIFO cannot hang the open, checked with fstat on the open
    descriptor (no race with the name), read at most `limit + 1` bytes so `/dev/zero` or a huge
    file cost no memory. Raises FileNotFoundError, NotARegularFile, TooLarge, OSError or
    UnicodeDecodeError.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotARegularFile(0, "not a regular file")
        raw = fh.read(limit + 1)
    if len(raw) > limit:
        raise TooLarge(0, f"larger than {limit} bytes")
    return raw.decode("utf-8"), st
