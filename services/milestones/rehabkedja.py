"""Rehabiliteringskedjan: chain days, the day 90/180/365 checkpoints and the 30-day plan (docs/rules.md §4).

Pure functions of a patient's cases and the Stockholm date T. The service keeps what it published
and turns (case, kind) pairs that disappear from `milestones_at` into CANCELLED itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from pydantic import BaseModel, Field, field_validator

from shared.clock import STOCKHOLM
from shared.contracts.cases import CaseCertificate
from shared.contracts.certificates import Occupation, PrognosisCode
from shared.contracts.milestones import MilestoneKind, MilestoneStatus
from shared.sickleave.chain import ChainPlace, chain_places

CHAIN_LEGAL_REFERENCE = "SFB 27 kap. 46–49 §§, 51 §"
LONG_PROGNOSES = frozenset({PrognosisCode.SANNOLIKT_INTE, PrognosisCode.PROGNOS_OKLAR})


class Checkpoint(BaseModel, frozen=True):
    kind: MilestoneKind
    chain_day: int = Field(ge=1)
    title: str
    legal_reference: str


DEFAULT_CHECKPOINTS = (
    Checkpoint(
        kind=MilestoneKind.CHAIN_DAY_90,
        chain_day=90,
        title="Dag 90: arbetsförmågan prövas mot alla arbeten hos arbetsgivaren / "
        "Day 90: work capacity assessed against any work at the employer",
        legal_reference=CHAIN_LEGAL_REFERENCE,
    ),
    Checkpoint(
        kind=MilestoneKind.CHAIN_DAY_180,
        chain_day=180,
        title="Dag 180: arbetsförmågan prövas mot normalt förekommande arbete / "
        "Day 180: work capacity assessed against work normally found on the labour market",
        legal_reference=CHAIN_LEGAL_REFERENCE,
    ),
    Checkpoint(
        kind=MilestoneKind.CHAIN_DAY_365,
        chain_day=365,
        title="Dag 365: arbetsförmågan prövas mot normalt förekommande arbete, undantag bara om oskäligt / "
        "Day 365: work capacity assessed against normally found work, exceptions only when unreasonable",
        legal_reference=CHAIN_LEGAL_REFERENCE,
    ),
)


class RehabkedjaRules(BaseModel, frozen=True):
    checkpoints: tuple[Checkpoint, ...] = DEFAULT_CHECKPOINTS
    lead_days: int = Field(default=14, ge=0)
    plan_threshold_days: int = Field(default=60, ge=1)
    plan_due_chain_day: int = Field(default=30, ge=1)
    plan_title: str = "Plan för återgång i arbete senast dag 30 / Employer's return-to-work plan by day 30"
    plan_legal_reference: str = "SFB 30 kap. 6 §"
    chain_break_days: int = Field(default=90, ge=0)


class ChainCase(BaseModel, frozen=True):
    case_id: str
    start: date
    end: date
    certificates: tuple[CaseCertificate, ...]

    @field_validator("certificates")
    @classmethod
    def _in_signing_order(cls, certificates: tuple[CaseCertificate, ...]) -> tuple[CaseCertificate, ...]:
        # The plan trigger reads prefixes of this tuple, so the order must not depend on the sender.
        return tuple(sorted(certificates, key=lambda certificate: (certificate.signed_at, certificate.certificate_id)))

    @property
    def latest_certificate(self) -> CaseCertificate | None:
        return self.certificates[-1] if self.certificates else None


class MilestoneState(BaseModel, frozen=True):
    case_id: str
    kind: MilestoneKind
    due_date: date
    status: MilestoneStatus
    chain_day: int
    offset: int
    earlier_case_ids: tuple[str, ...]
    title: str
    legal_reference: str


def _chains(cases: Iterable[ChainCase], rules: RehabkedjaRules) -> list[list[ChainPlace[ChainCase]]]:
    chains: list[list[ChainPlace[ChainCase]]] = []
    for place in chain_places(cases, rules.chain_break_days):
        if place.starts_chain:
            chains.append([])
        chains[-1].append(place)
    return chains


def chain_offsets(cases: Iterable[ChainCase], rules: RehabkedjaRules = RehabkedjaRules()) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Each case id's offset and the earlier cases of its chain that add up to it."""
    return {place.case.case_id: (place.offset, place.earlier_case_ids) for place in chain_places(cases, rules.chain_break_days)}


def chain_day(case: ChainCase, offset: int, day: date) -> int:
    return offset + (day - case.start).days + 1


def _plan_holds(certificates: Sequence[CaseCertificate], start: date, end: date, offset: int, rules: RehabkedjaRules) -> bool:
    if not certificates:
        return False
    latest = certificates[-1]
    if Occupation.NUVARANDE_ARBETE not in latest.occupations:
        return False
    threshold = rules.plan_threshold_days
    return (
        offset + (end - start).days + 1 >= threshold
        or latest.prognosis_code in LONG_PROGNOSES
        or (latest.prognosis_code == PrognosisCode.ATER_X_ANTAL_DGR and (latest.prognosis_days or 0) >= threshold)
    )


def _plan_applies(case: ChainCase, offset: int, rules: RehabkedjaRules) -> bool:
    return _plan_holds(case.certificates, case.start, case.end, offset, rules)


def _plan_trigger_date(case: ChainCase, offset: int, rules: RehabkedjaRules) -> date:
    # The law asks for the plan "omgående" once the expected length first reaches the threshold, so
    # replay the case as it looked after each certificate and stop at the first that crosses it.
    for count in range(1, len(case.certificates) + 1):
        seen = case.certificates[:count]
        start = min(certificate.start for certificate in seen)
        end = max(certificate.end for certificate in seen)
        if _plan_holds(seen, start, end, offset, rules):
            return seen[-1].signed_at.astimezone(STOCKHOLM).date()
    # Only reachable when the case's own span disagrees with its certificates' spans.
    return case.certificates[-1].signed_at.astimezone(STOCKHOLM).date()


def _checkpoint_status(due_date: date, end: date, today: date) -> MilestoneStatus:
    if due_date > today:
        return MilestoneStatus.SCHEDULED
    return MilestoneStatus.DUE if due_date <= end else MilestoneStatus.CANCELLED


def _case_states(
    case: ChainCase, offset: int, earlier_case_ids: tuple[str, ...], with_plan: bool, today: date, rules: RehabkedjaRules
) -> list[MilestoneState]:
    found: list[tuple[MilestoneKind, date, MilestoneStatus, str, str]] = []
    if with_plan:
        latest_plan_day = case.start + timedelta(days=rules.plan_due_chain_day - 1 - offset)
        due_date = max(latest_plan_day, _plan_trigger_date(case, offset, rules))
        # Unlike a checkpoint the plan stays owed when the case ends first: the employer's duty does not lapse.
        status = MilestoneStatus.DUE if due_date <= today else MilestoneStatus.SCHEDULED
        found.append((MilestoneKind.RETURN_TO_WORK_PLAN, due_date, status, rules.plan_title, rules.plan_legal_reference))
    for checkpoint in rules.checkpoints:
        if checkpoint.chain_day <= offset:
            continue  # passed in an earlier case of the chain
        due_date = case.start + timedelta(days=checkpoint.chain_day - 1 - offset)
        if due_date > case.end + timedelta(days=rules.lead_days):
            continue
        status = _checkpoint_status(due_date, case.end, today)
        found.append((checkpoint.kind, due_date, status, checkpoint.title, checkpoint.legal_reference))
    return [
        MilestoneState(
            case_id=case.case_id,
            kind=kind,
            due_date=due_date,
            status=status,
            chain_day=chain_day(case, offset, due_date),
            offset=offset,
            earlier_case_ids=earlier_case_ids,
            title=title,
            legal_reference=legal_reference,
        )
        for kind, due_date, status, title, legal_reference in found
    ]


def _chain_states(chain: list[ChainPlace[ChainCase]], today: date, rules: RehabkedjaRules) -> list[MilestoneState]:
    states: list[MilestoneState] = []
    plan_taken = False
    for place in chain:
        case, offset, earlier_case_ids = place.case, place.offset, place.earlier_case_ids
        # One plan per chain: the first case whose certificates call for it takes it, whatever was published.
        with_plan = not plan_taken and _plan_applies(case, offset, rules)
        plan_taken = plan_taken or with_plan
        states.extend(_case_states(case, offset, earlier_case_ids, with_plan, today, rules))
    return states


def milestones_at(cases: Iterable[ChainCase], today: date, rules: RehabkedjaRules = RehabkedjaRules()) -> tuple[MilestoneState, ...]:
    """Every milestone in view for one patient's cases at Stockholm date `today`; absent pairs are not milestones."""
    return tuple(state for chain in _chains(cases, rules) for state in _chain_states(chain, today, rules))


def next_change_date(cases: Iterable[ChainCase], today: date, rules: RehabkedjaRules = RehabkedjaRules()) -> date | None:
    """The first date after `today` on which `milestones_at` gives another answer, or None if it never will."""
    # Due dates and what is in view depend only on the certificates; T only moves SCHEDULED on, on its due date.
    upcoming = [state.due_date for state in milestones_at(cases, today, rules) if state.due_date > today]
    return min(upcoming, default=None)
