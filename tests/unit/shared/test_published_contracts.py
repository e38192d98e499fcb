"""The documents other teams read: the feed's JSON Schema and each service's AsyncAPI document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app as create_intake
from services.intake.settings import IntakeSettings
from services.milestones.app import create_app as create_milestones
from services.notifications.app import create_app as create_notifications
from services.stats.app import create_app as create_stats
from shared.contracts.certificates import certificate_json_schema

SCHEMA_FILE = Path(__file__).parents[3] / "shared" / "contracts" / "certificate-event.schema.json"


def test_the_committed_feed_schema_matches_the_contract_models():
    # Regenerate with `reko schema --out shared/contracts/certificate-event.schema.json`.
    assert json.loads(SCHEMA_FILE.read_text()) == certificate_json_schema()


@pytest.mark.parametrize(
    ("build", "consumes", "publishes"),
    [
        (lambda: create_intake(IntakeSettings(pseudonym_key="k")), "sickleave.certificates.v1", "sickleave.cases.v1"),
        (create_milestones, "sickleave.cases.v1", "rehab.milestones.v1"),
        (create_notifications, "rehab.milestones.v1", "rehab.alerts.v1"),
        (create_stats, "sickleave.cases.v1", None),
    ],
)
def test_each_service_serves_an_asyncapi_document_naming_its_topics_and_ack_semantics(build, consumes, publishes):
    # No lifespan runs here: the document is built from the registered subscribers alone.
    document = TestClient(build()).get("/asyncapi.json").json()

    addresses = {channel["address"]: channel for channel in document["channels"].values()}
    assert consumes in addresses
    assert "Acknowledges manually" in addresses[consumes]["description"]
    assert f"{consumes}.dlq" in addresses
    if publishes:
        assert publishes in addresses
