"""`Host`: the composition root. Built at a front door from `Settings`, it builds everything
else and hands it down: token cache -> token provider -> pacer -> `IBClient`.

What a process used to keep in process-wide tables lives on a host: clients by (record
contents, token cache), token caches, pacers, history gates, the contract-lookup memo and the
plugin registry. Two hosts share none of it. The pacer and token cache files are
cross-process by design: two hosts over the same directory meet there, as two processes do.
What the environment says reaches the layers below as arguments: the retry policy, the HTTP
deadline, the credential stores' file, directory, server and environment mapping.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigurationError
from .settings import Settings, credentials_dir_from

if TYPE_CHECKING:
    import os

    from ..auth.base import TokenProvider
    from ..auth.cache import FileTokenCache, MemoryTokenCache, TokenCache
    from ..client import IBClient, Pacer
    from ..client.lookups import LookupCache
    from ..common.backoff import RetryPolicy
    from ..common.progress import Progress
    from ..common.step_context import StepContext
    from ..credentials.models import CredentialRecord
    from ..credentials.stores import ChainStore
    from ..streaming import StreamClient, StreamSettings
    from .plugins import Registry

__all__ = ["Host", "record_key"]

K = TypeVar("K")
V = TypeVar("V")

_TOKEN_CACHE_MODES = ("file", "", "keychain", "memory")


def record_key(record: CredentialRecord) -> str:
    """Identity of a record's contents (secrets are hashed, never stored)."""
    from pydantic import BaseModel, SecretStr

    from ..auth.base import fingerprint

    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, BaseModel):
            return {k: plain(getattr(value, k)) for k in type(value).model_fields}
        return value

    payload = json.dumps({"type": record.type, "data": plain(record.data)}, sort_keys=True,
                         default=str)
    return fingerprint(payload)


class Host:
    """Everything one embedding (a CLI step, a NoETL worker step, a bot, a test) keeps.

    `settings` says where caches live and whether to pace; `registry` defaults to the installed
    plugins, loaded on first use. Thread-safe; `close()` releases the clients' connections.
    """

    def __init__(self, settings: Settings, *, registry: Registry | None = None) -> None:
        self.settings = settings
        self._registry = registry
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, int], IBClient] = {}
        self._file_caches: dict[Path, FileTokenCache] = {}
        self._memory_cache: MemoryTokenCache | None = None
        self._keychain_caches: dict[tuple[str, str, int], TokenCache] = {}
        self._pacers: dict[str, Pacer] = {}
        self._history_gates: dict[str, threading.BoundedSemaphore] = {}
        self._lookups: LookupCache | None = None

    def _once(self, table: dict[K, V], key: K, make: Callable[[], V]) -> V:
        """The value under `key`, built by `make()` (under the host's lock, so once)."""
        with self._lock:
            value = table.get(key)
            if value is None:
                value = table[key] = make()
            return value

    # -- plugins -------------------------------------------------------------------------------

    @property
    def registry(self) -> Registry:
        """What the installed plugins register (built-ins first), loaded on first use."""
        with self._lock:
            if self._registry is None:
                from .plugins import load_registry

                self._registry = load_registry()
            return self._registry

    @property
    def loaded_registry(self) -> Registry | None:
        """The registry if it was loaded already (a front door may hand it to its next host)."""
        return self._registry

    # -- token caches, pacers, lookups ---------------------------------------------------------

    def token_cache(self, step: StepContext | None = None) -> TokenCache:
        """The cache `settings.token_cache` chooses: shared files unless "memory"; unset inside
        a NoETL step that knows its server and catalog id, or "keychain", the NoETL keychain
        layer over the files (`auth/keychain_cache.py`); "file" keeps this host's files only."""
        mode = self.settings.token_cache
        if mode == "memory":
            from ..auth.cache import MemoryTokenCache

            with self._lock:
                if self._memory_cache is None:
                    self._memory_cache = MemoryTokenCache()
                return self._memory_cache
        if mode not in _TOKEN_CACHE_MODES:
            raise ConfigurationError(
                f"unknown token cache mode {mode!r}",
                field="NOETL_IB_TOKEN_CACHE",
                fix="use 'file' (this host only), 'keychain' (shared through NoETL) or 'memory'; "
                "unset, a NoETL step shares through the keychain when it can.",
            )
        from ..auth.cache import FileTokenCache

        directory = self.settings.cache_dir
        files = self._once(self._file_caches, directory, lambda: FileTokenCache(directory))
        if mode == "file":
            return files
        server = (step.server_url if step else None) or self.settings.server_url
        catalog = self.settings.keychain_catalog_id or (step.catalog_id if step else None)
        if not server or not catalog:
            if mode == "keychain":
                from ..auth.keychain_cache import keychain_layer_over

                keychain_layer_over(files, server, catalog, required=True,  # raises
                                    trusted_http_hosts=self.settings.http_server_hosts)
            return files
        key = (server.rstrip("/"), str(catalog), id(files))
        with self._lock:
            found = self._keychain_caches.get(key)
            if found is not None:
                return found
        from ..auth.keychain_cache import keychain_layer_over

        layer = keychain_layer_over(files, server, str(catalog), required=mode == "keychain",
                                    trusted_http_hosts=self.settings.http_server_hosts)
        if layer is None:
            return files
        return self._once(self._keychain_caches, key, lambda: layer)

    def state_dir(self, cache: TokenCache) -> Path | None:
        """Where a cache's cross-process pacing and bootstrap locks live (None: in memory)."""
        return None if cache is self._memory_cache else self.settings.cache_dir

    def pacer(self, key: str, directory: Path | None) -> Pacer:
        """One pacer per credential (the provider's cache key): its history in `directory`,
        shared with every process of the credential, else in memory; disabled by settings."""
        from ..client.pacing import FilePacer, Pacer

        if not self.settings.pacing:
            return Pacer.disabled()
        slot = f"{key}@{directory}" if directory is not None else key

        def make() -> Pacer:
            return FilePacer(directory / f"{key}-pacing.json") if directory is not None \
                else Pacer()

        return self._once(self._pacers, slot, make)

    @property
    def lookups(self) -> LookupCache:
        """The contract-lookup memo every client of this host shares."""
        from ..client.lookups import LookupCache

        with self._lock:
            if self._lookups is None:
                self._lookups = LookupCache()
            return self._lookups

    def history_gate(self, key: str) -> threading.BoundedSemaphore:
        """The 5-slot `/iserver/marketdata/history` gate of one credential (its cache key)."""
        from ..client.lookups import new_history_gate

        return self._once(self._history_gates, key, new_history_gate)

    # -- what the environment says, as arguments ----------------------------------------------

    def retry_policy(self) -> RetryPolicy:
        """The design's backoff with the `NOETL_IB_RETRY_*` values the settings hold (a bad
        one is a ConfigurationError naming it, raised when a provider or client is built)."""
        from ..common.backoff import RetryPolicy

        return RetryPolicy.from_environ(dict(self.settings.retry))

    def http_deadline(self) -> float:
        """Total seconds per HTTP call: `NOETL_IB_HTTP_DEADLINE` (1..600, else a
        ConfigurationError naming it), else 45."""
        from ..transport.deadline import parse_deadline

        return parse_deadline(self.settings.http_deadline)

    @property
    def credentials_dir(self) -> Path:
        """NoETL's alias directory (settings built without one: ~/.config/noetl/credentials)."""
        return self.settings.credentials_dir or credentials_dir_from({})

    def credential_store(self, credentials_file: str | os.PathLike[str] | None = None) -> ChainStore:
        """The documented chain of stores (`credentials.stores.default_store`): the explicit
        file (else `NOETL_IB_CREDENTIALS`), the alias store, the NoETL server, the `env` record."""
        from ..credentials.stores import default_store

        settings = self.settings
        return default_store(credentials_file or settings.credentials_file,
                             alias_dir=self.credentials_dir, server_url=settings.server_url,
                             environ=settings.environ,
                             trusted_http_hosts=settings.http_server_hosts)

    # -- providers and clients -----------------------------------------------------------------

    def _provider(self, record: CredentialRecord, cache: TokenCache) -> TokenProvider:
        """A new provider for `record` over `cache`, with the settings' retry policy and deadline."""
        return self.registry.token_provider_for(record, cache=cache,
                                                retry_policy=self.retry_policy(),
                                                deadline=self.http_deadline())

    def token_provider(self, record: CredentialRecord,
                       step: StepContext | None = None) -> TokenProvider:
        """A new provider for `record` over the cache chosen for `step`."""
        return self._provider(record, self.token_cache(step))

    def client(self, record: CredentialRecord, step: StepContext | None = None, *,
               progress: Progress | None = None) -> IBClient:
        """One `IBClient` per (record contents, token cache): one pooled HTTP session, pacer and
        brokerage session each, reused across calls; `progress` is told about the long waits of
        the client when this call creates it."""
        cache = self.token_cache(step)
        key = (record_key(record), id(cache))

        def make() -> IBClient:
            from ..client import IBClient

            provider = self._provider(record, cache)
            directory = self.state_dir(cache)
            return IBClient(provider, account_id=record.data.account_id,
                            environment=record.data.environment,
                            retry_policy=self.retry_policy(), deadline=self.http_deadline(),
                            pacer=self.pacer(provider.cache_key, directory), state_dir=directory,
                            lookups=self.lookups,
                            history_gate=self.history_gate(provider.cache_key),
                            progress=progress)

        return self._once(self._clients, key, make)

    def stream(self, client: IBClient, settings: StreamSettings | None = None) -> StreamClient:
        """A new `StreamClient` (IBKR's WebSocket) over `client`: its token, brokerage session and
        pacer, plus the REST read of live orders it resyncs with after a reconnect."""
        from ..actions.order_lookup import live_orders
        from ..streaming import StreamClient

        return StreamClient(client, settings=settings, read_live_orders=lambda: live_orders(client))

    def close(self) -> None:
        """Close and forget every client (caches, pacers and files stay as they are)."""
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()
