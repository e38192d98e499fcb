"""Statistics vocabulary (docs/rules.md §6): the sexes counted and the shape of an ongoing-cases count.

Diagnosis groups and categories are rules every service may read: `shared.sickleave.diagnosis`.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

SEXES = ("F", "M", "UNKNOWN")


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
