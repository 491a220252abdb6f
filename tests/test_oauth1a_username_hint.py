"""An OAuth 1.0a record carrying an OAuth 2.0 username field is told why, not "did you mean realm"."""

from __future__ import annotations

import pytest

from noetl_ib_plugin.credentials.records import parse_record
from noetl_ib_plugin.errors import CredentialError


@pytest.mark.parametrize("key", ["username", "credential"])
def test_username_in_oauth1a_record_gets_a_scheme_hint(key: str) -> None:
    """data.username / data.credential in an OAuth 1.0a record: remove it (the token names the user)."""
    record = {"name": "ib1", "type": "interactive_brokers_oauth1a",
              "data": {"consumer_key": "ABCDEFGHI", key: "alice"}}
    with pytest.raises(CredentialError) as info:
        parse_record(record)
    assert info.value.field == f"data.{key}"
    fix = info.value.fix or ""
    assert "realm" not in fix
    assert f"remove data.{key}" in fix and "interactive_brokers_oauth" in fix
    assert "alice" not in str(info.value)
