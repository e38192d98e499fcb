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
    """The latest state of one (case, kind): its status and due date, and the details that explain it.

    Every event carries the case's current certificate ids, responsible care unit and protected
    identity, and the chain day, offset and earlier cases of its due date. Whenever any of them
    differs from what was last published for the (case, kind), the milestone is published again
    (the next `revision`), so the latest event always describes the case as it is now.

    `update` tells the two kinds of event apart:

    - `false`: the status or the due date is new (the first event of a (case, kind), SCHEDULED
      becoming DUE, a due date moved, a cancellation, a milestone coming back). This is news.
    - `true`: the same status and due date as the previous event of this (case, kind), with other
      details changed (a renewal adds a certificate, a revocation takes one away, the case moved to
      another unit, an earlier case arrived late and changed the chain day). Consumers replace what
      they hold and never announce it to a person again: one announcement per (case, kind, due date).
    """

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
    update: bool = False
