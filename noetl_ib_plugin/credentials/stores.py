"""Where NoETL keeps credential records, searched in a documented order by `load_credential`."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import stat
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from ..errors import (
    ConfigurationError,
    CredentialError,
    CredentialNotFound,
    RedirectRefused,
    ResponseTooLarge,
)
from ..transport import limited_session, origin
from .files import MAX_RECORDS_FILE_BYTES, NotARegularFile, TooLarge, read_bounded_text
from .models import CredentialData, CredentialRecord
from .permissions import check_trusted
from .records import check_record_name, parse_record
from .server_records import check_server_record
from .urls import UnsafeURL, check_url

__all__ = [
    "AliasStore",
    "ChainStore",
    "CredentialStore",
    "FileStore",
    "ServerStore",
    "alias_env_var",
    "default_store",
    "known_names",
    "load_credential",
    "read_records_file",
]

log = logging.getLogger(__name__)


class CredentialStore(Protocol):
    """One place records live; `find` returns the raw record or None, `describe` says where it looked."""

    def find(self, name: str) -> Mapping[str, Any] | None:
        """The raw record named `name`, or None."""
        ...

    def describe(self, name: str) -> str:
        """Human description of where `name` was looked up (for not-found errors)."""
        ...


def _records_from(payload: Any, source: str) -> list[Mapping[str, Any]]:
    """A file holds one record, a list of records, or `{"credentials": [...]}`."""
    if isinstance(payload, Mapping) and isinstance(payload.get("credentials"), list):
        payload = payload["credentials"]
    if isinstance(payload, Mapping):
        return [payload]
    if isinstance(payload, list) and all(isinstance(r, Mapping) for r in payload):
        return list(payload)
    raise CredentialError(
        f"{source} does not hold credential records",
        field="credentials_file",
        fix='use one record, a list of records, or {"credentials": [...]} (see credentials.example.json).',
    )


def read_records_file(path: str | os.PathLike[str]) -> list[Mapping[str, Any]]:
    """Parse a credentials JSON file; errors name the file, never its content."""
    p = Path(path).expanduser()
    try:
        text, st = read_bounded_text(p, MAX_RECORDS_FILE_BYTES)
    except FileNotFoundError:
        raise CredentialError(
            f"credentials file {str(p)!r} does not exist",
            field="credentials_file",
            fix="check the path given by --credentials-file or NOETL_IB_CREDENTIALS.",
        ) from None
    except (NotARegularFile, TooLarge) as exc:
        raise CredentialError(
            f"credentials file {str(p)!r} is {exc.strerror}",
            field="credentials_file",
            fix="give a regular JSON file of credential records (see credentials.example.json).",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise CredentialError(
            f"credentials file {str(p)!r} cannot be read ({reason})",
            field="credentials_file",
            fix="check the path and its permissions; it must be UTF-8 JSON.",
        ) from None
    # Whoever can write it can point token_url at their own host: only you (or root) may.
    check_trusted(st, p, directory=False, field="credentials_file")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CredentialError(
            f"credentials file {str(p)!r} is not valid JSON (line {exc.lineno}, column {exc.colno})",
            field="credentials_file",
            fix="fix the JSON syntax; PEM newlines must be written as \\n inside strings.",
        ) from None
    return _records_from(payload, f"credentials file {str(p)!r}")


class FileStore:
    """An explicit JSON file: `--credentials-file` or `NOETL_IB_CREDENTIALS`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    def find(self, name: str) -> Mapping[str, Any] | None:
        for record in read_records_file(self.path):
            if record.get("name") == name:
                return record
        return None

    def describe(self, name: str) -> str:
        return f"file {str(self.path)!r}"


def alias_env_var(alias: str) -> str:
    """NoETL's variable name for an alias: upper-cased, `-` and `.` become `_`."""
    return "NOETL_CREDENTIAL_" + re.sub(r"[-.]", "_", alias).upper()


class AliasStore:
    """NoETL's local alias store: `NOETL_CREDENTIAL_<ALIAS>` in `environ`, else `<directory>/<alias>`.

    `directory` is NoETL's alias directory (a front door's `Settings.credentials_dir`:
    ``$NOETL_CREDENTIALS_DIR``, else (XDG config or ~/.config)/noetl/credentials); `environ` the
    mapping the front door read its settings from (the alias is known only at lookup time).
    """

    def __init__(self, directory: str | os.PathLike[str], environ: Mapping[str, str]) -> None:
        self.directory = Path(directory)
        self._environ = environ

    def _parse(self, alias: str, text: str, source: str) -> Mapping[str, Any]:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            raise CredentialError(
                f"{source} does not hold a JSON credential record",
                field="credential",
                fix="store the whole record, reading the file on standard input: "
                f"`noetl credential set {shlex.quote(alias)} < record.json`; a bare token is "
                "not an IBKR credential.",
            ) from None
        if not isinstance(payload, Mapping):
            raise CredentialError(
                f"{source} does not hold a JSON object",
                field="credential",
                fix="store one credential record (see credentials.example.json).",
            )
        record = dict(payload)
        record.setdefault("name", alias)
        return record

    def find(self, name: str) -> Mapping[str, Any] | None:
        env = alias_env_var(name)
        value = self._environ.get(env)
        if value:
            return self._parse(name, value, f"environment variable {env}")
        if "/" in name or name in ("", ".", ".."):
            return None
        path = self.directory / name
        try:
            mode = path.stat().st_mode
        except OSError:
            return None
        # Writable by others or owned by someone else: refused (it decides where keys are sent).
        check_trusted(self.directory.stat(), self.directory, directory=True, field="NOETL_CREDENTIALS_DIR")
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("credential file %s is readable by group or others; run `chmod 600 %s`", path, path)
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
            with os.fdopen(fd, "rb") as fh:
                check_trusted(os.fstat(fh.fileno()), path, directory=False, field="credential")
                text = fh.read(1 << 20).decode("utf-8")
        except (OSError, UnicodeDecodeError):
            raise CredentialError(
                f"alias file {str(path)!r} cannot be read",
                field="credential",
                fix="check its permissions (it should be mode 600 and owned by you).",
            ) from None
        return self._parse(name, text, f"alias file {str(path)!r}")

    def describe(self, name: str) -> str:
        return f"env {alias_env_var(name)}, alias file {str(self.directory / name)!r}"


#: Largest answer read from a NoETL server (bytes): a credential record is a few KiB.
SERVER_MAX_BYTES = 1024 * 1024
#: Total deadline (seconds) of one NoETL server call.
SERVER_DEADLINE = 15.0


def server_error(message: str, fix: str, field: str = "NOETL_SERVER_URL") -> ConfigurationError:
    """A ConfigurationError about the NoETL server; callers pass only the URL's origin."""
    return ConfigurationError(message, field=field, fix=fix)


#: Hosts the operator trusts over plain http (e.g. an in-cluster NoETL server), comma-separated.
HTTP_SERVER_HOSTS_ENV = "NOETL_IB_HTTP_SERVER_HOSTS"


def check_server_url(url: str, field: str = "NOETL_SERVER_URL", *,
                     trusted_http_hosts: Collection[str] = ()) -> str:
    """The NoETL server URL under the one URL rule (https unless loopback, no userinfo).

    Plain http to another host passes only when that host is in `trusted_http_hosts`: the names
    the operator gives in ``$NOETL_IB_HTTP_SERVER_HOSTS`` (a front door's
    `Settings.http_server_hosts`; an in-cluster server the network already protects); every
    other rule still applies.
    """
    try:
        checked = check_url(url)
    except UnsafeURL as exc:
        trusted = {h.strip().lower() for h in trusted_http_hosts if h.strip()}
        try:
            relaxed = check_url(url, require_https=False) if trusted else None
        except UnsafeURL:
            relaxed = None
        host = (urlsplit(relaxed.url).hostname or "").lower() if relaxed else ""
        if relaxed is not None and host in trusted:
            return relaxed.url.rstrip("/")
        raise server_error(
            f"the NoETL server URL {exc}",
            "use e.g. https://noetl.example.com (or http://localhost:8082 for a local server); "
            "credentials are never sent over plain http to another host unless the operator "
            f"names it, e.g. export {HTTP_SERVER_HOSTS_ENV}=noetl for an in-cluster server.",
            field,
        ) from None
    return checked.url.rstrip("/")


class ServerStore:
    """A NoETL server: `GET {url}/api/credentials/<name>?include_data=true[&execution_id=]`.

    Inside a step, `execution_id` is passed like the worker does so the server can scope access.
    The URL must pass `check_server_url` (`trusted_http_hosts` as there); each call has a total deadline of
    SERVER_DEADLINE seconds, its answer is capped at SERVER_MAX_BYTES, redirects are refused.
    """

    def __init__(self, url: str, *, timeout: float = 10.0, execution_id: str | None = None,
                 trusted_http_hosts: Collection[str] = ()) -> None:
        self.url = url.strip().rstrip("/")
        self.timeout = timeout
        self.execution_id = execution_id
        #: Hosts trusted over plain http (`check_server_url`).
        self.trusted_http_hosts = tuple(trusted_http_hosts)
        #: What messages show: the origin only, never userinfo.
        self.display = origin(self.url)

    def find(self, name: str) -> Mapping[str, Any] | None:
        import requests

        base = check_server_url(self.url, trusted_http_hosts=self.trusted_http_hosts)
        endpoint = f"{base}/api/credentials/{quote(name, safe='')}"
        try:
            params = {"include_data": "true"}
            if self.execution_id:
                params["execution_id"] = self.execution_id
            with limited_session(deadline=SERVER_DEADLINE, max_bytes=SERVER_MAX_BYTES) as http:
                resp = http.get(endpoint, params=params, timeout=self.timeout,
                                allow_redirects=False)
        except (requests.RequestException, RedirectRefused, ResponseTooLarge) as exc:
            raise server_error(
                f"NoETL server {self.display!r} did not answer usably ({type(exc).__name__})",
                "start the server, correct NOETL_SERVER_URL, or unset it to use local stores.",
            ) from None
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise server_error(
                f"NoETL server {self.display!r} answered HTTP {resp.status_code} for "
                f"credential {name!r}",
                "check the server logs and that your NoETL session may read credentials.",
            )
        try:
            payload = resp.json()
        except (ValueError, RecursionError):
            raise server_error(
                f"NoETL server {self.display!r} returned a non-JSON body",
                "point NOETL_SERVER_URL at the NoETL API (e.g. http://localhost:8082).",
            ) from None
        if isinstance(payload, Mapping) and isinstance(payload.get("credential"), Mapping):
            payload = payload["credential"]
        if not isinstance(payload, Mapping) or "data" not in payload:
            raise server_error(
                f"NoETL server {self.display!r} returned credential {name!r} without data",
                "the server must answer `GET /api/credentials/NAME?include_data=true` with "
                "the record's data (NoETL 2.x or later).",
            )
        check_server_record(name, payload, self.display)
        return payload

    def describe(self, name: str) -> str:
        return f"NoETL server {self.display!r}"


class ChainStore:
    """Stores tried in order; the first that knows the name wins."""

    def __init__(self, stores: Sequence[CredentialStore]) -> None:
        self.stores = list(stores)

    def find(self, name: str) -> Mapping[str, Any] | None:
        for store in self.stores:
            record = store.find(name)
            if record is not None:
                return record
        return None

    def describe(self, name: str) -> str:
        return "; ".join(s.describe(name) for s in self.stores)


def default_store(
    credentials_file: str | os.PathLike[str] | None,
    *,
    alias_dir: str | os.PathLike[str],
    server_url: str | None,
    environ: Mapping[str, str],
    trusted_http_hosts: Collection[str] = (),
) -> ChainStore:
    """The documented order: explicit file, NoETL alias store, NoETL server (if configured),
    then the `env` record built from OAUTH_* variables (credentials/env_store.py).

    A front door passes what its `Settings` read: `credentials_file` (``--credentials-file``,
    else ``$NOETL_IB_CREDENTIALS``), `alias_dir`, `server_url` (``$NOETL_SERVER_URL``),
    `trusted_http_hosts`, and the `environ` mapping the alias and `env` records are read from.
    """
    stores: list[CredentialStore] = []
    if credentials_file:
        stores.append(FileStore(credentials_file))
    stores.append(AliasStore(alias_dir, environ))
    if server_url:
        stores.append(ServerStore(server_url, trusted_http_hosts=trusted_http_hosts))
    from .env_store import EnvironmentStore

    stores.append(EnvironmentStore(environ))
    return ChainStore(stores)


def load_credential(
    name: str,
    *,
    store: CredentialStore,
    types: Mapping[str, type[CredentialData]] | None = None,
) -> CredentialRecord:
    """Resolve a record by name through `store` (e.g. `default_store(...)`) and validate it for
    its type."""
    check_record_name(name)
    chain = store
    raw = chain.find(name)
    if raw is None:
        searched = (
            [s.describe(name) for s in chain.stores]
            if isinstance(chain, ChainStore)
            else [chain.describe(name)]
        )
        raise CredentialNotFound(name, searched, known_names(chain))
    return parse_record(raw, types)


def known_names(store: CredentialStore) -> list[str]:
    """Record names the local stores hold (files, alias directory), for did-you-mean hints.

    Best effort: an unreadable file or directory contributes nothing; servers are not listed.
    """
    names: set[str] = set()
    stores = store.stores if isinstance(store, ChainStore) else [store]
    for one in stores:
        try:
            if isinstance(one, FileStore):
                names.update(str(r["name"]) for r in read_records_file(one.path)
                             if isinstance(r.get("name"), str))
            elif isinstance(one, AliasStore) and one.directory.is_dir():
                names.update(p.name for p in one.directory.iterdir()
                             if p.is_file() and not p.name.startswith("."))
        except (CredentialError, OSError):
            continue
    return sorted(names)
