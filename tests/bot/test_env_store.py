"""The `env` credential: an OAuth 1.0a record from OAUTH_* variables, errors naming the variable."""

from __future__ import annotations

import os

import pytest

from noetl_ib_plugin.credentials.env_store import (
    ENV_VARIABLES,
    EnvironmentStore,
    checked_record,
    record_from_environment,
)
from noetl_ib_plugin.credentials.models import OAuth1aData
from noetl_ib_plugin.errors import CredentialError, CredentialNotFound
from noetl_ib_plugin.runner import load_credential

SECRET_VARS = ("OAUTH_ACCESS_TOKEN", "OAUTH_ACCESS_TOKEN_SECRET")


def test_record_from_the_environment(bot_env: dict[str, str]) -> None:
    """Every variable lands in its record field; the store answers only to the name `env`."""
    record = load_credential("env")
    assert record.type == "interactive_brokers_oauth1a" and record.name == "env"
    data = record.data
    assert isinstance(data, OAuth1aData)
    assert data.consumer_key == bot_env["OAUTH_CONSUMER_KEY"]
    assert data.access_token.get_secret_value() == bot_env["OAUTH_ACCESS_TOKEN"]
    assert data.signature_key_path == bot_env["OAUTH_SIGNATURE_PATH"]
    assert data.encryption_key_path == bot_env["OAUTH_ENCRYPTION_PATH"]
    assert data.environment == "paper"
    assert data.trading_base_url == bot_env["IBKR_API_BASE_URL"] + "/v1/api"
    assert EnvironmentStore(os.environ).find("ib_paper") is None
    for var in SECRET_VARS:
        assert bot_env[var] not in repr(record)


@pytest.mark.parametrize("var", list(ENV_VARIABLES.values()))
def test_a_missing_variable_is_named(bot_env: dict[str, str], var: str) -> None:
    """Each required variable, when unset, is the error's field and appears in its fix."""
    env = {k: v for k, v in bot_env.items() if k != var}
    with pytest.raises(CredentialError) as info:
        record_from_environment(env)
    assert info.value.field == var
    assert info.value.fix is not None and var in info.value.fix


@pytest.mark.parametrize(("text", "environment"),
                         [("true", "paper"), ("1", "paper"), ("", "paper"), ("false", "live"),
                          ("NO", "live")])
def test_paper_trading_sets_the_environment(bot_env: dict[str, str], text: str,
                                            environment: str) -> None:
    """PAPER_TRADING true/unset is paper; false makes the record live (allow_live still needed)."""
    record = record_from_environment({**bot_env, "PAPER_TRADING": text})
    assert record["data"]["environment"] == environment


def test_paper_trading_garbage_is_named(bot_env: dict[str, str]) -> None:
    """A PAPER_TRADING value that is neither true nor false is refused, naming the variable."""
    with pytest.raises(CredentialError) as info:
        record_from_environment({**bot_env, "PAPER_TRADING": "maybe"})
    assert info.value.field == "PAPER_TRADING" and info.value.fix == "export PAPER_TRADING=true"


@pytest.mark.parametrize(("var", "value"), [
    ("OAUTH_SIGNATURE_PATH", "/nonexistent/private_signature.pem"),
    ("OAUTH_ENCRYPTION_PATH", "/nonexistent/private_encryption.pem"),
    ("OAUTH_DH_PRIME", "not-hex-and-not-a-file"),
])
def test_unusable_key_files_name_the_variable(bot_env: dict[str, str], var: str,
                                              value: str) -> None:
    """A key path that cannot be read, or a bad DH prime, is reported under its variable."""
    with pytest.raises(CredentialError) as info:
        checked_record({**bot_env, var: value})
    assert info.value.field == var
    text = str(info.value)
    assert "data." not in text
    for secret in SECRET_VARS:
        assert bot_env[secret] not in text


def test_without_oauth_variables_env_is_not_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OAUTH_* set: `env` is not found, and the error says the environment was searched."""
    for var in ENV_VARIABLES.values():
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(CredentialNotFound) as info:
        load_credential("env")
    assert "OAUTH_* environment variables" in str(info.value)


def test_cli_runs_with_the_env_credential(bot_env: dict[str, str]) -> None:
    """`noetl-ib run get_positions --credential env` works from the OAUTH_* variables alone."""
    from tests.cli.helpers import cli, one_json, process_env

    run = cli("run", "get_positions", "--credential", "env", env=process_env(**bot_env))
    assert run.returncode == 0, run.stderr
    assert one_json(run.stdout)["account_id"] == "DU7654321"
    for var in SECRET_VARS:
        assert bot_env[var] not in run.stdout + run.stderr


def test_env_not_found_says_which_variables_to_export(monkeypatch: pytest.MonkeyPatch) -> None:
    """`--credential env` with no OAUTH_* set names the variables to export, not only a record store."""
    for var in ENV_VARIABLES.values():
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(CredentialNotFound) as info:
        load_credential("env")
    text = str(info.value)
    assert "none is set" in text
    assert all(var in text for var in ENV_VARIABLES.values())


#: Our variable -> ibind 0.2.2's name for it (ibind/var.py), written out here, not derived.
IBIND_NAMES = {
    "OAUTH_CONSUMER_KEY": "IBIND_OAUTH1A_CONSUMER_KEY",
    "OAUTH_ACCESS_TOKEN": "IBIND_OAUTH1A_ACCESS_TOKEN",
    "OAUTH_ACCESS_TOKEN_SECRET": "IBIND_OAUTH1A_ACCESS_TOKEN_SECRET",
    "OAUTH_SIGNATURE_PATH": "IBIND_OAUTH1A_SIGNATURE_KEY_FP",
    "OAUTH_ENCRYPTION_PATH": "IBIND_OAUTH1A_ENCRYPTION_KEY_FP",
    "OAUTH_DH_PRIME": "IBIND_OAUTH1A_DH_PRIME",
}


def _ibind_env(bot_env: dict[str, str]) -> dict[str, str]:
    """The same credential as an ibind user exports it (REST URL with ibind's /v1/api/ path)."""
    env = {IBIND_NAMES[k]: v for k, v in bot_env.items() if k in IBIND_NAMES}
    env["IBIND_OAUTH1A_REST_URL"] = bot_env["IBKR_API_BASE_URL"] + "/v1/api/"
    return env


def test_ibind_names_give_the_same_record(bot_env: dict[str, str]) -> None:
    """ibind's IBIND_OAUTH1A_* variables alone build the record our OAUTH_* variables build."""
    ours = record_from_environment(bot_env)["data"]
    assert checked_record(_ibind_env(bot_env))["data"] == ours
    assert EnvironmentStore(_ibind_env(bot_env)).find("env") is not None


def test_ibind_pem_content_variables_stand_for_the_key_files(bot_env: dict[str, str]) -> None:
    """IBIND_OAUTH1A_SIGNATURE_KEY / _ENCRYPTION_KEY (the PEMs themselves) replace the paths."""
    env = _ibind_env(bot_env)
    for path_var, pem_var in (("IBIND_OAUTH1A_SIGNATURE_KEY_FP", "IBIND_OAUTH1A_SIGNATURE_KEY"),
                              ("IBIND_OAUTH1A_ENCRYPTION_KEY_FP", "IBIND_OAUTH1A_ENCRYPTION_KEY")):
        with open(env.pop(path_var), encoding="utf-8") as pem:
            env[pem_var] = pem.read()
    data = checked_record(env)["data"]
    assert "signature_key_path" not in data and data["signature_key"].startswith("-----BEGIN")
    assert OAuth1aData.model_validate(data).encryption_rsa_key() is not None


def test_cli_runs_with_ibind_variables_only(bot_env: dict[str, str]) -> None:
    """`noetl-ib run get_positions --credential env` works for a bot that sets ibind's names."""
    from tests.cli.helpers import cli, one_json, process_env

    env = process_env(**_ibind_env(bot_env))
    for var in (*bot_env, "NOETL_IB_CREDENTIALS"):
        env.pop(var, None)
    run = cli("run", "get_positions", "--credential", "env", env=env)
    assert run.returncode == 0, run.stderr
    assert one_json(run.stdout)["account_id"] == "DU7654321"


def test_every_missing_variable_is_named_in_one_error(bot_env: dict[str, str]) -> None:
    """Three variables unset: one error, the first as its field, all three (and ibind's) in the text."""
    gone = ["OAUTH_ACCESS_TOKEN", "OAUTH_SIGNATURE_PATH", "OAUTH_DH_PRIME"]
    env = {k: v for k, v in bot_env.items() if k not in gone}
    with pytest.raises(CredentialError) as info:
        record_from_environment(env)
    assert info.value.field == "OAUTH_ACCESS_TOKEN"
    text = str(info.value)
    for var in gone:
        assert var in text and IBIND_NAMES[var] in text
    assert "OAUTH_CONSUMER_KEY" not in text


def test_every_unusable_variable_is_named_in_one_error(bot_env: dict[str, str]) -> None:
    """A missing key file and a bad DH prime: one error naming both variables, as they were set."""
    env = {**_ibind_env(bot_env), "IBIND_OAUTH1A_SIGNATURE_KEY_FP": "/nonexistent/sig.pem",
           "IBIND_OAUTH1A_DH_PRIME": "not-hex-and-not-a-file"}
    with pytest.raises(CredentialError) as info:
        checked_record(env)
    assert info.value.field == "IBIND_OAUTH1A_SIGNATURE_KEY_FP"
    text = str(info.value)
    assert "IBIND_OAUTH1A_DH_PRIME" in text and "data." not in text
    assert bot_env["OAUTH_ACCESS_TOKEN"] not in text
