"""Output model of auth_status."""

from __future__ import annotations

from pydantic import Field

from .base import _Output

__all__ = ["AuthStatusOutput"]


class AuthStatusOutput(_Output):
    """`auth_status` (`POST /iserver/auth/status`), answered without refreshing a token."""

    authenticated: bool = Field(description="the brokerage session is open")
    connected: bool = Field(description="connected to IBKR's backend")
    competing: bool = Field(default=False, description="another session of this username competes")
    token_valid: bool = Field(description="a cached token is outside its refresh buffer")
    token_expires_in: float | None = Field(default=None, description="seconds")
    session_age: float | None = Field(
        default=None, description="seconds since this package opened the brokerage session"
    )
    message: str | None = Field(default=None, description="IBKR's message")
