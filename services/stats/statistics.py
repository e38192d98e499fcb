"""Statistics vocabulary (docs/rules.md §6): diagnosis groups and the shape of an ongoing-cases count."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

SEXES = ("F", "M", "UNKNOWN")

_GROUP_RANGES = (
    ("F00", "F99", "psychiatric"),
    ("M00", "M99", "musculoskeletal"),
    ("A00", "E90", "somatic"),
    ("G00", "L99", "somatic"),
    ("N00", "N99", "somatic"),
    ("O00", "O99", "pregnancy"),
    ("R00", "R99", "symptoms"),
    ("Z00", "Z99", "factors"),
)
_OTHER_LETTERS = frozenset("PQSTUVWXY")


def diagnosis_group(code: str) -> str:
    """The group of a main diagnosis, judged on its letter and two digits."""
    head = code[:3].upper()
    for first, last, group in _GROUP_RANGES:
        if first <= head <= last:
            return group
    if head[:1] in _OTHER_LETTERS:
        return "other"
    return "unknown"


def diagnosis_chapter(code: str) -> str:
    return code[:3].upper()


class _Response(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class OngoingCount(_Response):
    care_unit_hsa_id: str
    date: date
    total: int
    by_sex: dict[str, int]


def ongoing_count(care_unit_hsa_id: str, day: date, counts_by_sex: dict[str, int]) -> OngoingCount:
    by_sex = {sex: counts_by_sex.get(sex, 0) for sex in SEXES}
    return OngoingCount(care_unit_hsa_id=care_unit_hsa_id, date=day, total=sum(by_sex.values()), by_sex=by_sex)
