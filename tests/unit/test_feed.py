"""The synthetic certificate feed generator (`reko.feed`)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from reko.feed import FeedSettings, generate_feed, main, write_jsonl
from shared.contracts.certificates import (
    REVOKED_TYPE,
    SIGNED_TYPE,
    STOCKHOLM,
    CertificateSigned,
    parse_certificate_event,
)
from shared.personnummer import parse_personnummer

BIG = FeedSettings(seed=11, patients=2000)


@pytest.fixture(scope="module")
def feed() -> list[dict]:
    return generate_feed()


@pytest.fixture(scope="module")
def big_feed() -> list[dict]:
    return generate_feed(BIG)


def _signed(events: list[dict]) -> list[dict]:
    return [event for event in events if event["type"] == SIGNED_TYPE]


def _signing_date(data: dict) -> date:
    return datetime.fromisoformat(data["signedAt"]).astimezone(STOCKHOLM).date()


def _person(data: dict) -> str:
    return parse_personnummer(data["patient"]["personId"], on=_signing_date(data)).normalised


def _relation_targets(data: dict, kind: str) -> list[str]:
    return [r["relatedCertificateId"] for r in data.get("relations", []) if r["type"] == kind]


def test_the_same_seed_gives_identical_output(feed):
    assert json.dumps(generate_feed(FeedSettings())) == json.dumps(feed)


def test_a_different_seed_gives_a_different_feed(feed):
    other = generate_feed(FeedSettings(seed=8))
    assert json.dumps(other) != json.dumps(feed)
    assert {e["id"] for e in other}.isdisjoint({e["id"] for e in feed})


def test_every_event_passes_the_contract(big_feed):
    parsed = [parse_certificate_event(json.dumps(event).encode()) for event in big_feed]
    assert len(parsed) == len(big_feed)
    assert {event["type"] for event in big_feed} == {SIGNED_TYPE, REVOKED_TYPE}
    assert all(event["specversion"] == "1.0" and event["source"] == "urn:reko:synthetic-feed" for event in big_feed)


def test_every_event_time_is_its_signing_or_revocation_time(feed):
    for event in feed:
        data = event["data"]
        assert event["time"] == (data["signedAt"] if event["type"] == SIGNED_TYPE else data["revokedAt"])


def test_certificate_ids_and_event_ids_are_unique(big_feed):
    certificate_ids = [event["data"]["certificateId"] for event in _signed(big_feed)]
    assert len(certificate_ids) == len(set(certificate_ids))
    assert all(cid.startswith("c-") and len(cid) == 8 for cid in certificate_ids)
    event_ids = [event["id"] for event in big_feed]
    assert len(event_ids) == len(set(event_ids))


def test_about_one_percent_of_certificates_are_revoked_and_one_percent_replaced(big_feed):
    signed = _signed(big_feed)
    revoked = [event for event in big_feed if event["type"] == REVOKED_TYPE]
    replacing = [event for event in signed if _relation_targets(event["data"], "ERSATT")]
    assert 0.004 <= len(revoked) / len(signed) <= 0.02
    assert 0.004 <= len(replacing) / len(signed) <= 0.02


def test_revocations_and_replacements_refer_to_earlier_certificates_of_the_same_patient(big_feed):
    by_id = {event["data"]["certificateId"]: event["data"] for event in _signed(big_feed)}
    for event in big_feed:
        if event["type"] == REVOKED_TYPE:
            original = by_id[event["data"]["certificateId"]]
            assert datetime.fromisoformat(event["data"]["revokedAt"]) > datetime.fromisoformat(original["signedAt"])
            continue
        data = event["data"]
        for target in _relation_targets(data, "ERSATT"):
            original = by_id[target]
            assert _person(original) == _person(data)
            assert datetime.fromisoformat(data["signedAt"]) > datetime.fromisoformat(original["signedAt"])
            assert data["workCapacityPeriods"] != original["workCapacityPeriods"]


def test_women_outnumber_men_among_psychiatric_certificates(big_feed):
    sexes = Counter()
    for event in _signed(big_feed):
        data = event["data"]
        if data["diagnoses"] and data["diagnoses"][0]["code"].startswith("F"):
            sexes[parse_personnummer(data["patient"]["personId"], on=_signing_date(data)).sex.value] += 1
    assert sexes["F"] > 1.5 * sexes["M"]


def test_there_are_renewals_with_frlang_to_an_earlier_certificate_of_the_same_patient(big_feed):
    by_id = {event["data"]["certificateId"]: event["data"] for event in _signed(big_feed)}
    renewals = [(data, by_id[t]) for data in by_id.values() for t in _relation_targets(data, "FRLANG")]
    assert len(renewals) > 500
    starting_the_day_after = 0
    for renewal, previous in renewals:
        assert _person(renewal) == _person(previous)
        assert datetime.fromisoformat(renewal["signedAt"]) > datetime.fromisoformat(previous["signedAt"])
        previous_end = date.fromisoformat(previous["workCapacityPeriods"][-1]["to"])
        renewal_start = date.fromisoformat(renewal["workCapacityPeriods"][0]["from"])
        assert renewal_start > previous_end
        starting_the_day_after += renewal_start == previous_end + timedelta(days=1)
    assert starting_the_day_after > 0.7 * len(renewals)
    assert any(  # occasionally a gap of more than five days: a new case
        date.fromisoformat(r["workCapacityPeriods"][0]["from"]) - date.fromisoformat(p["workCapacityPeriods"][-1]["to"]) > timedelta(days=6)
        for r, p in renewals
    )


def test_degrees_start_at_full_time_and_step_down_in_renewals(big_feed):
    signed = [e["data"] for e in _signed(big_feed) if e["data"]["certificateType"] == "fk7804"]
    first_certificates = [d for d in signed if not d.get("relations")]
    full_time = sum(d["workCapacityPeriods"][0]["reductionPercent"] == 100 for d in first_certificates)
    assert full_time > 0.7 * len(first_certificates)
    later_degrees = Counter(p["reductionPercent"] for d in signed if _relation_targets(d, "FRLANG") for p in d["workCapacityPeriods"])
    assert later_degrees[50] > 0 and later_degrees[25] > 0


def test_person_ids_are_valid_test_style_numbers_with_some_samordningsnummer(big_feed):
    identities = [parse_personnummer(e["data"]["patient"]["personId"], on=_signing_date(e["data"])) for e in _signed(big_feed)]
    assert all(980 <= int(identity.normalised[8:11]) <= 999 for identity in identities)
    assert any(identity.is_samordningsnummer for identity in identities)
    written = {e["data"]["patient"]["personId"] for e in _signed(big_feed)}
    assert any(len(pid) == 13 and pid[8] == "-" for pid in written)  # YYYYMMDD-NNNN
    assert any(len(pid) == 11 and pid[6] == "-" for pid in written)  # YYMMDD-NNNN


def test_the_events_are_sorted_by_time(big_feed):
    instants = [datetime.fromisoformat(event["time"]) for event in big_feed]
    assert instants == sorted(instants)


def test_signing_happens_inside_the_window_in_stockholm_time(feed):
    settings = FeedSettings()
    end = settings.start + timedelta(days=settings.days)
    offsets = set()
    for event in feed:
        instant = datetime.fromisoformat(event["time"])
        assert instant.utcoffset() == instant.astimezone(STOCKHOLM).utcoffset()
        assert settings.start <= instant.astimezone(STOCKHOLM).date() < end
        offsets.add(event["time"][-6:])
    assert offsets == {"+01:00", "+02:00"}


def test_the_feed_has_test_certificates_ag7804_and_several_units_and_providers(big_feed):
    signed = [e["data"] for e in _signed(big_feed)]
    assert 0 < sum(d["testCertificate"] for d in signed) < 0.02 * len(signed)
    assert 0 < sum(d["certificateType"] == "ag7804" for d in signed) < 0.05 * len(signed)
    assert len({d["issuer"]["careUnit"]["hsaId"] for d in signed}) == BIG.care_units
    assert len({d["issuer"]["careProvider"]["hsaId"] for d in signed}) >= 2


def test_the_default_feed_validates_as_signed_certificates(feed):
    parsed = [parse_certificate_event(json.dumps(event).encode()) for event in feed]
    assert sum(isinstance(event, CertificateSigned) for event in parsed) > 300


def test_write_jsonl_round_trips(feed, tmp_path: Path):
    path = tmp_path / "out" / "feed.jsonl"
    assert write_jsonl(feed, path) == len(feed)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == feed


def test_the_command_line_writes_a_feed(tmp_path: Path):
    path = tmp_path / "feed.jsonl"
    assert main(["--seed", "3", "--patients", "20", "--out", str(path)]) == 0
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert events == generate_feed(FeedSettings(seed=3, patients=20))
