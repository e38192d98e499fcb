"""A region's other ways in and out of intake, against the running stack: HTTP submission, inspection, risk flags."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from shared.auth import issue_token
from tests.support import MAN, WOMAN, current_cases, get_json, read_events, read_topic, revoked_event, signed_event, wait_for_quiet

pytestmark = pytest.mark.e2e

UNIT = "SE2321000000-1001"
OTHER_UNIT = "SE2321000000-1002"


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_events_posted_over_http_become_cases_a_coordinator_can_inspect(stack_factory):
    stack = stack_factory(clock="fixed:2026-05-15T12:00:00+02:00")
    intake = stack.services["intake"].base_url
    secret = stack.settings.jwt_secret
    source = _bearer(issue_token(secret, "SE2321000000-9001", ["CERTIFICATE_SOURCE"]))
    coordinator = _bearer(issue_token(secret, "SE2321000000-3001", ["REHABKOORDINATOR"], [UNIT]))
    elsewhere = _bearer(issue_token(secret, "SE2321000000-3002", ["REHABKOORDINATOR"], [OTHER_UNIT]))

    first = signed_event("e-1", "c-1", person_id=WOMAN, periods=[("2026-04-01", "2026-04-30", 100)], signed_at="2026-04-01T09:00:00+02:00")
    renewal = signed_event(
        "e-2",
        "c-2",
        person_id=WOMAN,
        periods=[("2026-05-01", "2026-06-15", 50)],
        signed_at="2026-04-29T09:00:00+02:00",
        relations=[("FRLANG", "c-1")],
        prognosis={"code": "PROGNOS_OKLAR"},
    )
    withdrawn = signed_event("e-3", "c-3", person_id=WOMAN, periods=[("2026-06-16", "2026-06-30", 25)], signed_at="2026-05-10T09:00:00+02:00")
    revocation = revoked_event("e-4", "c-3", revoked_at="2026-05-11T09:00:00+02:00")
    wrong_luhn = signed_event(
        "e-5", "c-5", person_id="198001249287", periods=[("2026-05-01", "2026-05-10", 100)], signed_at="2026-05-01T09:00:00+02:00"
    )
    batch = [revocation, first, renewal, withdrawn, wrong_luhn]

    with httpx.Client(base_url=intake, timeout=30) as client:
        assert client.post("/certificate-events", json=batch).status_code == 401
        assert client.post("/certificate-events", json=batch, headers=coordinator).status_code == 403
        answer = client.post("/certificate-events", json=batch, headers=source)
        assert answer.status_code == 200
        assert (answer.json()["accepted"], answer.json()["rejected"]) == (4, 1)
        (rejected,) = [result for result in answer.json()["results"] if result["status"] == "REJECTED"]
        assert (rejected["index"], rejected["errorClass"]) == (4, "InvalidPersonId")
        assert WOMAN not in answer.text and "198001249287" not in answer.text

        wait_for_quiet(stack)
        # 1 April – 15 June: 30 + 46 = 76 certified days; c-3 was revoked (the revoke came first).
        (case,) = current_cases(stack).values()
        assert (case["caseId"], case["certificateIds"], case["certifiedDays"]) == ("c-1", ["c-1", "c-2"], 76)
        dead_letters = asyncio.run(read_topic(stack.bootstrap_servers, stack.topics.dead_letter(stack.topics.certificates)))
        assert [dict(record.headers)["x-error-class"] for record in dead_letters] == ["InvalidPersonId"]

        listed = client.get(f"/units/{UNIT}/cases", params={"on": "2026-05-15", "diagnosis_chapter": "F00-F99", "degree": 50}, headers=coordinator)
        assert listed.status_code == 200
        assert [(row["caseId"], row["certifiedDays"], row["currentDegree"]) for row in listed.json()["cases"]] == [("c-1", 76, 50)]
        # F43.8A (3) + PROGNOS_OKLAR (2) + full-time first period (1) + LONG_CASE, 76 days (1) = 7: VERY_HIGH.
        risk = listed.json()["cases"][0]["risk"]
        assert (risk["level"], risk["score"], [reason["code"] for reason in risk["reasons"]]) == (
            "VERY_HIGH",
            7,
            ["DX_PSYCH", "FULL_TIME_START", "LONG_CASE", "PROGNOSIS_POOR"],
        )
        assert client.get(f"/units/{UNIT}/cases", headers=elsewhere).status_code == 403
        assert client.get(f"/units/{UNIT}/cases", params={"on": "2026-05-15", "min_days": 90}, headers=coordinator).json()["count"] == 0

        history = client.post("/patients/history", json={"personId": WOMAN, "careUnitHsaId": UNIT}, headers=coordinator)
        assert history.status_code == 200
        standings = {certificate["certificateId"]: certificate["standing"]["standing"] for certificate in history.json()["certificates"]}
        assert standings == {"c-1": "COUNTS", "c-2": "COUNTS", "c-3": "REVOKED"}
        assert WOMAN not in history.text
        assert client.post("/patients/history", json={"personId": WOMAN, "careUnitHsaId": OTHER_UNIT}, headers=elsewhere).status_code == 404

    flags = [event["data"] for event in read_events(stack, stack.topics.risk_flags)]
    assert [(flag["caseId"], flag["level"], flag["reasonCodes"]) for flag in flags][-1] == (
        "c-1",
        "VERY_HIGH",
        ["DX_PSYCH", "FULL_TIME_START", "LONG_CASE", "PROGNOSIS_POOR"],
    )

    # The unit's coordinators are told: one open risk alert for the case.
    alerts = get_json(f"{stack.services['notifications'].base_url}/units/{UNIT}/alerts?state=OPEN", coordinator)
    (risk_alert,) = [alert for alert in alerts if alert["kind"] == "RISK_FLAG"]
    assert (risk_alert["caseId"], risk_alert["riskLevel"], risk_alert["addressedTo"]) == ("c-1", "VERY_HIGH", f"rehabkoordinatorer:{UNIT}")


def test_a_backfill_file_sent_with_the_command_becomes_cases(stack_factory, tmp_path):
    stack = stack_factory(clock="fixed:2026-05-15T12:00:00+02:00")
    state_file = tmp_path / "stack.json"
    stack.write_state(state_file)
    history = [
        signed_event(
            "b-1", "m-1", person_id=MAN, periods=[("2026-01-05", "2026-01-25", 100)], signed_at="2026-01-05T09:00:00+01:00", diagnosis="M54.5"
        ),
        signed_event(
            "b-2",
            "m-2",
            person_id=MAN,
            periods=[("2026-01-28", "2026-02-20", 50)],
            signed_at="2026-01-26T09:00:00+01:00",
            diagnosis="M54.5",
            relations=[("FRLANG", "m-1")],
        ),
    ]
    feed = tmp_path / "history.jsonl"
    feed.write_text("".join(json.dumps(event) + "\n" for event in history) + "not json\n")

    done = subprocess.run(
        [sys.executable, "-m", "reko.cli", "backfill", str(feed), "--state-file", str(state_file), "--rejects", str(tmp_path / "rejects.jsonl")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert MAN not in done.stdout + done.stderr
    (rejected,) = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert (rejected["line"], rejected["errorClass"]) == (3, "NotJson")

    wait_for_quiet(stack)
    # 5–25 January (21 days) and 28 January – 20 February (24 days), 2 gap days: one case of 45 days.
    (case,) = current_cases(stack).values()
    assert (case["caseId"], case["certificateIds"], case["certifiedDays"]) == ("m-1", ["m-1", "m-2"], 45)
