"""The warm step server: `noetl-ib` steps forked from an interpreter that already imported the plugin.

Every NoETL `kind: shell` step is a fresh `noetl-ib` process, and importing requests and pydantic
costs more than the step's work. `noetl-ib warm start` leaves a server (a fork server, as gradle's
daemon or Emacs' server) behind a Unix socket only this user can reach; each later `noetl-ib`
invocation hands it argv, cwd, environment, umask and its stdin/stdout/stderr, and a child forked
from the server runs the same `noetl_ib_plugin.cli.main(argv)` a fresh process would.

Modules: `paths` (where the socket lives, who may own it, the code fingerprint), `wire` (framed
JSON messages and descriptor passing), `client` (the console script's stdlib-only first try),
`server` (the daemon and its children), `command` (`noetl-ib warm start|stop|status`).
"""
