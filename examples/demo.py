"""`make demo`: the real `noetl` CLI runs the example playbooks against a local IBKR simulator.

Starts `noetl-ib simulator` on a free loopback port, points the plugin at its credentials file
and a throw-away token cache, runs `paper_roundtrip.yaml` (and `bearer_http.yaml`) with
`noetl run --runtime local --json`, prints what each step asked and what came back, the
simulator's order book and token counters, and always stops the simulator.
Exit 0 only if every step of every playbook ran.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "examples" / "playbooks"
ROUNDTRIP_STEPS = [
    "start", "positions", "snapshot", "limit_price", "place_order", "open_orders", "find_order",
    "cancel_order",
]
BEARER_STEPS = ["start", "open_session", "accounts", "positions"]


def _tool(name: str) -> str:
    """The venv's own executable (the demo runs as `.venv/bin/python`), else the one on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"demo: `{name}` not found; install the project with `pip install -e .[demo]`")
    return found


@contextlib.contextmanager
def simulator(state_dir: Path, *, timeout: float = 30.0) -> Iterator[dict[str, Any]]:
    """`noetl-ib simulator --port 0` as a subprocess; yields its ready line; always stops it."""
    log = open(state_dir.parent / "simulator.log", "w", encoding="utf-8")  # noqa: SIM115
    proc = subprocess.Popen(
        [_tool("noetl-ib"), "simulator", "--port", "0", "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"simulator did not start within {timeout:.0f}s (see {log.name})")
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def _admin(url: str, path: str) -> Any:
    """GET one of the simulator's /__sim endpoints (loopback only)."""
    with urllib.request.urlopen(f"{url}{path}", timeout=10) as resp:  # noqa: S310
        return json.loads(resp.read().decode("utf-8"))


def _descriptions(playbook: Path) -> dict[str, str]:
    """Each step's `desc:` from the playbook (PyYAML when available, else a line scan)."""
    text = playbook.read_text(encoding="utf-8")
    try:
        import yaml  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        out: dict[str, str] = {}
        current = None
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("- step:"):
                current = line.split(":", 1)[1].strip()
            elif line.startswith("desc:") and current:
                out[current] = line.split(":", 1)[1].strip()
        return out
    doc = yaml.safe_load(text)
    return {s["step"]: str(s.get("desc", "")) for s in doc.get("workflow", []) if "step" in s}


def _money(value: Any) -> str:
    return f"{value:,.2f}" if isinstance(value, (int, float)) else str(value)


def _summaries() -> dict[str, Callable[[dict[str, Any]], str]]:
    """What came back, per step name, in one line."""

    def positions(r: dict[str, Any]) -> str:
        items = r.get("positions")
        if not isinstance(items, list):  # the http flavour: the body is IBKR's raw list
            body = r.get("body")
            rows: list[Any] = body if isinstance(body, list) else []
            return f"HTTP {r.get('status')}: " + ", ".join(
                f"{p.get('contractDesc')} {p.get('position'):g}" for p in rows
            )
        return f"{r.get('count', len(items))} positions: " + ", ".join(
            f"{p.get('symbol')} {p.get('position'):g} @ {_money(p.get('market_price'))}" for p in items
        )

    def snapshot(r: dict[str, Any]) -> str:
        return "; ".join(
            f"{q.get('symbol')} (conid {q.get('conid')}) last {q.get('last')} "
            f"bid {q.get('bid')} ask {q.get('ask')}"
            for q in r.get("snapshots", [])
        ) + f"  [{r.get('attempts')} poll(s)]"

    return {
        "start": lambda r: (
            f"account {r.get('account_id')}: net liquidation {_money(r.get('net_liquidation'))} "
            f"{r.get('currency') or ''}, available {_money(r.get('available_funds'))}"
            if "net_liquidation" in r
            else f"bearer exported to alias {r.get('exported', {}).get('alias')} "
            f"({r.get('exported', {}).get('path')}, mode 600); token {r.get('token')}, "
            f"from_cache={r.get('from_cache')}"
        ),
        "positions": positions,
        "snapshot": snapshot,
        "limit_price": lambda r: f"limit {r.get('limit_price')} (last {r.get('last')})",
        "place_order": lambda r: (
            f"order {r.get('order_id')} {r.get('status')}: {r.get('side')} {r.get('quantity'):g} "
            f"{r.get('symbol')} {r.get('order_type')} @ {r.get('limit_price')} {r.get('tif')}"
        ),
        "open_orders": lambda r: f"{len(r.get('orders', []))} working: " + ", ".join(
            f"{o.get('order_id')} {o.get('side')} {o.get('symbol')} @ {o.get('price')} {o.get('status')}"
            for o in r.get("orders", [])
        ),
        "find_order": lambda r: f"order {r.get('order_id')} is {r.get('status') or 'NOT working'}",
        "cancel_order": lambda r: f"order {r.get('order_id')}: {r.get('status')} ({r.get('message')})",
        "open_session": lambda r: f"HTTP {r.get('status')}: authenticated="
        f"{(r.get('body') or {}).get('authenticated')}",
        "accounts": lambda r: f"HTTP {r.get('status')}: "
        + ", ".join(str(a.get("id")) for a in (r.get("body") or []) if isinstance(a, dict)),
    }


def _describe(step: str, raw: str) -> str:
    try:
        result = json.loads(raw)
    except ValueError:
        return raw[:160]
    summary = _summaries().get(step)
    if summary is not None and isinstance(result, dict):
        try:
            return summary(result)
        except (TypeError, ValueError, AttributeError):
            pass
    return json.dumps(result, separators=(",", ":"))[:160]


def run_playbook(playbook: Path, env: dict[str, str], expected: list[str], credential: str) -> bool:
    """`noetl run PLAYBOOK --runtime local --json`; print each step; True if every step ran."""
    print(f"\n== noetl run {playbook.relative_to(REPO)} --runtime local --set credential={credential}")
    proc = subprocess.run(
        [_tool("noetl"), "run", str(playbook), "--runtime", "local", "--json",
         "--set", f"credential={credential}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    outcome: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        outcome = json.loads(proc.stdout) if proc.stdout.strip() else {}
    descriptions = _descriptions(playbook)
    results = outcome.get("step_results", {})
    for index, step in enumerate(outcome.get("executed_steps", []), 1):
        print(f"  {index}. {step}: {descriptions.get(step, '')}")
        print(f"       -> {_describe(step, str(results.get(step, '')))}")
    ran = list(outcome.get("executed_steps", []))
    ok = proc.returncode == 0 and outcome.get("status") == "ok" and ran == expected
    if not ok:
        print(f"  FAILED (noetl exit {proc.returncode}); steps run: {ran or 'none'}; expected: {expected}")
        for line in proc.stderr.splitlines():
            if line.strip() and not line.lstrip()[:1].isdigit() and " at /" not in line:
                print(f"  noetl: {line}")
        error_log = Path(env["NOETL_IB_ERROR_LOG"])
        if error_log.exists():
            for line in error_log.read_text(encoding="utf-8").splitlines():
                print(f"  noetl-ib error: {line}")
    else:
        print(f"  ok: {len(ran)} steps in {outcome.get('duration_seconds', 0):.1f}s")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit code says whether every step ran."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--credential", default="sim_oauth2", help="sim_oauth2 or sim_oauth1a")
    parser.add_argument("--skip-bearer", action="store_true", help="only run paper_roundtrip.yaml")
    args = parser.parse_args(argv)
    try:
        ok = _demo(args.credential, bearer=not args.skip_bearer)
    except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
        print(f"\ndemo: FAILED: {exc}", file=sys.stderr)
        return 1
    print("\ndemo:", "every step ran" if ok else "FAILED")
    return 0 if ok else 1


def _demo(credential: str, *, bearer: bool) -> bool:
    """Simulator up, playbooks run, book and counters printed; the simulator always stops."""
    with tempfile.TemporaryDirectory(prefix="noetl-ib-demo-") as tmp:
        work = Path(tmp)
        with simulator(work / "state") as ready:
            url = str(ready["url"])
            print(f"simulator: {url} (pid {ready['pid']}), credentials {ready['credentials_file']}")
            env = {k: v for k, v in os.environ.items() if k != "NOETL_SERVER_URL"}
            env.update(
                NOETL_IB_CREDENTIALS=str(ready["credentials_file"]),
                NOETL_IB_CACHE_DIR=str(work / "token-cache"),
                NOETL_CREDENTIALS_DIR=str(work / "noetl-credentials"),
                NOETL_IB_ERROR_LOG=str(work / "errors.jsonl"),
                PATH=f"{Path(_tool('noetl-ib')).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                RUST_BACKTRACE="0",
            )
            ok = run_playbook(PLAYBOOKS / "paper_roundtrip.yaml", env, ROUNDTRIP_STEPS, credential)
            if bearer and credential == "sim_oauth2":  # OAuth 1.0a has no bearer to export
                ok = run_playbook(PLAYBOOKS / "bearer_http.yaml", env, BEARER_STEPS, credential) and ok

            print("\n== simulator")
            for order in _admin(url, "/__sim/orders"):
                order_id = order.get("order_id", order.get("orderId"))
                print(f"  book: order {order_id} {order.get('side')} {order.get('quantity')} "
                      f"conid {order.get('conid')} @ {order.get('price')} -> {order.get('status')}")
            stats = _admin(url, "/__sim/stats")
            print(f"  OAuth 2.0 token requests: {stats.get('oauth2_token_requests')}, "
                  f"SSO sessions: {stats.get('sso_session_requests')}, "
                  f"LST requests: {stats.get('lst_requests')}, "
                  f"brokerage inits: {stats.get('ssodh_init_requests')}, "
                  f"requests: {stats.get('requests_total')}")
    return ok


if __name__ == "__main__":
    sys.exit(main())
