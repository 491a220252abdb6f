"""What `--state-dir` keeps across restarts: keys, the port when given, the book, registrations.

Files (all mode 600, the directory holds private keys):
- `keys.json`: the built-in clients' keys, so `credentials.json` keeps working;
- `port.json`: the port the operator asked for, reused when a restart names none;
- `clients.json`: user-registered OAuth 2.0 clients / OAuth 1.0a consumers (public keys only,
  plus the consumer's access token secret, which IBKR's server side also knows in clear);
- `book.pickle`: accounts, positions and orders, written at stop and read at start; read only
  when it and the directory belong to this user and nobody else can write them (unpickling
  runs code), else skipped with a warning saying what to run.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .keys import SimKeys, encrypt_secret, keys_from_json, keys_to_json
from .lst import RFC3526_PRIME_HEX

if TYPE_CHECKING:
    from .services import Services

__all__ = [
    "load_book",
    "load_keys",
    "load_port",
    "load_registrations",
    "register",
    "save_book",
    "save_keys",
    "save_port",
]

log = logging.getLogger("noetl_ib_plugin.simulator")

KEYS_FILE, PORT_FILE, CLIENTS_FILE, BOOK_FILE = "keys.json", "port.json", "clients.json", \
    "book.pickle"
BOOK_VERSION = 1


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 600 (the files carry private keys or account state)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is missing or damaged (logged)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring damaged %s: %s", path.name, exc)
        return None


def save_keys(state_dir: Path, keys: SimKeys) -> None:
    """Remember the built-in clients' keys."""
    _write_private(state_dir / KEYS_FILE, json.dumps(keys_to_json(keys)).encode())


def load_keys(state_dir: Path) -> SimKeys | None:
    """The keys a previous run saved, else None."""
    data = _read_json(state_dir / KEYS_FILE)
    if not isinstance(data, dict):
        return None
    try:
        return keys_from_json(data)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring damaged %s: %s", KEYS_FILE, exc)
        return None


def same_credentials(path: Path, fresh: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The records in an existing credentials.json when they match `fresh` except for the
    RSA-encrypted secret (PKCS#1 v1.5 is randomised), else None."""
    data = _read_json(path)
    old = data.get("credentials") if isinstance(data, dict) else None
    if not isinstance(old, list) or len(old) != len(fresh):
        return None

    def comparable(record: Any) -> Any:
        """The record without the one randomised field."""
        if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
            return record
        return {**record, "data": {k: v for k, v in record["data"].items()
                                   if k != "access_token_secret"}}

    if [comparable(r) for r in old] != [comparable(r) for r in fresh]:
        return None
    return old


def save_port(state_dir: Path, port: int) -> None:
    """Remember the port the operator asked for."""
    _write_private(state_dir / PORT_FILE, json.dumps({"port": port}).encode())


def load_port(state_dir: Path) -> int | None:
    """The remembered port, else None."""
    data = _read_json(state_dir / PORT_FILE)
    port = data.get("port") if isinstance(data, dict) else None
    return port if isinstance(port, int) and 0 < port < 65536 else None


def save_book(state_dir: Path, engine: Services) -> None:
    """Pickle accounts, orders and the next order id (the simulator's own file, mode 600)."""
    broker = engine.broker
    with broker.lock:
        book = {"version": BOOK_VERSION, "accounts": broker.accounts, "orders": broker.orders,
                "next_order_id": broker.next_order_id}
        data = pickle.dumps(book)
    _write_private(state_dir / BOOK_FILE, data)


def _only_mine(path: Path) -> bytes | None:
    """The file's bytes when only this user can have written it; None (logged) otherwise.

    Unpickling runs code named in the file, so a book another user could plant or change (a
    shared or world-writable state dir, a file owned by someone else) is never loaded.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        st, parent = os.fstat(fd), os.stat(path.parent)
        uid = os.geteuid() if hasattr(os, "geteuid") else None
        problem = None
        if not stat.S_ISREG(st.st_mode):
            problem = "it is not a regular file"
        elif uid is not None and {st.st_uid, parent.st_uid} != {uid}:
            problem = "it or its directory is owned by another user"
        elif st.st_mode & 0o022 or parent.st_mode & 0o022:
            problem = "it or its directory is writable by group or others"
        if problem is not None:
            log.warning("not loading %s: %s, and unpickling it could run someone else's code; "
                        "if you wrote it run `chmod 700 %s; chmod 600 %s`, else `rm %s`",
                        path, problem, path.parent, path, path)
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


def load_book(state_dir: Path, engine: Services) -> bool:
    """Restore a saved book, re-linking contracts to the live market; False when none/damaged/untrusted."""
    path = state_dir / BOOK_FILE
    try:
        raw = _only_mine(path)
        if raw is None:
            return False
        book = pickle.loads(raw)  # noqa: S301 - a mode-600 file only this user can write
        if book.get("version") != BOOK_VERSION:
            return False
        accounts, orders, next_id = book["accounts"], book["orders"], int(book["next_order_id"])
    except FileNotFoundError:
        return False
    except Exception as exc:  # a damaged or outdated book must not stop the simulator
        log.warning("ignoring damaged %s: %s", BOOK_FILE, exc)
        return False
    contracts = engine.market.contracts
    broker = engine.broker
    with broker.lock:
        for account in accounts.values():
            for pos in account.positions.values():
                pos.contract = contracts.get(pos.contract.conid, pos.contract)
        for order in orders.values():
            order.contract = contracts.get(order.contract.conid, order.contract)
        broker.accounts.update(accounts)
        broker.orders = orders
        broker.next_order_id = max(next_id, broker.next_order_id)
    return True


def load_registrations(state_dir: Path) -> list[dict[str, Any]]:
    """User registrations saved by earlier runs."""
    data = _read_json(state_dir / CLIENTS_FILE)
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _save_registration(state_dir: Path, entry: dict[str, Any]) -> None:
    """Add or replace one registration (by type and id) in clients.json."""
    key = (entry["type"], entry.get("client_id") or entry.get("consumer_key"))
    kept = [e for e in load_registrations(state_dir)
            if (e.get("type"), e.get("client_id") or e.get("consumer_key")) != key]
    _write_private(state_dir / CLIENTS_FILE, json.dumps([*kept, entry], indent=2).encode())


def _text(entry: dict[str, Any], name: str) -> str:
    """A required non-empty string field of a registration."""
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"registration field {name!r} is required (a non-empty string)")
    return value


def register(engine: Services, entry: dict[str, Any], state_dir: Path | None) -> dict[str, Any]:
    """Register a user's OAuth 2.0 client or OAuth 1.0a consumer (POST /__sim/clients).

    OAuth 2.0: {"type": "oauth2", "client_id", "key_id", "public_key" (PEM), "username",
    "account_id"}. OAuth 1.0a: {"type": "oauth1a", "consumer_key", "access_token",
    "signature_public_key" (PEM), "username", "account_id", optional "encryption_public_key"
    (PEM; the answer then carries "access_token_secret" encrypted to it, as IBKR's portal hands
    it out), "access_token_secret_hex", "dh_prime" (hex), "dh_generator", "realm"}.
    Raises ValueError naming the missing field.
    """
    kind = entry.get("type")
    username, account = _text(entry, "username"), _text(entry, "account_id")
    answer: dict[str, Any] = {"registered": True, "type": kind, "account_id": account}
    if kind == "oauth2":
        engine.auth.register_oauth2_client(_text(entry, "client_id"), _text(entry, "key_id"),
                                           _text(entry, "public_key"), username, account)
    elif kind == "oauth1a":
        entry = dict(entry)
        entry.setdefault("access_token_secret_hex", secrets.token_bytes(24).hex())
        plain = bytes.fromhex(_text(entry, "access_token_secret_hex"))
        engine.auth.register_oauth1a_consumer(
            _text(entry, "consumer_key"), access_token=_text(entry, "access_token"),
            signature_public_key_pem=_text(entry, "signature_public_key"),
            prepend_hex=plain.hex(), username=username, account_id=account,
            dh_prime_hex=str(entry.get("dh_prime") or RFC3526_PRIME_HEX),
            dh_generator=int(entry.get("dh_generator") or 2),
            realm=str(entry.get("realm") or "limited_poa"),
        )
        enc = entry.get("encryption_public_key")
        if isinstance(enc, str) and enc.strip():
            answer["access_token_secret"] = encrypt_secret(enc, plain)
    else:
        raise ValueError("registration field 'type' must be \"oauth2\" or \"oauth1a\"")
    engine.broker.ensure_account(account, username)
    if state_dir is not None:
        _save_registration(state_dir, entry)
    return answer
