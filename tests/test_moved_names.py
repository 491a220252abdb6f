"""Names that moved to a module of their own stay importable where users found them."""

from __future__ import annotations

import pytest

from noetl_ib_plugin.common import validation
from noetl_ib_plugin.credentials import models, records


def test_record_parsing_names_still_resolve_from_models() -> None:
    """credentials.models still offers parse_record, coerce_data, check_record_name (PEP 562)."""
    assert models.parse_record is records.parse_record
    assert models.coerce_data is records.coerce_data
    assert models.check_record_name is records.check_record_name
    assert models.first_validation_problem is validation.first_validation_problem


def test_unknown_name_on_models_is_an_attribute_error() -> None:
    """The PEP 562 hook does not invent names."""
    with pytest.raises(AttributeError, match="no_such_name"):
        models.no_such_name  # noqa: B018


def test_record_constants_still_resolve_from_models() -> None:
    """RECORD_NAME_PATTERN and MAX_TOKEN_CHARS, module constants before the split, still import."""
    from noetl_ib_plugin.credentials import fields

    assert models.RECORD_NAME_PATTERN is fields.RECORD_NAME_PATTERN
    assert models.MAX_TOKEN_CHARS == fields.MAX_TOKEN_CHARS == 4096
