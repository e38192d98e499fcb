"""No personnummer in any log line: the redaction processor, and structlog configured end to end."""

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from shared.logging import REDACTED, configure_logging, find_personnummer, redact_personnummer, redact_text

NUMBER_FORMS = ["198001249286", "19800124-9286", "800124-9286", "121212+1212", "8001249286"]


def redact(event_dict: dict) -> dict:
    return redact_personnummer(None, "info", event_dict)


@pytest.mark.parametrize("number", NUMBER_FORMS)
def test_a_personnummer_alone_is_masked(number):
    assert redact({"event": number})["event"] == REDACTED


@pytest.mark.parametrize("number", NUMBER_FORMS)
def test_a_personnummer_inside_a_sentence_is_masked_and_the_rest_kept(number):
    assert redact({"event": f"patient {number} signed"})["event"] == f"patient {REDACTED} signed"


def test_a_samordningsnummer_is_masked():
    assert redact_text("id 19800184-9280 here") == f"id {REDACTED} here"


def test_several_numbers_in_one_string_are_all_masked():
    text = redact_text("191212121212,19800124-9286;800124+9286")
    assert text == f"{REDACTED},{REDACTED};{REDACTED}"


def test_numbers_deep_inside_dicts_lists_and_tuples_are_masked():
    masked = redact(
        {
            "event": "case built",
            "case": {"certificates": [{"id": "c-1", "note": "for 19800124-9286"}], "ids": ("8001249286", "c-2")},
        }
    )
    assert masked["case"]["certificates"][0] == {"id": "c-1", "note": f"for {REDACTED}"}
    assert masked["case"]["ids"] == (REDACTED, "c-2")  # a tuple stays a tuple


def test_exception_text_is_masked():
    traceback_text = (
        "Traceback (most recent call last):\n"
        '  File "handlers.py", line 12, in handle\n'
        "ValueError: no case for 19800124-9286 (191212121212)"
    )
    masked = redact({"event": "failed", "exception": traceback_text})["exception"]
    assert "9286" not in masked and "121212" not in masked
    assert masked.startswith("Traceback") and "ValueError: no case for" in masked


@pytest.mark.parametrize(
    "key", ["personnummer", "person_id", "personId", "PersonID", "patient_id", "pnr", "PNR", "pseudonym_key", "authorization", "Authorization"]
)
def test_a_sensitive_key_is_masked_whatever_its_value(key):
    masked = redact({"event": "x", key: "Bearer abc.def", "nested": {key: 42}})
    assert masked[key] == REDACTED
    assert masked["nested"][key] == REDACTED


@pytest.mark.parametrize(
    "text",
    [
        "offset 12345",
        "partition 3 offset 123456789",  # nine digits
        "2026-03-04",
        "2026-03-04T09:10:02+01:00",
        "c-000042",
        "event 550e8400-e29b-41d4-a716-446655440000",
        "1234567890123",  # thirteen digits is not a personnummer shape
        "offset 1234567890",  # ten digits, but month 34 does not exist
        "score 3 of 7, 60 days",
    ],
)
def test_ordinary_numbers_are_not_masked(text):
    assert redact({"event": text})["event"] == text


@pytest.mark.parametrize("hsa_id", ["SE2321000000-1001", "SE2321000000-1000", "SE2321000000-1003"])
def test_hsa_ids_are_not_masked(hsa_id):
    # 'SE' + ten digits + '-NNNN': the ten digits 2321000000 have no month 21, so they are no personnummer
    assert redact({"event": "alert", "care_unit": hsa_id, "text": f"unit {hsa_id} moved"}) == {
        "event": "alert",
        "care_unit": hsa_id,
        "text": f"unit {hsa_id} moved",
    }


def test_an_event_id_uuid_whose_last_group_looks_like_a_personnummer_is_kept_whole():
    # 30 04 03 82-3066 would be a samordningsnummer (day 82 = 22 + 60) if it stood alone.
    event_id = "0b6f1c2e-9a41-4d2b-8c1e-300403823066"
    assert redact_text(f"event {event_id} applied") == f"event {event_id} applied"
    assert find_personnummer(event_id) == []


def test_a_personnummer_right_after_a_uuid_is_still_masked():
    assert redact_text("0b6f1c2e-9a41-4d2b-8c1e-0123456789ab 198001249286") == f"0b6f1c2e-9a41-4d2b-8c1e-0123456789ab {REDACTED}"


def test_a_number_with_a_wrong_check_digit_is_masked_too():
    assert redact_text("bad id 19800124-9285") == f"bad id {REDACTED}"


def test_values_that_are_not_text_pass_through_unchanged():
    assert redact({"event": "x", "count": 12345, "ratio": 0.5, "flag": True, "none": None}) == {
        "event": "x",
        "count": 12345,
        "ratio": 0.5,
        "flag": True,
        "none": None,
    }


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(stderr: str) -> list[dict]:
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def test_a_configured_structlog_logger_never_writes_a_personnummer(capsys, restore_logging):
    configure_logging("test", log_format="json")
    log = structlog.get_logger("test")
    log.info("certificate from 19800124-9286 accepted", patient="198001249286", ids=["8001249286"], pnr="x")
    log.warning("retry for %s", "121212+1212")
    try:
        raise ValueError("no case for 191212121212")
    except ValueError:
        log.exception("handler failed")

    stderr = capsys.readouterr().err
    for digits in ("9286", "121212", "1212"):
        assert digits not in stderr
    lines = json_lines(stderr)
    assert [line["event"] for line in lines] == [
        f"certificate from {REDACTED} accepted",
        f"retry for {REDACTED}",
        "handler failed",
    ]
    assert lines[0]["service"] == "test"
    assert lines[0]["patient"] == REDACTED
    assert "ValueError: no case for [redacted]" in lines[2]["exception"]


def test_library_loggers_go_through_the_same_redaction(capsys, restore_logging):
    configure_logging("test", log_format="json")
    logging.getLogger("aiokafka").warning("commit failed for key %s", "19800124-9286")
    stderr = capsys.readouterr().err
    assert "9286" not in stderr
    assert json_lines(stderr)[0]["event"] == f"commit failed for key {REDACTED}"


def test_a_library_message_repeated_during_an_outage_is_let_through_once_per_interval_with_a_count():
    import logging

    from shared.logging import RepeatedRecordLimiter

    now = [0.0]
    limiter = RepeatedRecordLimiter(interval_seconds=10, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("aiokafka", logging.ERROR, __file__, 1, message, None, None)

    passed = []
    for second in range(25):
        now[0] = float(second)
        for _ in range(100):  # a hundred reconnect attempts a second
            item = record("Unable connect to node with id 0")
            if limiter.filter(item):
                passed.append(item.getMessage())

    assert len(passed) == 3
    assert passed[0] == "Unable connect to node with id 0"
    assert passed[1].endswith("(and 999 more like it in the last 10 s)")
    assert limiter.filter(record("another message"))
