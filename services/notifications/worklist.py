"""The coordinator's worklist (docs/worklist.md): which of her units' patients need her now, why, and what is next.

Pure: the pages hand in what the repositories read (the patients' cases, open alerts with the
coordinator's own state of each, REKO status, consent, next step) and get rows back, filtered and
sorted, with every text in Swedish. Nothing here knows a database, a page or a clock; "today" and
the coordinator's last visit are arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from services.notifications.alert_lifecycle import AttentionStatus, AttentionView
from shared.sickleave.diagnosis import diagnosis_group

# A patient with sekretessmarkering is counted, never named (docs/worklist.md).
PROTECTED_IDENTITY_TEXT = "Skyddad identitet"
HIDDEN_PERSONAL_DATA = "••••••••-••••"

KIND_TITLES = {
    "RETURN_TO_WORK_PLAN": "Arbetsgivarens plan för återgång i arbete (dag 30)",
    "CHAIN_DAY_90": "Rehabiliteringskedjan dag 90",
    "CHAIN_DAY_180": "Rehabiliteringskedjan dag 180",
    "CHAIN_DAY_365": "Rehabiliteringskedjan dag 365",
    "RISK_FLAG": "Risk för lång sjukskrivning",
    "NEXT_STEP": "Nästa steg i planen",
}

RISK_LEVEL_TITLES = {"MODERATE": "måttlig", "HIGH": "hög", "VERY_HIGH": "mycket hög"}
RISK_LEVEL_ORDER = {"VERY_HIGH": 0, "HIGH": 1, "MODERATE": 2}

# The reason codes of docs/rules.md §5 in words a coordinator reads.
RISK_REASON_TEXTS = {
    "DX_PSYCH": "psykiatrisk huvuddiagnos",
    "DX_MSK_HIGH": "smärta eller besvär i rörelseorganen med hög risk",
    "DX_MSK_LOW": "besvär i rörelseorganen",
    "FMB_EXCEEDED": "längre än FMB:s rekommenderade sjukskrivningstid",
    "FULL_TIME_START": "sjukskriven på heltid från början",
    "REPEAT_SICKLEAVE": "upprepade sjukskrivningar",
    "PROGNOSIS_POOR": "läkaren bedömer att återgång är osannolik eller oklar",
    "UNEMPLOYED": "arbetssökande",
    "MANY_RENEWALS": "många förlängningar",
    "LONG_CASE": "lång sammanhängande sjukskrivning",
}

DIAGNOSIS_GROUP_TITLES = {
    "psychiatric": "Psykiatrisk",
    "musculoskeletal": "Rörelseorganen",
    "somatic": "Somatisk",
    "pregnancy": "Graviditet",
    "symptoms": "Symtom",
    "factors": "Faktorer",
    "other": "Övrigt",
    "unknown": "Okänd",
}

MILESTONE_STATUS_TITLES = {"SCHEDULED": "planerad", "DUE": "aktuell", "CANCELLED": "inställd"}


# The coordinator's own state of an alert (docs/alert-lifecycle.md), in words.
ALERT_STATE_TITLES = {
    AttentionStatus.NEW: "Ny",
    AttentionStatus.SEEN: "Sedd",
    AttentionStatus.HANDLED: "Hanterad",
    AttentionStatus.WITHDRAWN: "Återkallad",
}
NOT_YET_SEEN = AttentionView(status=AttentionStatus.NEW, needs_attention=True)


class SortOrder(StrEnum):
    URGENCY = "URGENCY"
    DUE_DATE = "DUE_DATE"
    CERTIFIED_DAYS = "CERTIFIED_DAYS"
    START = "START"


SORT_TITLES = {
    SortOrder.URGENCY: "Mest brådskande först",
    SortOrder.DUE_DATE: "Närmaste datum först",
    SortOrder.CERTIFIED_DAYS: "Längst sjukskrivning först",
    SortOrder.START: "Senast startade först",
}


@dataclass(frozen=True)
class Person:
    """Who the patient is, as the identity path resolved it; `personnummer` is None when protected."""

    personnummer: str | None
    age: int | None
    sex: str
    protected_identity: bool


@dataclass(frozen=True)
class WorklistCase:
    case_id: str
    patient_pseudonym: str
    care_unit_hsa_id: str
    start: date
    end: date
    certified_days: int
    main_diagnosis_code: str
    degree_today: int | None
    chain_day_today: int | None = None


@dataclass(frozen=True)
class RiskReason:
    """One reason of a risk flag: its code, the case's value that matched and the rule's limit."""

    code: str
    matched_value: str | None = None
    limit: str | None = None


@dataclass(frozen=True)
class OpenAlert:
    alert_id: str
    case_id: str
    care_unit_hsa_id: str
    kind: str
    title: str
    created: datetime
    attention: AttentionView = NOT_YET_SEEN
    due_date: date | None = None
    milestone_status: str | None = None
    risk_level: str | None = None
    risk_reasons: tuple[RiskReason, ...] = ()


@dataclass(frozen=True)
class NextStep:
    text: str
    due: date
    owner: str | None = None


@dataclass(frozen=True)
class Casework:
    """What the coordinator has recorded of the case: REKO status, consent, the plan's next step."""

    reko_status: str = "-"
    consent: str | None = None
    next_step: NextStep | None = None


@dataclass(frozen=True)
class Patient:
    """One patient of the coordinator's units with what the worklist shows of them."""

    patient_pseudonym: str
    person: Person | None
    case: WorklistCase
    alerts: tuple[OpenAlert, ...] = ()
    casework: Casework = field(default_factory=Casework)
    employer_plan_status: str | None = None


@dataclass(frozen=True)
class AlertLine:
    """An alert as the list shows it: what, why in words, and when."""

    alert_id: str
    kind: str
    kind_title: str
    state: AttentionStatus
    state_title: str
    reason: str
    due_date: date | None
    days_left: int | None
    when: str
    overdue: bool
    reminder_due: bool


@dataclass(frozen=True)
class WorklistRow:
    patient_pseudonym: str
    case_id: str
    care_unit_hsa_id: str
    personnummer_shown: str
    age: int | None
    sex_title: str
    protected_identity: bool
    new_since_last_visit: bool
    diagnosis_code: str
    diagnosis_group_title: str
    case_start: date
    certified_days: int
    chain_day_today: int | None
    degree_today: int | None
    employer_plan: str
    reko_status: str
    consent: str
    next_step: str
    next_step_overdue: bool
    alerts: tuple[AlertLine, ...]
    # The sort keys: the most pressing date and level among the alerts.
    soonest_date: date | None
    urgency: tuple[int, int, int]


@dataclass(frozen=True)
class WorklistFilter:
    care_unit_hsa_id: str | None = None
    kind: str | None = None
    state: AttentionStatus | None = None
    due_within_days: int | None = None
    only_new: bool = False
    include_handled: bool = False
    sort: SortOrder = SortOrder.URGENCY


@dataclass(frozen=True)
class Worklist:
    rows: tuple[WorklistRow, ...]
    # Patients with protected identity who need the coordinator: counted, never listed.
    protected_identity_count: int
    hidden_personal_data: bool
    total_patients: int


def days_text(days: int) -> str:
    """'om 3 dagar', 'i dag', '2 dagar sedan': how many days are left, in words."""
    if days == 0:
        return "i dag"
    if days == 1:
        return "i morgon"
    if days == -1:
        return "i går"
    if days > 0:
        return f"om {days} dagar"
    return f"{-days} dagar sedan"


def sex_title(sex: str) -> str:
    return {"F": "Kvinna", "M": "Man"}.get(sex, "Okänt")


PROGNOSIS_TEXTS = {
    "SANNOLIKT_INTE": "läkaren bedömer att återgång i nuvarande sysselsättning är osannolik",
    "PROGNOS_OKLAR": "läkaren bedömer prognosen som oklar",
}


def _risk_reason_words(reason: RiskReason) -> str:
    # The flag's evidence text is English, for people reading the topic; the page words the values
    # itself. Values that grow while the flag stands (days, certificates) are given as the rule's
    # limit, since a flag is re-published only when its level or codes change (docs/rules.md §5.4).
    words = RISK_REASON_TEXTS.get(reason.code, reason.code)
    value, limit = reason.matched_value, reason.limit
    if value is None:
        return words
    match reason.code:
        case "DX_PSYCH" | "DX_MSK_HIGH" | "DX_MSK_LOW":
            return f"{words} ({value})"
        case "FMB_EXCEEDED" if limit:
            return f"{words} (FMB anger högst {limit} dagar för diagnosen)"
        case "FULL_TIME_START":
            return f"{words} ({value} %)"
        case "REPEAT_SICKLEAVE" if limit:
            return f"{words} (ett tidigare sjukfall slutade mindre än {limit} dagar före detta)"
        case "PROGNOSIS_POOR":
            code, _, days = value.partition(" ")
            if code == "ATER_X_ANTAL_DGR" and days:
                return f"läkaren bedömer återgång i nuvarande sysselsättning först efter {days} dagar"
            return PROGNOSIS_TEXTS.get(code, words)
        case "MANY_RENEWALS" if limit:
            return f"{words} ({limit} intyg eller fler)"
        case "LONG_CASE" if limit:
            return f"{words} (dag {limit} eller senare i rehabiliteringskedjan)"
    return words


def risk_reason_text(reasons: Iterable[RiskReason]) -> str:
    """The risk's reasons in Swedish, each with what matched when the flag carries it."""
    return "; ".join(_risk_reason_words(reason) for reason in reasons)


def alert_line(alert: OpenAlert, today: date) -> AlertLine:
    days_left = (alert.due_date - today).days if alert.due_date is not None else None
    if alert.kind == "RISK_FLAG":
        level = RISK_LEVEL_TITLES.get(alert.risk_level or "", alert.risk_level or "")
        reason = f"Risknivå {level}: {risk_reason_text(alert.risk_reasons)}" if alert.risk_reasons else f"Risknivå {level}"
    elif alert.kind == "NEXT_STEP":
        reason = alert.title
    else:
        status = MILESTONE_STATUS_TITLES.get(alert.milestone_status or "", alert.milestone_status or "")
        reason = f"{KIND_TITLES.get(alert.kind, alert.kind)} ({status})" if status else KIND_TITLES.get(alert.kind, alert.kind)
    return AlertLine(
        alert_id=alert.alert_id,
        kind=alert.kind,
        kind_title=KIND_TITLES.get(alert.kind, alert.kind),
        state=alert.attention.status,
        state_title=ALERT_STATE_TITLES[alert.attention.status],
        reason=reason,
        due_date=alert.due_date,
        days_left=days_left,
        when=days_text(days_left) if days_left is not None else "",
        overdue=days_left is not None and days_left < 0,
        reminder_due=alert.attention.reminder_due,
    )


# A checkpoint further ahead than this is on the patient's page, not yet on the list (docs/worklist.md §2).
HORIZON_DAYS = 30
MILESTONE_KINDS = frozenset({"RETURN_TO_WORK_PLAN", "CHAIN_DAY_90", "CHAIN_DAY_180", "CHAIN_DAY_365"})


def _needs_attention(alert: OpenAlert, today: date, horizon_days: int) -> bool:
    """A handled alert leaves the list until the day the coordinator asked to be reminded; a
    scheduled checkpoint joins it `horizon_days` before its date."""
    if not alert.attention.needs_attention:
        return False
    if alert.kind in MILESTONE_KINDS and alert.milestone_status == "SCHEDULED" and alert.due_date is not None:
        return (alert.due_date - today).days <= horizon_days
    return True


def _urgency(lines: Sequence[AlertLine], alerts: Sequence[OpenAlert], next_step_overdue: bool) -> tuple[int, int, int]:
    """Overdue first, then the nearest date, then the highest risk level; smaller sorts earlier."""
    overdue = 0 if next_step_overdue or any(line.overdue for line in lines) else 1
    nearest = min((line.days_left for line in lines if line.days_left is not None), default=10_000)
    level = min((RISK_LEVEL_ORDER.get(alert.risk_level or "", 9) for alert in alerts if alert.kind == "RISK_FLAG"), default=9)
    return (overdue, nearest, level)


def worklist_row(
    patient: Patient,
    today: date,
    last_visit: datetime | None,
    *,
    hide_personal_data: bool,
    include_handled: bool = False,
    horizon_days: int = HORIZON_DAYS,
) -> WorklistRow:
    alerts = tuple(alert for alert in patient.alerts if include_handled or _needs_attention(alert, today, horizon_days))
    lines = tuple(sorted((alert_line(alert, today) for alert in alerts), key=lambda line: (line.days_left is None, line.days_left or 0, line.kind)))
    step = patient.casework.next_step
    step_overdue = step is not None and step.due < today
    person = patient.person
    protected = person is not None and person.protected_identity
    if hide_personal_data or person is None or person.personnummer is None:
        shown = HIDDEN_PERSONAL_DATA if not protected else PROTECTED_IDENTITY_TEXT
    else:
        shown = _formatted_personnummer(person.personnummer)
    new = last_visit is None or any(alert.created > last_visit for alert in alerts)
    return WorklistRow(
        patient_pseudonym=patient.patient_pseudonym,
        case_id=patient.case.case_id,
        care_unit_hsa_id=patient.case.care_unit_hsa_id,
        personnummer_shown=shown,
        age=None if hide_personal_data or person is None else person.age,
        sex_title=sex_title(person.sex) if person is not None else "Okänt",
        protected_identity=protected,
        new_since_last_visit=new,
        diagnosis_code=patient.case.main_diagnosis_code,
        diagnosis_group_title=DIAGNOSIS_GROUP_TITLES.get(diagnosis_group(patient.case.main_diagnosis_code), "Okänd"),
        case_start=patient.case.start,
        certified_days=patient.case.certified_days,
        chain_day_today=patient.case.chain_day_today,
        degree_today=patient.case.degree_today,
        employer_plan=_employer_plan_text(patient.employer_plan_status),
        reko_status=patient.casework.reko_status,
        consent=patient.casework.consent or "Inte registrerat",
        next_step=_next_step_text(step, today),
        next_step_overdue=step_overdue,
        alerts=lines,
        soonest_date=min((line.due_date for line in lines if line.due_date is not None), default=step.due if step else None),
        urgency=_urgency(lines, alerts, step_overdue),
    )


def _next_step_text(step: NextStep | None, today: date) -> str:
    if step is None:
        return "Inget planerat"
    owner = f", {step.owner}" if step.owner else ""
    return f"{step.text} – {step.due.isoformat()} ({days_text((step.due - today).days)}){owner}"


def _employer_plan_text(status: str | None) -> str:
    if status is None:
        return "–"
    return {"SCHEDULED": "Ska finnas senast dag 30", "DUE": "Ska finnas nu (dag 30 passerad)", "CANCELLED": "Behövs inte"}.get(status, status)


def _formatted_personnummer(personnummer: str) -> str:
    digits = personnummer.replace("-", "")
    return f"{digits[:8]}-{digits[8:]}" if len(digits) == 12 else personnummer


def _matches(row: WorklistRow, wanted: WorklistFilter) -> bool:
    if wanted.care_unit_hsa_id is not None and row.care_unit_hsa_id != wanted.care_unit_hsa_id:
        return False
    if wanted.only_new and not row.new_since_last_visit:
        return False
    lines = row.alerts
    if wanted.kind is not None:
        lines = tuple(line for line in lines if line.kind == wanted.kind)
    if wanted.state is not None:
        lines = tuple(line for line in lines if line.state is wanted.state)
    if wanted.due_within_days is not None:
        lines = tuple(line for line in lines if line.days_left is not None and line.days_left <= wanted.due_within_days)
    filtered_by_alert = wanted.kind is not None or wanted.state is not None or wanted.due_within_days is not None
    if filtered_by_alert:
        return bool(lines) or (wanted.kind in (None, "NEXT_STEP") and row.next_step_overdue and wanted.state is None)
    return bool(row.alerts) or row.next_step_overdue or row.new_since_last_visit


def _sort_key(order: SortOrder) -> Callable[[WorklistRow], tuple[object, ...]]:
    if order is SortOrder.DUE_DATE:
        return lambda row: (row.soonest_date is None, row.soonest_date or date.max, row.case_id)
    if order is SortOrder.CERTIFIED_DAYS:
        return lambda row: (-row.certified_days, row.case_id)
    if order is SortOrder.START:
        return lambda row: (-row.case_start.toordinal(), row.case_id)
    return lambda row: (row.urgency, row.case_id)


def build_worklist(
    patients: Iterable[Patient], today: date, last_visit: datetime | None, wanted: WorklistFilter, *, hide_personal_data: bool = False
) -> Worklist:
    """The rows of the patients who need the coordinator, and how many are protected (never listed)."""
    rows = [
        worklist_row(
            patient,
            today,
            last_visit,
            hide_personal_data=hide_personal_data,
            include_handled=wanted.include_handled,
            horizon_days=max(HORIZON_DAYS, wanted.due_within_days or 0),
        )
        for patient in patients
    ]
    shown = [row for row in rows if _matches(row, wanted)]
    protected = sum(1 for row in shown if row.protected_identity)
    listed = sorted((row for row in shown if not row.protected_identity), key=_sort_key(wanted.sort))
    return Worklist(rows=tuple(listed), protected_identity_count=protected, hidden_personal_data=hide_personal_data, total_patients=len(shown))
