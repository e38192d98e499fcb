"""The bedömningsteam's list (docs/worklist.md): which of the unit's cases to talk about at the next meeting.

The team meets every other week. A case is on the list when, since the last meeting, it started
with a psychiatric main diagnosis or one of long-lasting pain (M54, M79, R52), when it is flagged
for risk of long sick leave, or when one of its checkpoints falls within the next 14 days. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from services.notifications.worklist import KIND_TITLES, RISK_LEVEL_TITLES, OpenAlert, WorklistCase, days_text
from shared.sickleave.diagnosis import diagnosis_group

MEETING_INTERVAL = timedelta(days=14)
CHECKPOINT_HORIZON_DAYS = 14
# Long-lasting pain: dorsalgia, other soft-tissue disorders, pain not elsewhere classified.
LONG_LASTING_PAIN = ("M54", "M79", "R52")
CHECKPOINT_KINDS = frozenset({"RETURN_TO_WORK_PLAN", "CHAIN_DAY_90", "CHAIN_DAY_180", "CHAIN_DAY_365"})


@dataclass(frozen=True)
class MeetingItem:
    case: WorklistCase
    reasons: tuple[str, ...]
    protected_identity: bool


def default_last_meeting(today: date) -> date:
    return today - MEETING_INTERVAL


def _diagnosis_reason(case: WorklistCase) -> str | None:
    code = case.main_diagnosis_code.replace(".", "").upper()
    if diagnosis_group(code) == "psychiatric":
        return f"Psykiatrisk diagnos ({case.main_diagnosis_code})"
    if code.startswith(LONG_LASTING_PAIN):
        return f"Långvarig smärta ({case.main_diagnosis_code})"
    return None


def meeting_items(
    cases: Iterable[WorklistCase], alerts: Iterable[OpenAlert], protected: Iterable[str], *, last_meeting: date, today: date
) -> tuple[MeetingItem, ...]:
    """The cases to bring up, each with why, in case start order; `protected` are pseudonyms never named."""
    by_case: dict[str, list[OpenAlert]] = {}
    for alert in alerts:
        by_case.setdefault(alert.case_id, []).append(alert)
    hidden = set(protected)
    items = []
    for case in sorted(cases, key=lambda case: (case.start, case.case_id)):
        reasons: list[str] = []
        if case.start > last_meeting and (diagnosis := _diagnosis_reason(case)):
            reasons.append(f"Ny sedan förra mötet: {diagnosis}")
        for alert in sorted(by_case.get(case.case_id, ()), key=lambda alert: (alert.due_date or date.max, alert.kind)):
            if alert.kind == "RISK_FLAG":
                reasons.append(f"Riskflagga: {RISK_LEVEL_TITLES.get(alert.risk_level or '', alert.risk_level or '')}")
            elif alert.kind in CHECKPOINT_KINDS and alert.due_date is not None and 0 <= (alert.due_date - today).days <= CHECKPOINT_HORIZON_DAYS:
                reasons.append(f"{KIND_TITLES[alert.kind]} {alert.due_date.isoformat()} ({days_text((alert.due_date - today).days)})")
        if reasons:
            items.append(MeetingItem(case=case, reasons=tuple(reasons), protected_identity=case.patient_pseudonym in hidden))
    return tuple(items)
