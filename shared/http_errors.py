"""How every service's HTTP API answers bad input and its own failures (docs/http-api.md).

A request that does not fit an endpoint gets 422 with `{"detail": [{"field", "problem"}]}`: the
field named by its place in the request (`body.on`, `query.min_days`, `path.case_id`), the problem
in words, and never the value that was sent, since a wrong field may hold a personnummer. Keys the
caller made up are not repeated either; they are data too.

Anything that still escapes a route is logged by its class alone and answered with a generic 500
that echoes nothing. Inputs are meant never to get that far: each route classifies its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Annotated, Any

import structlog
from fastapi import FastAPI, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.contracts.certificates import EARLIEST_YEAR, LATEST_YEAR
from shared.logging import PERSONNUMMER_SHAPE, REDACTED

log = structlog.get_logger("http")

INTERNAL_ERROR = "Tjänsten kunde inte besvara förfrågan; felet har loggats."
# A key the caller made up stands in the field name as this.
UNNAMED = "?"
MOST_PROBLEMS = 20
_LONGEST_PROBLEM = 300
# Our models' field names: letters, digits and underscores, never a run of digits like a number.
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_DIGIT_RUN = re.compile(r"\d{4}")
_NOT_PRINTABLE = re.compile(r"[^\S ]|[\x00-\x1f\x7f]")


# An id in a path (a case, a care unit): printable text of a sane length. A NUL or a control
# character is never part of one, and PostgreSQL could not even compare it.
PathIdentifier = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


def _reckonable(day: date) -> date:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise ValueError(f"must lie in the years {EARLIEST_YEAR}-{LATEST_YEAR}")
    return day


def check_reckonable(day: date | None, field: str) -> None:
    """422 naming `field` when `day` lies outside the years a question may ask about."""
    if day is not None:
        try:
            _reckonable(day)
        except ValueError as problem:
            raise unprocessable_field(field, str(problem)) from None


# A date a question may ask about: within the years the certificate contract allows, so the rules'
# date arithmetic (a due date a year on, an age) never leaves the calendar.
ReckonableDate = Annotated[date, AfterValidator(_reckonable)]
OUT_OF_RANGE = f"the dates lie outside what the rules reckon with (years {EARLIEST_YEAR}-{LATEST_YEAR})"


class AsciiJSONResponse(JSONResponse):
    """JSON escaped to ASCII, so no text (a lone surrogate, say) can make the answer fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def field_name(location: Iterable[int | str]) -> str:
    """`body.certificates.0.patient`: each part of a location, with made-up keys left unnamed."""
    parts = []
    for part in location:
        if isinstance(part, int):
            parts.append(str(part))
        elif _FIELD_NAME.match(part) and not _DIGIT_RUN.search(part):
            parts.append(part)
        elif "[" in part or "." in part:
            # pydantic's own steps (`function-after[...]`, a union's tag) name no field of the request.
            continue
        else:
            parts.append(UNNAMED)
    return ".".join(parts)


def problem_text(message: str) -> str:
    """pydantic's message without its prefix, one printable line, nothing shaped like a personnummer."""
    text = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    text = _NOT_PRINTABLE.sub(" ", PERSONNUMMER_SHAPE.sub(REDACTED, text))
    return text if len(text) <= _LONGEST_PROBLEM else text[: _LONGEST_PROBLEM - 1] + "…"


def validation_problems(errors: Sequence[Mapping[str, Any]], *, prefix: Sequence[str] = ()) -> list[dict[str, str]]:
    """One `{field, problem}` per error, built from location and message alone (never `input` or `ctx`)."""
    problems = [
        {"field": field_name([*prefix, *error.get("loc", ())]), "problem": problem_text(str(error.get("msg", "invalid")))}
        for error in errors[:MOST_PROBLEMS]
    ]
    if len(errors) > MOST_PROBLEMS:
        problems.append({"field": "", "problem": f"and {len(errors) - MOST_PROBLEMS} more problems"})
    return problems


def unprocessable(problem: ValidationError | Sequence[Mapping[str, Any]], *, prefix: Sequence[str] = ("body",)) -> HTTPException:
    """The 422 for a request a route checks itself, in the same form as FastAPI's own checks get."""
    errors = problem.errors(include_input=False, include_url=False) if isinstance(problem, ValidationError) else problem
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, validation_problems(errors, prefix=prefix))


def unprocessable_field(field: str, problem: str) -> HTTPException:
    """A 422 for one field a route found wrong after validation (a personnummer's check digit, ...)."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{"field": field, "problem": problem_text(problem)}])


async def answer_validation_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return AsciiJSONResponse({"detail": validation_problems(error.errors())}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def answer_http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    headers = getattr(error, "headers", None)
    if error.status_code in (status.HTTP_204_NO_CONTENT, status.HTTP_304_NOT_MODIFIED) or error.status_code < 200:
        return Response(status_code=error.status_code, headers=headers)
    return AsciiJSONResponse({"detail": error.detail}, status_code=error.status_code, headers=headers)


class AnswerUnexpectedErrors:
    """ASGI middleware: an exception no route handled is logged by class and answered with a bare 500.

    Starlette's own last resort re-raises to the server, which logs the whole traceback, and a
    traceback can hold what was sent; this one keeps the class and the route template only.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as problem:  # noqa: BLE001 - the last resort: every failure is answered, none re-raised
            route = getattr(scope.get("route"), "path", None)
            log.error("request failed", error_class=type(problem).__name__, method=scope.get("method"), route=route)
            if not started:
                await AsciiJSONResponse({"detail": INTERNAL_ERROR}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)(scope, receive, send)


def install_error_answers(app: FastAPI) -> None:
    """Give `app` the answers above: 422 by field and problem, safely encoded errors, a bare 500."""
    app.add_exception_handler(RequestValidationError, answer_validation_error)
    app.add_exception_handler(StarletteHTTPException, answer_http_error)
    app.add_middleware(AnswerUnexpectedErrors)
