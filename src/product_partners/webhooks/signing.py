"""Signatures to the Standard Webhooks specification, made by the ``standardwebhooks``
package: ``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``, one per
live secret, separated by spaces (during a rotation the previous secret signs too, so a
receiver that still has the old one keeps verifying)."""

import base64
import os
from collections.abc import Iterable
from datetime import datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: datetime, body: bytes) -> str:
    return " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in secrets)


def headers(secrets: Iterable[str], msg_id: str, timestamp: datetime, body: bytes) -> dict:
    """The Standard Webhooks headers of one delivery."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }
