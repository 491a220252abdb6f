"""`noetl-ib simulator env`: the shell exports that point a bot or a playbook at a running simulator.

Reads the simulator's credentials file (``--state-dir DIR`` -> ``DIR/credentials.json``, or
``--credentials-file FILE`` from the simulator's start-up line), writes the OAuth 1.0a user's
throw-away private keys next to it (mode 600) and prints ``export NAME=value`` lines:
``eval "$(noetl-ib simulator env --state-dir DIR)"``; ``--ibind`` prints ibind's names instead
(``IBIND_USE_OAUTH``, ``IBIND_OAUTH1A_*``: github.com/Voyz/ibind ``ibind/var.py``), which both ibind
and this plugin read. The values are the simulator's own throw-away credentials for a loopback
URL; nothing here ever touches a real IBKR credential.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

__all__ = ["exports", "ibind_exports", "main"]

#: Our variable -> ibind's (ibind 0.2.x `var.py`; its REST URL ends in /v1/api/, set below).
IBIND_NAMES = {
    "OAUTH_CONSUMER_KEY": "IBIND_OAUTH1A_CONSUMER_KEY",
    "OAUTH_ACCESS_TOKEN": "IBIND_OAUTH1A_ACCESS_TOKEN",
    "OAUTH_ACCESS_TOKEN_SECRET": "IBIND_OAUTH1A_ACCESS_TOKEN_SECRET",
    "OAUTH_SIGNATURE_PATH": "IBIND_OAUTH1A_SIGNATURE_KEY_FP",
    "OAUTH_ENCRYPTION_PATH": "IBIND_OAUTH1A_ENCRYPTION_KEY_FP",
    "OAUTH_DH_PRIME": "IBIND_OAUTH1A_DH_PRIME",
}

#: The record whose OAuth 1.0a fields become the OAUTH_* variables (a bot's `TradingClient.from_env()`).
OAUTH1A_RECORD = "sim_oauth1a"


def _write_private(path: Path, text: str) -> str:
    """Write `text` to `path` readable by its owner only; return the path as text."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)
    return str(path)


def exports(credentials_file: Path, key_dir: Path | None = None) -> dict[str, str]:
    """The variables (name -> value) for the simulator behind `credentials_file`.

    OAUTH_* (the OAuth 1.0a user, key files written to `key_dir`, default the file's directory),
    PAPER_TRADING, IBKR_API_BASE_URL and NOETL_IB_CREDENTIALS (for `--credential sim_oauth2`).
    Raises OSError/ValueError/KeyError/StopIteration when the file is not a simulator's.
    """
    records = json.loads(credentials_file.read_text(encoding="utf-8"))["credentials"]
    data = next(r for r in records if r["name"] == OAUTH1A_RECORD)["data"]
    where = key_dir or credentials_file.parent
    return {
        "OAUTH_CONSUMER_KEY": data["consumer_key"],
        "OAUTH_ACCESS_TOKEN": data["access_token"],
        "OAUTH_ACCESS_TOKEN_SECRET": data["access_token_secret"],
        "OAUTH_SIGNATURE_PATH": _write_private(where / "private_signature.pem", data["signature_key"]),
        "OAUTH_ENCRYPTION_PATH": _write_private(where / "private_encryption.pem",
                                                data["encryption_key"]),
        "OAUTH_DH_PRIME": data["dh_prime"],
        "PAPER_TRADING": "true",
        "IBKR_API_BASE_URL": data["api_base_url"],
        "NOETL_IB_CREDENTIALS": str(credentials_file),
    }


def ibind_exports(values: dict[str, str]) -> dict[str, str]:
    """The same simulator under ibind's names: OAuth on, the realm, the REST URL with /v1/api/."""
    out = {"IBIND_USE_OAUTH": "True"}
    out.update({IBIND_NAMES[name]: value for name, value in values.items() if name in IBIND_NAMES})
    out["IBIND_OAUTH1A_REST_URL"] = values["IBKR_API_BASE_URL"].rstrip("/") + "/v1/api/"
    out["NOETL_IB_CREDENTIALS"] = values["NOETL_IB_CREDENTIALS"]
    return out


def main(argv: list[str]) -> int:
    """Print the exports; exit 2 with a one-line reason (and the fix) when there is no simulator."""
    parser = argparse.ArgumentParser(
        prog="noetl-ib simulator env",
        description="Print the exports that point a bot (OAUTH_* variables) or a playbook "
        "(NOETL_IB_CREDENTIALS) at a running simulator: eval \"$(noetl-ib simulator env "
        "--state-dir DIR)\"",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--state-dir", metavar="DIR", help="the simulator's --state-dir")
    where.add_argument("--credentials-file", metavar="FILE",
                       help="the credentials_file of the simulator's start-up line")
    parser.add_argument("--ibind", action="store_true",
                        help="ibind's variable names (IBIND_USE_OAUTH, IBIND_OAUTH1A_*): for an ibind "
                        "bot, and read by this plugin too")
    args = parser.parse_args(argv)
    path = Path(args.credentials_file or Path(args.state_dir) / "credentials.json")
    try:
        values = exports(path)
        if args.ibind:
            values = ibind_exports(values)
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        sys.stderr.write(
            f"noetl-ib simulator env: no simulator credentials in {path}\n"
            f"Fix: start one first: noetl-ib simulator --state-dir {shlex.quote(str(path.parent))} &\n"
        )
        return 2
    sys.stdout.write("".join(f"export {name}={shlex.quote(value)}\n" for name, value in values.items()))
    return 0
