"""Names are checked before they are echoed; errors redact secret values themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from noetl_ib_plugin.cli._io import report_error
from noetl_ib_plugin.common.redaction import redact
from noetl_ib_plugin.credentials import parse_record
from noetl_ib_plugin.entry import main
from noetl_ib_plugin.errors import (
    AuthError,
    CredentialError,
    CredentialNotFound,
    IBPluginError,
    InputError,
)
from noetl_ib_plugin.runner import load_credential
from noetl_ib_plugin.simulator import Simulator
from tests.reliability.canary import SecretScanner, record_secrets

CLI = Path(sys.executable).parent / "noetl-ib"
SECRET = "S3cr3tV4lue0123456789abcdef"

#: (text holding SECRET as a value, the words that must survive around it).
VALUES: list[tuple[str, str]] = [
    (f'{{"access_token": "{SECRET}"}}', '"access_token": "<redacted>"'),
    (f"{{'access_token_secret': '{SECRET}', 'realm': 'x'}}", "'access_token_secret': '<redacted>'"),
    (f'OAuth realm="limited_poa", oauth_token="{SECRET}", oauth_nonce="n"', 'oauth_nonce="n"'),
    (f"POST /token?client_assertion={SECRET}&scope=s", "&scope=s"),
    (f"access_token={SECRET}", "access_token=<redacted>"),
    (f"Authorization: Bearer {SECRET}", "Authorization: Bearer <redacted>"),
    (f"token: {SECRET} was refused", "was refused"),
    (f"private_key: '-----BEGIN PRIVATE KEY-----\\nMII{SECRET}\\n-----END PRIVATE KEY-----'",
     "private_key:"),
    (f"private_key='-----BEGIN PRIVATE KEY-----\\nMII{SECRET}", "private_key="),
    (f"jwt eyJhbGciOi.eyJ{SECRET}.sig in the body", "in the body"),
]

#: Field-first messages the old CLI filter garbled: they must come through word for word.
PROSE = [
    "data.private_key: does not parse as a PEM private key (truncated, damaged or not a key)",
    "data.access_token_secret: access token secret could not be decrypted with data.encryption_key",
    "data.signature_key: is a 1024-bit RSA key; at least 2048 bits are required",
    "token: is required",
    "only OAuth 2.0 bearers can be exported; OAuth 1.0a signs each request",
]


@pytest.mark.parametrize(("text", "kept"), VALUES, ids=[str(i) for i in range(len(VALUES))])
def test_error_type_redacts_secret_values(text: str, kept: str) -> None:
    """IBPluginError masks the secret value in message, fix, str, repr and to_dict; keeps the rest."""
    for error in (AuthError(text, fix=f"retry; {text}"), InputError(text, field="data")):
        rendered = [str(error), repr(error), json.dumps(error.to_dict()), error.message,
                    error.fix or ""]
        for out in rendered:
            assert SECRET not in out
        assert kept in error.message


@pytest.mark.parametrize("text", PROSE)
def test_redaction_keeps_field_first_messages_intact(text: str) -> None:
    """Prose after a field name is not a secret: the text is unchanged by redaction and by the CLI."""
    assert redact(text) == text
    field, _, message = text.partition(": ")
    error = CredentialError(message, field=field, fix="see the README")
    assert str(error).startswith(text)


def test_cli_error_of_a_garbage_key_reads_as_written(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI's JSON error for an unparsable key says `does not parse`, not `<redacted> not parse`."""
    raw = {"name": "ib", "type": "interactive_brokers_oauth",
           "data": {"client_id": "c", "key_id": "k", "credential": "u",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}}
    with pytest.raises(CredentialError) as info:
        parse_record(raw).data.check()  # type: ignore[attr-defined]
    assert report_error(info.value, verbose=0) == 2
    body = json.loads(capsys.readouterr().err.strip().splitlines()[-1])["error"]
    assert body["field"] == "data.private_key"
    assert body["message"].startswith("data.private_key: does not parse as a PEM private key")


def test_not_found_error_redacts_a_record_pasted_as_name() -> None:
    """Even built directly, CredentialNotFound masks PEMs and quoted secrets held in the name."""
    name = str({"name": "ib", "data": {"access_token": SECRET,
                                       "signature_key": f"-----BEGIN PRIVATE KEY-----\nMII{SECRET}"
                                                        "\n-----END PRIVATE KEY-----"}})
    error = CredentialNotFound(name, ["alias file"])
    assert SECRET not in str(error) and SECRET not in json.dumps(error.to_dict())


@pytest.mark.parametrize("name", ["x" * 129, "ib\nINFO forged line", "ib\u202egnp", "../ib", " ",
                                  "{'name': 'ib'}", "ib paper"])
def test_invalid_names_are_refused_without_echo(name: str) -> None:
    """A name outside 1-128 safe characters is a CredentialError that never repeats the name."""
    with pytest.raises(CredentialError) as info:
        load_credential(name)
    assert info.value.field == "credential"
    assert not isinstance(info.value, CredentialNotFound)
    if name.strip():
        assert name not in str(info.value) and f"{len(name)} characters" in str(info.value)


def test_valid_name_that_is_missing_is_still_named() -> None:
    """A well-formed name that no store holds is echoed, so the user sees what was looked up."""
    with pytest.raises(CredentialNotFound) as info:
        load_credential("ib_paper.main-2")
    assert "'ib_paper.main-2'" in str(info.value)


def _records(sim_reset: Simulator) -> list[dict[str, Any]]:
    """The simulator's records (both schemes), with their real secrets."""
    return list(json.loads(sim_reset.credentials_file.read_text())["credentials"])


def test_main_with_a_stringified_record_echoes_no_secret(sim_reset: Simulator) -> None:
    """`main(credential=str(record))` fails typed, naming `credential`, echoing no secret."""
    scan = SecretScanner(record_secrets(sim_reset.credentials_file))
    for record in _records(sim_reset):
        text = str(record)  # a Python repr: neither a record name nor a JSON keychain object
        with pytest.raises(IBPluginError) as info:
            main("get_positions", credential=text, on_error="raise")
        assert info.value.field == "credential" and info.value.category == "input"
        scan.assert_clean([str(info.value), repr(info.value), json.dumps(info.value.to_dict())],
                          "main raise")
        returned = main("get_positions", credential=text)
        assert returned["ok"] is False and returned["error"]["field"] == "credential"
        scan.assert_clean([json.dumps(returned)], "main return")


def test_main_with_a_json_record_string_uses_it_and_echoes_no_secret(sim_reset: Simulator) -> None:
    """A JSON record string is a keychain object (NoETL renders whole objects as JSON): used, not echoed."""
    scan = SecretScanner(record_secrets(sim_reset.credentials_file))
    for record in _records(sim_reset):
        returned = main("get_positions", credential=json.dumps(record))
        assert returned["ok"] is True, returned
        scan.assert_clean([json.dumps(returned)], "main result")


def test_cli_with_a_stringified_record_echoes_no_secret(sim_reset: Simulator, tmp_path: Path) -> None:
    """`noetl-ib run -c "<record>"` exits 2 with no secret on stdout or stderr."""
    scan = SecretScanner(record_secrets(sim_reset.credentials_file))
    env = {**os.environ, "NOETL_IB_LOG_LEVEL": "DEBUG", "NOETL_IB_ERROR_LOG": str(tmp_path / "e.log")}
    for record in _records(sim_reset):
        proc = subprocess.run([str(CLI), "run", "get_positions", "-c", str(record), "-v"],
                              capture_output=True, text=True, env=env, timeout=60, check=False)
        assert proc.returncode == 2, proc.stderr[-400:]
        assert '"field":"credential"' in proc.stderr
        scan.assert_clean([proc.stdout, proc.stderr, (tmp_path / "e.log").read_text()], "CLI")


def test_unknown_type_is_echoed_only_when_it_looks_like_a_type() -> None:
    """A record `type` holding pasted text is refused by length, never repeated back."""
    with pytest.raises(CredentialError) as info:
        parse_record({"name": "ib", "type": f"oauth {SECRET}", "data": {}})
    assert info.value.field == "type" and SECRET not in str(info.value)
    with pytest.raises(CredentialError) as info:
        parse_record({"name": "ib", "type": "ib_oauth2", "data": {}})
    assert "'ib_oauth2'" in str(info.value)
