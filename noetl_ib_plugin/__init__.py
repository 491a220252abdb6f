"""Interactive Brokers for NoETL playbooks: auth that stays out of the way, trading actions, a simulator.

Names load lazily (PEP 562) so a `noetl-ib` shell step pays only for what it uses; the error
tree (`noetl_ib_plugin.errors`) is imported eagerly, it has no dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# The error tree has no dependencies (errors.py imports only redaction.py): imported eagerly, so
# `except noetl_ib_plugin.InputError` costs nothing extra and `errors` is the one place for them.
from .errors import (
    AmbiguousContract,
    AuthError,
    BrokerError,
    ConfigurationError,
    ContractMismatch,
    ContractNotFound,
    CredentialError,
    CredentialNotFound,
    IBPluginError,
    IdempotencyKeyConflict,
    InputError,
    LiveTradingRefused,
    ModifyUnconfirmed,
    OrderGroupIncomplete,
    OrderGroupUnconfirmed,
    OrderInactive,
    OrderNotFound,
    OrderNotWorking,
    OrderRejected,
    OrderUnconfirmed,
    OutcomeUnknown,
    OutcomeUnknownError,
    RateLimited,
    RedirectRefused,
    RegistrationFailed,
    ResponseTooLarge,
    SessionTakenOver,
    TransientError,
    UsageError,
)

if TYPE_CHECKING:
    from .actions.spec import Action
    from .auth.base import Token, TokenProvider
    from .auth.cache import FileTokenCache, MemoryTokenCache
    from .auth.oauth1a import LiveSessionTokenProvider
    from .auth.oauth2 import IBTokenProvider
    from .client import IBClient
    from .credentials.models import CredentialRecord, OAuth1aData, OAuth2Data
    from .credentials.records import parse_record
    from .runner import get_token_provider, load_credential, run_action
    from .trading import TradingClient
    from .wiring.hookspecs import hookimpl

__all__ = [
    "Action",
    "AmbiguousContract",
    "AuthError",
    "BrokerError",
    "ConfigurationError",
    "ContractMismatch",
    "ContractNotFound",
    "CredentialError",
    "CredentialNotFound",
    "CredentialRecord",
    "FileTokenCache",
    "IBClient",
    "IBPluginError",
    "IBTokenProvider",
    "IdempotencyKeyConflict",
    "InputError",
    "LiveSessionTokenProvider",
    "LiveTradingRefused",
    "MemoryTokenCache",
    "ModifyUnconfirmed",
    "OAuth1aData",
    "OAuth2Data",
    "OrderGroupIncomplete",
    "OrderGroupUnconfirmed",
    "OrderInactive",
    "OrderNotFound",
    "OrderNotWorking",
    "OrderRejected",
    "OrderUnconfirmed",
    "OutcomeUnknown",
    "OutcomeUnknownError",
    "RateLimited",
    "RedirectRefused",
    "RegistrationFailed",
    "ResponseTooLarge",
    "SessionTakenOver",
    "Token",
    "TokenProvider",
    "TradingClient",
    "TransientError",
    "UsageError",
    "__version__",
    "get_token_provider",
    "hookimpl",
    "load_credential",
    "parse_record",
    "run_action",
]

_LAZY = {
    "Action": ".actions.spec",
    "Token": ".auth.base",
    "TokenProvider": ".auth.base",
    "FileTokenCache": ".auth.cache",
    "MemoryTokenCache": ".auth.cache",
    "LiveSessionTokenProvider": ".auth.oauth1a",
    "IBTokenProvider": ".auth.oauth2",
    "IBClient": ".client",
    "CredentialRecord": ".credentials.models",
    "OAuth1aData": ".credentials.models",
    "OAuth2Data": ".credentials.models",
    "parse_record": ".credentials.records",
    "hookimpl": ".wiring.hookspecs",
    "get_token_provider": ".runner",
    "load_credential": ".runner",
    "run_action": ".runner",
    "TradingClient": ".trading",
}

def __getattr__(name: str) -> Any:
    """Import public names on first use (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'noetl_ib_plugin' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
