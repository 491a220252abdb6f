"""The built-in plugin: registers this package's types, providers and actions through the public hooks.

Actions are registered by import path and load on first use, so a `noetl-ib run` step imports
only the action it runs.
"""

from __future__ import annotations

from .hookspecs import RegisterAction, RegisterCredentialType, RegisterTokenProvider, hookimpl


@hookimpl
def noetl_register_credential_types(register: RegisterCredentialType) -> None:
    """Both IBKR schemes, plus the aliases NoETL's older factory accepted."""
    from ..credentials.models import BUILTIN_CREDENTIAL_TYPES

    for type_name, model in BUILTIN_CREDENTIAL_TYPES.items():
        register(type_name, model)


@hookimpl
def noetl_register_token_providers(register: RegisterTokenProvider) -> None:
    """OAuth 2.0 (`IBTokenProvider`) and OAuth 1.0a (`LiveSessionTokenProvider`)."""
    from ..auth.oauth1a import LiveSessionTokenProvider
    from ..auth.oauth2 import IBTokenProvider
    from ..credentials.models import BUILTIN_CREDENTIAL_TYPES, OAuth1aData, OAuth2Data

    for type_name, model in BUILTIN_CREDENTIAL_TYPES.items():
        if model is OAuth2Data:
            register(type_name, IBTokenProvider)
        elif model is OAuth1aData:
            register(type_name, LiveSessionTokenProvider)


@hookimpl
def noetl_register_actions(register: RegisterAction) -> None:
    """place_order, get_positions, snapshot, cancel_order, get_open_orders, account_summary,
    history, ledger, accounts, auth_status, order_status, trades."""
    from ..actions import BUILTIN_ACTIONS

    for action in BUILTIN_ACTIONS:
        register(action)
