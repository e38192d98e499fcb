"""Risk flags for long sick leave (docs/rules.md §5): explainable, scored rules over one patient's cases.

Pure functions: `risk_flags` scores every case of one patient, `flag_changes` decides which flags
to publish. The only input besides the cases is the FMB table, a data file of this package.

How the rules read the case (docs/rules.md §5.1):

- Diagnosis rules (DX_PSYCH, DX_MSK_HIGH, DX_MSK_LOW, FMB_EXCEEDED) read the case's main diagnosis,
  the first code of its latest certificate. Codes are normalised already (no dot, upper case), so
  "F43.8" is the prefix "F438" and F43.8A matches it. DX_PSYCH is F00–F99, i.e. every F code;
  it weighs 3 under F31, F32, F33, F438, else 2. Where several configured prefixes match, the
  longest one decides.
- FMB_EXCEEDED: `certified_days` (distinct covered days, gaps not counted) above the FMB maximum of
  the entry with the longest prefix of the main diagnosis. A diagnosis without an entry has no
  maximum and never matches (M54 without a subcode has none: FMB gives M54.4 and M54.5 only).
- FULL_TIME_START: the degree on the case's first day (the current certificate on that day) is 100.
- REPEAT_SICKLEAVE: another case of the patient with `certified_days` above 14 whose end lies in
  the 365 days before this case's start: `start - 365 days <= other.end < start`. The evidence names
  the most recent such case.
- PROGNOSIS_POOR, UNEMPLOYED: the latest certificate's prognosis and occupations.
- MANY_RENEWALS: 3 or more certificates in the case (every counting certificate, renewal or not).
- LONG_CASE: the chain day at the case end, `offset + (end - start + 1)`, is 30 or more; chains and
  offsets as docs/rules.md §4.1 (`shared.sickleave.chain`), so an earlier case of the chain counts.
- score = sum of the weights of the rules that match; a rule whose weight is configured to 0 is
  switched off and gives no reason. Flagged when score >= the threshold; levels by the bands.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.contracts.cases import CaseStatus, SickLeaveCaseChanged
from shared.contracts.certificates import Occupation, PrognosisCode
from shared.contracts.risk_flags import RiskFlagChanged, RiskFlagReason, RiskLevel, RiskReasonCode
from shared.sickleave.chain import ChainPlace, chain_places, span_days
from shared.sickleave.sick_leave_case import SickLeaveCase

FMB_DATA_FILE = "fmb_max_durations.json"
_CODE_PREFIX = re.compile(r"^[A-Z][0-9A-Z]*$")
_DURATION = re.compile(r"^(\d+) ([a-z]+)$")


# --- configuration ---------------------------------------------------------------------------


def _normalised_prefixes(prefixes: tuple[str, ...]) -> tuple[str, ...]:
    normalised = tuple(prefix.replace(".", "").replace(" ", "").upper() for prefix in prefixes)
    for prefix in normalised:
        if not _CODE_PREFIX.match(prefix):
            raise ValueError(f"not an ICD-10 code prefix: {prefix!r}")
    return normalised


class RiskWeights(BaseModel, frozen=True):
    """The weight of each rule (docs/rules.md §5.1); 0 switches a rule off."""

    dx_psych: int = Field(default=2, ge=0)
    # DX_PSYCH when the main diagnosis is under one of `RiskFlagRules.psych_listed_prefixes`.
    dx_psych_listed: int = Field(default=3, ge=0)
    dx_msk_high: int = Field(default=2, ge=0)
    dx_msk_low: int = Field(default=1, ge=0)
    fmb_exceeded: int = Field(default=3, ge=0)
    full_time_start: int = Field(default=1, ge=0)
    repeat_sickleave: int = Field(default=2, ge=0)
    prognosis_poor: int = Field(default=2, ge=0)
    unemployed: int = Field(default=1, ge=0)
    many_renewals: int = Field(default=1, ge=0)
    long_case: int = Field(default=1, ge=0)


class RiskFlagRules(BaseModel, frozen=True):
    """Every number of docs/rules.md §5, e.g. REKO_INTAKE_RISK_FLAGS__WEIGHTS__FMB_EXCEEDED=4 once nested."""

    weights: RiskWeights = RiskWeights()
    # F00–F99: every code starts with a letter and two digits, so the letter alone is the range.
    psych_prefixes: tuple[str, ...] = ("F",)
    psych_listed_prefixes: tuple[str, ...] = ("F31", "F32", "F33", "F438")
    msk_high_prefixes: tuple[str, ...] = ("M16", "M17", "M19", "M51", "M53")
    msk_low_prefixes: tuple[str, ...] = ("M54", "M75", "M77", "M79")
    # Flagged from this score on; it is also where MODERATE begins.
    flag_threshold: int = Field(default=3, ge=1)
    high_from: int = Field(default=5, ge=1)
    very_high_from: int = Field(default=7, ge=1)
    full_time_degree: int = Field(default=100, ge=1, le=100)
    # REPEAT_SICKLEAVE: another case with more certified days than this, ended within the window.
    repeat_longer_than_days: int = Field(default=14, ge=0)
    repeat_window_days: int = Field(default=365, ge=1)
    poor_prognosis_codes: tuple[PrognosisCode, ...] = (PrognosisCode.SANNOLIKT_INTE, PrognosisCode.PROGNOS_OKLAR)
    # ATER_X_ANTAL_DGR with at least this many days is a poor prognosis.
    poor_prognosis_min_days: int = Field(default=90, ge=1)
    many_renewals_certificates: int = Field(default=3, ge=1)
    long_case_chain_day: int = Field(default=30, ge=1)
    # docs/rules.md §4.1: cases join a chain while `next.start - prev.end - 1 < chain_break_days`.
    chain_break_days: int = Field(default=90, ge=0)

    @field_validator("psych_prefixes", "psych_listed_prefixes", "msk_high_prefixes", "msk_low_prefixes")
    @classmethod
    def _prefixes(cls, prefixes: tuple[str, ...]) -> tuple[str, ...]:
        return _normalised_prefixes(prefixes)

    @model_validator(mode="after")
    def _bands_in_order(self) -> RiskFlagRules:
        if not self.flag_threshold <= self.high_from <= self.very_high_from:
            raise ValueError("the level bands need flag_threshold <= high_from <= very_high_from")
        return self


def risk_level(score: int, rules: RiskFlagRules) -> RiskLevel:
    if score < rules.flag_threshold:
        return RiskLevel.NONE
    if score < rules.high_from:
        return RiskLevel.MODERATE
    if score < rules.very_high_from:
        return RiskLevel.HIGH
    return RiskLevel.VERY_HIGH


# --- the FMB table ---------------------------------------------------------------------------


class FmbSource(BaseModel, frozen=True):
    title: str
    source: str
    api_build: str
    file_last_changed: str
    retrieved_via: str
    units: dict[str, int]
    note: str


class FmbEntry(BaseModel, frozen=True):
    code: str  # normalised prefix, e.g. "F438"
    icd10: str  # as FMB writes it, e.g. "F43.8"
    title: str
    group: str | None = None  # the range an expanded entry comes from, e.g. "F20–F29"
    longest: str  # the longest recommendation as stated, e.g. "12 mo"
    days: int = Field(ge=1)

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        if _normalised_prefixes((code,)) != (code,):
            raise ValueError(f"FMB code prefix {code!r} is not normalised (letter, digits, letters, no dot)")
        return code


def duration_days(duration: str, units: Mapping[str, int]) -> int:
    """A stated duration in days with Webcert's units (d = 1, wk = 7, mo = 31): `12 mo` is 372."""
    match = _DURATION.match(duration)
    if not match or match.group(2) not in units:
        raise ValueError(f"not a duration in {sorted(units)}: {duration!r}")
    return int(match.group(1)) * units[match.group(2)]


class FmbTable(BaseModel, frozen=True):
    header: FmbSource
    entries: tuple[FmbEntry, ...]

    @model_validator(mode="after")
    def _consistent(self) -> FmbTable:
        codes = [entry.code for entry in self.entries]
        if len(set(codes)) != len(codes):
            raise ValueError("an FMB code prefix is listed twice")
        for entry in self.entries:
            if duration_days(entry.longest, self.header.units) != entry.days:
                raise ValueError(f"FMB entry {entry.code}: {entry.longest!r} is not {entry.days} days")
        return self

    def entry_for(self, diagnosis_code: str) -> FmbEntry | None:
        """The entry with the longest prefix of the (normalised) code, or None: no maximum."""
        matching = [entry for entry in self.entries if diagnosis_code.startswith(entry.code)]
        return max(matching, key=lambda entry: len(entry.code), default=None)


def fmb_table_from_json(data: Mapping[str, Any]) -> FmbTable:
    return FmbTable.model_validate(data)


@cache
def load_fmb_table() -> FmbTable:
    """The FMB table bundled with intake (`fmb_max_durations.json`, package data)."""
    text = resources.files("services.intake").joinpath(FMB_DATA_FILE).read_text(encoding="utf-8")
    return fmb_table_from_json(json.loads(text))


# --- scoring ---------------------------------------------------------------------------------


class RiskReason(BaseModel, frozen=True):
    code: RiskReasonCode
    weight: int
    evidence: str
    # The case's value that matched ("F438A", "200", "c-1", ...) and what it was held against.
    matched_value: str
    limit: str | None = None


class RiskFlag(BaseModel, frozen=True):
    case_id: str
    score: int
    level: RiskLevel
    reasons: tuple[RiskReason, ...]

    @field_validator("reasons")
    @classmethod
    def _sorted_by_code(cls, reasons: tuple[RiskReason, ...]) -> tuple[RiskReason, ...]:
        return tuple(sorted(reasons, key=lambda reason: reason.code.value))

    @property
    def flagged(self) -> bool:
        return self.level is not RiskLevel.NONE

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(reason.code.value for reason in self.reasons)


def _dotted(prefix: str) -> str:
    return f"{prefix[:3]}.{prefix[3:]}" if len(prefix) > 3 else prefix


def _range_label(prefix: str) -> str:
    # A bare letter stands for the whole chapter, e.g. "F" = F00–F99.
    return f"{prefix}00–{prefix}99" if len(prefix) == 1 else _dotted(prefix)


def _longest_prefix(code: str, prefixes: Sequence[str]) -> str | None:
    return max((prefix for prefix in prefixes if code.startswith(prefix)), key=len, default=None)


def _diagnosis_reason(code: RiskReasonCode, diagnosis: str, prefixes: Sequence[str], weight: int) -> RiskReason | None:
    prefix = _longest_prefix(diagnosis, prefixes)
    if prefix is None:
        return None
    return RiskReason(
        code=code,
        weight=weight,
        evidence=f"main diagnosis {diagnosis} ({_range_label(prefix)}: weight {weight})",
        matched_value=diagnosis,
        limit=prefix,
    )


def _diagnosis_reasons(case: SickLeaveCase, rules: RiskFlagRules) -> list[RiskReason | None]:
    diagnosis = case.main_diagnosis_code
    weights = rules.weights
    listed = _longest_prefix(diagnosis, rules.psych_listed_prefixes)
    psych = (
        _diagnosis_reason(RiskReasonCode.DX_PSYCH, diagnosis, rules.psych_listed_prefixes, weights.dx_psych_listed)
        if listed
        else _diagnosis_reason(RiskReasonCode.DX_PSYCH, diagnosis, rules.psych_prefixes, weights.dx_psych)
    )
    return [
        psych,
        _diagnosis_reason(RiskReasonCode.DX_MSK_HIGH, diagnosis, rules.msk_high_prefixes, weights.dx_msk_high),
        _diagnosis_reason(RiskReasonCode.DX_MSK_LOW, diagnosis, rules.msk_low_prefixes, weights.dx_msk_low),
    ]


def _fmb_exceeded(case: SickLeaveCase, rules: RiskFlagRules, fmb: FmbTable) -> RiskReason | None:
    entry = fmb.entry_for(case.main_diagnosis_code)
    if entry is None or case.certified_days <= entry.days:
        return None
    return RiskReason(
        code=RiskReasonCode.FMB_EXCEEDED,
        weight=rules.weights.fmb_exceeded,
        evidence=f"certified days {case.certified_days} > FMB max {entry.days} for {entry.icd10} ({entry.longest})",
        matched_value=str(case.certified_days),
        limit=str(entry.days),
    )


def _full_time_start(case: SickLeaveCase, rules: RiskFlagRules) -> RiskReason | None:
    degree = case.current_degree_on(case.start)
    if degree is None or degree < rules.full_time_degree:
        return None
    return RiskReason(
        code=RiskReasonCode.FULL_TIME_START,
        weight=rules.weights.full_time_start,
        evidence=f"first period {degree} % from {case.start.isoformat()}",
        matched_value=str(degree),
        limit=str(rules.full_time_degree),
    )


def _repeat_sickleave(case: SickLeaveCase, cases: Sequence[SickLeaveCase], rules: RiskFlagRules) -> RiskReason | None:
    window_start = case.start - timedelta(days=rules.repeat_window_days)
    earlier = [
        other
        for other in cases
        if other.case_id != case.case_id and other.certified_days > rules.repeat_longer_than_days and window_start <= other.end < case.start
    ]
    if not earlier:
        return None
    latest = max(earlier, key=lambda other: (other.end, other.case_id))
    return RiskReason(
        code=RiskReasonCode.REPEAT_SICKLEAVE,
        weight=rules.weights.repeat_sickleave,
        evidence=(
            f"case {latest.case_id} of {latest.certified_days} days ended {latest.end.isoformat()}, "
            f"{(case.start - latest.end).days} days before this case's start"
        ),
        matched_value=latest.case_id,
        limit=str(rules.repeat_window_days),
    )


def _prognosis_poor(case: SickLeaveCase, rules: RiskFlagRules) -> RiskReason | None:
    prognosis = case.prognosis
    if prognosis is None:
        return None
    if prognosis.code in rules.poor_prognosis_codes:
        evidence, value = f"prognosis {prognosis.code.value}", prognosis.code.value
    elif prognosis.code is PrognosisCode.ATER_X_ANTAL_DGR and (prognosis.days or 0) >= rules.poor_prognosis_min_days:
        evidence, value = f"prognosis {prognosis.code.value} {prognosis.days} days", f"{prognosis.code.value} {prognosis.days}"
    else:
        return None
    return RiskReason(code=RiskReasonCode.PROGNOSIS_POOR, weight=rules.weights.prognosis_poor, evidence=evidence, matched_value=value)


def _unemployed(case: SickLeaveCase, rules: RiskFlagRules) -> RiskReason | None:
    if Occupation.ARBETSSOKANDE not in case.occupations:
        return None
    return RiskReason(
        code=RiskReasonCode.UNEMPLOYED,
        weight=rules.weights.unemployed,
        evidence=f"occupations include {Occupation.ARBETSSOKANDE.value}",
        matched_value=Occupation.ARBETSSOKANDE.value,
    )


def _many_renewals(case: SickLeaveCase, rules: RiskFlagRules) -> RiskReason | None:
    count = len(case.certificates)
    if count < rules.many_renewals_certificates:
        return None
    return RiskReason(
        code=RiskReasonCode.MANY_RENEWALS,
        weight=rules.weights.many_renewals,
        evidence=f"{count} certificates",
        matched_value=str(count),
        limit=str(rules.many_renewals_certificates),
    )


def _long_case(place: ChainPlace[SickLeaveCase], rules: RiskFlagRules) -> RiskReason | None:
    case = place.case
    day = place.offset + span_days(case)
    if day < rules.long_case_chain_day:
        return None
    carried = f" ({place.offset} days from earlier cases {', '.join(place.earlier_case_ids)})" if place.offset else ""
    return RiskReason(
        code=RiskReasonCode.LONG_CASE,
        weight=rules.weights.long_case,
        evidence=f"chain day {day} at the case end {case.end.isoformat()}{carried}",
        matched_value=str(day),
        limit=str(rules.long_case_chain_day),
    )


def _flag(place: ChainPlace[SickLeaveCase], cases: Sequence[SickLeaveCase], rules: RiskFlagRules, fmb: FmbTable) -> RiskFlag:
    case = place.case
    found = [
        *_diagnosis_reasons(case, rules),
        _fmb_exceeded(case, rules, fmb),
        _full_time_start(case, rules),
        _repeat_sickleave(case, cases, rules),
        _prognosis_poor(case, rules),
        _unemployed(case, rules),
        _many_renewals(case, rules),
        _long_case(place, rules),
    ]
    reasons = tuple(reason for reason in found if reason is not None and reason.weight > 0)
    score = sum(reason.weight for reason in reasons)
    return RiskFlag(case_id=case.case_id, score=score, level=risk_level(score, rules), reasons=reasons)


def risk_flags(cases: Sequence[SickLeaveCase], rules: RiskFlagRules = RiskFlagRules(), fmb: FmbTable | None = None) -> dict[str, RiskFlag]:
    """The flag of every case of ONE patient (all of them: REPEAT_SICKLEAVE and LONG_CASE look across cases)."""
    if len({case.case_id for case in cases}) != len(cases):
        raise ValueError("two cases with the same case id")
    table = fmb if fmb is not None else load_fmb_table()
    places = {place.case.case_id: place for place in chain_places(cases, rules.chain_break_days)}
    return {case.case_id: _flag(places[case.case_id], cases, rules, table) for case in cases}


# --- what to publish -------------------------------------------------------------------------


def risk_flag_event(flag: RiskFlag, case: SickLeaveCaseChanged, *, revision: int) -> RiskFlagChanged:
    """The published form of a flag of an existing case (its snapshot from `case_snapshot`)."""
    if flag.case_id != case.case_id:
        raise ValueError(f"flag of case {flag.case_id!r} with the snapshot of case {case.case_id!r}")
    return RiskFlagChanged(
        case_id=case.case_id,
        patient_pseudonym=case.patient_pseudonym,
        certificate_ids=case.certificate_ids,
        care_unit_hsa_id=case.care_unit_hsa_id,
        care_provider_hsa_id=case.care_provider_hsa_id,
        level=flag.level,
        score=flag.score,
        flagged=flag.flagged,
        reason_codes=flag.reason_codes,
        reasons=tuple(
            RiskFlagReason(
                code=reason.code.value,
                weight=reason.weight,
                evidence=reason.evidence,
                matched_value=reason.matched_value,
                limit=reason.limit,
            )
            for reason in flag.reasons
        ),
        case_status=CaseStatus.ACTIVE,
        protected_identity=case.protected_identity,
        revision=revision,
    )


def _is_flagged(published: RiskFlagChanged | None) -> bool:
    return published is not None and published.level is not RiskLevel.NONE


def flag_changes(
    previous: Mapping[str, RiskFlagChanged],
    current: Mapping[str, RiskFlag],
    cases: Mapping[str, SickLeaveCaseChanged],
) -> list[RiskFlagChanged]:
    """The flags to publish for one patient, withdrawals of removed cases first.

    `previous`: the last flag published per case id of the patient; `current`: `risk_flags` of the
    patient's cases now; `cases`: the snapshots of those cases by case id (pseudonym, certificates,
    care unit, protected identity). A flag is published when its level or reason codes differ
    from the last published one; evidence or score changing alone publish nothing. A flagged case
    that moves to another care unit is published again too: the flag is addressed to the unit's
    coordinators, and a flag left at the old unit would reach nobody responsible.
    Nothing is published while a case is and was below the threshold (never published, or its
    withdrawal already published). A flag whose case id is gone is withdrawn: level NONE, REMOVED.
    """
    missing = sorted(set(current) - set(cases))
    if missing:
        raise ValueError(f"no case snapshot for {missing}")
    changes: list[RiskFlagChanged] = []

    for case_id in sorted(set(previous) - set(current)):
        gone = previous[case_id]
        if not _is_flagged(gone):
            continue
        changes.append(
            gone.model_copy(
                update={
                    "level": RiskLevel.NONE,
                    "score": 0,
                    "flagged": False,
                    "reason_codes": (),
                    "reasons": (),
                    "case_status": CaseStatus.REMOVED,
                    "revision": gone.revision + 1,
                }
            )
        )

    for case_id in sorted(current):
        flag = current[case_id]
        before = previous.get(case_id)
        if not flag.flagged and not _is_flagged(before):
            continue
        moved = before is not None and before.care_unit_hsa_id != cases[case_id].care_unit_hsa_id
        if before is not None and before.level == flag.level and before.reason_codes == flag.reason_codes and not (moved and flag.flagged):
            continue
        changes.append(risk_flag_event(flag, cases[case_id], revision=before.revision + 1 if before else 1))
    return changes
