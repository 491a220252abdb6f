"""Credential records and the stores NoETL keeps them in (the bottom layer: imports nothing above)."""

from .models import (
    BUILTIN_CREDENTIAL_TYPES,
    OAUTH1A_TYPE,
    OAUTH2_TYPE,
    CredentialData,
    CredentialRecord,
    OAuth1aData,
    OAuth2Data,
)
from .records import parse_record
from .stores import (
    AliasStore,
    ChainStore,
    CredentialStore,
    FileStore,
    ServerStore,
    alias_env_var,
    default_store,
    load_credential,
    read_records_file,
)

__all__ = [
    "BUILTIN_CREDENTIAL_TYPES",
    "OAUTH1A_TYPE",
    "OAUTH2_TYPE",
    "AliasStore",
    "ChainStore",
    "CredentialData",
    "CredentialRecord",
    "CredentialStore",
    "FileStore",
    "OAuth1aData",
    "OAuth2Data",
    "ServerStore",
    "alias_env_var",
    "default_store",
    "load_credential",
    "parse_record",
    "read_records_file",
]
