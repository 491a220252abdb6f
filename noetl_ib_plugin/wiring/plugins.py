"""The registry: built-ins and `noetl.plugins` entry points register through the same hooks."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from ..errors import ConfigurationError, CredentialError
from . import hookspecs

if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.metadata import Distribution

    from ..actions.spec import Action
    from ..auth.base import TokenProvider
    from ..auth.cache import TokenCache
    from ..credentials.models import CredentialData

__all__ = [
    "ENTRY_POINT_GROUP",
    "Registry",
    "get_plugin_manager",
    "load_registry",
    "plugin_distributions",
]

ENTRY_POINT_GROUP = "noetl.plugins"
BUILTIN_PLUGIN_NAME = "interactive_brokers"


class _PluginManager(pluggy.PluginManager):
    """Treats every `noetl_*` function as a hook implementation, so a misspelled one fails loudly."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(f"{hookspecs.PROJECT}_"):
            method = getattr(plugin, name, None)
            if callable(method):
                return {}
        return opts


@dataclass
class Registry:
    """What the loaded plugins registered, by name."""

    credential_types: dict[str, type[CredentialData]] = field(default_factory=dict)
    token_providers: dict[str, Callable[..., TokenProvider]] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)

    def _add_credential_type(self, type_name: str, data_model: Any) -> None:
        self.credential_types[type_name] = data_model

    def _add_token_provider(self, type_name: str, factory: Any) -> None:
        self.token_providers[type_name] = factory

    def _add_action(self, action: Any) -> None:
        if action.name in self.actions and self.actions[action.name] is not action:
            raise ConfigurationError(
                f"two plugins register the action {action.name!r}",
                field="noetl.plugins",
                fix="uninstall one of them or give the action another name.",
            )
        self.actions[action.name] = action

    def token_provider_for(self, credential: Any, *, cache: TokenCache | None = None,
                           **options: Any) -> TokenProvider:
        """The provider for a record (or its `data`), picked by credential type, over `cache`
        (None: the provider's own memory cache); `options` (a `Host`'s `retry_policy` and
        `deadline`) go to the factory as keyword arguments."""
        from ..credentials.models import CredentialRecord

        if isinstance(credential, CredentialRecord):
            type_name, data = credential.type, credential.data
        else:
            data = credential
            type_name = next(
                (name for name, model in self.credential_types.items() if type(data) is model), ""
            )
        factory = self.token_providers.get(type_name)
        if factory is None:
            raise CredentialError(
                f"no token provider is registered for credential type {type_name or type(data).__name__!r}",
                field="type",
                fix=f"use one of: {', '.join(sorted(self.token_providers))}, or install the "
                "plugin that provides this type.",
            )
        return factory(data, **options) if cache is None else factory(data, cache=cache, **options)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register every `noetl.plugins` entry point, like `pm.load_setuptools_entrypoints`, cheaper.

    pluggy parses every installed distribution's entry points; this reads each
    `entry_points.txt` once and parses only those that mention the group. Same rules as pluggy:
    a name already registered (the built-in) or blocked is skipped, and registering one module
    under two names still raises.
    """
    for dist in plugin_distributions():
        for ep in dist.entry_points.select(group=ENTRY_POINT_GROUP):
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            pm.register(ep.load(), name=ep.name)


def plugin_distributions() -> list[Distribution]:
    """Installed distributions whose `entry_points.txt` mentions `noetl.plugins`, in the order
    `importlib.metadata.distributions()` lists them.

    Reads each `*.dist-info`/`*.egg-info` directory on `sys.path` directly (a NoETL worker image
    can hold ~1,000 distributions; importlib.metadata builds objects for all of them). Whenever
    the direct scan could differ from importlib.metadata -- a `sys.path` entry that is not a
    plain directory (zip, egg), or another finder that lists distributions -- the full
    importlib.metadata scan runs instead.
    """
    import importlib.machinery
    import sys
    from importlib.metadata import PathDistribution, distributions

    def mentions_group(text: str | None) -> bool:
        return bool(text) and ENTRY_POINT_GROUP in (text or "")

    others = [f for f in sys.meta_path if f is not importlib.machinery.PathFinder
              and callable(getattr(f, "find_distributions", None))]
    entries = [entry or "." for entry in sys.path]
    if others or any(e.lower().endswith(".egg") or (os.path.exists(e) and not os.path.isdir(e))
                     for e in entries):
        return [d for d in distributions() if mentions_group(d.read_text("entry_points.txt"))]
    found: list[Distribution] = []
    for entry in entries:
        try:
            names = os.listdir(entry)
        except OSError:
            continue
        for name in names:
            if not name.lower().endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(entry, name, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:  # no entry points, or a single-file egg-info
                continue
            if mentions_group(text):
                found.append(PathDistribution(pathlib.Path(entry, name)))
    return found


def get_plugin_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A new plugin manager: built-ins first, then every `noetl.plugins` entry point."""
    pm = _PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    from . import builtin

    pm.register(builtin, name=BUILTIN_PLUGIN_NAME)
    if load_entry_points:
        _load_entry_points(pm)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(
            f"plugin {exc.plugin!r} implements a hook that does not exist ({exc})",
            field="noetl.plugins",
            fix="check the hook name's spelling against noetl_ib_plugin.wiring.hookspecs.",
        ) from None
    return pm


def load_registry(pm: pluggy.PluginManager | None = None) -> Registry:
    """Everything the plugins of `pm` (default: a new manager) register; `Host` keeps one."""
    pm = pm if pm is not None else get_plugin_manager()
    reg = Registry()
    pm.hook.noetl_register_credential_types(register=reg._add_credential_type)
    pm.hook.noetl_register_token_providers(register=reg._add_token_provider)
    pm.hook.noetl_register_actions(register=reg._add_action)
    return reg
