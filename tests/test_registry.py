"""The plugin registry: built-ins and entry-point plugins register through the same hooks."""

from __future__ import annotations

import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import noetl_ib_plugin
from noetl_ib_plugin import testing
from noetl_ib_plugin.errors import ConfigurationError, CredentialError
from noetl_ib_plugin.runner import default_host
from noetl_ib_plugin.wiring import plugins

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def fresh_registry() -> Iterator[None]:
    """Reload plugins before and after, so sys.path changes in a test do not leak."""
    testing.reset()
    yield
    testing.reset()


def test_builtins_register_both_schemes_and_the_actions(fresh_registry: None) -> None:
    """Credential types, providers and the twelve actions come through the hooks."""
    reg = default_host().registry
    assert {"interactive_brokers_oauth", "interactive_brokers_oauth1a"} <= set(reg.credential_types)
    assert set(reg.token_providers) == set(reg.credential_types)
    assert {
        "place_order",
        "get_positions",
        "snapshot",
        "cancel_order",
        "get_open_orders",
        "account_summary",
        "history",
        "ledger",
        "accounts",
        "auth_status",
        "order_status",
        "trades",
    } <= set(reg.actions)


def test_get_token_provider_picks_by_type(rsa_pem: str) -> None:
    """An OAuth 2.0 record gets IBTokenProvider, an OAuth 1.0a record the LST provider."""
    oauth2 = {
        "name": "a",
        "type": "ibkr_oauth",
        "data": {"client_id": "c", "key_id": "k", "private_key": rsa_pem, "credential": "u"},
    }
    assert type(noetl_ib_plugin.get_token_provider(oauth2)).__name__ == "IBTokenProvider"
    oauth1a = {
        "name": "b",
        "type": "interactive_brokers_oauth1a",
        "data": {
            "consumer_key": "ABCDEFGHI",
            "access_token": "t",
            "access_token_secret": "s",
            "signature_key": rsa_pem,
            "encryption_key": rsa_pem,
            "dh_prime": "ff" * 256,
        },
    }
    provider = noetl_ib_plugin.get_token_provider(oauth1a)
    assert isinstance(provider, noetl_ib_plugin.LiveSessionTokenProvider)
    with pytest.raises(CredentialError):
        noetl_ib_plugin.get_token_provider({"name": "c", "type": "nope", "data": {}})


def _install_fake_distribution(tmp_path: Path, module: str, source: str) -> None:
    """A real dist-info with a `noetl.plugins` entry point, found by importlib.metadata."""
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    dist = tmp_path / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[noetl.plugins]\n{module} = {module}\n")


def test_third_party_plugin_loads_from_entry_point(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A package exposing `noetl.plugins` adds an action and a credential type by name."""
    _install_fake_distribution(
        tmp_path,
        "noetl_fake_plugin",
        """
        from pydantic import BaseModel
        from noetl_ib_plugin import Action, hookimpl
        from noetl_ib_plugin.credentials import OAuth2Data

        class EchoIn(BaseModel):
            text: str

        @hookimpl
        def noetl_register_actions(register):
            register(Action("echo", EchoIn, lambda client, args: {"echo": args.text}, "Echo."))

        @hookimpl
        def noetl_register_credential_types(register):
            register("acme_ib_oauth", OAuth2Data)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = default_host().registry
    assert "echo" in reg.actions and "place_order" in reg.actions
    assert reg.credential_types["acme_ib_oauth"].__name__ == "OAuth2Data"


def test_misspelled_hook_fails_loudly(
    fresh_registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plugin implementing `noetl_register_actoins` is an error naming the plugin, not silence."""
    _install_fake_distribution(
        tmp_path,
        "noetl_typo_plugin",
        """
        def noetl_register_actoins(register):
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("noetl_typo_plugin", None)
    with pytest.raises(ConfigurationError) as info:
        default_host().registry  # noqa: B018  (loading is what fails)
    assert "noetl_typo_plugin" in str(info.value) or "noetl_register_actoins" in str(info.value)
    assert info.value.field == "noetl.plugins"


def _manifest() -> dict[str, Any]:
    return tomllib.loads((ROOT / "plugin.toml").read_text())


def test_manifest_matches_pyproject_and_version() -> None:
    """plugin.toml's name, version, entry point and CLI agree with pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    manifest = _manifest()["plugin"]
    assert manifest["name"] == project["name"]
    assert manifest["version"] == project["version"] == noetl_ib_plugin.__version__
    group = project["entry-points"][manifest["entry_point_group"]]
    name, target = (s.strip() for s in manifest["entry_point"].split("="))
    assert group == {name: target}
    assert manifest["cli"] in project["scripts"]
    assert name == plugins.BUILTIN_PLUGIN_NAME


def test_manifest_matches_registry(fresh_registry: None) -> None:
    """Every credential type and action in plugin.toml is registered, and nothing more."""
    manifest = _manifest()
    reg = default_host().registry
    assert set(manifest["credential_types"]) == set(reg.credential_types)
    for type_name, entry in manifest["credential_types"].items():
        module, cls = entry["provider"].split(":")
        assert reg.token_providers[type_name].__module__ == module
        assert reg.token_providers[type_name].__name__ == cls
    assert set(manifest["actions"]) == set(reg.actions)
    for name, entry in manifest["actions"].items():
        assert reg.actions[name].trading == entry["trading"]


def test_duplicate_action_names_from_two_plugins_conflict() -> None:
    """Two different actions under one name are a configuration error, not a silent override."""
    from pydantic import BaseModel

    from noetl_ib_plugin.actions.spec import Action

    reg = plugins.Registry()
    reg._add_action(Action("x", BaseModel, lambda c, a: {}, "one"))
    with pytest.raises(ConfigurationError):
        reg._add_action(Action("x", BaseModel, lambda c, a: {}, "two"))
