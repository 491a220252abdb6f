"""`noetl-ib simulator env`: exports that point a bot at a running simulator, usable as printed."""

from __future__ import annotations

import shlex
import stat
import subprocess
from pathlib import Path

from noetl_ib_plugin.credentials.env_store import ENV_VARIABLES
from noetl_ib_plugin.simulator import Simulator
from tests.cli.helpers import cli, one_json, process_env


def _exports(stdout: str) -> dict[str, str]:
    """`export NAME=value` lines read back the way a shell reads them."""
    out = {}
    for line in stdout.splitlines():
        word, _, assignment = line.partition(" ")
        assert word == "export"
        name, _, value = assignment.partition("=")
        out[name] = shlex.split(value)[0]
    return out


def test_exports_name_every_variable_a_bot_needs(sim_env: Simulator, tmp_path: Path) -> None:
    """Every required OAUTH_* variable, the base URL and the credentials file; key files mode 600."""
    proc = cli("simulator", "env", "--state-dir", str(tmp_path / "ibsim"))
    assert proc.returncode == 0, proc.stderr
    env = _exports(proc.stdout)
    assert set(ENV_VARIABLES.values()) <= set(env)
    assert env["IBKR_API_BASE_URL"] == sim_env.url
    assert env["NOETL_IB_CREDENTIALS"] == str(sim_env.credentials_file)
    for var in ("OAUTH_SIGNATURE_PATH", "OAUTH_ENCRYPTION_PATH"):
        assert stat.S_IMODE(Path(env[var]).stat().st_mode) == 0o600


def test_evaluated_exports_run_a_step_with_the_env_credential(sim_env: Simulator,
                                                              tmp_path: Path) -> None:
    """`eval "$(noetl-ib simulator env ...)"` then `noetl-ib run accounts --credential env` works."""
    script = (f'eval "$("$IB" simulator env --state-dir {shlex.quote(str(tmp_path / "ibsim"))})" && '
              '"$IB" run accounts --credential env')
    bin_dir = Path(process_env()["PATH"].split(":")[0])
    env = process_env(IB=str(bin_dir / "noetl-ib"), NOETL_IB_WARM="off")
    for var in ENV_VARIABLES.values():
        env.pop(var, None)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert one_json(proc.stdout)["accounts"][0]["account_id"] == "DU7654321"


def test_no_simulator_is_exit_2_with_the_command_that_starts_one(tmp_path: Path) -> None:
    """A directory without a simulator: exit 2, nothing on stdout, the start command as the fix."""
    proc = cli("simulator", "env", "--state-dir", str(tmp_path / "none"))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert f"Fix: start one first: noetl-ib simulator --state-dir {tmp_path / 'none'} &" in proc.stderr


def test_ibind_exports_use_ibind_names_that_the_plugin_reads(sim_env: Simulator, tmp_path: Path) -> None:
    """`--ibind`: ibind's names only (no OAUTH_*), and `--credential env` works from them."""
    from noetl_ib_plugin.credentials.env_store import IBIND_VARIABLES

    state = shlex.quote(str(tmp_path / "ibsim"))
    proc = cli("simulator", "env", "--ibind", "--state-dir", str(tmp_path / "ibsim"))
    assert proc.returncode == 0, proc.stderr
    env = _exports(proc.stdout)
    required = {IBIND_VARIABLES[field] for field in ENV_VARIABLES}
    assert required <= set(env) and not any(name.startswith("OAUTH_") for name in env)
    assert env["IBIND_OAUTH1A_REST_URL"] == f"{sim_env.url}/v1/api/"
    assert env["IBIND_USE_OAUTH"] == "True"
    bin_dir = Path(process_env()["PATH"].split(":")[0])
    shell_env = {k: v for k, v in process_env(IB=str(bin_dir / "noetl-ib"), NOETL_IB_WARM="off").items()
                 if not k.startswith(("OAUTH_", "IBKR_"))}
    script = (f'eval "$("$IB" simulator env --ibind --state-dir {state})" && '
              '"$IB" run accounts --credential env')
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=shell_env,
                         timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    assert one_json(run.stdout)["accounts"][0]["account_id"] == "DU7654321"
