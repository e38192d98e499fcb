"""Who coordinates which care units, who stands in during an absence, and who may change that (docs/coordinators.md).

A unit has any number of rehabkoordinatorer and a coordinator any number of units. An absence is a
stand-in period: from and to (both days included) another person acts for the coordinator, and
receives her units' alerts and worklist besides her own. Who may *read* a unit's patients is still
the token's business (`care_units`): a stand-in decides whose work reaches a person, not access.

Pure: the API and the start-up file load read and store what these rules decide.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Collection, Iterable, Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

# Roles as the tokens name them (shared/auth.py): who runs the unit, and who coordinates.
MANAGER_ROLE = "VERKSAMHETSCHEF"
COORDINATOR_ROLE = "REHABKOORDINATOR"

# An HSA id as the tokens and the feed carry it: printable text of a sane length.
HsaId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")


class StandIn(_Model):
    """From `from_date` to `to_date`, both included, `stand_in_hsa_id` acts for the coordinator."""

    stand_in_hsa_id: HsaId
    from_date: date = Field(alias="from")
    to_date: date = Field(alias="to")

    @model_validator(mode="after")
    def _from_before_to(self) -> StandIn:
        if self.from_date > self.to_date:
            raise ValueError("from must not be after to")
        return self

    def covers(self, day: date) -> bool:
        return self.from_date <= day <= self.to_date


class Coordinator(_Model):
    """A rehabkoordinator: the units she coordinates and her stand-ins."""

    hsa_id: HsaId
    name: HsaId | None = None
    care_units: frozenset[HsaId] = frozenset()
    stand_ins: tuple[StandIn, ...] = ()

    @field_validator("stand_ins")
    @classmethod
    def _in_date_order(cls, stand_ins: tuple[StandIn, ...]) -> tuple[StandIn, ...]:
        return tuple(sorted(stand_ins, key=lambda stand_in: (stand_in.from_date, stand_in.stand_in_hsa_id)))

    @model_validator(mode="after")
    def _stand_ins_make_sense(self) -> Coordinator:
        if any(stand_in.stand_in_hsa_id == self.hsa_id for stand_in in self.stand_ins):
            raise ValueError("a coordinator cannot stand in for herself")
        periods = sorted(self.stand_ins, key=lambda stand_in: stand_in.from_date)
        if any(later.from_date <= earlier.to_date for earlier, later in itertools.pairwise(periods)):
            raise ValueError("two stand-in periods of one coordinator overlap")
        return self

    def stand_in_on(self, day: date) -> StandIn | None:
        """The stand-in acting for her on `day`, if she is away then."""
        return next((stand_in for stand_in in self.stand_ins if stand_in.covers(day)), None)


class Responsible(_Model):
    """Someone the work of a unit reaches on a day: a coordinator, or a stand-in on her behalf."""

    hsa_id: str
    name: str | None = None
    # The absent coordinator this person stands in for; None for the unit's own coordinator.
    on_behalf_of: str | None = None
    # The coordinator is away that day (a stand-in acts for her).
    absent: bool = False


def responsible_for_unit(coordinators: Iterable[Coordinator], care_unit_hsa_id: str, day: date) -> list[Responsible]:
    """Who the unit's work reaches on `day`: every coordinator of the unit (marked absent when
    away), and the stand-in of each absent one, on her behalf. Sorted by HSA id, stand-ins after."""
    own: list[Responsible] = []
    standing_in: list[Responsible] = []
    for coordinator in coordinators:
        if care_unit_hsa_id not in coordinator.care_units:
            continue
        stand_in = coordinator.stand_in_on(day)
        own.append(Responsible(hsa_id=coordinator.hsa_id, name=coordinator.name, absent=stand_in is not None))
        if stand_in is not None:
            standing_in.append(Responsible(hsa_id=stand_in.stand_in_hsa_id, on_behalf_of=coordinator.hsa_id))
    return sorted(own, key=lambda r: r.hsa_id) + sorted(standing_in, key=lambda r: (r.hsa_id, r.on_behalf_of or ""))


def units_covered_by(hsa_id: str, coordinators: Iterable[Coordinator], day: date) -> dict[str, tuple[str, ...]]:
    """The units whose work reaches `hsa_id` on `day`, each with the absent coordinators she acts
    for there (empty when the unit is her own)."""
    covered: dict[str, set[str]] = {}
    for coordinator in coordinators:
        if coordinator.hsa_id == hsa_id:
            for unit in coordinator.care_units:
                covered.setdefault(unit, set())
            continue
        stand_in = coordinator.stand_in_on(day)
        if stand_in is not None and stand_in.stand_in_hsa_id == hsa_id:
            for unit in coordinator.care_units:
                covered.setdefault(unit, set()).add(coordinator.hsa_id)
    return {unit: tuple(sorted(absent)) for unit, absent in sorted(covered.items())}


# --- who may change what -------------------------------------------------------------------------


def change_refusal(
    user_hsa_id: str, user_roles: Collection[str], user_units: Collection[str], before: Coordinator | None, after: Coordinator | None
) -> str | None:
    """Why the user may not turn `before` into `after` (None: she may). `after` None is a removal.

    - Which units a coordinator has is decided by the verksamhetschef of each unit added or
      removed: she must act for every one of them.
    - The name and the stand-ins (an absence) may be set by the coordinator herself, or by the
      verksamhetschef of one of her units.
    """
    units_before = before.care_units if before is not None else frozenset()
    units_after = after.care_units if after is not None else frozenset()
    manager = MANAGER_ROLE in user_roles
    changed_units = units_before ^ units_after
    if changed_units and not (manager and changed_units <= set(user_units)):
        return "Bara verksamhetschefen för varje vårdenhet som läggs till eller tas bort får ändra vem som koordinerar den."
    details_before = (before.name, before.stand_ins) if before is not None else (None, ())
    details_after = (after.name, after.stand_ins) if after is not None else (None, ())
    if details_before != details_after and after is not None:
        hsa_id = after.hsa_id
        herself = user_hsa_id == hsa_id and COORDINATOR_ROLE in user_roles
        her_manager = manager and not (units_before | units_after).isdisjoint(user_units)
        if not (herself or her_manager):
            return "Bara koordinatorn själv eller verksamhetschefen för en av hennes vårdenheter får ange hennes ersättare."
    return None


def may_read_coordinator(user_hsa_id: str, user_roles: Collection[str], user_units: Collection[str], coordinator: Coordinator) -> bool:
    """She herself, and the coordinators, doctors and verksamhetschefer of her units."""
    if user_hsa_id == coordinator.hsa_id:
        return True
    readers = {COORDINATOR_ROLE, MANAGER_ROLE, "LAKARE"}
    return not readers.isdisjoint(user_roles) and not coordinator.care_units.isdisjoint(user_units)


# --- the file loaded at start --------------------------------------------------------------------


class CoordinatorFileError(ValueError):
    """The coordinators file cannot be read; the message names the line or entry, never a value."""


CSV_COLUMNS = ("coordinatorHsaId", "name", "careUnitHsaId", "standInHsaId", "standInFrom", "standInTo")


def parse_coordinators_file(text: str, *, csv_format: bool) -> list[Coordinator]:
    """The coordinators a file lists: JSON (`[{hsaId, name, careUnits, standIns}]`, or that list
    under `"coordinators"`) or CSV (one row per coordinator and unit, columns `CSV_COLUMNS`; a row
    may carry one stand-in period instead of, or besides, a unit). Entries of one coordinator merge."""
    entries = _csv_entries(text) if csv_format else _json_entries(text)
    merged: dict[str, dict[str, Any]] = {}
    for position, entry in enumerate(entries, start=1):
        try:
            coordinator = Coordinator.model_validate(entry)
        except ValidationError as problem:
            first = problem.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise CoordinatorFileError(f"entry {position}: {where or 'entry'}: {first.get('msg', 'invalid')}") from None
        kept = merged.setdefault(coordinator.hsa_id, {"hsaId": coordinator.hsa_id, "name": None, "careUnits": set(), "standIns": []})
        kept["name"] = coordinator.name or kept["name"]
        kept["careUnits"] |= coordinator.care_units
        kept["standIns"].extend(coordinator.stand_ins)
    try:
        return [Coordinator.model_validate(entry) for entry in merged.values()]
    except ValidationError as problem:
        first = problem.errors(include_input=False, include_url=False)[0]
        raise CoordinatorFileError(f"coordinator {len(merged)}: {first.get('msg', 'invalid')}") from None


def _json_entries(text: str) -> list[Mapping[str, Any]]:
    try:
        document = json.loads(text)
    except ValueError:
        raise CoordinatorFileError("the file is not JSON") from None
    entries = document.get("coordinators") if isinstance(document, dict) else document
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise CoordinatorFileError('expected a list of coordinators, or an object with the list under "coordinators"')
    return entries


def _csv_entries(text: str) -> list[Mapping[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "coordinatorHsaId" not in reader.fieldnames:
        raise CoordinatorFileError(f"the first line names the columns: {', '.join(CSV_COLUMNS)}")
    unknown = set(reader.fieldnames) - set(CSV_COLUMNS)
    if unknown:
        raise CoordinatorFileError(f"unknown columns; the columns are {', '.join(CSV_COLUMNS)}")
    entries: list[Mapping[str, Any]] = []
    for row in reader:
        cells = {key: (value or "").strip() for key, value in row.items() if key is not None}
        entry: dict[str, Any] = {"hsaId": cells.get("coordinatorHsaId", ""), "name": cells.get("name") or None}
        if cells.get("careUnitHsaId"):
            entry["careUnits"] = [cells["careUnitHsaId"]]
        if cells.get("standInHsaId") or cells.get("standInFrom") or cells.get("standInTo"):
            entry["standIns"] = [{"standInHsaId": cells.get("standInHsaId", ""), "from": cells.get("standInFrom"), "to": cells.get("standInTo")}]
        entries.append(entry)
    return entries
