"""The one JSON nesting walk shared by the CLI's arguments and the token cache entries."""

from __future__ import annotations

from typing import Any

from noetl_ib_plugin.auth.cache_entry import valid_entry
from noetl_ib_plugin.cli._args import MAX_JSON_DEPTH, load_json_bounded
from noetl_ib_plugin.common.jsonbounds import nests_within


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def test_depth_limit_is_inclusive() -> None:
    """`limit` levels of lists pass, one more fails; a scalar nests 0 deep."""
    assert nests_within(_nested(3), 3)
    assert not nests_within(_nested(4), 3)
    assert nests_within("text", 0) and not nests_within([], 0)


def test_walk_is_iterative() -> None:
    """A structure 100,000 deep is refused without a RecursionError."""
    assert not nests_within(_nested(100_000), 16)


def test_finite_floats_only_when_asked() -> None:
    """NaN and infinity fail only with finite_floats=True, also inside objects."""
    value = {"a": [1.0, {"b": float("nan")}]}
    assert nests_within(value, 8)
    assert not nests_within(value, 8, finite_floats=True)
    assert not nests_within([float("inf")], 8, finite_floats=True)


def test_cli_and_cache_use_the_walk() -> None:
    """--args-json past MAX_JSON_DEPTH is refused; a cache entry with a NaN inside is a miss."""
    text = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    try:
        load_json_bounded(text, "args_json")
    except ValueError as exc:
        assert "levels deep" in str(exc)
    else:  # pragma: no cover - the assertion that fails
        raise AssertionError("too deep JSON was accepted")
    entry = {"value": "abc", "scheme": "oauth2", "obtained_at": 1e9, "expires_at": 1e9 + 60,
             "extra": {"n": float("nan")}}
    assert not valid_entry(entry)
    entry["extra"] = {"n": 1.5}
    assert valid_entry(entry)
