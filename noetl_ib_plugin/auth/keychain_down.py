"""A host's memory that the NoETL keychain did not answer: one small file in the host's token
cache directory, so later steps (fresh processes) go straight to the host's files for a period
instead of each spending a deadline on a server that accepts and never answers.

The file is trusted only when it is a regular file this user owns, mode 0600 (no group/other
bits), in a directory this user owns that no one else can enter; its `until` must be finite
and no further than one period ahead. Anything else counts as "not known to be down": the
next call probes the server, which costs at most one deadline. Either way the host's files
are what a step uses when the keychain is not answering; the marker only saves the wait.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from .bounds import finite_number

__all__ = ["DEFAULT_DOWN_PERIOD", "KeychainDown"]

log = logging.getLogger(__name__)

#: How long (seconds) a keychain that did not answer is left alone before one probe again.
DEFAULT_DOWN_PERIOD = 300.0
_MAX_BYTES = 256
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | \
    getattr(os, "O_CLOEXEC", 0)


class KeychainDown:
    """Whether the keychain `name` (a fingerprint of server and catalog) is known not to answer.

    `directory` is the host cache directory (None: this process's memory only), `period` in
    seconds, `clock` epoch seconds. Failures to read or write the file are never errors.
    """

    def __init__(self, directory: Path | None, name: str, *, period: float,
                 clock: Callable[[], float]) -> None:
        self.path = directory / f"keychain-down-{name}.json" if directory is not None else None
        self.period = period
        self.clock = clock
        self._until = 0.0  # this process's own memory

    def is_down(self) -> bool:
        """True while a failure recorded by this process or a trusted file is within its period."""
        now = self.clock()
        if now < self._until:
            return True
        until = self._read()
        if until is not None and now < until <= now + self.period:
            self._until = until
            return True
        return False

    def mark(self) -> None:
        """Remember that the keychain did not answer, here and for the host's later processes."""
        self._until = self.clock() + self.period
        if self.path is None or not self._private_dir():
            return
        try:
            fd, tmp = tempfile.mkstemp(prefix=".keychain-down.", dir=self.path.parent)
        except OSError:
            return
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"until": self._until}, fh)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.debug("could not record the keychain failure (%s)", exc.strerror)
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _private_dir(self) -> bool:
        """The directory is ours and closed to others (FileTokenCache makes it so)."""
        assert self.path is not None
        try:
            st = os.lstat(self.path.parent)
        except OSError:
            return False
        return (stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
                and not stat.S_IMODE(st.st_mode) & 0o077)

    def _read(self) -> float | None:
        """`until` from a file this user owns, 0600, in a private directory; else None."""
        if self.path is None or not self._private_dir():
            return None
        try:
            fd = os.open(self.path, _FLAGS)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ELOOP):
                log.debug("keychain failure record unreadable (%s)", exc.strerror)
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or \
                    stat.S_IMODE(st.st_mode) & 0o077:
                return None
            raw = os.read(fd, _MAX_BYTES + 1)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            data = json.loads(raw.decode("utf-8")) if len(raw) <= _MAX_BYTES else None
        except (ValueError, UnicodeDecodeError):
            return None
        return finite_number(data.get("until")) if isinstance(data, dict) else None
