"""The coordinators file a region loads at start (`REKO_NOTIFICATIONS_COORDINATORS_FILE`, docs/coordinators.md §3).

Read and checked when the service is built, so a file that cannot be read stops the service with
the reason before it starts; stored once the database is there, in one transaction, idempotently.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from services.notifications import coordinator_store
from services.notifications.coordinators import Coordinator, CoordinatorFileError, parse_coordinators_file
from services.notifications.settings import NotificationsSettings
from shared.retry import TRANSIENT_ERRORS, Backoff
from shared.service import ServiceRuntime

log = structlog.get_logger("coordinators")


def read_coordinators_file(path: Path) -> list[Coordinator]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeError) as problem:
        raise CoordinatorFileError(f"the coordinators file cannot be read ({type(problem).__name__})") from None
    return parse_coordinators_file(text, csv_format=path.suffix.lower() == ".csv")


def register_coordinators_file(runtime: ServiceRuntime, settings: NotificationsSettings) -> None:
    path = settings.coordinators_file
    if path is None:
        return
    listed = read_coordinators_file(path)

    async def load(runtime: ServiceRuntime) -> None:
        backoff = Backoff(initial_seconds=0.5)
        while True:
            try:
                async with runtime.pool.acquire() as conn:
                    await coordinator_store.load_file(conn, listed, file_name=path.name)
            except TRANSIENT_ERRORS as problem:
                log.warning("the coordinators file waits for the database", error=type(problem).__name__)
                await backoff.sleep()
                continue
            log.info("coordinators file loaded", coordinators=len(listed), file=path.name)
            return

    runtime.background(load)
