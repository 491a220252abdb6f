"""`noetl-ib`: the plugin as a command for NoETL `kind: shell` steps (one JSON object on stdout).

Every shell step is a fresh process, so this module imports only the standard library; each
command imports what it needs when it runs.

Exit codes: 0 ok, 1 unexpected, 2 bad input, 3 auth, 4 broker rejection, 5 transient failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from ..errors import UsageError
from ._io import (
    EXIT_OK,
    FailedWithResult,
    configure_logging,
    emit,
    is_terminal,
    redact,
    report_error,
    stdout_to_stderr,
)

__all__ = ["main"]

PROG = "noetl-ib"

#: `run --on-error`: `exit` (exit code by category) or `result` (a routable `{"ok": ...}` on stdout).
ON_ERROR_MODES = ("exit", "result")
#: Sets `--on-error` for every `run` of a process tree, e.g. a whole playbook.
ON_ERROR_ENV = "NOETL_IB_ON_ERROR"

_EPILOG = """\
exit codes: 0 ok, 1 unexpected error, 2 bad input, 3 authentication failed,
            4 broker rejected the request, 5 transient failure (retry later),
            6 order outcome unknown (look it up by its client_order_id; never retry blindly)
on error: `run --on-error result` (or NOETL_IB_ON_ERROR=result) prints {"ok": false, "error": ...}
          on stdout and exits 0, for playbooks that route on {{ result.ok }}
credentials: --credentials-file, else $NOETL_IB_CREDENTIALS, else NoETL's alias store,
             else $NOETL_SERVER_URL; logs: -v or NOETL_IB_LOG_LEVEL=DEBUG (stderr only)
pydantic plugins are off in this command unless PYDANTIC_DISABLE_PLUGINS is set (even empty)
warm: after `noetl-ib warm start`, invocations run in a process forked from a server that has
      imported everything (NOETL_IB_WARM=off: never); a step lost after it was handed over exits 6
"""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay JSON on stderr."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="debug logs on stderr (no secrets)"
    )


def _credential_options(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument(
        "--credential", "-c", required=required, metavar="NAME", help="credential record name"
    )
    parser.add_argument(
        "--credentials-file", metavar="FILE", help="JSON file of records (default $NOETL_IB_CREDENTIALS)"
    )


def _build_parser(*, only_run: bool = False) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The top-level parser and the `run` sub-parser; `only_run` skips the other commands' parsers."""
    parser = _Parser(
        prog=PROG,
        description="Interactive Brokers Web API actions for NoETL playbooks.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _verbose_option(parser)
    parser.add_argument("--version", action="store_true", help="print `noetl-ib <version>`")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run",
        help="run one action and print its result as one JSON object",
        description="Run ACTION; arguments come from --args-json and/or key=value words "
        "(values parse as JSON when they can: 1, 2.5, true, [1,2]; else strings).",
    )
    run.add_argument("action", metavar="ACTION", help="action name (see `noetl-ib actions`)")
    run.add_argument("params", nargs="*", metavar="key=value", help="action arguments")
    _credential_options(run)
    run.add_argument("--args-json", metavar="JSON", help="action arguments as a JSON object")
    run.add_argument(
        "--allow-live", action="store_true", help="permit trading on a live account (also needs the record)"
    )
    run.add_argument(
        "--on-error",
        choices=ON_ERROR_MODES,
        metavar="{exit,result}",
        help="exit (default): failures exit non-zero with the error on stderr; result: print "
        '{"ok": false, "error": {...}} on stdout and exit 0 so a playbook can route on ok '
        "(results then carry \"ok\": true); default $NOETL_IB_ON_ERROR",
    )
    _verbose_option(run)
    if only_run:  # a `run` step (the hot path) parses with `run` alone
        return parser, run

    token = sub.add_parser(
        "token",
        help="show token metadata (never the token); --export-alias writes a bearer for http steps",
    )
    _credential_options(token)
    token.add_argument(
        "--export-alias",
        metavar="ALIAS",
        help="write the OAuth 2.0 bearer to NoETL's alias store, for "
        "`auth: {type: bearer, credential: ALIAS}`",
    )
    token.add_argument(
        "--refresh",
        action="store_true",
        help="drop the cached token (memory and shared cache) and fetch a new one, e.g. after a "
        "key rotation or a revoked session",
    )
    _verbose_option(token)

    creds = sub.add_parser("credentials", help="check or register credential records")
    creds_sub = creds.add_subparsers(dest="creds_command", metavar="SUBCOMMAND", parser_class=_Parser)
    check = creds_sub.add_parser("check", help="validate every record in FILE, keys included")
    check.add_argument("file", metavar="FILE")
    _verbose_option(check)
    register = creds_sub.add_parser(
        "register", help="POST every record in FILE to a NoETL server (like `noetl register credential -f`)"
    )
    register.add_argument("file", metavar="FILE")
    register.add_argument(
        "--server", metavar="URL", help="NoETL server (default $NOETL_SERVER_URL or http://localhost:8082)"
    )
    register.add_argument(
        "--no-validate", action="store_true", help="send records even if they do not validate"
    )
    _verbose_option(register)
    _verbose_option(creds)

    actions = sub.add_parser(
        "actions",
        help="list actions (a table), or one action's inputs and outputs with NAME",
        description="Without NAME: a table of every action. With NAME: that action's inputs "
        "(type, default, meaning) and outputs. --json prints the catalog as one JSON object.",
    )
    actions.add_argument("name", nargs="?", metavar="NAME", help="one action, e.g. place_order")
    actions.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    _verbose_option(actions)

    sub.add_parser(
        "simulator",
        help="run the local IBKR simulator (see `noetl-ib simulator --help`); "
        "`noetl-ib simulator env --state-dir DIR` prints the exports that point a bot at it",
        add_help=False,
    )
    from ._stream import add_stream_parser
    from .warm.command import add_warm_parser

    add_stream_parser(sub, _Parser, _verbose_option, _credential_options)
    add_warm_parser(sub, _Parser, _verbose_option)
    return parser, run


def _leading_flags(argv: list[str]) -> tuple[int, int]:
    """Index of the command word and the number of leading -v flags."""
    verbose = 0
    for index, word in enumerate(argv):
        if word in ("-v", "--verbose"):
            verbose += 1
        elif word.startswith("-v") and set(word[1:]) == {"v"}:
            verbose += len(word) - 1
        else:
            return index, verbose
    return len(argv), verbose


def _dispatch(ns: argparse.Namespace) -> Any:
    command: str = ns.command
    handler: Callable[[argparse.Namespace], Any]
    if command == "run":
        from ._run import cmd_run as handler
    elif command == "token":
        from ._token import cmd_token as handler
    elif command == "credentials":
        if ns.creds_command is None:
            raise UsageError("credentials: choose a subcommand: check FILE or register FILE")
        from ._credentials import cmd_check, cmd_register

        handler = cmd_check if ns.creds_command == "check" else cmd_register
    elif command == "actions":
        from ._actions import cmd_actions as handler
    elif command == "warm":
        from .warm.command import cmd_warm as handler
    else:  # pragma: no cover - argparse restricts the choices
        raise UsageError(f"unknown command {command!r}")
    return handler(ns)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `noetl-ib` console script; returns the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # pydantic scans every installed distribution for its own plugins (~64 ms with 1,000
    # installed); a one-shot step does not use them. Setting the variable (even empty) keeps them.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    index, verbose = _leading_flags(args)
    if argv is None and (served := _warm_first(args, index)) is not None:
        return served
    if index < len(args) and args[index] == "simulator":
        rest = args[index + 1 :]
        if rest[:1] == ["env"]:  # the exports for a running simulator, not a server
            from ..simulator.env_exports import main as env_main

            return env_main(rest[1:])
        # The simulator is a long-running server with its own options and logging.
        from ..simulator.cli import main as simulator_main

        return int(simulator_main(["-v", *rest] if verbose else rest) or 0)

    is_run = _is_run(args, index)
    parser, run_parser = _build_parser(only_run=is_run)
    command: str | None = None
    credential: str | None = None
    on_error = "exit"
    # A person at a terminal gets indented JSON and readable errors; pipes get today's one line.
    pretty, readable = is_terminal(sys.stdout), is_terminal(sys.stderr)
    try:
        if is_run:
            on_error = _on_error_mode(args)
        try:
            if is_run:
                # key=value words may sit between options: only intermixed parsing allows that.
                ns = run_parser.parse_intermixed_args(args[:index] + args[index + 1 :])
                ns.command, ns.version = "run", False
            else:
                ns = parser.parse_args(args)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        verbose = max(verbose, int(getattr(ns, "verbose", 0) or 0))
        credential = getattr(ns, "credential", None)
        configure_logging(verbose, os.environ.get("NOETL_IB_LOG_LEVEL", ""))
        if ns.version:
            from .._version import __version__

            sys.stdout.write(f"{PROG} {__version__}\n")
            sys.stdout.flush()
            return EXIT_OK
        command = ns.command
        if command == "run":
            command = f"run {ns.action}"
        if command is None:
            parser.print_help(sys.stderr)
            raise UsageError("a command is required: run, token, credentials, actions, warm, simulator")
        if command == "stream":  # events go to stdout as they come, not one result at the end
            from ._stream import cmd_stream

            return cmd_stream(ns, sys.stdout)
        with stdout_to_stderr():
            result = _dispatch(ns)
        if on_error == "result":
            from ..common.step_result import success_result

            result = success_result(ns.action, result)
    except FailedWithResult as failed:
        emit(failed.result, pretty=pretty)
        return report_error(failed.cause, verbose=verbose, command=command,
                            credential=credential, readable=readable)
    except KeyboardInterrupt:
        sys.stderr.write('{"error":{"type":"Interrupted","message":"interrupted"}}\n')
        return 130
    except Exception as exc:
        code = report_error(exc, verbose=verbose, command=command, credential=credential,
                            readable=readable)
        if on_error != "result":
            return code
        from ..common.step_result import failure_result

        routable = failure_result(command.removeprefix("run ") if command else None, exc,
                                  debug_hint="rerun with -v")
        routable["summary"] = redact(routable["summary"])
        routable["error"]["message"] = redact(str(routable["error"].get("message", "")))
        emit(routable, pretty=pretty)
        return EXIT_OK
    if isinstance(result, str):  # text meant for a person (`actions` without --json)
        sys.stdout.write(result)
        sys.stdout.flush()
    else:
        emit(result, pretty=pretty)
    return EXIT_OK


def _warm_first(args: list[str], index: int) -> int | None:
    """The console script hands its invocation to a warm server if one runs (`noetl-ib warm`)."""
    if index < len(args) and args[index] in ("warm", "simulator", "stream"):
        return None
    from .warm.client import run_through_server

    return run_through_server(args)


def _on_error_mode(args: list[str]) -> str:
    """`run`'s --on-error, else $NOETL_IB_ON_ERROR, else exit; known before parsing so that a
    bad command line is routable too."""
    mode = os.environ.get(ON_ERROR_ENV, "").strip().lower() or "exit"
    if mode not in ON_ERROR_MODES:
        raise UsageError(
            f"{ON_ERROR_ENV} must be exit or result: export {ON_ERROR_ENV}=result, or unset it",
            field=ON_ERROR_ENV,
            fix=f"export {ON_ERROR_ENV}=result (or unset it).",
        )
    for i, word in enumerate(args):
        if word == "--":
            break
        value = word.removeprefix("--on-error=") if word.startswith("--on-error=") else (
            args[i + 1] if word == "--on-error" and i + 1 < len(args) else None)
        if value in ON_ERROR_MODES:
            mode = value
    return mode


def _is_run(args: list[str], index: int) -> bool:
    """`run` takes key=value words anywhere between options, which needs intermixed parsing."""
    return index < len(args) and args[index] == "run"
