"""REKO status: the coordinator's memo status of a sick-leave case at a care unit (docs/casework.md §1).

Rehabstöd's eight values, with its names and codes. A case without a recorded status is "-". Every
change is kept with who made it and when; the history is the record, the status its last entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel


class RekoStatus(StrEnum):
    NONE = "-"
    KONTAKTAD = "Kontaktad"
    AKTIV = "Aktiv"
    UPPFOLJNING = "Uppföljning"
    AVSLUTAD = "Avslutad"
    AVBOJT = "Avböjt"
    LAMNAS_UTAN_ATGARD = "Lämnas utan åtgärd"
    MEDICINSK_REHAB = "Medicinsk rehab"


# Rehabstöd's type ids (REKO_1 .. REKO_8), in the order of the enum.
REKO_CODES: dict[RekoStatus, str] = {status: f"REKO_{number}" for number, status in enumerate(RekoStatus, start=1)}
_STATUS_OF_CODE = {code: status for status, code in REKO_CODES.items()}


def reko_status_named(name_or_code: str) -> RekoStatus:
    """The status a name ("Kontaktad") or a Rehabstöd code ("REKO_2") stands for; ValueError otherwise."""
    if name_or_code in _STATUS_OF_CODE:
        return _STATUS_OF_CODE[name_or_code]
    return RekoStatus(name_or_code)


class RekoStatusChange(BaseModel, frozen=True):
    case_id: str
    care_unit_hsa_id: str
    status: RekoStatus
    # The HSA id of the coordinator who set it, and when (the service clock).
    changed_by: str
    changed_at: datetime


def current_status(history: Sequence[RekoStatusChange]) -> RekoStatus:
    """The status after the history (oldest first): the last change's, or "-" when there is none."""
    return history[-1].status if history else RekoStatus.NONE


def status_change(
    history: Sequence[RekoStatusChange], wanted: RekoStatus, *, case_id: str, care_unit_hsa_id: str, by: str, at: datetime
) -> RekoStatusChange | None:
    """The change that setting `wanted` makes, or None when the case already has that status.

    Rehabstöd lets the coordinator choose any of the eight values at any time, "-" included (the
    status cleared); reko does the same. Only a change is a change: the history does not fill up
    with repeats of the status the case already has.
    """
    if wanted is current_status(history):
        return None
    return RekoStatusChange(case_id=case_id, care_unit_hsa_id=care_unit_hsa_id, status=wanted, changed_by=by, changed_at=at)
