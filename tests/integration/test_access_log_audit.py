"""The auditor reads who looked at a patient; nobody else reads the access log."""

# No `from __future__ import annotations`: the app below is built at runtime like a service's.

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from shared.access_log import AccessResource, record_access
from shared.audit import access_log_router
from shared.auth import AuthenticatedUser, AuthSettings, Role, issue_token
from shared.http_errors import install_error_answers

pytestmark = pytest.mark.integration

SECRET = "audit-test-secret-not-for-production-0123456789"
UNIT = "SE2321000000-1001"


@dataclass
class PoolHolder:
    pool: asyncpg.Pool


@pytest.fixture
async def client(platform_pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_answers(app)
    app.include_router(access_log_router(PoolHolder(platform_pool), AuthSettings(jwt_secret=SecretStr(SECRET))))
    async with platform_pool.acquire() as conn:
        for user, patients in (("SE2321000000-3001", ["p-anna"]), ("SE2321000000-3002", ["p-anna", "p-bo"]), ("SE2321000000-3001", ["p-bo"])):
            reader = AuthenticatedUser(hsa_id=user, roles=frozenset({Role.REHABKOORDINATOR}), care_units=frozenset({UNIT}))
            await record_access(
                conn, reader, care_unit_hsa_id=UNIT, resource=AccessResource.ALERTS, patient_pseudonyms=patients, request_path="/alerts"
            )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as http:
        yield http


def bearer(role: str) -> dict[str, str]:
    return {"authorization": f"Bearer {issue_token(SECRET, 'SE2321000000-9001', [role], [UNIT], timedelta(hours=8))}"}


async def test_the_auditor_lists_who_looked_at_a_patient_newest_first(client: httpx.AsyncClient) -> None:
    answer = await client.get("/access-log", params={"patient": "p-anna"}, headers=bearer(Role.GRANSKARE))
    assert answer.status_code == 200
    entries = answer.json()["entries"]
    assert [entry["userHsaId"] for entry in entries] == ["SE2321000000-3002", "SE2321000000-3001"]
    assert all("p-anna" in entry["patientPseudonyms"] for entry in entries)


async def test_the_auditor_lists_what_one_user_looked_at_and_is_told_when_there_is_more(client: httpx.AsyncClient) -> None:
    answer = await client.get("/access-log", params={"user": "SE2321000000-3001", "limit": 1}, headers=bearer(Role.GRANSKARE))
    body = answer.json()
    assert [entry["patientPseudonyms"] for entry in body["entries"]] == [["p-bo"]]
    assert body["truncated"] is True


@pytest.mark.parametrize("role", [Role.REHABKOORDINATOR, Role.LAKARE, Role.VERKSAMHETSCHEF, Role.REGIONKONTOR])
async def test_nobody_but_the_auditor_reads_the_access_log(client: httpx.AsyncClient, role: str) -> None:
    answer = await client.get("/access-log", params={"patient": "p-anna"}, headers=bearer(role))
    assert answer.status_code == 403
    assert "p-anna" not in answer.text


async def test_a_nul_in_the_patient_filter_is_a_422_not_an_error(client: httpx.AsyncClient) -> None:
    answer = await client.get("/access-log", params={"patient": "p\x00"}, headers=bearer(Role.GRANSKARE))
    assert answer.status_code == 422
