"""A TCP connection whose name lookup is inside its deadline (REST and the WebSocket both use it).

`socket.create_connection(address, timeout)` bounds the connect but not the `getaddrinfo` before
it: a resolver that hangs (an unreachable DNS server, a stuck NSS module) holds the caller for
as long as the C library retries, whatever deadline the call has. Here the lookup runs on a
daemon thread the caller waits for with what is left of the deadline; an IP literal needs no
lookup and skips the thread and the resolver. Lookups of the same name already under way are shared, so a
hanging resolver costs one thread per name, not one per attempt.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = ["AddrInfo", "Resolver", "lookup", "open_connection"]

#: One `socket.getaddrinfo` answer: (family, type, proto, canonname, sockaddr).
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
#: `socket.getaddrinfo(host, port, family, type)`'s shape; tests inject one that hangs.
Resolver = Callable[[str, int, int, int], Sequence[AddrInfo]]


class _Lookup:
    """One name lookup under way on its own daemon thread; any number of callers wait for it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: list[AddrInfo] = []
        self.error: BaseException | None = None


class _Lookups:
    """The lookups under way, by (resolver, host, port, family): one thread per hanging name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[Resolver, str, int, int], _Lookup] = {}

    def reset_after_fork(self) -> None:
        """A forked child has none of the parent's lookup threads: never wait for one."""
        self._lock = threading.Lock()
        self._running = {}

    def start(self, resolver: Resolver, host: str, port: int, family: int) -> _Lookup:
        """The lookup of (host, port, family) under way, started now if none is."""
        key = (resolver, host, port, family)
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return running
            job = self._running[key] = _Lookup()

        def run() -> None:
            try:
                job.answer = list(resolver(host, port, family, socket.SOCK_STREAM))
            except BaseException as exc:  # handed to the waiting callers
                job.error = exc
            finally:
                with self._lock:
                    if self._running.get(key) is job:
                        del self._running[key]
                job.done.set()

        try:
            threading.Thread(target=run, name="noetl-ib-lookup", daemon=True).start()
        except BaseException:  # no thread (a process at its limit): no job left that never ends
            with self._lock:
                if self._running.get(key) is job:
                    del self._running[key]
            raise
        return job


_lookups = _Lookups()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lookups.reset_after_fork)


def _is_ip_literal(host: str) -> bool:
    """`127.0.0.1` or `::1`: getaddrinfo answers it without asking any resolver."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def lookup(host: str, port: int, timeout: float | None, *,
           resolver: Resolver = socket.getaddrinfo, family: int = 0) -> list[AddrInfo]:
    """`getaddrinfo(host, port, family, SOCK_STREAM)` within `timeout` seconds (None: no bound).

    Raises TimeoutError naming the host (never a URL: its query may carry a token) when the
    resolver has not answered in time, and the resolver's own error (`socket.gaierror`) when
    it fails. The abandoned lookup finishes on its daemon thread; nothing waits for it.
    """
    if _is_ip_literal(host):  # nothing to look up: the C library answers it in place
        return list(socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0,
                                       socket.AI_NUMERICHOST))
    if timeout is None:
        return list(resolver(host, port, family, socket.SOCK_STREAM))
    job = _lookups.start(resolver, host, port, family)
    if not job.done.wait(max(0.0, timeout)):
        raise TimeoutError(f"looking up the address of {host} took longer than {timeout:g} s")
    if job.error is not None:
        raise job.error
    return list(job.answer)


def open_connection(host: str, port: int, timeout: float | None, *,
                    resolver: Resolver = socket.getaddrinfo, family: int = 0,
                    source_address: tuple[str, int] | None = None,
                    socket_options: Iterable[tuple[int, int, int | bytes]] | None = None,
                    ) -> socket.socket:
    """`socket.create_connection((host, port), timeout)` with the lookup inside `timeout`:
    the whole of it (lookup, then each address tried in turn) ends within `timeout` seconds.

    Returns the connected socket (its timeout: what was left for the connect). Raises
    TimeoutError naming the host when the time runs out, `socket.gaierror` when the name does
    not resolve, the last address's OSError when none accepts.
    """
    host = host.strip("[]")  # an IPv6 literal as URLs write it
    deadline = None if timeout is None else time.monotonic() + timeout
    answers = lookup(host, port, timeout, resolver=resolver, family=family)
    error: OSError | None = None
    for af, kind, proto, _, address in answers:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise TimeoutError(f"connecting to {host} port {port} took longer than "
                               f"{timeout:g} s")
        sock = socket.socket(af, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(left)
            if source_address is not None:
                sock.bind(source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
    if isinstance(error, TimeoutError) and timeout is not None:
        raise TimeoutError(f"connecting to {host} port {port} took longer than "
                           f"{timeout:g} s") from error
    raise error or OSError(f"no address found for {host}")
