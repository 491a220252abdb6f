"""`noetl-ib credentials check|register FILE`: validate records fully, or send them to a NoETL server."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any

from ..errors import IBPluginError, RegistrationFailed

__all__ = ["check_records", "cmd_check", "cmd_register"]

DEFAULT_SERVER = "http://localhost:8082"


def _summary(raw: Mapping[str, Any], index: int) -> dict[str, Any]:
    """What a record is, without any value that could be secret."""
    data = raw.get("data") if isinstance(raw.get("data"), Mapping) else {}
    assert isinstance(data, Mapping)
    return {
        "index": index,
        "name": raw.get("name") if isinstance(raw.get("name"), str) else None,
        "type": raw.get("type") if isinstance(raw.get("type"), str) else None,
        "fields": sorted(str(k) for k in data),
    }


def check_records(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Parse and fully check (keys, DH prime) each record; one summary per record."""
    from ..runner import default_host

    types = default_host().registry.credential_types
    out: list[dict[str, Any]] = []
    for index, raw in enumerate(records):
        summary = _summary(raw, index)
        try:
            record = _parse(raw, types)
            record.data.check()
        except IBPluginError as exc:
            summary.update(valid=False, error=exc.to_dict())
        else:
            data = record.data
            summary.update(
                valid=True,
                environment=data.environment,
                account_id=data.account_id,
                api_base_url=data.api_base_url,
                secret_fields=[f for f in type(data).SECRET_FIELDS if getattr(data, f, None)],
            )
        out.append(summary)
    return out


def _parse(raw: Mapping[str, Any], types: Any) -> Any:
    from ..credentials import parse_record

    return parse_record(raw, types)


def cmd_check(ns: argparse.Namespace) -> dict[str, Any]:
    """Exit 2 if any record is invalid; the summary still lists every record."""
    from ..credentials import read_records_file
    from ..errors import CredentialError

    records = read_records_file(ns.file)
    summaries = check_records(records)
    invalid = [s for s in summaries if not s["valid"]]
    result = {"file": str(ns.file), "valid": bool(summaries) and not invalid, "records": summaries}
    if not summaries:
        from ._io import FailedWithResult

        # An empty list validates nothing: a step relying on this file would find no credential.
        raise FailedWithResult(result, CredentialError(
            f"credentials file {str(ns.file)!r} holds no records",
            field="records",
            fix="add at least one record (see credentials.example.json).",
        ))
    if invalid:
        from ._io import FailedWithResult

        names = ", ".join(str(s["name"] or f"#{s['index']}") for s in invalid)
        error = CredentialError(
            f"{len(invalid)} of {len(summaries)} record(s) invalid: {names}",
            field="records",
            fix="see each record's error in the JSON on stdout.",
        )
        # The per-record report still belongs on stdout when the check fails.
        raise FailedWithResult(result, error)
    return result


def _server_url(explicit: str | None) -> str:
    """--server, else NOETL_SERVER_URL, else the local default; checked by the one URL rule."""
    from ..credentials.stores import check_server_url
    from ..wiring.settings import Settings

    url = (explicit or os.environ.get("NOETL_SERVER_URL") or DEFAULT_SERVER).strip().rstrip("/")
    trusted = Settings.from_environ(os.environ).http_server_hosts
    return check_server_url(url, field="server", trusted_http_hosts=trusted)


def _post(url: str, record: Mapping[str, Any], timeout: float = 15.0) -> tuple[int, Any]:
    """POST one record as JSON, the request `noetl register credential -f` sends.

    Total deadline SERVER_DEADLINE, answer capped at SERVER_MAX_BYTES, redirects refused.
    """
    import requests

    from ..credentials.stores import SERVER_DEADLINE, SERVER_MAX_BYTES
    from ..errors import ConfigurationError, RedirectRefused, ResponseTooLarge
    from ..transport import limited_session, origin

    body = json.dumps(record, separators=(",", ":"), sort_keys=True).encode("utf-8")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    try:
        with limited_session(deadline=SERVER_DEADLINE, max_bytes=SERVER_MAX_BYTES) as http:
            resp = http.post(url, data=body, headers=headers, timeout=timeout,
                             allow_redirects=False)
    except (requests.RequestException, RedirectRefused, ResponseTooLarge) as exc:
        raise ConfigurationError(
            f"NoETL server {origin(url)!r} did not answer usably ({type(exc).__name__})",
            field="server",
            fix="start the server (`noetl server start`), or pass --server / set NOETL_SERVER_URL.",
        ) from None
    text = resp.content.decode("utf-8", "replace")
    try:
        payload: Any = json.loads(text) if text else None
    except (ValueError, RecursionError):
        payload = text[:200]
    return resp.status_code, payload


def cmd_register(ns: argparse.Namespace) -> dict[str, Any]:
    """Validate (unless --no-validate), then one POST /api/credentials per record."""
    from ..credentials import read_records_file
    from ..errors import CredentialError

    records = read_records_file(ns.file)
    if not ns.no_validate:
        invalid = [s for s in check_records(records) if not s["valid"]]
        if invalid:
            first = invalid[0]["error"]
            raise CredentialError(
                f"record {invalid[0]['name'] or invalid[0]['index']!r} is invalid: {first['message']}",
                field=first.get("field"),
                fix="run `noetl-ib credentials check FILE`, or pass --no-validate.",
            )
    server = _server_url(ns.server)
    endpoint = f"{server}/api/credentials"
    results: list[dict[str, Any]] = []
    for raw in records:
        status, payload = _post(endpoint, raw)
        entry = {"name": raw.get("name"), "type": raw.get("type"), "status": status}
        if isinstance(payload, Mapping):
            entry["response"] = {k: v for k, v in payload.items() if k != "data"}
        results.append(entry)
        if not 200 <= status < 300:
            detail = payload
            if isinstance(payload, Mapping):
                detail = payload.get("detail") or payload.get("error")
            # Only the server's own short words: an echoed record could carry its secrets.
            detail = detail[:200] if isinstance(detail, str) else "see the server's logs"
            raise RegistrationFailed(
                f"NoETL server answered HTTP {status} for credential {raw.get('name')!r}: {detail}",
                field="server",
                fix="check the record and the server logs; earlier records in the file were sent.",
            )
    return {"server": server, "endpoint": endpoint, "registered": results}
