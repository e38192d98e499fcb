"""A catalogue of hostile feed records: each kind once, with the error class it must be dead-lettered with.

The unit tests hold each value to `parse_certificate_event`; the end-to-end test puts all of them
between good events on one partition of the running stack.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support import WOMAN, signed_event

# A valid personnummer with its check digit changed: present, but not a personnummer.
BAD_CHECK_DIGIT = WOMAN[:-1] + str((int(WOMAN[-1]) + 1) % 10)


@dataclass(frozen=True)
class Hostile:
    name: str
    value: bytes | None
    error_class: str
    key: bytes | None = b"hostile"
    headers: tuple[tuple[str, bytes | None], ...] = ()
    # Only the consumer can tell (size limits): `parse_certificate_event` alone would accept it.
    consumer_only: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def valid(index: int) -> dict[str, Any]:
    return signed_event(
        f"hostile-ev-{index}",
        f"hostile-c-{index}",
        person_id=WOMAN,
        periods=[("2026-03-02", "2026-03-15", 100)],
        signed_at="2026-03-02T09:00:00+01:00",
    )


def _encoded(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _changed(index: int, change: Callable[[dict[str, Any]], None]) -> bytes:
    event = copy.deepcopy(valid(index))
    change(event)
    return _encoded(event)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = event
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = event
        for part in parents:
            target = target[part]
        del target[last]

    return change


def catalogue() -> list[Hostile]:
    """Every hostile kind once; certificate ids are distinct so none of them can hide a good event."""
    good = _encoded(valid(900))
    kinds = [
        Hostile("broken JSON", b'{"specversion": "1.0", "id": ', "NotJson"),
        Hostile("invalid UTF-8", b'{"id": "\xff\xfe"}', "NotJson"),
        Hostile("byte order mark", b"\xef\xbb\xbf" + _encoded(valid(1)), "NotJson"),
        Hostile("NaN", _encoded(valid(2)).replace(b'"reductionPercent": 100', b'"reductionPercent": NaN'), "NotJson"),
        Hostile("duplicate keys", b'{"id": "a", "id": "b", ' + _encoded(valid(3))[1:], "NotJson"),
        Hostile("10,000-level nesting", b"[" * 10_000 + b"]" * 10_000, "NotJson"),
        Hostile("5,000-digit integer", _encoded(valid(4)).replace(b'"reductionPercent": 100', b'"reductionPercent": ' + b"9" * 5000), "NotJson"),
        Hostile("empty value", b"", "NotJson"),
        Hostile("null value (tombstone)", None, "NotJson"),
        Hostile("a JSON array", b"[1, 2, 3]", "NotCloudEvent"),
        Hostile("a JSON string", b'"hello"', "NotCloudEvent"),
        Hostile("no specversion", _changed(5, _delete("specversion")), "NotCloudEvent"),
        Hostile("specversion 0.3", _changed(6, _set("specversion", "0.3")), "NotCloudEvent"),
        Hostile("time as a unix number", _changed(7, _set("time", 1772438400)), "NotCloudEvent"),
        Hostile("unknown event type", _changed(8, _set("type", "se.sickleave.certificate.stamped.v1")), "UnknownEventType"),
        Hostile("signedAt in year 9999", _changed(9, _set("data.signedAt", "9999-12-31T23:59:59Z")), "ContractViolation"),
        Hostile("a period from year 0001", _changed(10, _set("data.workCapacityPeriods.0.from", "0001-01-01")), "ContractViolation"),
        Hostile("a period to year 9999", _changed(11, _set("data.workCapacityPeriods.0.to", "9999-12-31")), "ContractViolation"),
        Hostile("NUL in certificateId", _changed(12, _set("data.certificateId", "c-\u0000-12")), "ContractViolation"),
        Hostile("NUL in a unit name", _changed(13, _set("data.issuer.careUnit.name", "Vårdcentralen\u0000")), "ContractViolation"),
        Hostile("lone surrogate", _encoded(valid(14)).replace(b'"SE2321000000-2001"', b'"SE2321000000-\\ud800"'), "ContractViolation"),
        Hostile("personId with a wrong check digit", _changed(15, _set("data.patient.personId", BAD_CHECK_DIGIT)), "InvalidPersonId"),
        Hostile("no personId", _changed(16, _delete("data.patient.personId")), "ContractViolation"),
        Hostile("degree 33 %", _changed(17, _set("data.workCapacityPeriods.0.reductionPercent", 33)), "ContractViolation"),
        Hostile("from after to", _changed(18, _set("data.workCapacityPeriods.0.from", "2026-04-01")), "ContractViolation"),
        Hostile(
            "overlapping periods",
            _changed(
                19,
                _set(
                    "data.workCapacityPeriods",
                    [
                        {"reductionPercent": 100, "from": "2026-03-02", "to": "2026-03-10"},
                        {"reductionPercent": 50, "from": "2026-03-10", "to": "2026-03-20"},
                    ],
                ),
            ),
            "ContractViolation",
        ),
        Hostile(
            "five periods",
            _changed(
                20,
                _set(
                    "data.workCapacityPeriods",
                    [
                        {"reductionPercent": degree, "from": f"2026-0{month}-01", "to": f"2026-0{month}-10"}
                        for month, degree in zip(range(1, 6), (25, 50, 75, 100, 25), strict=True)
                    ],
                ),
            ),
            "ContractViolation",
        ),
        Hostile("the same occupation twice", _changed(21, _set("data.occupations", ["STUDIER", "STUDIER"])), "ContractViolation"),
        Hostile("an unknown occupation", _changed(22, _set("data.occupations", ["ASTRONAUT"])), "ContractViolation"),
        Hostile("ATER_X_ANTAL_DGR without days", _changed(23, _set("data.prognosis", {"code": "ATER_X_ANTAL_DGR"})), "ContractViolation"),
        Hostile("STOR_SANNOLIKHET with days", _changed(24, _set("data.prognosis", {"code": "STOR_SANNOLIKHET", "days": 30})), "ContractViolation"),
        Hostile("a diagnosis that is no ICD-10 code", _changed(25, _set("data.diagnoses", [{"code": "XYZ"}])), "ContractViolation"),
        Hostile("an unknown certificate type", _changed(26, _set("data.certificateType", "fk9999")), "ContractViolation"),
        Hostile("testCertificate as text", _changed(27, _set("data.testCertificate", "yes")), "ContractViolation"),
        Hostile("a 300-character certificate id", _changed(28, _set("data.certificateId", "c" * 300)), "ContractViolation"),
        Hostile("data null", _changed(29, _set("data", None)), "ContractViolation"),
        Hostile(
            "revoked without revokedAt",
            _encoded(
                {
                    "specversion": "1.0",
                    "id": "hostile-rev-30",
                    "source": "urn:reko:test",
                    "type": "se.sickleave.certificate.revoked.v1",
                    "time": "2026-03-05T10:00:00+01:00",
                    "data": {"certificateId": "hostile-c-30"},
                }
            ),
            "ContractViolation",
        ),
        Hostile("empty key and broken JSON", b"{", "NotJson", key=b""),
        Hostile("no key and broken JSON", b"{", "NotJson", key=None),
        Hostile("a 100 KB key and broken JSON", b"{", "NotJson", key=b"k" * 100_000),
        Hostile("binary headers and broken JSON", b"{", "NotJson", headers=(("trace", b"\x00\xff\xfe"), ("empty", None))),
        Hostile(
            "a valid event padded past the record limit",
            _changed(31, _set("data.padding", "x" * 1_100_000)),
            "RecordTooLarge",
            consumer_only=True,
        ),
    ]
    assert good  # the catalogue holds only what must be rejected; `valid` builds the rest
    return kinds
