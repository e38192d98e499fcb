"""Signed webhook calls in the Standard Webhooks style (docs/alert-channels.md §3).

Each call carries `webhook-id` (the delivery's id, the same on every try), `webhook-timestamp`
(Unix seconds of the try) and `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
under the subscription's secret `whsec_<base64 key>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
# A receiver should refuse a call whose timestamp is further than this from its own clock.
TIMESTAMP_TOLERANCE_SECONDS = 300


class WebhookRefused(Exception):
    """The receiver answered, but not with a 2xx; the message (the status) is the reason, safe to store."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a webhook secret (whsec_<base64>)") from None


def signature(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> bool:
    """What a receiver checks: a signature of ours among the header's, and a timestamp near its own clock."""
    try:
        webhook_id, timestamp = headers["webhook-id"], int(headers["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        return False
    expected = signature(secret, webhook_id, timestamp, body)
    return any(hmac.compare_digest(expected, given) for given in headers.get("webhook-signature", "").split())


def body_of(payload: Mapping[str, Any]) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)


async def call(client: httpx.AsyncClient, url: str, secret: str, delivery_id: uuid.UUID, payload: Mapping[str, Any], timeout_seconds: float) -> None:
    """POST the signed body; a non-2xx answer raises `WebhookRefused`, a timeout `TimeoutError`."""
    body = body_of(payload)
    # Signed with real time, not the service clock: the receiver checks it against its own clock.
    headers = signed_headers(secret, str(delivery_id), int(time.time()), body)
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout_seconds, follow_redirects=False)
    except httpx.TimeoutException:
        raise TimeoutError(f"no answer within {timeout_seconds:g} s") from None
    except httpx.HTTPError as problem:
        raise WebhookRefused(f"no connection ({type(problem).__name__})") from None
    if not 200 <= response.status_code < 300:
        # The status only: the receiver's body may say anything, and it is not ours to store.
        raise WebhookRefused(f"HTTP {response.status_code}")
