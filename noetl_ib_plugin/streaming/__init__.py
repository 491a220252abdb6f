"""Home of long-lived connections (empty for now): the IBKR WebSocket (`wss://.../v1/api/ws`,
market data and order updates; /work/shared/ibkr-web-api.md s.12) goes here.

A streaming client is a core layer above `client/`: it takes an `IBClient` (its token provider
signs the upgrade, its brokerage session must be open, its keepalive tickles) and is built by
`wiring.Host` like everything else. It never reads the environment and never imports actions,
wiring or a front door (tests/test_layering.py). See docs/architecture.md.
"""
