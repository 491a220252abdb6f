"""Single source of the package version (plugin.toml and pyproject.toml are tested against it)."""

__version__ = "0.1.0"
