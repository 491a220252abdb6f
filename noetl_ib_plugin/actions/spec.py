"""What an action is: a name playbooks call, a validated input model, and a function of a client.

`input_model` and `run` may be given as objects or as `"package.module:attribute"` strings. A
string is imported on first access, so registering an action costs nothing until a step runs it:
every `noetl-ib run` is a fresh process that needs one action, not all of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ..client import IBClient

__all__ = ["Action", "RunFunction", "resolve_reference"]

#: `run(client, input)`: the output model, or a dict the runner validates with `output_model`.
RunFunction = Callable[["IBClient", Any], "BaseModel | dict[str, Any]"]

_T = TypeVar("_T")


def resolve_reference(reference: str) -> Any:
    """Import `"package.module:attr"` (the attribute may be dotted) and return the object."""
    module_name, _, attr = reference.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class _ImportedOnFirstUse(Generic[_T]):
    """Dataclass field descriptor: stores an object or an import path, returns the object."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name
        self._given = f"_{name}_given"
        self._loaded = f"_{name}_loaded"

    def __get__(self, instance: Any, owner: type | None = None) -> _T:
        if instance is None:
            raise AttributeError(self._name)  # like a dataclass field without a default
        state = instance.__dict__
        if self._loaded not in state:
            given = state[self._given]
            value = self._import(instance, given) if isinstance(given, str) else given
            state[self._loaded] = value  # benign race: every thread imports the same object
        loaded: _T = state[self._loaded]
        return loaded

    def __set__(self, instance: Any, value: _T | str) -> None:
        if isinstance(value, str):
            module_name, sep, attr = value.partition(":")
            if not (module_name and sep and attr):
                raise ValueError(
                    f"Action {self._name} {value!r} must be an object or a "
                    "'package.module:attribute' import path"
                )
        instance.__dict__[self._given] = value
        instance.__dict__.pop(self._loaded, None)

    def _import(self, instance: Any, reference: str) -> Any:
        try:
            return resolve_reference(reference)
        except (ImportError, AttributeError) as exc:
            from ..errors import ConfigurationError

            raise ConfigurationError(
                f"action {instance.name!r}: cannot import its {self._name} {reference!r} ({exc})",
                field="noetl.plugins",
                fix="reinstall the plugin that registers this action, or fix the import path.",
            ) from exc

    def given(self, instance: Any) -> Any:
        """What the constructor received (the import path stays a string)."""
        return instance.__dict__[self._given]


@dataclass(frozen=True, repr=False)
class Action:
    """A named trading job; `trading=True` puts it behind the paper guard; `streams=True`: `run`
    also takes `open_stream` (keyword), the host's StreamClient factory for the step's client
    (`Host.stream`), so an action never builds a stream itself.

    `input_model`, `run` and `output_model` accept the objects or `"package.module:attribute"`
    strings; a string is imported the first time the field is read (validation, `list_actions`,
    running it). `output_model` (optional) is the pydantic model of the result (one published
    schema): `run` returns an instance, or a dict the runner validates into one; the front doors
    serialise it to JSON only at the edge (`actions.outputs.output_json`).
    """

    name: str
    input_model: type[BaseModel]
    run: RunFunction
    description: str
    trading: bool = False
    output_model: type[BaseModel] | None = None
    streams: bool = False

    def __init__(
        self,
        name: str,
        input_model: type[BaseModel] | str,
        run: RunFunction | str,
        description: str,
        trading: bool = False,
        *,
        output_model: type[BaseModel] | str | None = None,
        streams: bool = False,
    ) -> None:
        set_ = object.__setattr__  # frozen; the two import-path fields go through their descriptors
        set_(self, "name", name)
        set_(self, "input_model", input_model)
        set_(self, "run", run)
        set_(self, "description", description)
        set_(self, "trading", trading)
        set_(self, "output_model", output_model)
        set_(self, "streams", streams)

    def __repr__(self) -> str:
        """Shows import paths as given, so printing an action imports nothing."""
        return (
            f"Action(name={self.name!r}, input_model={_INPUT_MODEL.given(self)!r}, "
            f"run={_RUN.given(self)!r}, description={self.description!r}, trading={self.trading!r}, "
            f"output_model={_OUTPUT_MODEL.given(self)!r}, streams={self.streams!r})"
        )


def _install(name: str) -> _ImportedOnFirstUse[Any]:
    """Put the descriptor on the class after @dataclass, so the field has no default."""
    descriptor: _ImportedOnFirstUse[Any] = _ImportedOnFirstUse()
    descriptor.__set_name__(Action, name)
    setattr(Action, name, descriptor)
    return descriptor


_INPUT_MODEL = _install("input_model")
_RUN = _install("run")
_OUTPUT_MODEL = _install("output_model")
