"""Secret masking for every text the plugin emits: error messages, CLI output and log records.

The base layer (rank 0): `errors.IBPluginError` redacts its own message and fix with `redact`,
so Python callers, `entry.main` and the CLI all get the same masked text; the CLI's log filter
uses it too. It masks secret *values* and keeps the field names and prose around them, e.g.
``data.private_key: does not parse`` stays readable while ``"access_token": "abc..."`` becomes
``"access_token": "<redacted>"``.
"""

from __future__ import annotations

import functools
import logging
import re

__all__ = ["REDACTED", "SECRET_KEYS", "RedactingFilter", "redact"]

REDACTED = "<redacted>"

#: Names whose values are secrets wherever they appear as `name=value` or `"name": "value"`
#: (OAuth 1.0a RFC 5849 parameters, OAuth 2.0 RFC 6749/7523 form fields, our record fields).
SECRET_KEYS = (
    "oauth_signature",
    "oauth_token",
    "access_token_secret",
    "access_token",
    "live_session_token",
    "client_assertion",
    "refresh_token",
    "id_token",
    "private_key",
    "signature_key",
    "encryption_key",
    "password",
    "secret",
    "token",
    "authorization",
)

_KEYS = "|".join(SECRET_KEYS)


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Compiled on first use: a step that logs nothing and succeeds never needs them."""
    return (
        # PEM blocks, also with escaped newlines (a record rendered as a Python/JSON string).
        (re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.S), "<redacted pem>"),
        (re.compile(r"-----BEGIN [A-Z0-9 ]+-----[^'\"}]*"), "<redacted pem>"),
        (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), "<redacted jwt>"),
        (re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=-]{16,}"), r"\1 " + REDACTED),
        # Quoted key and quoted value: JSON, Python reprs, Authorization header parameters.
        (
            re.compile(
                rf"(?i)(['\"]?\b(?:{_KEYS})\b['\"]?\s*[:=]\s*)(['\"])(?:\\.|(?!\2).)*\2", re.S
            ),
            r"\1\2" + REDACTED + r"\2",
        ),
        # key=value without quotes or spaces: query strings, form bodies, headers.
        (re.compile(rf"(?i)(\b(?:{_KEYS})=)(?!<redacted)[^'\"&,\s}}]+"), r"\1" + REDACTED),
        # key: value without quotes only when the value looks like material, not like a word.
        (
            re.compile(rf"(?i)(\b(?:{_KEYS}):\s*)(?!<redacted)(?=[A-Za-z0-9._~+/=-]{{16,}})"
                       r"[A-Za-z0-9._~+/=-]+"),
            r"\1" + REDACTED,
        ),
    )


def redact(text: str) -> str:
    """Mask PEM keys, JWTs, bearer/OAuth header values and `secret_field=value` pairs in `text`.

    Idempotent; leaves prose such as ``data.private_key: does not parse`` untouched.
    """
    for pattern, replacement in _patterns():
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Handler filter: every record, ours or a library's, is redacted before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's malformed format args must not kill the command
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
