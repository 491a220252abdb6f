"""The credential data models of both IBKR schemes and the record that holds them (models only).

Field checks live in `fields.py`, key loading and digests in `keys.py`, record parsing in
`records.py`, pydantic-error translation in `..validation`. `parse_record`, `coerce_data`,
`check_record_name` and `first_validation_problem` are still importable from here (PEP 562).
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from .accounts import account_id_problem
from .fields import (
    IDENT,
    MAX_PATH_CHARS,
    MAX_PEM_CHARS,
    PRINTABLE,
    no_control,
    normalize_root,
    one_name,
    pem_or_path,
    secret_text,
)
from .keys import key_from_pem_or_path, load_dh_prime, secret_digest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "BUILTIN_CREDENTIAL_TYPES",
    "OAUTH1A_TYPE",
    "OAUTH2_TYPE",
    "CredentialData",
    "CredentialRecord",
    "OAuth1aData",
    "OAuth2Data",
]

OAUTH2_TYPE = "interactive_brokers_oauth"
OAUTH1A_TYPE = "interactive_brokers_oauth1a"
DEFAULT_API_ROOT = "https://api.ibkr.com"

class CredentialData(BaseModel):
    """Fields every IBKR scheme shares: where the API is, which account, paper or live."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)

    #: Secret fields: masked everywhere, checked by the canary tests.
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: Keys of another scheme a record of this type may carry by mistake -> the fix to show.
    FOREIGN_FIELDS: ClassVar[dict[str, str]] = {}

    account_id: str | None = Field(
        default=None, description="IBKR account id (DU... for paper); default: the first account"
    )
    environment: Literal["paper", "live"] = Field(
        default="paper", description="'paper' (default) or 'live'; live trading also needs allow_live"
    )
    api_base_url: str = Field(
        default=DEFAULT_API_ROOT, description="API host root, e.g. https://api.ibkr.com"
    )
    compete: bool = Field(
        default=True, description="ssodh/init compete flag: true takes the username's brokerage "
        "session over from other sessions (TWS, portal, another worker); false refuses instead"
    )

    @field_validator("api_base_url")
    @classmethod
    def _root(cls, value: str) -> str:
        return normalize_root(value)

    @field_validator("account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        problem = None if value is None else account_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def trading_base_url(self) -> str:
        """Root of the trading endpoints (`.../v1/api`)."""
        return f"{self.api_base_url}/v1/api"

    def secret_digest(self) -> str:
        """SHA-256 of the secret material (key files read); see `keys.secret_digest`."""
        return secret_digest(self, self.SECRET_FIELDS)


class OAuth2Data(CredentialData):
    """`interactive_brokers_oauth`: private_key_jwt client credentials plus the SSO session."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("private_key",)

    client_id: str = Field(
        min_length=1, max_length=256, pattern=IDENT, description="OAuth 2.0 client id IBKR issued"
    )
    key_id: str = Field(
        min_length=1, max_length=256, pattern=IDENT,
        description="key id (kid) of the registered public key",
    )
    private_key: SecretStr | None = Field(default=None, description="RSA private key, PEM text")
    private_key_path: str | None = Field(
        default=None, max_length=MAX_PATH_CHARS, description="path to the RSA private key PEM"
    )
    username: str = Field(
        min_length=1, max_length=128, pattern=IDENT,
        validation_alias=AliasChoices("username", "credential"),
        description="IBKR username the SSO session is opened for (the JWT's `credential` "
        "claim); `credential` is accepted as its legacy name",
    )
    ip: str | None = Field(
        default=None, max_length=45, description="your public IP, sent as the SSO session's IP "
        "claim (IBKR may check it against the caller)"
    )
    ip_claim: Literal["ip", "userIp"] = Field(
        default="ip", description="claim name for the IP: 'ip' (IBKR demo) or 'userIp' (OpenAPI)"
    )
    service: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
        description="optional 'service' claim, e.g. AM.LOGIN (IBKR's sample)",
    )
    token_url: str | None = Field(default=None, description="override of the token endpoint")
    sso_session_url: str | None = Field(default=None, description="override of the SSO endpoint")
    audience: str = Field(
        default="/token", min_length=1, max_length=512, pattern=PRINTABLE,
        description="client assertion aud claim",
    )
    scope: str = Field(
        default="sso-sessions.write", min_length=1, max_length=512, pattern=PRINTABLE,
        description="token scope",
    )

    _key: RSAPrivateKey | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        data = one_name(data, "username", "credential")
        return pem_or_path(data, "private_key", "private_key_path")

    @field_validator("private_key", mode="before")
    @classmethod
    def _pem_bounds(cls, value: Any) -> Any:
        return secret_text(value, pem=True)

    @field_validator("private_key_path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return no_control(value)

    @field_validator("ip")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            raise ValueError("must be an IPv4 or IPv6 address, e.g. 203.0.113.7") from None

    @field_validator("token_url", "sso_session_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalize_root(value)  # same scheme rules as the base URL
        return value.strip()

    @property
    def resolved_token_url(self) -> str:
        """The token endpoint, derived from the host root unless overridden."""
        return self.token_url or f"{self.api_base_url}/oauth2/api/v1/token"

    @property
    def resolved_sso_session_url(self) -> str:
        """The SSO session endpoint, derived from the host root unless overridden."""
        return self.sso_session_url or f"{self.api_base_url}/gw/api/v1/sso-sessions"

    def rsa_key(self) -> RSAPrivateKey:
        """Parse the private key once; raise a CredentialError naming the field if it is unusable."""
        if self._key is None:
            self._key = key_from_pem_or_path(self.private_key, self.private_key_path, "private_key")
        return self._key

    def check(self) -> None:
        """Full validation, including the key: what `noetl-ib credentials check` runs."""
        self.rsa_key()


class OAuth1aData(CredentialData):
    """`interactive_brokers_oauth1a`: consumer key, access token and the Live Session Token inputs."""

    FOREIGN_FIELDS: ClassVar[dict[str, str]] = {
        key: f"remove data.{key}: OAuth 1.0a records have no username (the access token names "
        "the user); it belongs to type interactive_brokers_oauth records."
        for key in ("username", "credential")
    }
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = (
        "access_token",
        "access_token_secret",
        "signature_key",
        "encryption_key",
    )

    consumer_key: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
        description="OAuth consumer key (9 characters)",
    )
    access_token: SecretStr = Field(description="OAuth access token from the IBKR portal")
    access_token_secret: SecretStr = Field(
        description="base64 access token secret, encrypted with your public encryption key"
    )
    signature_key: SecretStr | None = Field(default=None, description="private signature key PEM")
    signature_key_path: str | None = Field(
        default=None, max_length=MAX_PATH_CHARS, description="path to private_signature.pem"
    )
    encryption_key: SecretStr | None = Field(default=None, description="private encryption key PEM")
    encryption_key_path: str | None = Field(
        default=None, max_length=MAX_PATH_CHARS, description="path to private_encryption.pem"
    )
    dh_prime: str = Field(
        min_length=1, max_length=MAX_PEM_CHARS,
        description="DH prime as hex, or the path to dhparam.pem",
    )
    dh_generator: int = Field(default=2, ge=2, le=65537, description="DH generator (2)")
    realm: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9_]+$",
        description="'limited_poa' (default) or 'test_realm' for TESTCONS",
    )

    _keys: dict[str, RSAPrivateKey] = PrivateAttr(default_factory=dict)
    _dh: tuple[int, int] | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _keys_given(cls, data: Any) -> Any:
        data = pem_or_path(data, "signature_key", "signature_key_path")
        return pem_or_path(data, "encryption_key", "encryption_key_path")

    @field_validator("signature_key", "encryption_key", mode="before")
    @classmethod
    def _pem_bounds(cls, value: Any) -> Any:
        return secret_text(value, pem=True)

    @field_validator("access_token", "access_token_secret", mode="before")
    @classmethod
    def _token_bounds(cls, value: Any) -> Any:
        return secret_text(value, pem=False)

    @field_validator("signature_key_path", "encryption_key_path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return no_control(value)

    @field_validator("dh_generator", mode="before")
    @classmethod
    def _whole(cls, value: Any) -> Any:
        if isinstance(value, bool) or (
            isinstance(value, str) and re.fullmatch(r"\s*[0-9]{1,6}\s*", value) is None
        ):
            raise ValueError("must be a whole number such as 2")
        return value

    @property
    def resolved_realm(self) -> str:
        """`test_realm` for IBKR's TESTCONS consumer, `limited_poa` otherwise, unless set."""
        if self.realm:
            return self.realm
        return "test_realm" if self.consumer_key == "TESTCONS" else "limited_poa"

    def _load(self, name: str) -> RSAPrivateKey:
        key = self._keys.get(name)
        if key is None:
            key = self._keys[name] = key_from_pem_or_path(
                getattr(self, name), getattr(self, f"{name}_path"), name
            )
        return key

    def signature_rsa_key(self) -> RSAPrivateKey:
        """The private signature key, parsed once."""
        return self._load("signature_key")

    def encryption_rsa_key(self) -> RSAPrivateKey:
        """The private encryption key, parsed once."""
        return self._load("encryption_key")

    def dh_parameters(self) -> tuple[int, int]:
        """(prime, generator), from hex or from dhparam.pem (whose generator wins)."""
        if self._dh is None:
            prime, generator = load_dh_prime(self.dh_prime, "data.dh_prime")
            self._dh = (prime, generator or self.dh_generator)
        return self._dh

    def check(self) -> None:
        """Full validation, including keys and DH prime."""
        self.signature_rsa_key()
        self.encryption_rsa_key()
        self.dh_parameters()


#: Built-in credential types; hosts may add more through the plugin hooks. Aliases are the
#: names NoETL's older Python factory accepted.
BUILTIN_CREDENTIAL_TYPES: dict[str, type[CredentialData]] = {
    OAUTH2_TYPE: OAuth2Data,
    "ib_oauth": OAuth2Data,
    "ibkr_oauth": OAuth2Data,
    OAUTH1A_TYPE: OAuth1aData,
}



class CredentialRecord(BaseModel):
    """The NoETL record `{name, type, description, tags, data}` with `data` parsed for its type."""

    model_config = ConfigDict(
        frozen=True, hide_input_in_errors=True, arbitrary_types_allowed=True, defer_build=True
    )

    name: str
    type: str
    description: str | None = None
    tags: list[str] = Field(default_factory=list)
    data: CredentialData

    def __repr__(self) -> str:
        return f"CredentialRecord(name={self.name!r}, type={self.type!r}, data={self.data!r})"
