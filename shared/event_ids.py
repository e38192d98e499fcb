"""The ids of the events we publish: UUIDs in time order (version 7 of RFC 9562).

Each id is a primary key twice over, in the outbox's unique index and in the inbox of every
consumer, tables that grow by millions of rows in a replay. A random id (version 4) lands on a
random page of those indexes, so ever more of them must stay in memory; an id that grows with time
lands on the rightmost pages (docs/events.md §4.3). Consumers still treat an id as opaque text.
"""

from __future__ import annotations

import os
import time
from uuid import UUID

_VERSION_7 = 0x7
_RFC_VARIANT = 0b10


def time_ordered_uuid(unix_ms: int | None = None) -> UUID:
    """A fresh version-7 UUID: 48 bits of Unix milliseconds, then 74 random bits."""
    milliseconds = time.time_ns() // 1_000_000 if unix_ms is None else unix_ms
    if not 0 <= milliseconds < 1 << 48:
        raise ValueError("the time does not fit 48 bits of milliseconds")
    random = int.from_bytes(os.urandom(10), "big")
    random_a = random >> 68  # 12 bits
    random_b = random & ((1 << 62) - 1)
    return UUID(int=milliseconds << 80 | _VERSION_7 << 76 | random_a << 64 | _RFC_VARIANT << 62 | random_b)
