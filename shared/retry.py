"""The one retry policy: what counts as transient, and how long to wait before trying again.

The consumer, the outbox relay, the milestone scheduler and start-up all retry the same way: a
database or broker that is away is waited for with capped exponential backoff, never skipped; any
other failure is the caller's to classify (a record is isolated and dead-lettered, a relay row the
broker refuses is recorded and passed over).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
from aiokafka.errors import KafkaError

# The database or the broker is away, or the database asks us to try again: nothing about the work
# itself is wrong, so the same work is tried again later.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    KafkaError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


@dataclass
class Backoff:
    """Capped exponential backoff: `await backoff.sleep()` after a failure, `reset()` after a success."""

    initial_seconds: float = 0.1
    maximum_seconds: float = 5.0
    factor: float = 2.0
    _next: float = field(init=False)

    def __post_init__(self) -> None:
        self._next = self.initial_seconds

    @property
    def next_seconds(self) -> float:
        return self._next

    async def sleep(self) -> None:
        delay = self._next
        self._next = min(delay * self.factor, self.maximum_seconds)
        await asyncio.sleep(delay)

    def reset(self) -> None:
        self._next = self.initial_seconds
