"""Helpers shared by the CLI and end-to-end tests: run `noetl-ib` / `noetl` as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["VENV_BIN", "cached_secrets", "cli", "noetl", "one_json", "process_env", "record_secrets"]

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def process_env(**extra: str) -> dict[str, str]:
    """The (test-isolated) environment plus the venv's bin on PATH, as playbooks need it."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["RUST_BACKTRACE"] = "0"
    env.update(extra)
    return env


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m noetl_ib_plugin.cli ARGS` in a fresh process, as a shell step would run it."""
    return subprocess.run(
        [sys.executable, "-m", "noetl_ib_plugin.cli", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else process_env(),
        timeout=timeout,
        check=False,
    )


def noetl(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real `noetl` CLI from the venv."""
    return subprocess.run(
        [str(VENV_BIN / "noetl"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def one_json(stdout: str) -> dict[str, Any]:
    """The stdout contract: exactly one line holding one JSON object."""
    lines = stdout.splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {len(lines)}: {stdout[:500]!r}"
    value = json.loads(lines[0])
    assert isinstance(value, dict)
    return value


def record_secrets(credentials_file: Path) -> list[str]:
    """Every secret field value of every record, plus the PEM bodies' base64 lines."""
    payload = json.loads(credentials_file.read_text(encoding="utf-8"))
    records = payload["credentials"] if isinstance(payload, dict) and "credentials" in payload else payload
    secret_names = ("private_key", "access_token", "access_token_secret", "signature_key", "encryption_key")
    out: list[str] = []
    for record in records:
        for name in secret_names:
            value = record["data"].get(name)
            if isinstance(value, str) and value:
                out.append(value)
                out.extend(
                    line for line in value.splitlines() if len(line) > 40 and not line.startswith("-----")
                )
    return out


_TOKEN_KEYS = ("value", "access_token", "lst", "live_session_token", "token")


def cached_secrets(cache_dir: Path) -> list[str]:
    """Token values (bearer, access token, LST) found in the plugin's file cache."""
    out: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in _TOKEN_KEYS and isinstance(item, str):
                    out.append(item)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted(cache_dir.glob("*.json")):
        walk(json.loads(path.read_text(encoding="utf-8")))
    return [s for s in out if len(s) >= 16]
