"""NoETL credential records for both IBKR schemes, validated with errors that name field and fix."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..errors import CredentialError
from .accounts import account_id_problem
from .files import MAX_KEY_FILE_BYTES, read_bounded_text
from .keys import load_dh_prime, load_rsa_private_key, read_key_file
from .urls import check_url

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
    "check_record_name",
    "coerce_data",
    "first_validation_problem",
    "parse_record",
]

OAUTH2_TYPE = "interactive_brokers_oauth"
OAUTH1A_TYPE = "interactive_brokers_oauth1a"
DEFAULT_API_ROOT = "https://api.ibkr.com"

#: Record names: what NoETL aliases, files and servers accept; checked before a name is echoed.
RECORD_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,127}")
#: Public identifiers (client id, key id, username): printable ASCII, no spaces, bounded.
_IDENT = r"^[\x21-\x7e]+$"
#: Free text IBKR reads (audience, scope): printable ASCII, spaces allowed.
_PRINTABLE = r"^[\x20-\x7e]+$"
#: Bounds on secret material: a 16384-bit RSA PEM is ~13 KiB; anything far past that is not a key.
MAX_PEM_CHARS = 65536
MAX_TOKEN_CHARS = 4096
MAX_PATH_CHARS = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_record_name(name: object, field: str = "credential") -> str:
    """A credential record name (1-128 of letters, digits, `_ . : @ + -`), or a CredentialError.

    The error never echoes an invalid name: a name is user text, and a secret pasted into the
    name field (e.g. `str(record)`) must not reach a message or a log.
    """
    if not isinstance(name, str) or not name.strip():
        raise CredentialError(
            "is required", field=field, fix="pass the name of a registered credential."
        )
    if RECORD_NAME_PATTERN.fullmatch(name) is None:
        raise CredentialError(
            f"is not a credential name ({len(name)} characters; names are 1-128 letters, digits "
            "and _ . : @ + -, starting with a letter, digit or _)",
            field=field,
            fix='pass the record\'s name (e.g. "ib_paper"), not its content; to pass a whole '
            "record, give the dict itself (credential={...}) or use --credentials-file.",
        )
    return name


def _no_control(value: Any) -> Any:
    """Paths, hosts and ids end up in messages and headers: control characters are refused."""
    if isinstance(value, str) and _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _secret_text(value: Any, *, pem: bool) -> Any:
    """Secrets are bounded and, unless PEM text, header-safe (no whitespace, no controls)."""
    text = value.get_secret_value() if isinstance(value, SecretStr) else value
    if not isinstance(text, str):
        return value
    if len(text) > (MAX_PEM_CHARS if pem else MAX_TOKEN_CHARS):
        raise ValueError(
            f"is {len(text)} characters long; at most {MAX_PEM_CHARS if pem else MAX_TOKEN_CHARS}"
        )
    if pem:
        if "\x00" in text:
            raise ValueError("must not contain NUL characters")
    elif not re.fullmatch(r"[\x21-\x7e]+", text):
        raise ValueError("must be printable ASCII without spaces or control characters")
    return value


def _normalize_root(url: str) -> str:
    """Reduce `https://host`, `https://host/v1` or `https://host/v1/api` (any slashes) to the host root."""
    check_url(url)  # one URL rule everywhere (credentials/urls.py)
    root = url.strip().rstrip("/")
    for suffix in ("/v1/api", "/v1"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
            break
    return root


class CredentialData(BaseModel):
    """Fields every IBKR scheme shares: where the API is, which account, paper or live."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True, defer_build=True)

    #: Secret fields: masked everywhere, checked by the canary tests.
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ()

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
        return _normalize_root(value)

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
        """SHA-256 of the secret material (key files read): a rotated or wrong key gets its own cache.

        Never the secret itself: token caches are keyed by this digest mixed with public ids.
        """
        import hashlib

        digest = hashlib.sha256()
        for name in self.SECRET_FIELDS:
            value = getattr(self, name, None)
            text = value.get_secret_value() if isinstance(value, SecretStr) else ""
            path = getattr(self, f"{name}_path", None)
            if not text and isinstance(path, str):
                try:
                    text = read_bounded_text(Path(path).expanduser(), MAX_KEY_FILE_BYTES)[0]
                except (OSError, UnicodeDecodeError):
                    text = f"unreadable:{path}"  # the key loader reports it properly on use
            digest.update(name.encode() + b"\0" + text.strip().replace("\\n", "\n").encode() + b"\0")
        return digest.hexdigest()


def _pem_or_path(data: Any, pem_field: str, path_field: str, *, required: bool = True) -> Any:
    """Exactly one of a PEM field and its `*_path` twin must be given."""
    if not isinstance(data, dict):
        return data
    has_pem = bool(data.get(pem_field))
    has_path = bool(data.get(path_field))
    if has_pem and has_path:
        raise _field_problem(path_field, f"give {pem_field} or {path_field}, not both")
    if required and not (has_pem or has_path):
        raise _field_problem(pem_field, f"{pem_field} (PEM text) or {path_field} (a file) is required")
    return data


def _field_problem(field: str, detail: str) -> PydanticCustomError:
    """A model-level problem that still names its field (pydantic gives such errors no loc)."""
    return PydanticCustomError("field_error", "{detail}", {"field": field, "detail": detail})


class OAuth2Data(CredentialData):
    """`interactive_brokers_oauth`: private_key_jwt client credentials plus the SSO session."""

    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("private_key",)

    client_id: str = Field(
        min_length=1, max_length=256, pattern=_IDENT, description="OAuth 2.0 client id IBKR issued"
    )
    key_id: str = Field(
        min_length=1, max_length=256, pattern=_IDENT,
        description="key id (kid) of the registered public key",
    )
    private_key: SecretStr | None = Field(default=None, description="RSA private key, PEM text")
    private_key_path: str | None = Field(
        default=None, max_length=MAX_PATH_CHARS, description="path to the RSA private key PEM"
    )
    credential: str = Field(
        min_length=1, max_length=128, pattern=_IDENT,
        description="IBKR username the SSO session is opened for",
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
        default="/token", min_length=1, max_length=512, pattern=_PRINTABLE,
        description="client assertion aud claim",
    )
    scope: str = Field(
        default="sso-sessions.write", min_length=1, max_length=512, pattern=_PRINTABLE,
        description="token scope",
    )

    _key: RSAPrivateKey | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _one_key(cls, data: Any) -> Any:
        return _pem_or_path(data, "private_key", "private_key_path")

    @field_validator("private_key", mode="before")
    @classmethod
    def _pem_bounds(cls, value: Any) -> Any:
        return _secret_text(value, pem=True)

    @field_validator("private_key_path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return _no_control(value)

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
        _normalize_root(value)  # same scheme rules as the base URL
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
            if self.private_key is not None:
                pem, field = self.private_key.get_secret_value(), "data.private_key"
            else:
                assert self.private_key_path is not None
                pem = read_key_file(self.private_key_path, "data.private_key_path")
                field = "data.private_key_path"
            self._key = load_rsa_private_key(pem, field)
        return self._key

    def check(self) -> None:
        """Full validation, including the key: what `noetl-ib credentials check` runs."""
        self.rsa_key()


class OAuth1aData(CredentialData):
    """`interactive_brokers_oauth1a`: consumer key, access token and the Live Session Token inputs."""

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
        data = _pem_or_path(data, "signature_key", "signature_key_path")
        return _pem_or_path(data, "encryption_key", "encryption_key_path")

    @field_validator("signature_key", "encryption_key", mode="before")
    @classmethod
    def _pem_bounds(cls, value: Any) -> Any:
        return _secret_text(value, pem=True)

    @field_validator("access_token", "access_token_secret", mode="before")
    @classmethod
    def _token_bounds(cls, value: Any) -> Any:
        return _secret_text(value, pem=False)

    @field_validator("signature_key_path", "encryption_key_path", mode="before")
    @classmethod
    def _path_text(cls, value: Any) -> Any:
        return _no_control(value)

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
            secret: SecretStr | None = getattr(self, name)
            if secret is not None:
                pem, field = secret.get_secret_value(), f"data.{name}"
            else:
                path: str = getattr(self, f"{name}_path")
                field = f"data.{name}_path"
                pem = read_key_file(path, field)
            key = self._keys[name] = load_rsa_private_key(pem, field)
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


_D = TypeVar("_D", bound=CredentialData)


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


_FIXES = {
    "missing": "add it to the record's data (see credentials.example.json).",
    "extra_forbidden": "remove it or fix its spelling; the known fields are listed in the README.",
    "literal_error": "use one of the allowed values.",
    "string_type": "give a string.",
    "int_parsing": "give a whole number.",
    "string_too_short": "give a non-empty value.",
    "string_too_long": "give a shorter value (the limit is in the message).",
    "too_long": "give a shorter value (the limit is in the message).",
    "string_pattern_mismatch": "use only the characters the message lists.",
}


def first_validation_problem(
    exc: ValidationError, *, extra_message: str = "is not a known field"
) -> tuple[str, str, str, dict[str, Any]]:
    """(location, message, error type, ctx) of pydantic's first problem; never the input value."""
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
    ctx = dict(err.get("ctx") or {})
    message = str(ctx.get("detail") or err.get("msg") or "is invalid").removeprefix("Value error, ")
    kind = str(err.get("type", ""))
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        message = extra_message
    return loc, message, kind, ctx


def _check_field_names(data: Mapping[str, Any], model: type[BaseModel], prefix: str) -> None:
    """An unknown key that is close to a known field is a typo: say so before other checks."""
    from .suggest import closest

    if model.model_config.get("extra") != "forbid":
        return  # a plugin's type that accepts extra keys: nothing is a typo
    known = set(model.model_fields) | {
        f.alias for f in model.model_fields.values() if f.alias
    }
    for key in data:
        if isinstance(key, str) and key not in known:
            near = closest(key, sorted(known))
            if near:
                raise CredentialError(
                    "is not a known field",
                    field=f"{prefix}{key}",
                    fix=f"did you mean {prefix}{near}? Rename it, or remove it.",
                )


def _validation_to_error(
    exc: ValidationError, prefix: str, model: type[BaseModel] | None = None
) -> CredentialError:
    """First pydantic error as a CredentialError that names the field and never the value."""
    loc, message, kind, ctx = first_validation_problem(exc)
    loc = loc or str(ctx.get("field") or "")
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "record"
    fix = _FIXES.get(kind, "correct the value and try again.")
    if kind == "extra_forbidden" and model is not None:
        from .suggest import closest

        near = closest(loc.rsplit(".", 1)[-1], model.model_fields)
        if near:
            fix = f"did you mean {prefix}{near}? Rename it, or remove it."
    return CredentialError(message, field=field or "data", fix=fix)


def coerce_data(
    credential_data: _D | CredentialRecord | Mapping[str, Any], model: type[_D], scheme: str
) -> _D:
    """Accept the model, a parsed record, a whole record mapping or its `data` (NoETL style)."""
    if isinstance(credential_data, model):
        return credential_data
    if isinstance(credential_data, CredentialRecord):
        if not isinstance(credential_data.data, model):
            raise CredentialError(
                f"record {credential_data.name!r} is of type {credential_data.type!r}, not {scheme}",
                field="type",
                fix="use get_token_provider(record) to pick the provider for its type.",
            )
        return credential_data.data
    if not isinstance(credential_data, Mapping):
        raise CredentialError(
            f"expected the credential's data object, got {type(credential_data).__name__}",
            field="data",
            fix=f"pass the record's `data` mapping, the record, or a {model.__name__}.",
        )
    data: Mapping[str, Any] = credential_data
    inner = data.get("data")
    if "type" in data and isinstance(inner, Mapping):
        data = inner
    _check_field_names(data, model, "data.")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _validation_to_error(exc, "data.", model) from None


def parse_record(
    raw: Mapping[str, Any],
    types: Mapping[str, type[CredentialData]] | None = None,
) -> CredentialRecord:
    """Validate one NoETL credential record; `types` maps type names to data models."""
    known = dict(BUILTIN_CREDENTIAL_TYPES if types is None else types)
    if not isinstance(raw, Mapping):
        raise CredentialError(
            f"a credential record must be a JSON object, got {type(raw).__name__}",
            field="record",
            fix="use the shape of credentials.example.json: {name, type, description, tags, data}.",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise CredentialError("is required", field="name", fix='give the record a name, e.g. "ib_paper".')
    check_record_name(name, "name")
    kind = raw.get("type")
    if not isinstance(kind, str) or not kind:
        raise CredentialError(
            "is required",
            field="type",
            fix=f"set type to one of: {', '.join(sorted(known))}.",
        )
    model = known.get(kind)
    if model is None:
        raise CredentialError(
            f"unknown credential type {kind!r}"
            if RECORD_NAME_PATTERN.fullmatch(kind) else
            f"is not a credential type ({len(kind)} characters)",
            field="type",
            fix=f"use one of: {', '.join(sorted(known))}, or install the plugin that provides it.",
        )
    data = raw.get("data")
    if not isinstance(data, Mapping):
        raise CredentialError(
            "is required and must be an object",
            field="data",
            fix="put the IBKR fields under data (see credentials.example.json).",
        )
    _check_field_names(data, model, "data.")
    try:
        parsed = model.model_validate(dict(data))
    except ValidationError as exc:
        raise _validation_to_error(exc, "data.", model) from None
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CredentialError("must be a list of strings", field="tags", fix='e.g. ["ib"].')
    if len(tags) > 64 or any(len(t) > 128 or _CONTROL.search(t) for t in tags):
        raise CredentialError(
            "must be at most 64 tags of at most 128 printable characters",
            field="tags",
            fix='e.g. ["ib", "paper"].',
        )
    description = raw.get("description")
    if isinstance(description, str) and len(description) > 4096:
        raise CredentialError(
            f"is {len(description)} characters long; at most 4096",
            field="description",
            fix="shorten it.",
        )
    return CredentialRecord(
        name=name,
        type=kind,
        description=description if isinstance(description, str) else None,
        tags=list(tags),
        data=parsed,
    )
