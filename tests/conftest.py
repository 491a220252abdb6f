"""Shared fixtures: every test runs with its own cache, alias store and a clean environment."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from noetl_ib_plugin.wiring.host import Host
from noetl_ib_plugin.wiring.settings import Settings

# The design's retry timing (1, 2, 4, 8, 16 s) scaled down 100x for the whole test run,
# subprocesses included; tests of the default policy clear these variables themselves.
os.environ.setdefault("NOETL_IB_RETRY_BASE_DELAY", "0.01")
os.environ.setdefault("NOETL_IB_RETRY_MAX_DELAY", "0.16")

#: Fixture modules, loaded once here instead of conftests importing fixtures across folders.
pytest_plugins = ["tests.fixtures.simulators", "tests.fixtures.cli_env"]

#: Test folders whose tests share something outside tmp_path: with `make test`'s
#: `-n 4 --dist loadfile` each runs on one worker, its tests one after another (every other
#: test file is one unit already, so a module-scoped fixture is built once, not once per worker).
SHARED_FOLDERS = (
    # Warm servers serve only while the installed package's mtimes match their code key, and
    # test_server / test_plugin_staleness bump those mtimes: any other warm test would see it.
    "tests/warm/",
)
#: The longest units (tens of seconds each) go to the workers first, so that none of them is
#: left running alone at the end of a parallel run.
LONGEST_FIRST = ("tests/warm/", "tests/test_readme_commands.py", "tests/reliability/test_fault_soak.py",
                 "tests/security/test_keychain_every_field.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The LONGEST_FIRST files first (a stable sort: each file's own order is kept)."""
    items.sort(key=lambda item: not item.nodeid.startswith(LONGEST_FIRST))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """--dist loadfile, with each SHARED_FOLDERS folder one unit instead of one per file."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedFoldersTogether(LoadFileScheduling):  # type: ignore[misc]  # xdist is untyped
        """A test's unit: its SHARED_FOLDERS folder, else its file (LoadFileScheduling's)."""

        def _split_scope(self, nodeid: str) -> str:
            return next((f for f in SHARED_FOLDERS if nodeid.startswith(f)), super()._split_scope(nodeid))

    return SharedFoldersTogether(config, log)


_ISOLATED_ENV = (
    "NOETL_IB_CREDENTIALS",
    "NOETL_SERVER_URL",
    "NOETL_IB_TOKEN_CACHE",
    "NOETL_IB_LOG_LEVEL",
    "NOETL_IB_PACING",
)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point caches and stores at tmp_path so no test reads or writes the user's real files."""
    import os

    for name in _ISOLATED_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("NOETL_CREDENTIAL_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOETL_IB_CACHE_DIR", str(tmp_path / "token-cache"))
    monkeypatch.setenv("NOETL_CREDENTIALS_DIR", str(tmp_path / "noetl-credentials"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    yield


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """A throw-away 2048-bit RSA key generated for this test run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    """The throw-away key as PKCS#8 PEM text."""
    return _pem(rsa_key)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every log record of the package at DEBUG (for secret canaries)."""
    caplog.set_level(logging.DEBUG, logger="noetl_ib_plugin")
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture
def host() -> Iterator[Host]:
    """A fresh Host built from this test's (isolated) environment; its clients closed after."""
    made = Host(Settings.from_environ(os.environ))
    yield made
    made.close()
