"""The one error tree: every class in errors.py, one `to_dict`, a `retryable` callers can trust."""

from __future__ import annotations

import inspect

import pytest

from noetl_ib_plugin import errors
from noetl_ib_plugin.cli import _io as cli_io

#: Exit code per category, written out here rather than read from cli._io (the code under test).
EXIT = {"input": 2, "auth": 3, "broker": 4, "transient": 5, "unknown": 6}


def _classes() -> list[type[errors.IBPluginError]]:
    return [c for _, c in inspect.getmembers(errors, inspect.isclass)
            if issubclass(c, errors.IBPluginError) and c.__module__ == errors.__name__]


def test_every_error_class_of_the_tree_is_exported() -> None:
    """Each IBPluginError subclass defined in errors.py is in its __all__ and drawn in its docstring."""
    doc = errors.__doc__ or ""
    for cls in _classes():
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in doc, cls.__name__


def test_to_dict_is_defined_once_on_the_base() -> None:
    """No subclass overrides to_dict: structured fields come from `details`."""
    for cls in _classes():
        if cls is not errors.IBPluginError:
            assert "to_dict" not in vars(cls), cls.__name__


@pytest.mark.parametrize(
    ("error", "retryable", "category"),
    [
        (errors.TransientError("5xx"), True, "transient"),
        (errors.RateLimited("429", retry_after=2.0), True, "transient"),
        (errors.OutcomeUnknown("reset after POST"), False, "unknown"),
        (errors.OrderUnconfirmed("no answer", client_order_id="c-1"), False, "unknown"),
        (errors.BrokerError("400"), False, "broker"),
        (errors.AuthError("401"), False, "auth"),
        (errors.InputError("bad", field="qty"), False, "input"),
        (errors.AmbiguousContract("two", candidates=[]), False, "input"),
        (errors.SessionTakenOver("held"), False, "broker"),
    ],
)
def test_retryable_and_category(error: errors.IBPluginError, retryable: bool, category: str) -> None:
    """Only transient errors whose resend is safe say retryable; OutcomeUnknown never does."""
    assert error.retryable is retryable
    assert error.category == category
    assert error.to_dict()["category"] == category
    assert cli_io.error_exit_code(error) == EXIT[category]


def test_ambiguous_contract_is_an_input_error() -> None:
    """AmbiguousContract sits under InputError (the caller must narrow), still a LookupError."""
    exc = errors.AmbiguousContract("two listings", candidates=[{"conid": 1, "exchange": "ASX"}])
    assert isinstance(exc, errors.InputError) and isinstance(exc, LookupError)
    assert not isinstance(exc, errors.BrokerError)
    assert exc.to_dict()["candidates"] == [{"conid": 1, "exchange": "ASX"}]


def test_structured_fields_in_to_dict() -> None:
    """to_dict carries the cOID, order id, reason and status as fields, not only as text."""
    unknown = errors.OrderUnconfirmed("lost", client_order_id="c-9", status=503).to_dict()
    assert unknown["client_order_id"] == "c-9" and unknown["status"] == 503
    assert unknown["field"] == "client_order_id" and unknown["category"] == "unknown"
    inactive = errors.OrderInactive("held", order_id="7", client_order_id=None).to_dict()
    assert inactive["order_id"] == "7" and inactive["reason"] is None
    assert "client_order_id" in inactive and inactive["client_order_id"] is None
    conflict = errors.IdempotencyKeyConflict("taken", client_order_id="c-1", order_id="8").to_dict()
    assert (conflict["client_order_id"], conflict["order_id"]) == ("c-1", "8")
    assert "status" not in errors.BrokerError("no status").to_dict()


def test_usage_error_renders_its_words_only() -> None:
    """A CLI usage error prints its message as given (no field prefix), typed UsageError."""
    body = errors.UsageError("--args-json must be a JSON object", field="args_json").to_dict()
    assert body["message"] == "--args-json must be a JSON object"
    assert body["type"] == "UsageError" and body["field"] == "args_json"


def _outcome_unknown_members() -> list[type[errors.IBPluginError]]:
    return list(dict.fromkeys(c for c in _classes() if issubclass(c, errors.OutcomeUnknownError)))


def test_outcome_unknown_branch_holds_every_unknown_error_and_nothing_else() -> None:
    """The classes of category "unknown" are exactly the OutcomeUnknownError branch, both kinds in it."""
    unknown = {c for c in _classes() if c.category == "unknown"}
    assert unknown == set(_outcome_unknown_members())
    assert {errors.OutcomeUnknown, errors.OrderUnconfirmed} <= unknown


def _sample(cls: type[errors.IBPluginError]) -> errors.IBPluginError:
    if issubclass(cls, errors.OrderUnconfirmed):
        return cls("no answer", client_order_id="c-1")
    if cls is errors.ModifyUnconfirmed:
        return cls("no answer", order_id="1")
    return cls("no answer")


@pytest.mark.parametrize("cls", _outcome_unknown_members(), ids=lambda c: c.__name__)
def test_except_transient_or_broker_never_catches_an_unknown_outcome(
    cls: type[errors.IBPluginError],
) -> None:
    """A bot's `except TransientError: retry` / `except BrokerError: give up` lets it through."""
    exc = _sample(cls)
    for handler in (errors.TransientError, errors.BrokerError):
        with pytest.raises(cls):
            try:
                raise exc
            except handler:
                pytest.fail(f"except {handler.__name__} caught {cls.__name__}")
    with pytest.raises(errors.OutcomeUnknownError):
        raise exc


@pytest.mark.parametrize("cls", _outcome_unknown_members(), ids=lambda c: c.__name__)
def test_every_unknown_outcome_exits_6_and_is_never_retryable(
    cls: type[errors.IBPluginError],
) -> None:
    """Each member keeps category "unknown", CLI exit 6 and retryable False."""
    exc = _sample(cls)
    assert exc.category == "unknown" and exc.to_dict()["category"] == "unknown"
    assert cli_io.error_exit_code(exc) == EXIT["unknown"] == 6
    assert exc.retryable is False


def test_error_classes_are_exported_only_by_errors_and_the_package_root() -> None:
    """No lower module re-exports an error of the tree (users import from errors; no 0.1.0 paths)."""
    import importlib
    import pkgutil

    import noetl_ib_plugin

    found = []
    for info in pkgutil.walk_packages(noetl_ib_plugin.__path__, "noetl_ib_plugin."):
        if ".simulator" in info.name or info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if inspect.isclass(value) and value.__module__ == errors.__name__ \
                    and info.name != errors.__name__:
                found.append(f"{info.name}.{name}")
    assert found == []
