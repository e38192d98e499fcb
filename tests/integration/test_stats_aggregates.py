"""Stats' kept aggregates against the real PostgreSQL: changed with every case event, they equal a rebuild from the facts cell by cell."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from services.stats import repository
from services.stats.app import MIGRATIONS
from services.stats.statistics import CaseFact, boundary_changes
from shared.contracts.cases import CaseChange, CaseStatus, DegreeSpan, SickLeaveCaseChanged
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from tests.support import employed_case_event

pytestmark = pytest.mark.integration


def case(case_id: str, patient: str, revision: int, start: date, end: date, *, events: int = 1, **changes: object) -> SickLeaveCaseChanged:
    event = employed_case_event(case_id, patient, start, end, revision=revision, event_count=events)
    return event.model_copy(update=changes)


def removed(event: SickLeaveCaseChanged, revision: int, *, events: int, replaced_by: tuple[str, ...] = ()) -> SickLeaveCaseChanged:
    return event.model_copy(
        update={
            "patient_revision": revision,
            "revision_event_count": events,
            "status": CaseStatus.REMOVED,
            "change": CaseChange.REMOVED,
            "replaced_by_case_ids": replaced_by,
        }
    )


def history() -> list[SickLeaveCaseChanged]:
    """Three patients' case events in revision order: an extension, a split, a revocation, a merge, a move of unit."""
    opened = case("a", "p1", 1, date(2026, 3, 1), date(2026, 3, 31))
    full_time = DegreeSpan(start=date(2026, 3, 1), end=date(2026, 3, 31), degree=100)
    degrees = (full_time, DegreeSpan(start=date(2026, 4, 5), end=date(2026, 4, 30), degree=50))
    extended = case("a", "p1", 2, date(2026, 3, 1), date(2026, 4, 30), sex="M", degrees=degrees)
    split = [
        removed(extended, 3, events=3, replaced_by=("b", "c")),
        case("b", "p1", 3, date(2026, 3, 1), date(2026, 3, 20), events=3, sex="M"),
        case("c", "p1", 3, date(2026, 4, 1), date(2026, 4, 30), events=3, sex="M", main_diagnosis_code="M545"),
    ]
    revoked = case("d", "p2", 1, date(2025, 11, 1), date(2026, 6, 30))
    first, second = (
        case("e", "p3", 1, date(2026, 1, 1), date(2026, 1, 31), events=2),
        case("f", "p3", 1, date(2026, 2, 3), date(2026, 2, 28), events=2),
    )
    merged = [
        removed(first, 2, events=3, replaced_by=("g",)),
        removed(second, 2, events=3, replaced_by=("g",)),
        case("g", "p3", 2, date(2026, 1, 1), date(2026, 2, 28), events=3),
    ]
    moved = case("g", "p3", 3, date(2026, 1, 1), date(2026, 3, 31), care_unit_hsa_id="SE2321000000-1002")
    return [opened, revoked, extended, first, second, *split, removed(revoked, 2, events=1), *merged, moved]


def delivered(events: list[SickLeaveCaseChanged], seed: int) -> list[list[SickLeaveCaseChanged]]:
    """The events in batches of random size, some delivered again later (a redelivery keeps the partition's order behind it)."""
    chance = random.Random(seed)
    stream = []
    for number, event in enumerate(events):
        stream.append(event)
        if number and chance.random() < 0.4:
            stream.append(events[chance.randrange(number)])
    batches, position = [], 0
    while position < len(stream):
        size = chance.randint(1, 4)
        batches.append(stream[position : position + size])
        position += size
    return batches


@pytest.mark.parametrize("seed", range(6))
async def test_the_aggregates_kept_event_by_event_equal_a_rebuild_from_the_facts(database_url, seed):
    schema = f"stats_{seed}"
    pool = await create_pool(database_url, schema, size=1)
    await migrate(pool, schema, PLATFORM_MIGRATIONS, MIGRATIONS)
    async with pool.acquire() as conn:
        for batch in delivered(history(), seed):
            async with conn.transaction():
                await repository.apply_case_events(conn, batch)
        kept = await repository.boundary_rows(conn)
        facts = await repository.facts_overlapping(conn, date(1900, 1, 1), date(2199, 12, 31))
        async with conn.transaction():
            await repository.rebuild_boundaries(conn)
        rebuilt = await repository.boundary_rows(conn)
    await pool.close()

    assert sorted(fact.case_id for fact in facts) == ["b", "c", "g"]
    assert kept == rebuilt
    assert kept == boundary_changes([], facts)
    assert not any(count == 0 for count in kept.values())


async def test_the_rebuild_command_makes_the_aggregates_from_the_stored_facts(database_url):
    from services.stats.__main__ import rebuild
    from services.stats.settings import StatsSettings

    pool = await create_pool(database_url, "stats", size=1)
    await migrate(pool, "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
    async with pool.acquire() as conn:
        async with conn.transaction():
            await repository.apply_case_events(conn, history())
        kept = await repository.boundary_rows(conn)
        await conn.execute("DELETE FROM case_boundaries")
        await conn.execute("DELETE FROM boundary_counts")

    assert await rebuild(StatsSettings(database_url=database_url)) == len(kept)
    async with pool.acquire() as conn:
        assert await repository.boundary_rows(conn) == kept
    await pool.close()


async def test_the_upgrade_moves_the_aggregates_kept_a_row_per_cell_into_vectors_of_counts_and_keeps_every_cell(database_url, tmp_path):
    facts = [
        CaseFact(
            case_id=event.case_id,
            sex=event.sex,
            care_unit_hsa_id=event.care_unit_hsa_id,
            care_provider_hsa_id=event.care_provider_hsa_id,
            diagnosis_group="psychiatric",
            start=event.start,
            end=event.end,
            certified_days=event.certified_days,
            degrees=((event.start, event.start + timedelta(days=9), 50),),
            age_bands=((event.start, event.end, "31-40"),),
        )
        for event in history()
        if event.status is CaseStatus.ACTIVE
    ]
    cells = boundary_changes([], facts)
    # One category outside the vocabulary, as a cell of its own, stays one.
    cells[("degree", "40", "SE2321000000-1001", "F", "start", date(2026, 3, 1))] = 2
    before_vectors = tmp_path / "migrations"
    before_vectors.mkdir()
    for earlier in sorted(MIGRATIONS.glob("*.sql")):
        if earlier.name < "005":
            (before_vectors / earlier.name).write_text(earlier.read_text())
    pool = await create_pool(database_url, "stats_upgrade", size=1)
    await migrate(pool, "stats_upgrade", PLATFORM_MIGRATIONS, before_vectors)
    async with pool.acquire() as conn:
        await conn.executemany(
            "INSERT INTO case_boundaries (breakdown, category, care_unit_hsa_id, sex, boundary, day, cases) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(*key, count) for key, count in cells.items()],
        )
    assert await migrate(pool, "stats_upgrade", PLATFORM_MIGRATIONS, MIGRATIONS) == ["005_boundary_counts.sql"]
    async with pool.acquire() as conn:
        kept = await repository.boundary_rows(conn)
        left_as_cells = await conn.fetchval("SELECT count(*) FROM case_boundaries WHERE breakdown <> 'certifiedDays'")
    await pool.close()

    assert kept == cells
    assert left_as_cells == 1
