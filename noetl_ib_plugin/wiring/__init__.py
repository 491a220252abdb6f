"""Wiring: what the front doors use to build and hand down everything else (`Host` from
`Settings`, the plugin registry and its hooks, the step's credential resolution). Imports the
core layers; imported only by the front doors."""
