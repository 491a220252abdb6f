"""Run by ibind 0.2.2's own interpreter (a throw-away venv), never imported by the suite.

Usage: python ibind_driver.py CREDENTIALS_JSON. Authenticates with OAuth 1.0a from the
simulator's sim_oauth1a record, reads positions, takes a snapshot after the pre-flight, and
places a stop order that IBKR questions ("will most likely trigger and fill immediately"),
answering with ibind's own text matching. Prints one JSON line with what it saw.
"""

import json
import sys
import time
from typing import Any

from ibind import IbkrClient, OrderRequest, QuestionType  # type: ignore[import-not-found]
from ibind.oauth.oauth1a import OAuth1aConfig  # type: ignore[import-not-found]


def ibind_client(path: str) -> tuple[Any, str]:
    """(ibind's IbkrClient over OAuth 1.0a for the sim_oauth1a record, its account id), ready:
    the brokerage session is open and `/iserver/accounts` answered (the bridge warms up)."""
    with open(path, encoding="utf-8") as handle:
        records = json.load(handle)["credentials"]
    data = next(r for r in records if r["name"] == "sim_oauth1a")["data"]
    account = data["account_id"]
    config = OAuth1aConfig(
        oauth_rest_url=data["api_base_url"] + "/v1/api/",
        access_token=data["access_token"],
        access_token_secret=data["access_token_secret"],
        consumer_key=data["consumer_key"],
        dh_prime=data["dh_prime"],
        encryption_key=data["encryption_key"],
        signature_key=data["signature_key"],
        dh_generator=str(data["dh_generator"]),
        realm=data["realm"],
        init_oauth=True,
        init_brokerage_session=True,
        maintain_oauth=False,
        shutdown_oauth=False,
    )
    client = IbkrClient(account_id=account, use_oauth=True, oauth_config=config,
                        auto_register_shutdown=False, timeout=10)
    for _ in range(20):  # the bridge warms up: accounts arrive after a few seconds
        iserver = client.receive_brokerage_accounts().data
        if iserver and iserver.get("accounts"):
            break
        time.sleep(0.5)
    return client, account


def main(path: str) -> None:
    """Drive ibind through the four steps and print what it saw as JSON."""
    client, account = ibind_client(path)
    out: dict[str, Any] = {"accounts": client.receive_brokerage_accounts().data.get("accounts")}
    accounts = client.portfolio_accounts().data
    out["positions"] = len(client.positions(account_id=account).data)
    client.live_marketdata_snapshot(conids=["265598"], fields=["31", "84"])  # pre-flight
    snap = client.live_marketdata_snapshot(conids=["265598"], fields=["31", "84"]).data
    out["snapshot_last"] = snap[0].get("31")
    last = float(str(snap[0].get("31")).lstrip("CH"))
    order = OrderRequest(conid=265598, side="BUY", quantity=1, order_type="STP",
                         price=round(last * 0.9, 2), acct_id=account, tif="DAY",
                         coid=f"ibind-{int(time.time() * 1000)}")
    answers = {QuestionType.TRIGGER_AND_FILL: True, QuestionType.PRICE_PERCENTAGE_CONSTRAINT: True,
               QuestionType.ORDER_SIZE_LIMIT: True, QuestionType.MISSING_MARKET_DATA: True}
    placed = client.place_order(order, answers, account_id=account).data
    out["placed"] = placed
    out["portfolio_accounts"] = len(accounts or [])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
