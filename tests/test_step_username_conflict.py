"""A step passing `username:` and a different `credential:` argument gets a fix about the step."""

from __future__ import annotations

from typing import Any

import pytest

from noetl_ib_plugin.entry import main, split_credential_fields
from noetl_ib_plugin.errors import CredentialError

FIELDS: dict[str, Any] = {"client_id": "c", "key_id": "k", "private_key": "pem", "username": "alice"}


def test_split_names_the_credential_argument_not_a_record_field() -> None:
    """The error names the step argument `credential` and says to drop it, not to edit a record."""
    with pytest.raises(CredentialError) as info:
        split_credential_fields("interactive_brokers_oauth", FIELDS, "ib_paper")
    assert info.value.field == "credential"
    assert info.value.fix is not None and "credential:" in info.value.fix
    assert "record" not in (info.value.fix or "")
    assert "ib_paper" not in str(info.value) and "alice" not in str(info.value)


def test_same_username_twice_is_accepted() -> None:
    """`credential:` equal to `username:` (old and new name together) still builds the data."""
    data, rest = split_credential_fields("interactive_brokers_oauth", {**FIELDS, "x": 1}, "alice")
    assert data["username"] == "alice" and rest == {"x": 1}


def test_entry_main_reports_the_step_argument() -> None:
    """entry.main's error dict names `credential` (category input) for the conflicting argument."""
    out = main(action="accounts", credential="ib_paper",
               credential_type="interactive_brokers_oauth", **FIELDS)
    assert out["ok"] is False
    assert out["error"]["type"] == "CredentialError"
    assert out["error"]["field"] == "credential"
    assert out["error"]["category"] == "input"
