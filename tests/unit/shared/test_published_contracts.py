"""The documents other teams read: the feed's JSON Schema and each service's AsyncAPI document."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.milestones.app import create_app as create_milestones
from services.notifications.app import create_app as create_notifications
from services.stats.app import create_app as create_stats
from shared.contracts.alerts import ALERT_CHANGED_TYPE, AlertChanged
from shared.contracts.cases import CASE_CHANGED_TYPE, CaseStatus, SickLeaveCaseChanged
from shared.contracts.certificates import certificate_json_schema
from shared.contracts.envelope import PublishedEvent, encode_event
from shared.contracts.milestones import MILESTONE_CHANGED_TYPE, MilestoneChanged
from shared.contracts.risk_flags import RISK_FLAG_CHANGED_TYPE, RiskFlagChanged, RiskFlagReason, RiskLevel

SCHEMA_FILE = Path(__file__).parents[3] / "shared" / "contracts" / "certificate-event.schema.json"


def test_the_committed_feed_schema_matches_the_contract_models():
    # Regenerate with `reko schema --out shared/contracts/certificate-event.schema.json`.
    assert json.loads(SCHEMA_FILE.read_text()) == certificate_json_schema()


@pytest.mark.parametrize(
    ("build", "consumes", "publishes"),
    [
        (lambda: create_intake(IntakeSettings(pseudonym_key="k")), "sickleave.certificates.v1", ("sickleave.cases.v1", "sickleave.riskflags.v1")),
        (create_milestones, "sickleave.cases.v1", ("rehab.milestones.v1",)),
        (create_notifications, "rehab.milestones.v1", ("rehab.alerts.v1", "rehab.casework.v1")),
        (create_stats, "sickleave.cases.v1", ()),
    ],
)
def test_each_service_serves_an_asyncapi_document_naming_its_topics_and_ack_semantics(build, consumes, publishes):
    # No lifespan runs here: the document is built from the registered subscribers alone.
    document = TestClient(build()).get("/asyncapi.json").json()

    addresses = {channel["address"]: channel for channel in document["channels"].values()}
    assert consumes in addresses
    assert "Acknowledges manually" in addresses[consumes]["description"]
    assert f"{consumes}.dlq" in addresses
    for published in publishes:
        assert published in addresses


# docs/events.md §3 (what the services publish), as camelCase fields on the wire.
@pytest.mark.parametrize(
    ("model", "event_type", "minimum"),
    [
        (
            SickLeaveCaseChanged,
            CASE_CHANGED_TYPE,
            {"caseId", "patientPseudonym", "careUnitHsaId", "start", "end", "certifiedDays", "certificateIds", "status"},
        ),
        (RiskFlagChanged, RISK_FLAG_CHANGED_TYPE, {"caseId", "certificateIds", "level", "reasonCodes"}),
        (
            MilestoneChanged,
            MILESTONE_CHANGED_TYPE,
            {"caseId", "certificateIds", "careUnitHsaId", "kind", "dueDate", "status", "chainDay"},
        ),
        (AlertChanged, ALERT_CHANGED_TYPE, {"alertId", "addressedTo", "caseId", "kind", "created", "state"}),
    ],
)
def test_each_published_contract_carries_the_minimum_fields_of_the_contract(model, event_type, minimum):
    schema = model.model_json_schema(by_alias=True)
    assert minimum <= set(schema["required"])
    assert event_type.startswith("se.reko.") and event_type.endswith(".v1")


def test_a_risk_flag_round_trips_through_the_cloudevents_envelope():
    flag = RiskFlagChanged(
        case_id="c-1",
        patient_pseudonym="ab12",
        certificate_ids=("c-1", "c-2"),
        care_unit_hsa_id="SE-UNIT-A",
        care_provider_hsa_id="SE-PROVIDER-1",
        level=RiskLevel.HIGH,
        score=5,
        flagged=True,
        reason_codes=("DX_PSYCH", "PROGNOSIS_POOR"),
        reasons=(
            RiskFlagReason(code="DX_PSYCH", weight=3, evidence="main diagnosis F438A (F43.8: weight 3)", matched_value="F438A", limit="F438"),
            RiskFlagReason(code="PROGNOSIS_POOR", weight=2, evidence="prognosis PROGNOS_OKLAR"),
        ),
        revision=1,
    )
    raw = encode_event(
        event_id=uuid4(),
        source="urn:reko:intake",
        event_type=RISK_FLAG_CHANGED_TYPE,
        time=datetime(2026, 3, 1, tzinfo=UTC),
        subject=flag.case_id,
        data=flag,
    )
    wire = json.loads(raw)["data"]
    assert (wire["level"], wire["reasonCodes"], wire["caseStatus"], wire["flagged"]) == ("HIGH", ["DX_PSYCH", "PROGNOSIS_POOR"], "ACTIVE", True)
    assert (wire["reasons"][0]["matchedValue"], wire["reasons"][0]["limit"], wire["reasons"][1]["limit"]) == ("F438A", "F438", None)
    decoded = PublishedEvent[RiskFlagChanged].model_validate_json(raw)
    assert decoded.type == RISK_FLAG_CHANGED_TYPE
    assert decoded.data == flag
    assert decoded.data.case_status is CaseStatus.ACTIVE
