"""The warm step server: `noetl-ib` steps forked from an interpreter that already imported the plugin.

Every NoETL `kind: shell` step is a fresh `noetl-ib` process, and importing requests and pydantic
costs more than the step's work. `noetl-ib warm start` leaves a server (a fork server, as gradle's
daemon or Emacs' server) behind a Unix socket only this user can reach; each later `noetl-ib`
invocation hands it argv, cwd, environment and its stdin/stdout/stderr, and a child forked
from the server runs the same `noetl_ib_plugin.cli.main(argv)` a fresh process would. Who the
client is (privileges, limits, umask) the server reads from the kernel, and the client checks
the server the same way before it sends a byte (docs/warm-server.md: a same-user capability).

Modules: `paths` (where the socket lives, who may own it, the code fingerprint), `identity`
(what the kernel says about the peer), `wire` (framed JSON messages and descriptor passing),
`coid` (the order's client_order_id, fixed before the hand-over), `client` (the console
script's stdlib-only first try), `server` and `child` (the daemon and its children), `command`
(`noetl-ib warm start|stop|status`).
"""
