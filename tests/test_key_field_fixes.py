"""A record missing its key, or giving it twice, gets a fix naming the fields to add or remove."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.credentials.records import parse_record
from noetl_ib_plugin.errors import CredentialError

GENERIC = "correct the value and try again."


def _oauth2(**data: Any) -> dict[str, Any]:
    return {"name": "ib", "type": "interactive_brokers_oauth",
            "data": {"client_id": "c", "key_id": "k", "username": "u", **data}}


def test_missing_private_key_fix_names_both_fields() -> None:
    """No private_key and no private_key_path: the fix says which field to add, not a generic text."""
    with pytest.raises(CredentialError) as info:
        parse_record(_oauth2())
    assert info.value.field == "data.private_key"
    assert info.value.fix != GENERIC
    assert "data.private_key_path" in (info.value.fix or "")


def test_both_private_key_forms_fix_says_remove_one() -> None:
    """private_key and private_key_path together: the fix says to remove one of them."""
    with pytest.raises(CredentialError) as info:
        parse_record(_oauth2(private_key="pem", private_key_path="/k.pem"))
    assert info.value.field == "data.private_key_path"
    assert info.value.fix != GENERIC
    assert "remove" in (info.value.fix or "")


def test_oauth1a_missing_signature_key_fix_names_the_path_field() -> None:
    """An OAuth 1.0a record without its signature key is told to add data.signature_key_path."""
    record = {"name": "ib1", "type": "interactive_brokers_oauth1a",
              "data": {"consumer_key": "ABCDEFGHI"}}
    with pytest.raises(CredentialError) as info:
        parse_record(record)
    assert info.value.field == "data.signature_key"
    assert "data.signature_key_path" in (info.value.fix or "")
