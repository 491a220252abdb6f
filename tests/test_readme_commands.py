"""Every copyable command and snippet of README.md, run as written against a simulator on loopback.

The README's fenced blocks (bash, python, yaml) and its inline commands are extracted from the
file itself; each one is either run here, in a fresh HOME with the suite's venv on PATH (what
`. .venv/bin/activate` gives a newcomer), or named in NOT_RUN with the reason. A block or command
added to the README without either fails `test_every_readme_command_is_run_or_listed`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]

import noetl_ib_plugin
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import REPO, VENV_BIN, process_env
from tests.e2e.noetl_server import NoetlServer
from tests.e2e.worker import run_playbook

README = (REPO / "README.md").read_text(encoding="utf-8")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
COMMAND_WORDS = ("noetl-ib ", "noetl ", "make ", "pip ", "python", "openssl ", "eval ", "export ", "tail ")

#: Paths the README names for the user's own installs: the suite's venv stands in for them.
SUBSTITUTE = {"~/noetl-ib/bin/": f"{VENV_BIN}/", "/opt/noetl-ib/.venv/bin/": f"{VENV_BIN}/"}

#: Lines of fenced blocks and inline commands that are not run, with the reason.
NOT_RUN = {
    "make demo": "sets up .venv and runs examples/demo.py: tests/e2e/test_demo.py runs that demo",
    "make test": "the suite itself (ruff, mypy, this pytest run, wheel-check)",
    "make setup": "creates .venv from the package index; the suite already runs inside that venv",
    ". .venv/bin/activate": "the suite's venv bin is put first on PATH instead",
    "make dist": "builds with pip's isolated build environment (package index); `make wheel-check` "
                 "in `make test` builds and installs the wheel in a fresh venv",
    "python3 -m venv ~/noetl-ib": "installs from the package index; `make wheel-check` does it",
    'pip install -e ".[dev,demo,simulator]"': "what `make setup` runs (package index)",
    "make bench": "benchmarks, minutes long: not part of the suite by the team's rules",
    "make soak": "the fault soak, minutes long",
    "noetl-ib run": "a name, not a command",
    "noetl run": "a name, not a command",
    "noetl register credential -f FILE": "needs NoETL's Rust server (not installable here); "
                                         "tests/e2e/noetl_server.py follows its contract",
    "noetl credential set ib_paper < record.json": "the user's own record; the alias store lookup "
                                                   "is tested in tests/test_stores.py",
    "noetl run PLAYBOOK --runtime local --json": "a placeholder; run here as buy_below_last.yaml --json",
    "noetl-ib run --on-error result ...": "a fragment: routed_order.yaml runs it (tests/e2e)",
    "noetl-ib warm start --idle 300": "starts a long-lived server: tests/warm/ cover it",
    "noetl-ib actions NAME": "a placeholder; run here as `noetl-ib actions place_order`",
    "noetl-ib run auth_status": "quoted from a fix text; test_hints parses every fix's command",
    "tail -f ~/ib-sim.log": "follows forever; the quick start test reads ~/ib-sim.log itself",
    "noetl-ib credentials check FILE": "a placeholder; run here on the simulator's credentials file",
    "noetl-ib run search_contracts symbol=AAPL": "run with --credential against the simulator by "
    "tests/actions/test_contract_search_sim.py (test_search_then_order_on_the_cli)",
    "noetl-ib run place_order symbol=AAPL sec_type=OPT expiry=20300118 strike=200 right=C "
    "side=BUY quantity=1 order_type=MKT": "run with --credential against the simulator by "
    "tests/actions/test_contract_search_sim.py (test_search_then_order_on_the_cli)",
}
#: The lines of fenced blocks that are skipped (each is in NOT_RUN with its reason).
SKIPPED_LINES = ("make demo", "make test", "make setup", ". .venv/bin/activate", "make dist",
                 "python3 -m venv ~/noetl-ib")
#: The first line of each fenced block this module runs or lists, by language.
HANDLED_BLOCKS = {
    "bash": ("make demo", "make dist", "make setup", "noetl run examples/", "D=$(mktemp -d)"),
    "python": ("from noetl_ib_plugin import OrderRejected", "from noetl_ib_plugin import IBToken"),
    "yaml": ("apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: buy_below_last",
             "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata:\n  name: ib_positions"),
    "": ("noetl-ib run ACTION",),   # the synopsis: placeholders; test_hints parses the options it names
}
LOCAL_PLAYBOOK, DISTRIBUTED_PLAYBOOK = HANDLED_BLOCKS["yaml"]
BOT_SNIPPET, LOWER_LEVEL_SNIPPET = HANDLED_BLOCKS["python"]


def fenced() -> list[tuple[str, str]]:
    """(language, body) of every fenced block, its indentation removed."""
    out = []
    for m in FENCE.finditer(README):
        indent = len(m["indent"])
        body = "".join(line[indent:] for line in m["body"].splitlines(keepends=True))
        out.append((m["lang"], body))
    return out


def block(lang: str, first_line_start: str) -> str:
    """The one fenced block of that language whose first line starts with the given text."""
    found = [b for lg, b in fenced() if lg == lang and b.startswith(first_line_start)]
    assert len(found) == 1, f"README: expected one {lang} block starting {first_line_start!r}"
    return found[0]


def inline_commands() -> list[str]:
    """Inline code spans outside fences that read as shell commands."""
    text = FENCE.sub("", README)
    return [s for s in INLINE.findall(text) if s.startswith(COMMAND_WORDS) and " " in s]


def runnable(script: str) -> str:
    """The script without NOT_RUN lines, with the README's install paths pointing at the suite's venv."""
    assert all(line in NOT_RUN for line in SKIPPED_LINES)
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith(SKIPPED_LINES)]
    out = "\n".join(lines)
    for old, new in SUBSTITUTE.items():
        out = out.replace(old, new)
    return out + "\n"


def fresh_home_env(home: Path) -> dict[str, str]:
    """A newcomer's shell: a fresh HOME, the venv on PATH, none of the suite's redirections."""
    env = {k: v for k, v in process_env().items()
           if not k.startswith(("NOETL_", "OAUTH_", "IBIND_", "IBKR_", "XDG_")) and k != "PAPER_TRADING"}
    env["HOME"] = str(home)
    return env


def bash(script: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a script in bash from the checkout (as the README's commands are), exiting on the first failure."""
    trap = 'trap \'[ -z "${SIM:-}" ] || kill $SIM 2>/dev/null || true\' EXIT'
    guarded = f"set -e -o pipefail\n{trap}\n{script}"
    return subprocess.run(["bash", "-c", guarded], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def alive(pid: int, wait: float) -> bool:
    """Whether the process still runs (a zombie does not) after waiting up to `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        if state == "Z" or time.monotonic() > deadline:
            return state != "Z"
        time.sleep(0.1)


# The quick start's commands that the prose gives inline, run in the same shell session.
SIMULATOR_ENV = 'eval "$(noetl-ib simulator env --state-dir ~/ib-sim)"'
SIMULATOR_ENV_IBIND = 'eval "$(noetl-ib simulator env --ibind --state-dir ~/ib-sim)"'
RUN_PLAYBOOK = "noetl run buy_below_last.yaml --runtime local --set credential=sim_oauth2"
ERROR_LOG = "export NOETL_IB_ERROR_LOG=~/noetl-ib-errors.jsonl"
ON_ERROR = "export NOETL_IB_ON_ERROR=result"
RUN_INLINE = {
    SIMULATOR_ENV, SIMULATOR_ENV_IBIND, RUN_PLAYBOOK, ERROR_LOG, ON_ERROR,
    "noetl-ib actions", "noetl-ib actions place_order",
    "noetl-ib token --credential ib_paper --export-alias ib_bearer",
    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ibkr_private_key.pem",
    "openssl pkey -in ibkr_private_key.pem -pubout",
}


def test_every_readme_command_is_run_or_listed() -> None:
    """Each fenced block and inline command is run by this module or listed in NOT_RUN with a reason."""
    for lang, body in fenced():
        assert body.startswith(HANDLED_BLOCKS.get(lang, ())), f"README block not handled: {body[:80]!r}"
    for command in inline_commands():
        assert command in RUN_INLINE or command in NOT_RUN, f"README command not run nor listed: {command!r}"
    for command in RUN_INLINE:
        assert f"`{command}`" in README, f"run here but no longer in the README: {command!r}"


def test_install_block_prints_the_version(tmp_path: Path) -> None:
    """The Install block's `noetl-ib --version` prints `noetl-ib <version>` as its comment says."""
    proc = bash(runnable(block("bash", "make dist")), fresh_home_env(tmp_path), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"noetl-ib {noetl_ib_plugin.__version__}\n"
    assert f"# noetl-ib {noetl_ib_plugin.__version__}" in README


@pytest.fixture(scope="module")
def quick_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], Path]]:
    """The quick start, the snippets, the local playbook and the inline commands in one fresh-HOME shell."""
    home = tmp_path_factory.mktemp("home")
    (home / "buy_below_last.yaml").write_text(block("yaml", LOCAL_PLAYBOOK), encoding="utf-8")
    bot, lower = block("python", BOT_SNIPPET), block("python", LOWER_LEVEL_SNIPPET)
    script = "\n".join([
        runnable(block("bash", "make setup")),
        "echo '== bot snippet'", f"python - <<'PYEOF'\n{bot}PYEOF",
        "echo '== bot snippet again'", f"python - <<'PYEOF'\n{bot}PYEOF",
        "echo '== lower-level snippet'", f"python - <<'PYEOF'\n{lower}PYEOF",
        "echo '== playbook'", f"(cd ~ && {RUN_PLAYBOOK} --json)", "echo '== playbook again'",
        f"(cd ~ && {RUN_PLAYBOOK} --json)",
        "echo '== inline'", "noetl-ib actions >/dev/null", "noetl-ib actions place_order >/dev/null",
        "noetl-ib credentials check ~/ib-sim/credentials.json >/dev/null",
        "noetl-ib token --credential sim_oauth2 --export-alias ib_bearer",   # ib_paper: the user's own record
        "(cd ~ && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ibkr_private_key.pem"
        " && openssl pkey -in ibkr_private_key.pem -pubout >/dev/null)",
        f"{ERROR_LOG}; noetl-ib run snapshot --credential sim_oauth2 symbols=NOSUCHX all_or_nothing=true"
        " && exit 1 || true",
        f"({ON_ERROR}; noetl-ib run snapshot --credential sim_oauth2 symbols=NOSUCHX all_or_nothing=true)",
        f"({SIMULATOR_ENV}; echo \"== env $OAUTH_CONSUMER_KEY $IBKR_API_BASE_URL\")",
        f"({SIMULATOR_ENV_IBIND}; echo \"== ibind $IBIND_OAUTH1A_REST_URL\")",  # run: test_env_exports
        "echo '== examples'",
        runnable(block("bash", "noetl run examples/")),
    ])
    proc = bash(script, fresh_home_env(home), timeout=300)
    yield proc, home


@pytest.mark.slow
def test_quick_start_runs_as_written(quick_start: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Every quick-start command exits 0, prints one JSON object per `run`, and the order is cancelled."""
    proc, home = quick_start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    before_snippets = proc.stdout.split("== bot snippet")[0].splitlines()
    assert [json.loads(line) for line in before_snippets][-1]["status"] == "cancel_requested"
    assert json.loads(before_snippets[0])["selected_account"] == "DU1234567"
    assert "noetl-ib: waiting" in proc.stderr       # "waits ... are announced on stderr"
    log = (home / "ib-sim.log").read_text()
    assert "GET /v1/api/iserver/accounts -> 200" in log  # "one line per request"
    pid = json.loads((home / "ib-sim.json").read_text())["pid"]
    # Polled until it exits (it does in ~0.1 s idle); the deadline only has to outlast a loaded machine.
    assert not alive(pid, wait=60), "`kill $SIM` left the simulator running"


@pytest.mark.slow
def test_readme_examples_run_twice(quick_start: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """The bot snippet and the README playbook place a new order on each run; bot.py prints its summary."""
    proc, _ = quick_start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    first = re.search(r"== bot snippet\n(\d+) Submitted Submitted\n", out)
    again = re.search(r"== bot snippet again\n(\d+) Submitted Submitted\n", out)
    assert first and again and first[1] != again[1]
    runs = [json.loads(m) for m in re.findall(r"== playbook(?: again)?\n(.*?)\n(?=== )", out, re.S)]
    assert len(runs) == 2
    orders = []
    for run in runs:
        assert run["status"] == "ok" and run["executed_steps"] == ["start", "limit_price", "buy"]
        orders.append(json.loads(run["step_results"]["buy"])["order_id"])
    assert orders[0] != orders[1]
    bot_summary = json.loads(out.split("== examples")[1].strip().splitlines()[-1])
    assert bot_summary["cancel"] == "cancel_requested"


@pytest.mark.slow
def test_readme_inline_commands_do_what_the_text_says(
    quick_start: tuple[subprocess.CompletedProcess[str], Path]
) -> None:
    """Error log keeps the failure, --on-error result routes, simulator env exports, bearer saved."""
    proc, home = quick_start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logged = [json.loads(line) for line in (home / "noetl-ib-errors.jsonl").read_text().splitlines()]
    assert logged and logged[0]["error"]["type"] == "ContractNotFound"
    routed = next(json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"ok":false'))
    assert routed["error"]["field"] == "symbol" and routed["isError"] is True
    assert re.search(r"== env \w+ http://127\.0\.0\.1:\d+\n", proc.stdout)
    assert re.search(r"== ibind http://127\.0\.0\.1:\d+/v1/api/\n", proc.stdout)
    assert (home / ".config" / "noetl" / "credentials" / "ib_bearer").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_worker_check_prints_what_the_readme_says(tmp_path: Path) -> None:
    """The worker-interpreter check prints `True 3` against its own simulator, then stops it."""
    script = block("bash", "D=$(mktemp -d)")
    assert "# the python line prints: True 3" in script
    env = fresh_home_env(tmp_path)
    env["TMPDIR"] = str(tmp_path)
    proc = bash(runnable(script), env, timeout=90)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True 3\n"


@pytest.mark.slow
def test_distributed_playbook_block_runs_on_the_worker_harness(sim_env: Simulator) -> None:
    """The README distributed playbook goes start -> summary -> end with the record registered as ib_oauth."""
    doc = yaml.safe_load(runnable(block("yaml", DISTRIBUTED_PLAYBOOK)))
    records = json.loads(sim_env.credentials_file.read_text())["credentials"]
    server = NoetlServer().start()
    try:
        server.register({**next(r for r in records if r["name"] == "sim_oauth2"), "name": "ib_oauth"})
        env = {"NOETL_IB_CACHE_DIR": os.environ["NOETL_IB_CACHE_DIR"], "NOETL_IB_PACING": "off"}
        path, runs = run_playbook(doc, server_url=server.url, python=sys.executable, worker_env=env)
    finally:
        server.stop()
    assert path == ["start", "summary", "end"], {k: r.data for k, r in runs.items()}
    assert runs["start"].data["count"] == 3 and runs["summary"].data["ok"] is True
