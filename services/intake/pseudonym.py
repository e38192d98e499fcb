"""Patient pseudonyms: downstream of intake a patient is `hex(HMAC-SHA256(key, normalised id))`."""

from __future__ import annotations

import hashlib
import hmac


def pseudonymise(normalised_person_id: str, key: bytes) -> str:
    return hmac.new(key, normalised_person_id.encode("ascii"), hashlib.sha256).hexdigest()
