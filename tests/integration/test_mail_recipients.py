"""Who is mailed about a unit: the registry's coordinators who are not away, and their stand-ins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, time

import asyncpg
import pytest

from services.notifications import coordinator_store
from services.notifications.app import MIGRATIONS
from services.notifications.coordinators import Coordinator, StandIn
from services.notifications.delivery_repository import ContactPreferences, recipients_for_unit, recipients_for_units, save_preferences
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate

pytestmark = pytest.mark.integration

UNIT = "SE2321000000-1001"
OTHER_UNIT, UNKNOWN_UNIT, SILENT_UNIT = "SE2321000000-1002", "SE2321000000-1003", "SE2321000000-1004"
ANNA, BEA, CECILIA = "SE2321000000-3001", "SE2321000000-3002", "SE2321000000-3003"


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    pool = await create_pool(database_url, "notifications", size=1)
    await migrate(pool, "notifications", PLATFORM_MIGRATIONS, MIGRATIONS)
    async with pool.acquire() as connection:
        yield connection
    await pool.close()


async def prefer_mail(conn: asyncpg.Connection, hsa_id: str, units: tuple[str, ...] = ()) -> None:
    await save_preferences(conn, ContactPreferences(hsa_id, f"{hsa_id.lower()}@example.org", units, True, time(7, 30), hsa_id))


async def test_the_registry_decides_and_a_stand_in_is_mailed_while_the_coordinator_is_away(conn: asyncpg.Connection) -> None:
    away = StandIn.model_validate({"stand_in_hsa_id": BEA, "from": "2026-03-10", "to": "2026-03-20"})
    await coordinator_store.save_coordinator(conn, Coordinator(hsa_id=ANNA, care_units=frozenset({UNIT}), stand_ins=(away,)), by="test")
    for hsa_id in (ANNA, BEA):
        await prefer_mail(conn, hsa_id)
    # Cecilia asked mail for the unit but does not coordinate it: the registry decides.
    await prefer_mail(conn, CECILIA, (UNIT,))
    assert [r.coordinator_hsa_id for r in await recipients_for_unit(conn, UNIT, date(2026, 3, 5))] == [ANNA]
    assert [r.coordinator_hsa_id for r in await recipients_for_unit(conn, UNIT, date(2026, 3, 15))] == [BEA]


async def test_a_unit_the_registry_does_not_know_reaches_those_who_asked_mail_for_it(conn: asyncpg.Connection) -> None:
    await prefer_mail(conn, CECILIA, (UNIT,))
    assert [r.coordinator_hsa_id for r in await recipients_for_unit(conn, UNIT, date(2026, 3, 5))] == [CECILIA]


async def test_many_units_at_once_get_what_each_would_get_alone(conn: asyncpg.Connection) -> None:
    away = StandIn.model_validate({"stand_in_hsa_id": BEA, "from": "2026-03-10", "to": "2026-03-20"})
    await coordinator_store.save_coordinator(conn, Coordinator(hsa_id=ANNA, care_units=frozenset({UNIT}), stand_ins=(away,)), by="test")
    await coordinator_store.save_coordinator(conn, Coordinator(hsa_id=BEA, care_units=frozenset({OTHER_UNIT})), by="test")
    for hsa_id in (ANNA, BEA):
        await prefer_mail(conn, hsa_id)
    await prefer_mail(conn, CECILIA, (UNIT, UNKNOWN_UNIT))
    units = [UNIT, OTHER_UNIT, UNKNOWN_UNIT, SILENT_UNIT]
    for day in (date(2026, 3, 5), date(2026, 3, 15)):
        together = await recipients_for_units(conn, units, day)
        assert together == {unit: await recipients_for_unit(conn, unit, day) for unit in units}
    assert [r.coordinator_hsa_id for r in together[UNIT]] == [BEA]
    assert [r.coordinator_hsa_id for r in together[UNKNOWN_UNIT]] == [CECILIA]
    assert together[SILENT_UNIT] == []
