"""What-if: the milestones the rules give for some certificates, or for a known case, on a chosen date.

Nothing here publishes or stores anything. Cases are assembled with the shared rules (`shared.sickleave`) and
intake's own gap between certificates: every case event carries the `maxGap` intake assembled it
with. A known case is answered from the cases intake published (the answer names the gap its last
event carried); certificates that are no case yet are assembled with the gap of the last case event
seen, and only before any event carried one with milestones' `max_gap` setting. So the answer for a
list of certificates is what the pipeline would publish for them on that date.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from services.milestones.rehabkedja import ChainCase, MilestoneState, RehabkedjaRules, milestones_at
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.certificates import (
    BadCertificateEvent,
    CertificateRevoked,
    SignedCertificate,
    describe_validation_error,
    parse_certificate_event,
)
from shared.contracts.milestones import MilestoneChanged, MilestoneKind, MilestoneStatus
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import certificate_from_contract
from shared.sickleave.sick_leave_case import assemble_sick_leave_cases

# The cases of a what-if are never published, so they need no real pseudonym (and get no key).
WHAT_IF_PATIENT = "what-if"
MOST_CERTIFICATES = 1000


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class WhatIfQuestion(_Camel):
    """The certificates of one patient: `signed` data objects as docs/events.md §2.3 gives them, or whole
    signed or revoked CloudEvents; `on` defaults to today by the service clock."""

    model_config = ConfigDict(extra="forbid")

    on: date | None = None
    certificates: list[Any] = Field(default_factory=list, max_length=MOST_CERTIFICATES)
    revoked_certificate_ids: list[str] = Field(default_factory=list, max_length=MOST_CERTIFICATES)


class MilestoneAnswer(_Camel):
    kind: MilestoneKind
    due_date: date
    status: MilestoneStatus
    chain_day: int
    offset: int
    earlier_case_ids: tuple[str, ...]
    legal_reference: str
    title: str


class CaseAnswer(_Camel):
    case_id: str
    start: date
    end: date
    certified_days: int
    certificate_ids: tuple[str, ...]
    milestones: tuple[MilestoneAnswer, ...]


class WhatIfAnswer(_Camel):
    on: date
    # The gap between certificates of one case that the cases were assembled with.
    max_gap: int
    cases: tuple[CaseAnswer, ...]


class KnownCaseAnswer(WhatIfAnswer):
    """The rules' answer for a case the service holds, with what it last published for that case."""

    published: tuple[MilestoneChanged, ...]


class WhatIfRefused(ValueError):
    """The question cannot be answered; `reasons` says why, one line per problem."""

    def __init__(self, reasons: Sequence[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def gap_named_last(events: Sequence[SickLeaveCaseChanged]) -> int | None:
    """The gap named by the last of these case events that names one (events of an older intake do not)."""
    return next((event.max_gap for event in reversed(events) if event.max_gap is not None), None)


def what_if_gap(last_case_gap: int | None, setting: int) -> int:
    """The gap for certificates that are no case yet: intake's, as the last case event named it; the
    setting only until a case event has named one."""
    return setting if last_case_gap is None else last_case_gap


def chain_case(case: SickLeaveCaseChanged) -> ChainCase:
    return ChainCase(case_id=case.case_id, start=case.start, end=case.end, certificates=case.certificates)


def read_certificates(items: Sequence[Any]) -> tuple[list[SignedCertificate], set[str]]:
    """The signed certificates and the revoked ids among the items, or every reason they are not valid."""
    signed: list[SignedCertificate] = []
    revoked: set[str] = set()
    reasons: list[str] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and "specversion" in item:
            try:
                event = parse_certificate_event(json.dumps(item).encode())
            except BadCertificateEvent as bad:
                reasons.append(f"certificates[{index}]: {bad.reason}")
                continue
            if isinstance(event, CertificateRevoked):
                revoked.add(event.data.certificate_id)
            else:
                signed.append(event.data)
            continue
        try:
            signed.append(SignedCertificate.model_validate(item))
        except ValidationError as problem:
            reasons.append(f"certificates[{index}]: contract violation: {describe_validation_error(problem)}")
    if reasons:
        raise WhatIfRefused(reasons)
    return signed, revoked


def cases_of_one_patient(signed: Sequence[SignedCertificate], revoked_ids: Collection[str], *, max_gap: int) -> list[SickLeaveCaseChanged]:
    """The patient's cases as intake would publish them, but under a placeholder pseudonym."""
    if not signed:
        return []
    patients = {certificate.patient_identity.normalised for certificate in signed}
    if len(patients) > 1:
        # Never name the personnummer: the count is enough to see the mistake.
        raise WhatIfRefused([f"the certificates belong to {len(patients)} patients; a what-if covers one patient"])
    certificates = [certificate_from_contract(certificate, patient_pseudonym=WHAT_IF_PATIENT) for certificate in signed]
    identity = signed[0].patient_identity
    try:
        cases = assemble_sick_leave_cases(certificates, revoked_ids, max_gap=max_gap)
    except ValueError as problem:  # two different certificates under one id
        raise WhatIfRefused([str(problem)]) from None
    return [
        case_snapshot(case, patient_pseudonym=WHAT_IF_PATIENT, birth_date=identity.birth_date, sex=identity.sex.value, max_gap=max_gap)
        for case in cases
    ]


def _milestone_answer(state: MilestoneState) -> MilestoneAnswer:
    # The answer is the state itself, named for the client; the case it belongs to is around it.
    return MilestoneAnswer.model_validate(state.model_dump(exclude={"case_id"}))


def answer(cases: Sequence[SickLeaveCaseChanged], on: date, rules: RehabkedjaRules, *, max_gap: int) -> WhatIfAnswer:
    """Every case of one patient (assembled with `max_gap`) with the milestones the rules give on
    `on`, cases by start, milestones by due date."""
    states: dict[str, list[MilestoneState]] = defaultdict(list)
    for state in milestones_at([chain_case(case) for case in cases], on, rules):
        states[state.case_id].append(state)
    return WhatIfAnswer(
        on=on,
        max_gap=max_gap,
        cases=tuple(
            CaseAnswer(
                case_id=case.case_id,
                start=case.start,
                end=case.end,
                certified_days=case.certified_days,
                certificate_ids=case.certificate_ids,
                milestones=tuple(
                    _milestone_answer(state)
                    for state in sorted(states[case.case_id], key=lambda state: (state.due_date, state.kind.value))
                ),
            )
            for case in sorted(cases, key=lambda case: (case.start, case.case_id))
        ),
    )


def answer_for_certificates(question: WhatIfQuestion, on: date, rules: RehabkedjaRules, *, max_gap: int) -> WhatIfAnswer:
    signed, revoked = read_certificates(question.certificates)
    cases = cases_of_one_patient(signed, revoked | set(question.revoked_certificate_ids), max_gap=max_gap)
    return answer(cases, on, rules, max_gap=max_gap)


def answer_for_known_case(
    case_id: str,
    patient_cases: Sequence[SickLeaveCaseChanged],
    published: Mapping[tuple[str, MilestoneKind], MilestoneChanged],
    on: date,
    rules: RehabkedjaRules,
    *,
    fallback_gap: int,
) -> KnownCaseAnswer:
    """One stored case's answer; its patient's other cases count only for the chain.

    The cases are intake's as published, so the gap is the one the case's last event carried
    (`fallback_gap` for an event of an older intake that named none).
    """
    asked = next((case for case in patient_cases if case.case_id == case_id), None)
    max_gap = asked.max_gap if asked is not None and asked.max_gap is not None else fallback_gap
    whole = answer(patient_cases, on, rules, max_gap=max_gap)
    return KnownCaseAnswer(
        on=on,
        max_gap=max_gap,
        cases=tuple(case for case in whole.cases if case.case_id == case_id),
        published=tuple(
            sorted((milestone for (owner, _), milestone in published.items() if owner == case_id), key=lambda milestone: milestone.kind.value)
        ),
    )


def question_from_text(text: str) -> WhatIfQuestion:
    """A question from a file: one JSON document (a question object, a list of certificates or a
    single certificate) or JSON Lines with one certificate or CloudEvent per line."""
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError:
        document = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                document.append(json.loads(line))
            except json.JSONDecodeError:
                raise WhatIfRefused([f"neither JSON nor JSON Lines (line {number})"]) from None
    if not (isinstance(document, dict) and "certificates" in document):
        document = {"certificates": document if isinstance(document, list) else [document]}
    try:
        return WhatIfQuestion.model_validate(document)
    except ValidationError as problem:
        raise WhatIfRefused([describe_validation_error(problem)]) from None
