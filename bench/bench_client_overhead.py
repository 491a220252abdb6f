"""Benchmark 2: client CPU per authenticated GET vs a bare `requests.Session` and ibind 0.2.2.

The simulator runs in its own process with pacing off; this process measures its own CPU time
(`time.process_time`) per call, interleaved round by round so drift hits every variant alike:
a bare Session GET with a fixed Authorization header, IBClient with the OAuth 2.0 bearer, and
IBClient with OAuth 1.0a per-request HMAC signing. Each scenario runs with 36 and with 1,000
environment variables, and with a 50-entry ~/.netrc (temporary HOME): a bare Session rescans
both on every call, our client reads them once per client (transport.SettledSession).

ibind 0.2.2 runs in a throw-away venv (built here with pip from the configured package index,
or NOETL_IB_BENCH_IBIND_PYTHON names an interpreter that has it) as bench/_ibind_worker.py,
timed in the same rounds of the 36-variable scenario: its OAuth 1.0a client against ours, its
plain client with a bearer header against our bearer client. If it cannot be installed, its
figures are skipped with the reason.

Targets: <= 0.8x bare in every scenario, <= 0.7x ibind for both schemes, and flat: our own CPU
per call with 1,000 variables within 10% of that with 36 (clients for both sizes timed in
alternating rounds, so the drift of a busy machine does not land in the ratio).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import requests
from _common import Target, emit, isolated_cache, median, simulator

ROUNDS, CALLS = 8, 150
PATH = "/iserver/accounts"


def _cpu_per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls


@contextmanager
def _environment(variables: int, netrc_entries: int) -> Iterator[None]:
    """Pad os.environ to `variables` entries and point HOME at a ~/.netrc of `netrc_entries`."""
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="nib-home-") as home:
        try:
            if netrc_entries:
                lines = [f"machine host{i}.example login user{i} password pw{i}"
                         for i in range(netrc_entries)]
                Path(home, ".netrc").write_text("\n".join(lines) + "\n")
                Path(home, ".netrc").chmod(0o600)
            os.environ["HOME"] = home
            for i in range(max(0, variables - len(os.environ))):
                os.environ[f"NIB_BENCH_PAD_{i}"] = "x" * 40
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)


def _scenario(sim_url_creds: Path, variables: int, netrc_entries: int,
              ibind_python: str | None = None) -> dict[str, float]:
    """CPU µs per call of each variant, fresh clients built inside the scenario's environment."""
    from noetl_ib_plugin import IBClient, get_token_provider, load_credential

    with _environment(variables, netrc_entries):
        oauth2 = IBClient(get_token_provider(load_credential("sim_oauth2", sim_url_creds)),
                          pacer=False)
        oauth1a = IBClient(get_token_provider(load_credential("sim_oauth1a", sim_url_creds)),
                           pacer=False)
        oauth2.get(PATH)  # token, brokerage session and connection pool are warm before timing
        oauth1a.get(PATH)
        bare = requests.Session()
        bare.headers["Authorization"] = f"Bearer {oauth2.provider.fetch_token()}"
        url = oauth2.trading_base_url + PATH

        def bare_get() -> object:
            resp = bare.get(url, timeout=(5, 30))
            resp.raise_for_status()
            return resp.json()

        variants: dict[str, Callable[[], object]] = {
            "bare_requests": bare_get,
            "ibclient_oauth2_bearer": lambda: oauth2.get(PATH),
            "ibclient_oauth1a_hmac": lambda: oauth1a.get(PATH),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        worker = _start_ibind(ibind_python, oauth1a, oauth2, sim_url_creds) if ibind_python \
            else None
        for _ in range(ROUNDS):
            for name, fn in variants.items():
                samples[name].append(_cpu_per_call(fn, CALLS))
            if worker is not None:
                assert worker.stdin is not None and worker.stdout is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
                for name, value in json.loads(worker.stdout.readline()).items():
                    samples.setdefault(name, []).append(value)
        if worker is not None:
            assert worker.stdin is not None
            worker.stdin.close()
            worker.wait(timeout=30)
        oauth2.close()
        oauth1a.close()
        bare.close()
    us = {name: round(median(values) * 1e6, 1) for name, values in samples.items()}
    out = {
        **us,
        "ratio_oauth2_vs_bare": round(us["ibclient_oauth2_bearer"] / us["bare_requests"], 3),
        "ratio_oauth1a_vs_bare": round(us["ibclient_oauth1a_hmac"] / us["bare_requests"], 3),
    }
    if "ibind_bearer" in us:
        out["ratio_oauth2_vs_ibind"] = round(us["ibclient_oauth2_bearer"] / us["ibind_bearer"], 3)
        out["ratio_oauth1a_vs_ibind"] = round(
            us["ibclient_oauth1a_hmac"] / us["ibind_oauth1a_hmac"], 3)
    return out


def _start_ibind(python: str, oauth1a: Any, oauth2: Any,
                 credentials_file: Path) -> subprocess.Popen[str]:
    """bench/_ibind_worker.py in ibind's venv, clients built and warm, waiting for rounds."""
    records = {r["name"]: r for r in json.loads(credentials_file.read_text())["credentials"]}
    cfg = {"api_base_url": oauth1a.trading_base_url,
           "oauth1a": _ibind_consumer(records["sim_oauth1a"]["data"], oauth1a.trading_base_url),
           "bearer": oauth2.provider.fetch_token(), "path": PATH, "calls": CALLS}
    worker = subprocess.Popen(
        [python, str(Path(__file__).with_name("_ibind_worker.py")), json.dumps(cfg)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert worker.stdout is not None
    ready = worker.stdout.readline()
    if not ready:
        raise RuntimeError("ibind worker failed to start (run it by hand to see why)")
    return worker


def _ibind_consumer(data: dict[str, Any], api_base_url: str) -> dict[str, Any]:
    """A second OAuth 1.0a consumer (own username and account) for ibind, so that its brokerage
    session does not take ours over (IBKR allows one per username); same throw-away keys."""
    from cryptography.hazmat.primitives import serialization

    def public(pem: str) -> str:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    root = api_base_url.split("/v1/api", maxsplit=1)[0]
    entry = {"type": "oauth1a", "consumer_key": "IBINDBENCH", "access_token": "ibind0bench0token",
             "signature_public_key": public(data["signature_key"]),
             "encryption_public_key": public(data["encryption_key"]),
             "username": "ibindbench", "account_id": "DU5550001"}
    answer = requests.post(f"{root}/__sim/clients", json=entry, timeout=30)
    answer.raise_for_status()
    return {**data, "consumer_key": entry["consumer_key"], "access_token": entry["access_token"],
            "access_token_secret": answer.json()["access_token_secret"]}


@contextmanager
def _ibind_python() -> Iterator[tuple[str | None, str]]:
    """An interpreter with ibind 0.2.2 (a throw-away venv), or None and the reason."""
    given = os.environ.get("NOETL_IB_BENCH_IBIND_PYTHON")
    if given:
        yield given, f"ibind from {given}"
        return
    with tempfile.TemporaryDirectory(prefix="nib-ibind-") as root:
        try:
            subprocess.run([sys.executable, "-m", "venv", root], check=True,
                           capture_output=True, timeout=120)
            python = str(Path(root, "bin", "python"))
            subprocess.run([python, "-m", "pip", "install", "--quiet", "ibind[oauth]==0.2.2"],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.SubprocessError, OSError) as exc:
            err = getattr(exc, "stderr", b"") or b""
            yield None, ("skipped: ibind 0.2.2 could not be installed in a throw-away venv ("
                         f"{type(exc).__name__}: {err.decode(errors='replace')[-200:].strip()})")
            return
        yield python, "ibind 0.2.2 installed in a throw-away venv"


def _pad_environment(variables: int, base: dict[str, str]) -> None:
    """Make os.environ `base` padded to `variables` entries (in place, as a process sees it)."""
    os.environ.clear()
    os.environ.update(base)
    for i in range(max(0, variables - len(os.environ))):
        os.environ[f"NIB_BENCH_PAD_{i}"] = "x" * 40


def _own_flatness(sim_url_creds: Path) -> dict[str, float]:
    """Our CPU per call with 1,000 variables over that with 36, the two alternated round by round.

    A client built in each environment, timed in it, in interleaved rounds: drift of a busy
    machine hits both sizes alike (timing the scenarios one after the other put it in the ratio).
    """
    from noetl_ib_plugin import IBClient, get_token_provider, load_credential

    base = dict(os.environ)
    clients: dict[tuple[str, int], Any] = {}
    try:
        for size in (36, 1000):
            _pad_environment(size, base)
            for scheme, name in (("oauth2", "sim_oauth2"), ("oauth1a", "sim_oauth1a")):
                client = IBClient(get_token_provider(load_credential(name, sim_url_creds)),
                                  pacer=False)
                client.get(PATH)
                clients[(scheme, size)] = client
        samples: dict[tuple[str, int], list[float]] = {key: [] for key in clients}
        for round_no in range(ROUNDS):
            sizes = (36, 1000) if round_no % 2 == 0 else (1000, 36)
            for size in sizes:
                _pad_environment(size, base)
                for scheme in ("oauth2", "oauth1a"):
                    samples[(scheme, size)].append(
                        _cpu_per_call(partial(clients[(scheme, size)].get, PATH), CALLS))
    finally:
        os.environ.clear()
        os.environ.update(base)
    names = {"oauth2": "ibclient_oauth2_bearer", "oauth1a": "ibclient_oauth1a_hmac"}
    return {names[scheme]: round(median(samples[(scheme, 1000)]) / median(samples[(scheme, 36)]), 3)
            for scheme in names}


def main() -> None:
    """Run every scenario and report CPU µs per call (medians), ratios and flatness."""
    with simulator("--no-pacing") as sim, isolated_cache(), _ibind_python() as (ibind, note):
        scenarios = {
            "env36": _scenario(sim.credentials_file, 36, 0, ibind),
            "env1000": _scenario(sim.credentials_file, 1000, 0),
            "env36_netrc50": _scenario(sim.credentials_file, 36, 50),
        }
        own_flat = _own_flatness(sim.credentials_file)
    flat = {
        scheme: round(scenarios["env1000"][f"ratio_{scheme}_vs_bare"]
                      / scenarios["env36"][f"ratio_{scheme}_vs_bare"], 3)
        for scheme in ("oauth2", "oauth1a")
    }
    targets = [
        Target(f"scenarios.{name}.ratio_{scheme}_vs_bare", "<=", 0.8,
               f"client CPU per GET vs a bare Session ({scheme}, {name})")
        for name in scenarios
        for scheme in ("oauth2", "oauth1a")
    ]
    if "ratio_oauth2_vs_ibind" in scenarios["env36"]:
        targets += [Target(f"scenarios.env36.ratio_{scheme}_vs_ibind", "<=", 0.7,
                           f"client CPU per GET vs ibind 0.2.2 ({scheme})")
                    for scheme in ("oauth2", "oauth1a")]
    # A bare Session gets slower with 1,000 variables; ours must not: its own µs stay flat
    # (measured interleaved by _own_flatness, not across the sequential scenarios above).
    targets += [Target(f"own_cpu_1000_vs_36_env.{v}", "<=", 1.1, "flat as the environment grows")
                for v in own_flat]
    emit(
        {
            "calls_per_variant_per_scenario": ROUNDS * CALLS,
            "scenarios": scenarios,
            "ratio_1000_vs_36_env": flat,
            "own_cpu_1000_vs_36_env": own_flat,
            "ibind": note,
            "python": sys.version.split()[0],
        },
        targets,
    )


if __name__ == "__main__":
    main()
