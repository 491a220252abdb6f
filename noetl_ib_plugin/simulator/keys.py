"""Throw-away keys for the built-in clients and the credentials.json that hands them out."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .lst import RFC3526_PRIME_HEX

__all__ = [
    "OAUTH1A_ACCOUNT",
    "OAUTH2_ACCOUNT",
    "SimKeys",
    "credential_records",
    "encrypt_secret",
    "generate_keys",
    "keys_from_json",
    "keys_to_json",
    "private_pem",
    "public_pem",
    "write_credentials",
]

OAUTH2_ACCOUNT = "DU1234567"
OAUTH1A_ACCOUNT = "DU7654321"


def new_rsa_key() -> rsa.RSAPrivateKey:
    """Generate one RSA 2048 key; the simulator never reuses keys across runs."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """Serialise a private key as PKCS#8 PEM text, the form credential records carry."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """Serialise the public half, the only part the server side registers."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def encrypt_secret(public_key_pem: str, plaintext: bytes) -> str:
    """Encrypt the access token secret like IBKR does: base64(RSA PKCS#1 v1.5 ciphertext)."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise TypeError("encryption key must be RSA")
    return base64.b64encode(key.encrypt(plaintext, padding.PKCS1v15())).decode()


@dataclass
class SimKeys:
    """Key material for the two built-in clients; generate once and share to keep tests fast."""

    oauth2_key: rsa.RSAPrivateKey = field(repr=False)
    signature_key: rsa.RSAPrivateKey = field(repr=False)
    encryption_key: rsa.RSAPrivateKey = field(repr=False)
    client_id: str = "SIMCLIENT"
    key_id: str = "sim-key-1"
    username: str = "simuser2"
    consumer_key: str = "SIMCONSUM"
    access_token: str = field(default_factory=lambda: secrets.token_hex(10))
    access_token_secret_plain: bytes = field(default_factory=lambda: secrets.token_bytes(24))
    oauth1a_username: str = "simuser1a"


def generate_keys() -> SimKeys:
    """Create fresh throw-away keys for the default OAuth 2.0 and OAuth 1.0a clients."""
    return SimKeys(new_rsa_key(), new_rsa_key(), new_rsa_key())


def credential_records(keys: SimKeys, api_base_url: str) -> list[dict[str, Any]]:
    """Build NoETL credential records ({name, type, description, tags, data}) for both schemes."""
    oauth2 = {
        "name": "sim_oauth2",
        "type": "interactive_brokers_oauth",
        "description": "IBKR simulator, OAuth 2.0 private_key_jwt, paper account",
        "tags": ["ibkr", "simulator", "paper"],
        "data": {
            "client_id": keys.client_id,
            "key_id": keys.key_id,
            "private_key": private_pem(keys.oauth2_key),
            "username": keys.username,
            "account_id": OAUTH2_ACCOUNT,
            "environment": "paper",
            "api_base_url": api_base_url,
        },
    }
    oauth1a = {
        "name": "sim_oauth1a",
        "type": "interactive_brokers_oauth1a",
        "description": "IBKR simulator, OAuth 1.0a live session token, paper account",
        "tags": ["ibkr", "simulator", "paper"],
        "data": {
            "consumer_key": keys.consumer_key,
            "access_token": keys.access_token,
            "access_token_secret": encrypt_secret(
                public_pem(keys.encryption_key), keys.access_token_secret_plain
            ),
            "signature_key": private_pem(keys.signature_key),
            "encryption_key": private_pem(keys.encryption_key),
            "dh_prime": RFC3526_PRIME_HEX,
            "dh_generator": 2,
            "realm": "limited_poa",
            "account_id": OAUTH1A_ACCOUNT,
            "environment": "paper",
            "api_base_url": api_base_url,
        },
    }
    return [oauth2, oauth1a]


def write_credentials(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write credentials.json readable by the owner only (mode 600), since it holds private keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"credentials": records}, handle, indent=2)
        handle.write("\n")
    return path


def keys_to_json(keys: SimKeys) -> dict[str, Any]:
    """Serialise the built-in clients' keys so `--state-dir` restarts keep credentials working."""
    return {
        "oauth2_key": private_pem(keys.oauth2_key),
        "signature_key": private_pem(keys.signature_key),
        "encryption_key": private_pem(keys.encryption_key),
        "client_id": keys.client_id, "key_id": keys.key_id, "username": keys.username,
        "consumer_key": keys.consumer_key, "access_token": keys.access_token,
        "access_token_secret_hex": keys.access_token_secret_plain.hex(),
        "oauth1a_username": keys.oauth1a_username,
    }


def _load_private(pem: str) -> rsa.RSAPrivateKey:
    """One RSA private key from PKCS#8 PEM text."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("simulator keys must be RSA")
    return key


def keys_from_json(data: dict[str, Any]) -> SimKeys:
    """Inverse of keys_to_json; raises KeyError/ValueError/TypeError on a damaged file."""
    return SimKeys(
        _load_private(data["oauth2_key"]), _load_private(data["signature_key"]),
        _load_private(data["encryption_key"]), client_id=data["client_id"],
        key_id=data["key_id"], username=data["username"], consumer_key=data["consumer_key"],
        access_token=data["access_token"],
        access_token_secret_plain=bytes.fromhex(data["access_token_secret_hex"]),
        oauth1a_username=data["oauth1a_username"],
    )
