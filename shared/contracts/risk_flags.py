"""Risk flags for long sick leave (docs/rules.md §5), published by intake, keyed by patient pseudonym.

A flag is published when its level or reason codes change, not when only the evidence text does.
A flag whose case drops below the threshold is published once more with level NONE; a flag whose
case id no longer exists (revoked, merged, split) is published with level NONE and caseStatus REMOVED.
"""

from __future__ import annotations

from enum import StrEnum

from shared.contracts.cases import CaseStatus
from shared.contracts.envelope import EventData

RISK_FLAG_CHANGED_TYPE = "se.reko.risk-flag.changed.v1"


class RiskLevel(StrEnum):
    # Below the flag threshold: either never published, or a withdrawal of an earlier flag.
    NONE = "NONE"
    MODERATE = "MODERATE"
    HIGH = "HIGH"
    VERY_HIGH = "VERY_HIGH"


class RiskReasonCode(StrEnum):
    """The reason codes of rules v1. On the wire a code is a plain string: new rules may add codes."""

    DX_PSYCH = "DX_PSYCH"
    DX_MSK_HIGH = "DX_MSK_HIGH"
    DX_MSK_LOW = "DX_MSK_LOW"
    FMB_EXCEEDED = "FMB_EXCEEDED"
    FULL_TIME_START = "FULL_TIME_START"
    REPEAT_SICKLEAVE = "REPEAT_SICKLEAVE"
    PROGNOSIS_POOR = "PROGNOSIS_POOR"
    UNEMPLOYED = "UNEMPLOYED"
    MANY_RENEWALS = "MANY_RENEWALS"
    LONG_CASE = "LONG_CASE"


class RiskFlagReason(EventData):
    code: str
    weight: int
    # For people reading the topic, in English like a dead letter's reason, e.g. "certified days 200 >
    # FMB max 186 for F32 (6 mo)". Pages word a reason from the code and the two values below.
    evidence: str
    # The case's value that matched ("F438A", "200", "SANNOLIKT_INTE") and the rule's limit it was
    # held against ("F43", "186"); absent in flags published before they were carried (docs/events.md §3.2).
    matched_value: str | None = None
    limit: str | None = None


class RiskFlagChanged(EventData):
    case_id: str
    patient_pseudonym: str
    certificate_ids: tuple[str, ...]
    care_unit_hsa_id: str
    care_provider_hsa_id: str
    level: RiskLevel
    score: int
    # score >= the flag threshold; false exactly when level is NONE.
    flagged: bool
    # Sorted; the codes of `reasons`, which hold every rule that matched, flagged or not.
    reason_codes: tuple[str, ...]
    reasons: tuple[RiskFlagReason, ...] = ()
    case_status: CaseStatus = CaseStatus.ACTIVE
    protected_identity: bool = False
    # Grows with every flag the service publishes for this case id.
    revision: int
