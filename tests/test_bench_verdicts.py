"""`make bench` verdicts: each target judged on its figure; `--strict` turns a miss into exit 1."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name: str) -> ModuleType:
    """Import a bench module by path (bench/ is scripts, not a package)."""
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


common = _load("_common")


def test_verdicts_are_printed_per_figure(capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each target gets value, target text and met; nested figures resolve by dotted path."""
    monkeypatch.setattr(sys, "argv", ["bench_x.py"])
    monkeypatch.delenv("NOETL_IB_BENCH_STRICT", raising=False)
    targets = (common.Target("ratio", "<=", 1.5), common.Target("cold.token_requests", "==", 1))
    common.emit({"ratio": 1.9, "cold": {"token_requests": 1}}, targets)
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert [(v["figure"], v["met"], v["target"]) for v in out["verdicts"]] == [
        ("ratio", False, "<= 1.5"), ("cold.token_requests", True, "== 1")]
    assert out["all_targets_met"] is False
    assert "MISSED ratio = 1.9 (target <= 1.5)" in captured.err


@pytest.mark.parametrize("how", ["argv", "env"])
def test_strict_mode_exits_non_zero_on_a_miss(how: str, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`--strict` or NOETL_IB_BENCH_STRICT=1: a missed target exits 1; all met exits normally."""
    monkeypatch.setattr(sys, "argv", ["bench_x.py", "--strict"] if how == "argv" else ["b.py"])
    if how == "env":
        monkeypatch.setenv("NOETL_IB_BENCH_STRICT", "1")
    with pytest.raises(SystemExit) as info:
        common.emit({"http_429": 2}, (common.Target("http_429", "==", 0),))
    assert info.value.code == 1
    capsys.readouterr()
    common.emit({"http_429": 0}, (common.Target("http_429", "==", 0),))  # no exit
    assert json.loads(capsys.readouterr().out)["all_targets_met"] is True


def test_a_missing_figure_is_a_miss() -> None:
    """A target whose figure the result lacks is not met (a renamed figure cannot pass silently)."""
    verdict = common.Target("gone", "<=", 1).judge({"other": 0})
    assert verdict["met"] is False and verdict["value"] is None


def test_pacing_window_counts_the_burst_right() -> None:
    """Bursts of 10 a second apart: max 10 per 1 s window and steady 10/s, yet average above 10/s."""
    pacing = _load("bench_pacing")
    assert pacing.max_in_window([0.0] * 11) == 11  # a real violation is seen
    stamps = [k + j * 0.0625 for k in range(10) for j in range(10)]  # exact in binary
    assert pacing.max_in_window(stamps) == 10
    assert (len(stamps) - 1) / (stamps[-1] - stamps[0]) > 10.3  # the misleading average
    steady = (len(stamps) - pacing.BURST) / (stamps[-1] - stamps[pacing.BURST - 1])
    assert steady == pytest.approx(10.0)
