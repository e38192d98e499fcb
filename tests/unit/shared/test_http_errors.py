"""How every API answers bad input: field and problem by name, nothing sent echoed, no traceback for anyone."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from structlog.testing import capture_logs

from shared.http_errors import (
    INTERNAL_ERROR,
    PathIdentifier,
    ReckonableDate,
    field_name,
    install_error_answers,
    problem_text,
    validation_problems,
)
from shared.logging import find_personnummer

PERSONNUMMER = "19800124-9286"


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date
    count: int = Field(ge=0, le=10)
    names: list[str] = []


def app() -> FastAPI:
    api = FastAPI()
    install_error_answers(api)

    @api.post("/questions")
    async def ask(question: Question) -> dict[str, str]:
        return {"on": question.on.isoformat()}

    @api.get("/things/{thing_id}")
    async def thing(thing_id: PathIdentifier, on: ReckonableDate | None = None) -> dict[str, str]:
        return {"id": thing_id}

    @api.get("/refused")
    async def refused() -> None:
        raise HTTPException(403, "text that cannot be UTF-8: \ud800")

    @api.get("/broken")
    async def broken() -> None:
        raise RuntimeError(f"a bug that mentions {PERSONNUMMER}")

    return api


async def call(method: str, path: str, **options: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://service") as client:
        return await client.request(method, path, **options)  # type: ignore[arg-type]  # why: options are httpx's own keywords


def test_a_field_is_named_by_its_place_in_the_request():
    assert field_name(("body", "certificates", 0, "patient")) == "body.certificates.0.patient"


@pytest.mark.parametrize("key", [PERSONNUMMER, "198001249286", "x19800124", "ett namn", "\x00", "a" * 65])
def test_a_key_the_caller_made_up_is_not_repeated(key):
    assert field_name(("body", key)) == "body.?"


def test_pydantic_steps_that_name_no_field_are_left_out():
    assert field_name(("body", "function-after[check(), str]", "se.sickleave.certificate.signed.v1", "on")) == "body.on"


def test_a_problem_is_one_printable_line_without_anything_like_a_personnummer():
    assert problem_text(f"Value error, patient {PERSONNUMMER} is\nnot\x00 valid") == "patient [redacted] is not  valid"
    assert len(problem_text("x" * 5_000)) == 300


def test_problems_come_from_location_and_message_alone():
    errors = [
        {"type": "int_parsing", "loc": ("body", "count"), "msg": "Input should be a valid integer", "input": PERSONNUMMER, "ctx": {"x": PERSONNUMMER}}
    ]

    assert validation_problems(errors) == [{"field": "body.count", "problem": "Input should be a valid integer"}]


async def test_a_request_that_does_not_fit_is_answered_by_field_and_problem():
    response = await call("POST", "/questions", json={"on": "15 March", "count": 11})

    assert response.status_code == 422
    assert response.json() == {
        "detail": [
            {"field": "body.on", "problem": "Input should be a valid date or datetime, input is too short"},
            {"field": "body.count", "problem": "Input should be less than or equal to 10"},
        ]
    }


@pytest.mark.parametrize(
    "body",
    [
        {"on": PERSONNUMMER, "count": 1},
        {"on": "2026-03-15", "count": PERSONNUMMER},
        {"on": "2026-03-15", "count": 1, "personId": PERSONNUMMER},
        {"on": "2026-03-15", "count": 1, PERSONNUMMER: 1},
        {"on": "2026-03-15", "count": 1, "names": [198001249286]},
        PERSONNUMMER,
        [PERSONNUMMER],
    ],
)
async def test_a_personnummer_sent_in_a_wrong_field_never_comes_back(body):
    response = await call("POST", "/questions", json=body)

    assert response.status_code == 422
    assert find_personnummer(response.text) == [] and "8001249286" not in response.text
    assert all(set(item) == {"field", "problem"} for item in response.json()["detail"])


async def test_a_body_that_is_not_json_names_the_body():
    response = await call("POST", "/questions", content=b'{"on": "19800124-9286",', headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert [item["field"] for item in response.json()["detail"]] == ["body.23"]
    assert "9286" not in response.text


@pytest.mark.parametrize("path", ["/things/%00", "/things/a%0Ab", "/things/" + "x" * 201, "/things/ok?on=9999-12-31", "/things/ok?on=0001-01-01"])
async def test_a_path_id_with_a_control_character_or_a_date_outside_the_rules_is_unprocessable(path):
    assert (await call("GET", path)).status_code == 422


async def test_an_error_whose_text_cannot_be_utf8_is_still_answered():
    response = await call("GET", "/refused")

    assert response.status_code == 403
    assert response.content == b'{"detail":"text that cannot be UTF-8: \\ud800"}'


async def test_an_unexpected_failure_is_a_bare_500_logged_by_class_alone():
    with capture_logs() as logs:
        response = await call("GET", "/broken")

    assert (response.status_code, response.json()) == (500, {"detail": INTERNAL_ERROR})
    assert PERSONNUMMER not in response.text
    (entry,) = [entry for entry in logs if entry["event"] == "request failed"]
    assert (entry["error_class"], entry["method"], entry["route"]) == ("RuntimeError", "GET", "/broken")
    assert PERSONNUMMER not in repr(logs)
