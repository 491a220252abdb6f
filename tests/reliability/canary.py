"""Secret canaries: find any credential or token material in captured text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["SecretScanner", "record_secrets"]

WINDOW = 40
_PEM = re.compile(r"-----BEGIN [A-Z ]+-----(.*?)-----END [A-Z ]+-----", re.S)
_NOISE = re.compile(r"\\n|\\r|\s")


def _squash(text: str) -> str:
    """Drop whitespace and escaped newlines so a PEM body matches however it was rendered."""
    return _NOISE.sub("", text)


def record_secrets(credentials_file: Path) -> dict[str, str]:
    """Secret values of every record in a credentials.json, by a readable label."""
    out: dict[str, str] = {}
    records: list[dict[str, Any]] = json.loads(credentials_file.read_text())["credentials"]
    for record in records:
        data = record["data"]
        for key in ("private_key", "signature_key", "encryption_key", "access_token",
                    "access_token_secret"):
            if data.get(key):
                out[f"{record['name']}.{key}"] = str(data[key])
    return out


class SecretScanner:
    """Holds secrets; `leaks(text)` names every one found (keys: any 40-char slice of the body)."""

    def __init__(self, secrets: dict[str, str] | None = None) -> None:
        self.exact: dict[str, str] = {}
        self.windows: dict[str, str] = {}
        for label, value in (secrets or {}).items():
            self.add(label, value)

    def add(self, label: str, value: str) -> None:
        """Remember one secret (a PEM key is watched by every 40-character window of its body)."""
        bodies = _PEM.findall(value)
        if bodies:
            for body in bodies:
                squashed = _squash(body)
                for i in range(len(squashed) - WINDOW + 1):
                    self.windows.setdefault(squashed[i : i + WINDOW], label)
            return
        if len(value) < 8:
            raise ValueError(f"{label} is too short to be a useful canary")
        self.exact[value] = label

    def leaks(self, text: str) -> list[str]:
        """Labels of the secrets that appear in `text`."""
        found = {label for value, label in self.exact.items() if value in text}
        squashed = _squash(text)
        for i in range(len(squashed) - WINDOW + 1):
            label = self.windows.get(squashed[i : i + WINDOW])
            if label is not None:
                found.add(label)
        return sorted(found)

    def assert_clean(self, texts: Iterable[str], where: str) -> None:
        """Fail with the labels (never the values) of any secret found."""
        for text in texts:
            leaked = self.leaks(text)
            assert not leaked, f"{where}: leaked {leaked} in text of length {len(text)}"
