"""Small-count suppression that holds against the totals published with it (docs/rules.md §6.4, docs/statistics.md §3).

A table to publish is a set of cells and the sums that tie them together (a row total is the sum of
its row, a care provider the sum of its units, a window of months the sum of its months). A cell
under the threshold is suppressed (primary); then, as long as some suppressed cell is fixed by the
published cells through those sums, one more cell is suppressed next to it (complementary). "Fixed"
is decided by linear algebra over every sum at once, not row by row, so a value that could be
recovered only by combining a row, a column and a total is caught too.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

Key = Hashable

# Elimination runs modulo a large prime: exact integer arithmetic without fractions. The sums have
# coefficients 0 and ±1, so a rank that differs from the rational one would need a minor divisible
# by this prime; tables of a few thousand cells come nowhere near.
_PRIME = (1 << 61) - 1
SMALLEST_THRESHOLD = 3


@dataclass(frozen=True)
class LinkedTable:
    """Cells in a fixed order with their values, and the sums among them: `total = sum(parts)`."""

    values: Mapping[Key, int]
    sums: Sequence[tuple[Key, Sequence[Key]]]
    order: Sequence[Key] = field(default=())

    def ordered_keys(self) -> Sequence[Key]:
        return self.order or list(self.values)


def primary_suppressions(values: Mapping[Key, int], threshold: int) -> set[Key]:
    """Cells with a count from 1 up to the threshold: a zero names nobody and stays published (docs/statistics.md §3)."""
    if threshold < SMALLEST_THRESHOLD:
        raise ValueError(f"the suppression threshold is never below {SMALLEST_THRESHOLD}")
    return {key for key, value in values.items() if 0 < value < threshold}


def recoverable_cells(table: LinkedTable, suppressed: Iterable[Key]) -> set[Key]:
    """The suppressed cells whose value the published cells and the sums determine exactly."""
    hidden = set(suppressed)
    index = {key: position for position, key in enumerate(table.ordered_keys()) if key in hidden}
    key_at = {position: key for key, position in index.items()}
    pivots: dict[int, dict[int, int]] = {}
    for total, parts in table.sums:
        row: dict[int, int] = {}
        for key, coefficient in ((total, 1), *((part, -1) for part in parts)):
            if key in index:
                column = index[key]
                row[column] = (row.get(column, 0) + coefficient) % _PRIME
        row = {column: value for column, value in row.items() if value}
        _add_reduced(pivots, row)
    return {key_at[column] for column, row in pivots.items() if len(row) == 1}


def _add_reduced(pivots: dict[int, dict[int, int]], row: dict[int, int]) -> None:
    """Gauss-Jordan step: reduce `row` by the pivot rows, then make it a pivot row of its own, keeping all fully reduced."""
    for column in [column for column in row if column in pivots]:
        factor = row.get(column, 0)
        if factor:
            _subtract(row, pivots[column], factor)
    if not row:
        return
    column = min(row)
    inverse = pow(row[column], _PRIME - 2, _PRIME)
    normalised = {other: value * inverse % _PRIME for other, value in row.items()}
    for pivot_row in pivots.values():
        factor = pivot_row.get(column, 0)
        if factor:
            _subtract(pivot_row, normalised, factor)
    pivots[column] = normalised


def _subtract(row: dict[int, int], other: Mapping[int, int], factor: int) -> None:
    for column, value in other.items():
        updated = (row.get(column, 0) - factor * value) % _PRIME
        if updated:
            row[column] = updated
        else:
            row.pop(column, None)


def protect(
    table: LinkedTable, threshold: int, *, already_suppressed: Iterable[Key] = (), may_suppress: Iterable[Key] | None = None
) -> frozenset[Key]:
    """Primary and complementary suppression: the cells to publish as `null`, such that none of them can be recovered.

    `already_suppressed` are cells hidden elsewhere (a month published in its own table);
    `may_suppress` limits which cells this call may hide (default: all). Deterministic: the same
    table always gives the same cells, whatever query it was asked through.
    """
    allowed = set(table.values) if may_suppress is None else set(may_suppress)
    suppressed = set(already_suppressed) | (primary_suppressions(table.values, threshold) & allowed)
    position = {key: rank for rank, key in enumerate(table.ordered_keys())}
    sums_of: dict[Key, list[int]] = {}
    for number, (total, parts) in enumerate(table.sums):
        for key in (total, *parts):
            sums_of.setdefault(key, []).append(number)

    def preference(key: Key) -> tuple[bool, int, int]:
        # The smallest count costs the reader least; a zero hides little, so it is the last resort.
        value = table.values[key]
        return (value == 0, value, position.get(key, 0))

    def members(number: int) -> tuple[Key, ...]:
        total, parts = table.sums[number]
        return (total, *parts)

    def hide_lone_cells() -> None:
        # The cheap part first: a sum with one hidden member gives it away on its own. The linear algebra
        # below then only has to find what combinations of sums give away.
        changed = True
        while changed:
            changed = False
            for number in range(len(table.sums)):
                cells = members(number)
                if sum(1 for cell in cells if cell in suppressed) != 1:
                    continue
                candidates = [cell for cell in cells if cell in allowed and cell not in suppressed]
                if candidates:
                    suppressed.add(min(candidates, key=preference))
                    changed = True

    while True:
        hide_lone_cells()
        exposed = recoverable_cells(table, suppressed)
        if not exposed:
            return frozenset(suppressed)
        added: set[Key] = set()
        for key in sorted(exposed, key=lambda cell: position.get(cell, 0)):
            candidates = [other for number in sums_of.get(key, []) for other in members(number) if other in allowed and other not in suppressed]
            if candidates:
                added.add(min(candidates, key=preference))
        if not added:
            # Exposed only through a chain of sums: hide the smallest cell anywhere next to a hidden one.
            candidates = [
                other
                for hidden in suppressed
                for number in sums_of.get(hidden, [])
                for other in members(number)
                if other in allowed and other not in suppressed
            ]
            if not candidates:
                return frozenset(suppressed)
            added.add(min(candidates, key=preference))
        suppressed |= added
