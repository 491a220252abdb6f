"""The one URL rule for every endpoint the plugin sends credentials to, and safe path segments.

Used for `api_base_url`, `token_url`, `sso_session_url`, the NoETL server URL
(`NOETL_SERVER_URL`, `credentials register --server`). A URL is read with the parser the HTTP
client uses (`urllib3.util.parse_url`, what `requests` sends to) and with `urllib.parse`; it is
refused when they disagree, when it carries userinfo (`user:password@`), a backslash, control
characters, whitespace, non-ASCII, a query or fragment, or a percent sign in the host; and it
must be https unless the host is loopback (RFC 1122 127.0.0.0/8, RFC 4291 ::1, `localhost`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

__all__ = ["CheckedURL", "UnsafeURL", "check_url", "is_loopback", "path_segment"]

#: Longest URL accepted (characters); real endpoints are far shorter.
MAX_URL_LENGTH = 2048


class UnsafeURL(ValueError):
    """A URL the plugin will not send credentials to; the message never repeats the URL."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL both parsers read alike: lower-case scheme and host, explicit port or None."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def origin(self) -> str:
        """`scheme://host[:port]`, safe to print."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{f':{self.port}' if self.port else ''}"

    @property
    def url(self) -> str:
        """The normalised URL (origin plus path)."""
        return self.origin + self.path


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback IP literals (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: object, *, require_https: bool = True) -> CheckedURL:
    """Parse `value` strictly; raise UnsafeURL (a ValueError) with the reason and the fix.

    `require_https=False` only lifts the https rule (never used for credential endpoints).
    """
    if not isinstance(value, str):
        raise UnsafeURL("must be a string URL such as https://api.ibkr.com")
    url = value.strip()
    if not url:
        raise UnsafeURL("must not be empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii():
        raise UnsafeURL("must be plain ASCII (write an international host name in punycode)")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UnsafeURL("must not contain spaces or control characters")
    if "\\" in url:
        raise UnsafeURL("must not contain a backslash (HTTP libraries read the host differently)")
    if "?" in url or "#" in url:
        raise UnsafeURL("must not carry a query or fragment")
    try:
        ours = urlsplit(url)
        ours_port = ours.port
        theirs = parse_url(url)
    except (ValueError, LocationParseError):
        raise UnsafeURL("is not a valid URL (check the host and the port number)") from None
    if ours.username is not None or ours.password is not None or "@" in url \
            or theirs.auth is not None:
        raise UnsafeURL(
            "must not contain user:password@ (it would be sent and printed); "
            "give the server's credentials another way"
        )
    scheme = (ours.scheme or "").lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL("must be an http(s) URL such as https://api.ibkr.com")
    host = (ours.hostname or "").lower()
    their_host = (theirs.host or "").strip("[]").lower()
    if not host or "%" in host:
        raise UnsafeURL("must name a host, e.g. https://api.ibkr.com")
    if (scheme, host, ours_port) != ((theirs.scheme or "").lower(), their_host, theirs.port):
        raise UnsafeURL("is ambiguous: HTTP libraries disagree on its host or port")
    if require_https and scheme != "https" and not is_loopback(host):
        raise UnsafeURL(
            "must use https for anything but a loopback address; plain http would send "
            "credentials in clear text"
        )
    return CheckedURL(scheme=scheme, host=host, port=ours_port, path=ours.path)


def path_segment(value: str) -> str:
    """Percent-encode one URL path segment (RFC 3986 §3.3): `/`, `.`-tricks and `?` stay inert."""
    encoded = quote(value, safe="")
    if encoded in (".", ".."):
        return encoded.replace(".", "%2E")
    return encoded
