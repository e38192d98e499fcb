"""Reports: counts per unit, care provider and region, exact for a unit's own staff, suppressed for publication.

Pure functions (docs/statistics.md). A published report is always cut from one canonical table:
every unit, care provider and the region, every category and every sex, with all their totals,
suppressed as a whole. A filter only chooses which of its cells are shown, so two queries that
differ in their filters show the same cells with the same suppression and cannot be subtracted
to recover a hidden cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.stats.statistics import ALL, SEXES, Cube, CubeKey, gender_share, median_of
from services.stats.suppression import Key, LinkedTable, protect

TOTAL = "TOTAL"
COLUMNS = (*SEXES, TOTAL)


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class Level(StrEnum):
    UNIT = "unit"
    CARE_PROVIDER = "careProvider"
    REGION = "region"


# (level, hsa id; "" for the region)
Scope = tuple[str, str]
REGION_SCOPE: Scope = (Level.REGION.value, "")
# (scope, category, sex or TOTAL)
CellKey = tuple[Scope, str, str]


@dataclass(frozen=True)
class Organisation:
    """Which care provider each unit belongs to (docs/rules.md §2.4)."""

    provider_of: Mapping[str, str]

    def scopes(self) -> list[Scope]:
        providers = sorted(set(self.provider_of.values()))
        return [*((Level.UNIT.value, unit) for unit in sorted(self.provider_of)), *((Level.CARE_PROVIDER.value, p) for p in providers), REGION_SCOPE]

    def units_of(self, provider: str) -> list[str]:
        return sorted(unit for unit, owner in self.provider_of.items() if owner == provider)


def categories_with_total(categories: Sequence[str]) -> tuple[str, ...]:
    return tuple(categories) if tuple(categories) == (ALL,) else (*categories, TOTAL)


def canonical_values(cube: Cube, organisation: Organisation, categories: Sequence[str]) -> dict[CellKey, int]:
    """Every cell of the canonical table, totals included, from the counts per unit."""
    rows = categories_with_total(categories)
    values: dict[CellKey, int] = {(scope, category, sex): 0 for scope in organisation.scopes() for category in rows for sex in COLUMNS}
    targets_of = {category: (category, TOTAL) if TOTAL in rows else (category,) for category in categories}
    for (unit, category, raw_sex), count in cube.items():
        # A sex no valid number gives is counted as UNKNOWN (docs/rules.md §3), never dropped from the totals.
        sex = raw_sex if raw_sex in SEXES else "UNKNOWN"
        provider = organisation.provider_of[unit]
        for scope in ((Level.UNIT.value, unit), (Level.CARE_PROVIDER.value, provider), REGION_SCOPE):
            for row in targets_of[category]:
                for column in (sex, TOTAL):
                    values[(scope, row, column)] += count
    return values


def canonical_sums(organisation: Organisation, categories: Sequence[str]) -> list[tuple[CellKey, list[CellKey]]]:
    """The sums that tie the canonical table together: over sexes, over categories, over units and over care providers."""
    rows = categories_with_total(categories)
    sums: list[tuple[CellKey, list[CellKey]]] = []
    for scope in organisation.scopes():
        sums.extend(((scope, row, TOTAL), [(scope, row, sex) for sex in SEXES]) for row in rows)
        if TOTAL in rows:
            sums.extend(((scope, TOTAL, column), [(scope, category, column) for category in categories]) for column in COLUMNS)
    providers = sorted(set(organisation.provider_of.values()))
    for row in rows:
        for column in COLUMNS:
            for provider in providers:
                units = [(Level.UNIT.value, unit) for unit in organisation.units_of(provider)]
                sums.append((((Level.CARE_PROVIDER.value, provider), row, column), [(unit, row, column) for unit in units]))
            sums.append(((REGION_SCOPE, row, column), [((Level.CARE_PROVIDER.value, provider), row, column) for provider in providers]))
    return sums


def canonical_table(cube: Cube, organisation: Organisation, categories: Sequence[str]) -> LinkedTable:
    values: dict[Key, int] = {key: value for key, value in canonical_values(cube, organisation, categories).items()}  # noqa: C416 - widens the key type
    sums: list[tuple[Key, Sequence[Key]]] = [(total, parts) for total, parts in canonical_sums(organisation, categories)]
    return LinkedTable(values=values, sums=sums, order=list(values))


def suppressed_cells(cube: Cube, organisation: Organisation, categories: Sequence[str], threshold: int) -> frozenset[Key]:
    return _suppressed(tuple(sorted(cube.items())), tuple(sorted(organisation.provider_of.items())), tuple(categories), threshold)


@lru_cache(maxsize=512)
def _suppressed(
    cube: tuple[tuple[CubeKey, int], ...], provider_of: tuple[tuple[str, str], ...], categories: tuple[str, ...], threshold: int
) -> frozenset[Key]:
    # Suppression is a function of the table alone, so a month asked for again (every time series shows
    # the same past months) is answered from memory.
    return protect(canonical_table(dict(cube), Organisation(dict(provider_of)), categories), threshold)


def suppressed_window(
    month_cubes: Sequence[Cube], window_cube: Cube, organisation: Organisation, categories: Sequence[str], threshold: int
) -> tuple[list[frozenset[Key]], frozenset[Key]]:
    """Suppression of months and of the window that is their sum (new cases): the months as they are published on
    their own, then the window suppressed so that it gives none of their hidden cells away."""
    month_tables = [canonical_table(cube, organisation, categories) for cube in month_cubes]
    month_hidden = [protect(table, threshold) for table in month_tables]
    window_table = canonical_table(window_cube, organisation, categories)
    values: dict[Key, int] = {("window", key): value for key, value in window_table.values.items()}
    sums: list[tuple[Key, Sequence[Key]]] = [(("window", total), [("window", part) for part in parts]) for total, parts in window_table.sums]
    for number, table in enumerate(month_tables):
        values.update({(number, key): value for key, value in table.values.items()})
        sums.extend(((number, total), [(number, part) for part in parts]) for total, parts in table.sums)
    sums.extend((("window", key), [(number, key) for number in range(len(month_tables))]) for key in window_table.values)
    linked = LinkedTable(values=values, sums=sums, order=list(values))
    already = {(number, key) for number, hidden in enumerate(month_hidden) for key in hidden}
    hidden_all = protect(linked, threshold, already_suppressed=already, may_suppress=[("window", key) for key in window_table.values])
    window_hidden = frozenset(key[1] for key in hidden_all if isinstance(key, tuple) and key[0] == "window")
    return month_hidden, window_hidden


class Cell(Model):
    value: int | float | None
    suppressed: bool = False
    # The cell's share of the row's women and men (docs/statistics.md §2); none for UNKNOWN and TOTAL.
    share: float | None = None
    per1000: float | None = None


class Row(Model):
    category: str
    cells: dict[str, Cell]


class ScopeTable(Model):
    level: str
    hsa_id: str | None
    rows: tuple[Row, ...]
    total: Row | None


@dataclass(frozen=True)
class Shown:
    """Which part of the canonical table a reader asked for."""

    level: Level
    units: frozenset[str] = frozenset()
    care_providers: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    sexes: frozenset[str] = frozenset()

    def shows(self, scope: Scope, organisation: Organisation) -> bool:
        level, hsa_id = scope
        if level != self.level.value:
            return False
        if level == Level.UNIT.value:
            in_units = not self.units or hsa_id in self.units
            return in_units and (not self.care_providers or organisation.provider_of.get(hsa_id) in self.care_providers)
        if level == Level.CARE_PROVIDER.value:
            return not self.care_providers or hsa_id in self.care_providers
        return True

    def columns(self) -> tuple[str, ...]:
        return (*(sex for sex in SEXES if not self.sexes or sex in self.sexes), TOTAL)


@dataclass(frozen=True)
class Listing:
    """Listed patients per (unit, sex) for one month; sex `TOTAL` when the listing is not split (docs/statistics.md §5)."""

    listed: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def of(self, scope: Scope, sex: str, organisation: Organisation) -> int | None:
        level, hsa_id = scope
        units = (
            [hsa_id]
            if level == Level.UNIT.value
            else organisation.units_of(hsa_id)
            if level == Level.CARE_PROVIDER.value
            else sorted(organisation.provider_of)
        )
        counts = [self._unit(unit, sex) for unit in units]
        if not counts or any(count is None for count in counts):
            return None
        return sum(count for count in counts if count is not None)

    def _unit(self, unit: str, sex: str) -> int | None:
        if (unit, sex) in self.listed:
            return self.listed[(unit, sex)]
        if sex == TOTAL and all((unit, split) in self.listed for split in ("F", "M")):
            return sum(self.listed.get((unit, split), 0) for split in SEXES)
        return None


def rate_per_1000(count: float | None, listed: int | None) -> float | None:
    if count is None or not listed:
        return None
    return round(count * 1000 / listed, 2)


def count_tables(
    values: Mapping[CellKey, int],
    organisation: Organisation,
    categories: Sequence[str],
    shown: Shown,
    hidden: Iterable[Key] = frozenset(),
    listing: Listing | None = None,
) -> list[ScopeTable]:
    """The tables a reader sees: the scopes, rows and sexes asked for, hidden cells as `null` with `suppressed`."""
    hidden_cells = frozenset(hidden)
    rows = [category for category in categories if not shown.categories or category in shown.categories]

    def row(scope: Scope, category: str) -> Row:
        def count(sex: str) -> int | None:
            return None if (scope, category, sex) in hidden_cells else values.get((scope, category, sex), 0)

        women, men = count("F"), count("M")
        cells = {}
        for sex in shown.columns():
            value = count(sex)
            listed = listing.of(scope, sex, organisation) if listing else None
            cells[sex] = Cell(value=value, suppressed=value is None, share=gender_share(women, men, sex), per1000=rate_per_1000(value, listed))
        return Row(category=category, cells=cells)

    tables = []
    for scope in organisation.scopes():
        if shown.shows(scope, organisation):
            total = row(scope, TOTAL) if len(categories) > 1 or tuple(categories) != (ALL,) else None
            level, hsa_id = scope
            tables.append(ScopeTable(level=level, hsa_id=hsa_id or None, rows=tuple(row(scope, category) for category in rows), total=total))
    return tables


def median_tables(days: Mapping[tuple[str, str], list[int]], organisation: Organisation, shown: Shown, threshold: int | None) -> list[ScopeTable]:
    """Median certified days by sex per scope; in a published report a median over fewer cases than the threshold is hidden."""
    tables = []
    for scope in organisation.scopes():
        if not shown.shows(scope, organisation):
            continue
        level, hsa_id = scope
        units = (
            [hsa_id]
            if level == Level.UNIT.value
            else organisation.units_of(hsa_id)
            if level == Level.CARE_PROVIDER.value
            else sorted(organisation.provider_of)
        )
        cells = {}
        for sex in shown.columns():
            pooled = [value for unit in units for each in (SEXES if sex == TOTAL else (sex,)) for value in days.get((unit, each), [])]
            hide = threshold is not None and 0 < len(pooled) < threshold
            cells[sex] = Cell(value=None if hide else median_of(pooled), suppressed=hide)
        tables.append(ScopeTable(level=level, hsa_id=hsa_id or None, rows=(Row(category=ALL, cells=cells),), total=None))
    return tables
