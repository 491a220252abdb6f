"""Every `fix` text the code can emit names commands, options and arguments that really exist.

The fix texts are collected from the source by AST (every `fix=` keyword, every `*FIX*` constant
and `fix` variable), so a new hint is checked without being registered anywhere. Each
backticked `noetl-ib ...` command is parsed by the real argparse parser and its `key=value`
words are checked against the action's input model; each backticked `noetl ...` command is
checked against the real NoETL CLI (`noetl <command> --help`); each bare `--option` must be an
option of `noetl-ib`; each `name=` must be an input of some action.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import noetl_ib_plugin
from noetl_ib_plugin.cli import _build_parser
from noetl_ib_plugin.errors import UsageError
from noetl_ib_plugin.runner import default_host

PACKAGE = Path(noetl_ib_plugin.__file__).resolve().parent
#: What an f-string placeholder becomes: a word the placeholder check below accepts.
HOLE = "PLACEHOLDER"
#: Words in hints that stand for the user's own value (upper-case by convention).
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _render(node: ast.expr, constants: dict[str, str]) -> str | None:
    """The text of a string expression; f-string holes become HOLE; None if not a string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            else:
                parts.append(HOLE)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _render(node.left, constants), _render(node.right, constants)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.IfExp):
        return _render(node.body, constants) or _render(node.orelse, constants)
    return None


def _fix_texts() -> list[tuple[str, str]]:
    """(where, text) of every fix text in the package."""
    found: list[tuple[str, str]] = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(PACKAGE.parent))
        constants: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    text = _render(node.value, constants)
                    if text is not None:
                        constants[target.id] = text
                    if "FIX" in target.id.upper() and text is not None:
                        found.append((f"{where}:{node.lineno}", text))
                    if "FIX" in target.id.upper() and isinstance(node.value, ast.Dict):
                        for value in node.value.values:
                            item = _render(value, constants)
                            if item is not None:
                                found.append((f"{where}:{value.lineno}", item))
            elif (isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
                  and "fix" in node.target.id.lower()):
                text = _render(node.value, constants)
                if text is not None:
                    found.append((f"{where}:{node.lineno}", text))
            elif isinstance(node, ast.keyword) and node.arg == "fix":
                text = _render(node.value, constants)
                if text is not None:
                    found.append((f"{where}:{node.value.lineno}", text))
    return found


FIXES = _fix_texts()


def _commands(text: str, program: str) -> list[str]:
    """Backticked commands in `text` that start with `program`."""
    return [c for c in re.findall(r"`([^`]+)`", text) if c.split()[:1] == [program]]


def _words(command: str) -> list[str]:
    """Shell words of a command, up to a redirection or pipe; placeholders made concrete."""
    out = []
    for word in shlex.split(command):
        if word in ("<", ">", "|", "&&"):
            break
        out.append(word)
    return out


def _action_inputs() -> dict[str, set[str]]:
    """Every registered action's input names."""
    return {name: set(a.input_model.model_fields) for name, a in default_host().registry.actions.items()}


def _check_noetl_ib(command: str) -> None:
    """Parse with the real parser; `run ACTION key=value` must name a real action and inputs."""
    argv = _words(command)[1:]
    actions = _action_inputs()
    argv = ["snapshot" if w == HOLE and i and argv[i - 1] in ("run", "actions") else w
            for i, w in enumerate(argv)]
    if argv and argv[0] == "run":
        _, run_parser = _build_parser(only_run=True)
        ns = run_parser.parse_intermixed_args(argv[1:])
        if not PLACEHOLDER.match(ns.action):
            assert ns.action in actions, f"`{command}`: no action {ns.action!r}"
            for param in ns.params:
                key = param.split("=", 1)[0]
                assert key in actions[ns.action], f"`{command}`: {ns.action} has no input {key!r}"
        return
    parser, _ = _build_parser()
    ns = parser.parse_args(argv)
    name = getattr(ns, "name", None)
    if ns.command == "actions" and name and not PLACEHOLDER.match(name):
        assert name in actions, f"`{command}`: no action {name!r}"


@cache
def _noetl_help(words: tuple[str, ...]) -> str | None:
    """`noetl <words> --help` output, or None when that command does not exist."""
    exe = shutil.which("noetl") or str(Path(sys.executable).with_name("noetl"))
    proc = subprocess.run([exe, *words, "--help"], check=False, capture_output=True, text=True,
                          timeout=60)
    return proc.stdout + proc.stderr if proc.returncode == 0 else None


def _subcommands(help_text: str) -> set[str]:
    """Names in the `Commands:` block of a clap help text."""
    block = help_text.split("\nCommands:\n", 1)
    if len(block) < 2:
        return set()
    names = set()
    for line in block[1].splitlines():
        if not line.strip():
            break
        match = re.match(r"^  ([a-z][\w-]*)\s", line)
        if match:
            names.add(match.group(1))
    return names


def _check_noetl(command: str) -> None:
    """The command path exists in the real NoETL CLI, with its options and positional count."""
    words = _words(command)[1:]
    path: list[str] = []
    help_text = _noetl_help(())
    assert help_text is not None, "the noetl CLI is not installed"
    while words and words[0] in _subcommands(help_text):
        path.append(words.pop(0))
        found = _noetl_help(tuple(path))
        assert found is not None, f"`{command}`: `noetl {' '.join(path)} --help` fails"
        help_text = found
    assert path, f"`{command}`: no such noetl command"
    assert not _subcommands(help_text) or (words and words[0].startswith("-")), (
        f"`{command}`: `noetl {' '.join(path)}` needs one of its subcommands"
    )
    usage = next((line for line in help_text.splitlines() if line.startswith("Usage:")), "")
    slots = len(re.findall(r"<[A-Z_]+>(?!\.\.\.)|\[[A-Z_]+\](?!\.\.\.)", usage.split("[OPTIONS]")[-1]))
    positional = 0
    words_iter = iter(words)
    for word in words_iter:
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            # Option definition lines look like "  -f, --file <FILE>" or "      --context <NAME>".
            specs = [line.strip() for line in help_text.splitlines()
                     if re.match(r"^\s+-", line)
                     and option in re.findall(r"--?[\w-]+", line.strip().split(" <")[0])]
            assert specs, f"`{command}`: noetl {' '.join(path)} has no option {option}"
            if "<" in specs[0] and "=" not in word:
                next(words_iter, None)  # the option's value
        else:
            positional += 1
    assert positional <= slots, (
        f"`{command}`: noetl {' '.join(path)} takes {slots} positional argument(s), got {positional}"
    )


def _noetl_ib_options() -> set[str]:
    """Every option string of every noetl-ib (sub)parser."""
    parser, _ = _build_parser()
    seen: set[str] = set()
    todo = [parser]
    while todo:
        current = todo.pop()
        for action in current._actions:
            seen.update(action.option_strings)
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                todo.extend(choices.values())
    return seen


def test_fix_texts_are_collected() -> None:
    """The AST walk finds the package's fix texts (a broken collector would check nothing)."""
    texts = " ".join(text for _, text in FIXES)
    assert len(FIXES) > 60
    assert "noetl-ib token --refresh --credential NAME" in texts  # AUTH_FIX, a module constant
    assert "noetl credential set" in texts  # the alias-store hint, an f-string


@pytest.mark.parametrize(("where", "text"), FIXES, ids=[w for w, _ in FIXES])
def test_every_noetl_ib_command_in_a_fix_parses(where: str, text: str) -> None:
    """Each backticked `noetl-ib ...` in a fix parses with the real CLI and names real inputs."""
    for command in _commands(text, "noetl-ib"):
        try:
            _check_noetl_ib(command)
        except (UsageError, SystemExit) as exc:
            pytest.fail(f"{where}: `{command}` does not parse: {exc}")


@pytest.mark.parametrize(("where", "text"), FIXES, ids=[w for w, _ in FIXES])
def test_every_noetl_command_in_a_fix_exists(where: str, text: str) -> None:
    """Each backticked `noetl ...` in a fix is a command (and options) of the real NoETL CLI."""
    for command in _commands(text, "noetl"):
        _check_noetl(command)


def test_bare_options_and_arguments_in_fixes_exist() -> None:
    """Every `--option` named in a fix is a noetl-ib option; every `name=` is an action input."""
    options = _noetl_ib_options()
    import inspect

    from noetl_ib_plugin.entry import main as entry_main
    from noetl_ib_plugin.trading import TradingClient

    # Python callers also pass the entry point's and the bot client's own keywords
    # (credential=, allow_live=, keepalive_interval=, ...).
    inputs = set().union(*_action_inputs().values(), inspect.signature(entry_main).parameters,
                         inspect.signature(TradingClient.__init__).parameters,
                         inspect.signature(TradingClient.stream).parameters)
    problems = []
    for where, text in FIXES:
        outside = re.sub(r"`[^`]*`", "", text)
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]*", outside):
            if option not in options:
                problems.append(f"{where}: option {option}")
        for key in re.findall(r"(?<![\w.$\"'{-])([a-z][a-z_]*)=", outside):
            if key not in inputs:
                problems.append(f"{where}: argument {key}=")
    assert problems == []


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        ("noetl-ib token --refresh --credential NAME", True),
        ("noetl-ib token --refresh", False),  # --credential is required: the old hint
        ("noetl-ib actions place_order", True),
        ("noetl-ib actions NAME", True),
        ("noetl-ib run snapshot conid=1", False),  # the snapshot takes conids=
        ("noetl-ib run snapshot conids=1 --credential NAME", True),
    ],
)
def test_noetl_ib_checker_tells_good_from_bad(command: str, ok: bool) -> None:
    """The checker itself refuses the hints issue 15 found broken (a checker that passes all is useless)."""
    try:
        _check_noetl_ib(command)
    except (UsageError, AssertionError, SystemExit):
        assert not ok
    else:
        assert ok


@pytest.mark.parametrize(
    ("command", "ok"),
    [
        ("noetl credential set NAME < record.json", True),
        ("noetl register credential -f FILE", True),
        ("noetl credentials put NAME", False),
        ("noetl register credential --from-stdin", False),
        ('noetl credential set NAME "$(cat record.json)"', False),  # the old alias hint
        ("noetl register", False),  # a subcommand is missing
    ],
)
def test_noetl_checker_tells_good_from_bad(command: str, ok: bool) -> None:
    """The NoETL checker accepts real commands and refuses made-up ones and options."""
    try:
        _check_noetl(command)
    except (AssertionError, pytest.fail.Exception):
        assert not ok
    else:
        assert ok


def test_alias_hints_old_form_fails_and_new_form_stores_the_record(tmp_path: Path) -> None:
    """noetl 5.3 refuses `set NAME "$(cat record.json)"` and stores the file given on stdin."""
    import os

    exe = shutil.which("noetl") or str(Path(sys.executable).with_name("noetl"))
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    record = '{"name": "x", "type": "t", "data": {"k": "a\\nb"}}'
    old = subprocess.run([exe, "credential", "set", "x", record], check=False,
                         capture_output=True, text=True, timeout=60, env=env)
    assert old.returncode != 0
    new = subprocess.run([exe, "credential", "set", "x"], input=record, check=False,
                         capture_output=True, text=True, timeout=60, env=env)
    assert new.returncode == 0, new.stderr
    stored = list(tmp_path.rglob("x"))
    assert len(stored) == 1 and stored[0].read_text().strip() == record
