"""`POST /certificate-events`: certificate events from a source that cannot write to Kafka itself."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from fastapi import APIRouter, FastAPI, HTTPException, Request, params
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from services.intake.ingestion import (
    BrokerUnavailable,
    CertificateSubmitter,
    NotJsonArray,
    SubmissionOutcome,
    SubmissionStatus,
    iter_json_array,
    split_ndjson,
)
from services.intake.settings import IntakeSettings
from shared.kafka import ensure_topics, start_producer
from shared.service import ServiceRuntime

# Swedish, as every refusal sentence (docs/http-api.md §1).
BROKER_DID_NOT_ACKNOWLEDGE = (
    "Kafka bekräftade inte händelserna, så ingen av dem är mottagen; skicka dem igen (intake hoppar över händelser den redan har tagit emot)."
)

log = structlog.get_logger("ingestion")

NDJSON_MEDIA_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines"}
)
_JSON_WHITESPACE = " \t\r\n"
_RETRY_AFTER_SECONDS = "5"


class SubmissionReport(BaseModel):
    """The answer to a submission: one outcome per event, in the order they were sent."""

    model_config = ConfigDict(frozen=True)

    accepted: int
    rejected: int
    results: list[SubmissionOutcome]


class UnreadableBody(ValueError):
    """The body is not JSON or NDJSON at all, so it holds no events to answer for one by one."""


def split_body(body: bytes, media_type: str) -> list[bytes]:
    """The events of a body: an NDJSON body's lines, a JSON array's elements, or a single JSON value."""
    if media_type in NDJSON_MEDIA_TYPES:
        events = split_ndjson(body)
        if not events:
            raise UnreadableBody("the body holds no lines")
        return events
    try:
        text = body.decode("utf-8").strip(_JSON_WHITESPACE)
    except UnicodeDecodeError:
        raise UnreadableBody("not valid JSON (the body is not UTF-8 text)") from None
    if not text:
        raise UnreadableBody("the body is empty")
    if text.startswith("["):
        try:
            return [element.encode() for element in iter_json_array([text])]
        except NotJsonArray as problem:
            raise UnreadableBody(f"not valid JSON: not an array of JSON values ({problem})") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as problem:
        raise UnreadableBody(f"not valid JSON ({problem.msg} at line {problem.lineno} column {problem.colno})") from None
    except (RecursionError, ValueError):
        # JSON that Python will not decode (nested too deeply, a number too long) is still one
        # event, answered for and dead-lettered with its own reason.
        pass
    return [text.encode()]


class _SubmitterHolder:
    """One producer for the life of the service, started by the first request that needs it."""

    def __init__(self, runtime: ServiceRuntime, settings: IntakeSettings) -> None:
        self._runtime = runtime
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._submitter: CertificateSubmitter | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> CertificateSubmitter:
        if self._submitter is None:
            async with self._lock:
                if self._submitter is None:
                    self._submitter = await self._start()
        return self._submitter

    async def _start(self) -> CertificateSubmitter:
        settings = self._settings
        topics = settings.topics
        try:
            async with asyncio.timeout(settings.ingestion_send_timeout_seconds):
                # The consumer creates these topics too, but a request may come before it has.
                await ensure_topics(settings.kafka_bootstrap_servers, [topics.name(topics.certificates), topics.dead_letter(topics.certificates)])
                self._producer = await start_producer(settings)
        except (KafkaError, OSError, TimeoutError) as problem:
            raise BrokerUnavailable(f"the broker is not reachable ({type(problem).__name__})") from problem
        return CertificateSubmitter(
            self._producer,
            topics=topics,
            entry_point="http",
            clock=self._runtime.clock,
            send_timeout_seconds=settings.ingestion_send_timeout_seconds,
        )

    async def close(self) -> None:
        producer, self._producer, self._submitter = self._producer, None, None
        if producer is not None:
            with contextlib.suppress(Exception):
                await producer.stop()


async def _read_body(request: Request, limit: int) -> bytes:
    too_large = HTTPException(413, detail=f"Innehållet är större än {limit} byte; dela upp händelserna på flera anrop.")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _broker_unavailable(problem: BrokerUnavailable) -> JSONResponse:
    log.warning("certificate events not taken: the broker is unavailable", entry_point="http", error=str(problem))
    return JSONResponse(
        {"detail": BROKER_DID_NOT_ACKNOWLEDGE},
        status_code=503,
        headers={"Retry-After": _RETRY_AFTER_SECONDS},
    )


def ingestion_router(runtime: ServiceRuntime, settings: IntakeSettings, dependencies: Sequence[params.Depends] = ()) -> APIRouter:
    """The certificate-event entry point; `dependencies` guard it (e.g. a bearer token with a role)."""
    submitters = _SubmitterHolder(runtime, settings)
    certificates_topic = settings.topics.name(settings.topics.certificates)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await submitters.close()

    api = APIRouter(tags=["certificate events"], dependencies=list(dependencies), lifespan=lifespan)

    @api.post(
        "/certificate-events",
        response_model=SubmissionReport,
        response_model_exclude_none=True,
        responses={
            400: {"description": "The body is not JSON or NDJSON at all; it was dead-lettered as NotJson."},
            413: {"description": "Too many events or too many bytes in one request."},
            503: {"description": "The broker did not acknowledge the events; none is accepted. Retry."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "description": "One CloudEvent (`reko schema` gives its JSON Schema) or an array of them.",
                            "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                        }
                    },
                    "application/x-ndjson": {"schema": {"type": "string", "description": "One CloudEvent per line."}},
                },
            }
        },
    )
    async def submit_certificate_events(request: Request) -> Any:
        """Validate FK 7804 `signed`/`revoked` CloudEvents and queue them for intake.

        Each event is answered for by its index: ACCEPTED (valid, on `sickleave.certificates.v1`,
        keyed by certificateId, acknowledged by the broker) or REJECTED (on the dead-letter topic
        with its error class and reason). Duplicates and conflicting re-signs are decided later by
        intake, as for events that arrive on the topic.
        """
        body = await _read_body(request, settings.ingestion_max_body_bytes)
        media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        try:
            events = split_body(body, media_type)
        except UnreadableBody as problem:
            return await _refuse_unreadable(body, str(problem))
        if len(events) > settings.ingestion_max_events:
            raise HTTPException(413, detail=f"{len(events)} händelser i ett anrop; högst {settings.ingestion_max_events} tas emot.")
        try:
            outcomes = await (await submitters.get()).submit(events)
        except BrokerUnavailable as problem:
            return _broker_unavailable(problem)
        rejected = Counter(outcome.error_class for outcome in outcomes if outcome.status is SubmissionStatus.REJECTED)
        for error_class, count in rejected.items():
            runtime.metrics.dead_lettered.labels(topic=certificates_topic, error_class=error_class).inc(count)
        log.info(
            "certificate events submitted",
            entry_point="http",
            accepted=len(outcomes) - rejected.total(),
            rejected=rejected.total(),
            rejected_by_class=dict(rejected),
        )
        return SubmissionReport(accepted=len(outcomes) - rejected.total(), rejected=rejected.total(), results=outcomes)

    async def _refuse_unreadable(body: bytes, reason: str) -> JSONResponse:
        dead_lettered = False
        if body.strip():
            # Keep what was sent, whatever it is: someone may have to find out what the source meant.
            try:
                await (await submitters.get()).dead_letter_unreadable(body, error_class="NotJson", reason=reason)
            except BrokerUnavailable as problem:
                return _broker_unavailable(problem)
            runtime.metrics.dead_lettered.labels(topic=certificates_topic, error_class="NotJson").inc()
            dead_lettered = True
        log.warning("certificate events refused: the body is not JSON", entry_point="http", reason=reason, dead_lettered=dead_lettered)
        return JSONResponse({"detail": reason, "errorClass": "NotJson", "deadLettered": dead_lettered}, status_code=400)

    return api
