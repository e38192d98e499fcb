"""Stats' tables: case facts, the revision applied per patient, and listed patients per unit and month."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import asyncpg
import orjson

from services.stats.statistics import (
    BoundaryKey,
    CaseFact,
    CountsKey,
    Cube,
    CubeKey,
    boundary_changes,
    counted_cells,
    counted_changes,
    counted_span,
)
from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged
from shared.db import columns, json_text
from shared.sickleave.case_projection import RevisionProgress, project_case_events
from shared.sickleave.diagnosis import diagnosis_category, diagnosis_group


async def apply_case_events(conn: asyncpg.Connection, events: Sequence[SickLeaveCaseChanged]) -> None:
    """Keep one fact per existing case; an event older than the patient's applied revision changes nothing."""
    patients = sorted({event.patient_pseudonym for event in events})
    held = {
        # Stats keeps no event counts: only the revision decides what is stale.
        row["patient_pseudonym"]: RevisionProgress(row["revision"], 0, 0)
        for row in await conn.fetch(
            "SELECT patient_pseudonym, revision FROM patients WHERE patient_pseudonym = ANY($1::text[]) ORDER BY patient_pseudonym FOR UPDATE",
            patients,
        )
    }
    projection = project_case_events(held, events)
    revisions = [(patient, projection.progress[patient].revision) for patient in sorted(projection.touched_patients)]
    await conn.execute(
        "INSERT INTO patients (patient_pseudonym, revision) SELECT * FROM unnest($1::text[], $2::bigint[]) "
        "ON CONFLICT (patient_pseudonym) DO UPDATE SET revision = excluded.revision",
        *columns(revisions, 2),
    )
    # The kept aggregates change by what the touched cases' new facts add less what their old facts added.
    touched = sorted({*projection.removed_case_ids, *projection.latest})
    old_facts = await _facts_where(conn, "case_id = ANY($1::text[])", touched)
    if projection.removed_case_ids:
        await conn.execute("DELETE FROM case_facts WHERE case_id = ANY($1::text[])", projection.removed_case_ids)
    # The column diagnosis_chapter holds the category ("F43", docs/rules.md §6.1), not an ICD-10 chapter; the name
    # predates the shared diagnosis vocabulary and only a migration can change it.
    facts = [
        (
            event.case_id,
            event.patient_pseudonym,
            event.sex,
            event.care_unit_hsa_id,
            event.care_provider_hsa_id,
            diagnosis_group(event.main_diagnosis_code),
            diagnosis_category(event.main_diagnosis_code),
            event.start,
            event.end,
            event.certified_days,
            # As JSON text: a list in a jsonb[] parameter would be read as one more array dimension.
            json_text([span.model_dump(mode="json", by_alias=True) for span in event.degrees]),
            json_text([span.model_dump(mode="json", by_alias=True) for span in event.age_bands]),
        )
        for event in projection.latest.values()
        if event.status is CaseStatus.ACTIVE
    ]
    await conn.execute(
        """
        INSERT INTO case_facts (case_id, patient_pseudonym, sex, care_unit_hsa_id, care_provider_hsa_id, diagnosis_group,
                                diagnosis_chapter, start, "end", certified_days, degrees, age_bands)
        SELECT case_id, patient_pseudonym, sex, care_unit_hsa_id, care_provider_hsa_id, diagnosis_group, diagnosis_chapter,
               start, "end", certified_days, degrees::jsonb, age_bands::jsonb
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::date[],
                    $9::date[], $10::int[], $11::text[], $12::text[])
            AS r(case_id, patient_pseudonym, sex, care_unit_hsa_id, care_provider_hsa_id, diagnosis_group, diagnosis_chapter,
                 start, "end", certified_days, degrees, age_bands)
        ON CONFLICT (case_id) DO UPDATE SET
            patient_pseudonym = excluded.patient_pseudonym, sex = excluded.sex, care_unit_hsa_id = excluded.care_unit_hsa_id,
            care_provider_hsa_id = excluded.care_provider_hsa_id, diagnosis_group = excluded.diagnosis_group,
            diagnosis_chapter = excluded.diagnosis_chapter, start = excluded.start, "end" = excluded."end",
            certified_days = excluded.certified_days, degrees = excluded.degrees, age_bands = excluded.age_bands
        """,
        *columns(facts, 12),
    )
    new_facts = [_fact(row) for row in facts]
    await add_boundaries(conn, boundary_changes(old_facts, new_facts))


def _fact(row: Sequence[Any]) -> CaseFact:
    """A fact from the columns written above (case id, pseudonym, sex, unit, provider, group, category, start, end, days, degrees, ages)."""
    degrees, ages = orjson.loads(row[10]), orjson.loads(row[11])
    return CaseFact(
        case_id=row[0],
        sex=row[2],
        care_unit_hsa_id=row[3],
        care_provider_hsa_id=row[4],
        diagnosis_group=row[5],
        start=row[7],
        end=row[8],
        certified_days=row[9],
        degrees=_spans(degrees, "degree"),
        age_bands=_spans(ages, "ageBand"),
    )


async def add_boundaries(conn: asyncpg.Connection, changes: Mapping[BoundaryKey, int]) -> None:
    vectors, cells = counted_changes(changes)
    await _add_counts(conn, vectors)
    await _add_cells(conn, cells)


def _counts_text(counts: Sequence[int]) -> str:
    # As array text: a list of lists in an int[][] parameter would be unnested into its elements.
    return "{" + ",".join(map(str, counts)) + "}"


async def _add_counts(conn: asyncpg.Connection, vectors: Mapping[CountsKey, Sequence[int]]) -> None:
    if not vectors:
        return
    # In key order, so that two instances adding to the same rows lock them in the same order.
    rows = [(*key, _counts_text(counts)) for key, counts in sorted(vectors.items())]
    emptied = await conn.fetch(
        "WITH upserted AS ("
        " INSERT INTO boundary_counts (care_unit_hsa_id, sex, boundary, day, counts)"
        " SELECT care_unit_hsa_id, sex, boundary, day, counts::integer[]"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::text[]) AS r(care_unit_hsa_id, sex, boundary, day, counts)"
        " ON CONFLICT (boundary, day, care_unit_hsa_id, sex) DO UPDATE SET counts = boundary_counts_sum(boundary_counts.counts, excluded.counts)"
        " RETURNING care_unit_hsa_id, sex, boundary, day, counts"
        ") SELECT care_unit_hsa_id, sex, boundary, day FROM upserted WHERE 0 = ALL(counts)",
        *columns(rows, 5),
    )
    # A row back at zero everywhere is dropped, so the incremental table and a rebuild hold the same rows.
    if emptied:
        await conn.execute(
            "DELETE FROM boundary_counts b USING unnest($1::text[], $2::text[], $3::text[], $4::date[]) AS e(care_unit_hsa_id, sex, boundary, day) "
            "WHERE 0 = ALL(b.counts) AND (b.boundary, b.day, b.care_unit_hsa_id, b.sex) = (e.boundary, e.day, e.care_unit_hsa_id, e.sex)",
            *columns([tuple(row) for row in emptied], 4),
        )


async def _add_cells(conn: asyncpg.Connection, changes: Mapping[BoundaryKey, int]) -> None:
    if not changes:
        return
    rows = [(*key, count) for key, count in sorted(changes.items())]
    emptied = await conn.fetch(
        "WITH upserted AS ("
        " INSERT INTO case_boundaries (breakdown, category, care_unit_hsa_id, sex, boundary, day, cases) "
        " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[], $7::int[]) "
        " ON CONFLICT (breakdown, boundary, day, category, care_unit_hsa_id, sex) DO UPDATE SET cases = case_boundaries.cases + excluded.cases"
        " RETURNING breakdown, category, care_unit_hsa_id, sex, boundary, day, cases"
        ") SELECT breakdown, category, care_unit_hsa_id, sex, boundary, day FROM upserted WHERE cases = 0",
        *columns(rows, 7),
    )
    # Only the cells this batch emptied are looked up, each by its whole key.
    if emptied:
        await conn.execute(
            "DELETE FROM case_boundaries b USING unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::date[]) "
            "AS e(breakdown, category, care_unit_hsa_id, sex, boundary, day) "
            "WHERE b.cases = 0 AND (b.breakdown, b.boundary, b.day, b.category, b.care_unit_hsa_id, b.sex) "
            "= (e.breakdown, e.boundary, e.day, e.category, e.care_unit_hsa_id, e.sex)",
            *columns([tuple(row) for row in emptied], 6),
        )


async def rebuild_boundaries(conn: asyncpg.Connection) -> int:
    """Make the kept aggregates again from every stored fact; answers how many cells (not zero) they hold."""
    await conn.execute("LOCK TABLE case_facts IN SHARE MODE")
    await conn.execute("DELETE FROM case_boundaries")
    await conn.execute("DELETE FROM boundary_counts")
    await add_boundaries(conn, boundary_changes([], await _facts_where(conn, "true")))
    return len(await boundary_rows(conn))


async def boundary_rows(conn: asyncpg.Connection) -> dict[BoundaryKey, int]:
    """Every cell of the kept aggregates that is not zero, whichever table holds it."""
    rows = await conn.fetch("SELECT breakdown, category, care_unit_hsa_id, sex, boundary, day, cases FROM case_boundaries")
    kept = {(row["breakdown"], row["category"], row["care_unit_hsa_id"], row["sex"], row["boundary"], row["day"]): row["cases"] for row in rows}
    for row in await conn.fetch("SELECT care_unit_hsa_id, sex, boundary, day, counts FROM boundary_counts"):
        kept.update(counted_cells((row["care_unit_hsa_id"], row["sex"], row["boundary"], row["day"]), row["counts"]))
    return kept


# The counts of one breakdown, a category per row: its slice of each vector, its position naming the category.
_COUNTED_SELECT = """
    SELECT p.number, b.care_unit_hsa_id, ($4::text[])[c.position::integer] AS category, b.sex, sum({value}) AS cases
    FROM periods p
    JOIN boundary_counts b ON {condition}
    CROSS JOIN LATERAL unnest(b.counts[$5::integer:$6::integer]) WITH ORDINALITY AS c(cases, position)
    GROUP BY p.number, b.care_unit_hsa_id, c.position, b.sex
"""
_CELLS_SELECT = """
    SELECT p.number, b.care_unit_hsa_id, b.category, b.sex, sum({value}) AS cases
    FROM periods p
    JOIN case_boundaries b ON b.breakdown = $1 AND ({condition})
    GROUP BY p.number, b.care_unit_hsa_id, b.category, b.sex
"""


async def _breakdown_cubes(
    conn: asyncpg.Connection, breakdown: str, periods: Sequence[tuple[date, date]], *, value: str, condition: str, boundary: str | None = None
) -> list[Cube]:
    """Per period, the sums of `value` over the boundaries that meet `condition`, from both tables."""
    span = counted_span(breakdown)
    selects = [_CELLS_SELECT.format(value=value, condition=condition)]
    arguments: list[Any] = [breakdown, [first for first, _ in periods], [last for _, last in periods]]
    if span is not None:
        first_position, categories = span
        selects.append(_COUNTED_SELECT.format(value=value.replace("b.cases", "c.cases"), condition=condition))
        # PostgreSQL's arrays count from 1.
        arguments += [list(categories), first_position + 1, first_position + len(categories)]
    if boundary is not None:
        arguments.append(boundary)
    parameter = len(arguments)
    query = "WITH periods AS (SELECT * FROM unnest($2::date[], $3::date[]) WITH ORDINALITY AS p(first, last, number)) " + " UNION ALL ".join(selects)
    rows = await conn.fetch(query.replace("$boundary", f"${parameter}::text"), *arguments)
    return _cubes_by_period(rows, len(periods))


async def ongoing_cubes(conn: asyncpg.Connection, breakdown: str, periods: Sequence[tuple[date, date]]) -> list[Cube]:
    """Per period, the cases counted in the breakdown at any time in it: started by its last day and not ended before its first."""
    return await _breakdown_cubes(
        conn,
        breakdown,
        periods,
        value="CASE WHEN b.boundary = 'start' THEN b.cases ELSE -b.cases END",
        condition="(b.boundary = 'start' AND b.day <= p.last) OR (b.boundary = 'end' AND b.day < p.first)",
    )


async def boundary_cubes(conn: asyncpg.Connection, breakdown: str, boundary: str, periods: Sequence[tuple[date, date]]) -> list[Cube]:
    """Per period, the cases of the breakdown that start (or end) within it."""
    return await _breakdown_cubes(
        conn, breakdown, periods, value="b.cases", condition="b.boundary = $boundary AND b.day BETWEEN p.first AND p.last", boundary=boundary
    )


def _cubes_by_period(rows: Sequence[Any], count: int) -> list[Cube]:
    cubes: list[dict[CubeKey, int]] = [{} for _ in range(count)]
    # A category may come from both tables (a vector's and a cell of its own): the two add up.
    for row in rows:
        if row["cases"]:
            cube = cubes[row["number"] - 1]
            key = (row["care_unit_hsa_id"], row["category"], row["sex"])
            cube[key] = cube.get(key, 0) + int(row["cases"])
    return [{key: cases for key, cases in cube.items() if cases} for cube in cubes]


async def ongoing_by_unit_and_sex(conn: asyncpg.Connection, day: date, care_unit_hsa_id: str | None = None) -> dict[str, dict[str, int]]:
    rows = await conn.fetch(
        'SELECT care_unit_hsa_id, sex, count(*) AS cases FROM case_facts WHERE start <= $1 AND "end" >= $1 '
        "AND ($2::text IS NULL OR care_unit_hsa_id = $2) GROUP BY care_unit_hsa_id, sex ORDER BY care_unit_hsa_id",
        day,
        care_unit_hsa_id,
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["care_unit_hsa_id"], {})[row["sex"]] = row["cases"]
    return counts


def _spans(raw: Any, value_field: str) -> tuple[tuple[date, date, Any], ...]:
    spans = orjson.loads(raw) if isinstance(raw, str | bytes) else raw
    return tuple((date.fromisoformat(span["start"]), date.fromisoformat(span["end"]), span[value_field]) for span in spans)


async def facts_overlapping(conn: asyncpg.Connection, first: date, last: date) -> list[CaseFact]:
    """The case facts of every case that touches [first, last]: all a report over that span counts."""
    return await _facts_where(conn, 'start <= $1 AND "end" >= $2', last, first)


async def _facts_where(conn: asyncpg.Connection, condition: str, *arguments: Any) -> list[CaseFact]:
    rows = await conn.fetch(
        'SELECT case_id, sex, care_unit_hsa_id, care_provider_hsa_id, diagnosis_group, start, "end", certified_days, degrees, age_bands '
        f"FROM case_facts WHERE {condition} ORDER BY case_id",
        *arguments,
    )
    return [
        CaseFact(
            case_id=row["case_id"],
            sex=row["sex"],
            care_unit_hsa_id=row["care_unit_hsa_id"],
            care_provider_hsa_id=row["care_provider_hsa_id"],
            diagnosis_group=row["diagnosis_group"],
            start=row["start"],
            end=row["end"],
            certified_days=row["certified_days"],
            degrees=_spans(row["degrees"], "degree"),
            age_bands=_spans(row["age_bands"], "ageBand"),
        )
        for row in rows
    ]


async def known_units(conn: asyncpg.Connection) -> dict[str, str]:
    """Every care unit stats has a case of, with its care provider (the latest one seen, should a unit ever move)."""
    rows = await conn.fetch(
        "SELECT DISTINCT ON (care_unit_hsa_id) care_unit_hsa_id, care_provider_hsa_id FROM case_facts ORDER BY care_unit_hsa_id, start DESC"
    )
    return {row["care_unit_hsa_id"]: row["care_provider_hsa_id"] for row in rows}


async def store_listings(conn: asyncpg.Connection, listings: Sequence[tuple[str, date, str, int]]) -> None:
    """Listed patients per (unit, month, sex); a later load of the same key replaces the earlier one."""
    await conn.execute(
        "INSERT INTO listed_patients (care_unit_hsa_id, month, sex, listed) SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::int[]) "
        "ON CONFLICT (care_unit_hsa_id, month, sex) DO UPDATE SET listed = excluded.listed",
        *columns(listings, 4),
    )


async def listings_of(conn: asyncpg.Connection, months: Sequence[date]) -> dict[date, dict[tuple[str, str], int]]:
    rows = await conn.fetch("SELECT care_unit_hsa_id, month, sex, listed FROM listed_patients WHERE month = ANY($1::date[])", list(months))
    listed: dict[date, dict[tuple[str, str], int]] = {}
    for row in rows:
        listed.setdefault(row["month"], {})[(row["care_unit_hsa_id"], row["sex"])] = row["listed"]
    return listed
