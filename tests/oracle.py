"""What the pipeline must end with, computed directly from the events with the pure rules."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from typing import Any

from services.intake.pseudonym import pseudonymise
from services.intake.risk_flags import RiskFlag, RiskFlagRules, load_fmb_table, risk_flags
from services.milestones.rehabkedja import ChainCase, RehabkedjaRules, milestones_at
from shared.contracts.cases import SickLeaveCaseChanged
from shared.contracts.certificates import BadCertificateEvent, CertificateRevoked, parse_certificate_event
from shared.personnummer import parse_personnummer
from shared.sickleave.case_changes import case_snapshot
from shared.sickleave.certificate import certificate_from_contract
from shared.sickleave.sick_leave_case import SickLeaveCase, assemble_sick_leave_cases


def assembled_cases(events: list[dict[str, Any]], *, pseudonym_key: str, max_gap: int = 5) -> list[tuple[str, date, str, tuple[SickLeaveCase, ...]]]:
    """(pseudonym, birth date, sex, cases) per patient, assembled at once (no conflicting re-signs in the input)."""
    certificates: dict[str, Any] = {}
    patients: dict[str, tuple[date, str]] = {}
    revoked: set[str] = set()
    for raw in events:
        try:
            event = parse_certificate_event(json.dumps(raw).encode())
        except BadCertificateEvent:
            continue
        if isinstance(event, CertificateRevoked):
            revoked.add(event.data.certificate_id)
            continue
        identity = parse_personnummer(event.data.patient.person_id, on=event.data.signing_date)
        pseudonym = pseudonymise(identity.normalised, pseudonym_key.encode())
        certificates.setdefault(event.data.certificate_id, certificate_from_contract(event.data, patient_pseudonym=pseudonym))
        patients.setdefault(pseudonym, (identity.birth_date, identity.sex.value))
    by_patient: dict[str, list[Any]] = defaultdict(list)
    for certificate in certificates.values():
        by_patient[certificate.patient_id].append(certificate)
    return [
        (pseudonym, *patients[pseudonym], assemble_sick_leave_cases(history, revoked, max_gap=max_gap))
        for pseudonym, history in by_patient.items()
    ]


def expected_cases(events: list[dict[str, Any]], *, pseudonym_key: str, max_gap: int = 5) -> dict[str, SickLeaveCaseChanged]:
    """The cases the feed gives, assembled at once (no conflicting re-signs in the input)."""
    return {
        case.case_id: case_snapshot(case, patient_pseudonym=pseudonym, birth_date=born, sex=sex, max_gap=max_gap)
        for pseudonym, born, sex, cases in assembled_cases(events, pseudonym_key=pseudonym_key, max_gap=max_gap)
        for case in cases
    }


def expected_risk_flags(events: list[dict[str, Any]], *, pseudonym_key: str, max_gap: int = 5) -> dict[str, RiskFlag]:
    """Every case's risk flag under the default rules, flagged or not."""
    flags: dict[str, RiskFlag] = {}
    for _, _, _, cases in assembled_cases(events, pseudonym_key=pseudonym_key, max_gap=max_gap):
        flags.update(risk_flags(cases, RiskFlagRules(), load_fmb_table()))
    return flags


def expected_milestones(
    cases: dict[str, SickLeaveCaseChanged], today: date, rules: RehabkedjaRules = RehabkedjaRules()
) -> dict[tuple[str, str], Any]:
    by_patient: dict[str, list[ChainCase]] = defaultdict(list)
    for case in cases.values():
        by_patient[case.patient_pseudonym].append(ChainCase(case_id=case.case_id, start=case.start, end=case.end, certificates=case.certificates))
    states = {}
    for chain_cases in by_patient.values():
        for state in milestones_at(chain_cases, today, rules):
            states[(state.case_id, state.kind.value)] = state
    return states


def ongoing_by_unit_and_sex(cases: dict[str, SickLeaveCaseChanged], day: date) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"F": 0, "M": 0, "UNKNOWN": 0})
    for case in cases.values():
        if case.start <= day <= case.end:
            counts[case.care_unit_hsa_id][case.sex] += 1
    return dict(counts)
