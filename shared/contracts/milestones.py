"""Rehabkedja checkpoints and the 30-day plan, published by milestones on `rehab.milestones.v1`."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from shared.contracts.envelope import EventData

MILESTONE_CHANGED_TYPE = "se.reko.milestone.changed.v1"


class MilestoneKind(StrEnum):
    RETURN_TO_WORK_PLAN = "RETURN_TO_WORK_PLAN"
    CHAIN_DAY_90 = "CHAIN_DAY_90"
    CHAIN_DAY_180 = "CHAIN_DAY_180"
    CHAIN_DAY_365 = "CHAIN_DAY_365"


class MilestoneStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    DUE = "DUE"
    CANCELLED = "CANCELLED"


class MilestoneChanged(EventData):
    milestone_id: str
    case_id: str
    patient_pseudonym: str
    certificate_ids: tuple[str, ...]
    care_unit_hsa_id: str
    kind: MilestoneKind
    due_date: date
    status: MilestoneStatus
    chain_day: int
    offset: int = 0
    earlier_case_ids: tuple[str, ...] = ()
    legal_reference: str = ""
    title: str = ""
    protected_identity: bool = False
    # Grows with every state the service publishes for this (case, kind).
    revision: int
