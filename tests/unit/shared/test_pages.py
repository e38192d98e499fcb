"""The pages' sign-in: the same tokens as the APIs, in an HttpOnly cookie, and forms that check their origin."""

# No `from __future__ import annotations`: FastAPI resolves the Depends(...) of the closures below at runtime.

from datetime import timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from pydantic import SecretStr

from shared.auth import AuthenticatedUser, AuthSettings, Role, issue_token
from shared.pages import SESSION_COOKIE, PageSession, PageSettings, csrf_token, page_templates

SECRET = "pages-test-secret-not-for-production-0123456789"
AUTH = AuthSettings(jwt_secret=SecretStr(SECRET))


def app_with_pages(settings: PageSettings) -> FastAPI:
    app = FastAPI()
    session = PageSession(AUTH, settings, page_templates(), service_title="Test", home="/page")

    @app.get("/page", response_class=HTMLResponse)
    async def page(request: Request, user: Annotated[AuthenticatedUser, Depends(session.user)]) -> HTMLResponse:
        return session.render(request, "refused.html", {"message": f"hej {user.hsa_id}"}, user=user)

    @app.post("/form")
    async def form(user: Annotated[AuthenticatedUser, Depends(session.checked_form)]) -> dict[str, str]:
        return {"user": user.hsa_id}

    session.install(app)
    return app


def client(settings: PageSettings | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app_with_pages(settings or PageSettings())), base_url="http://reko")


def token() -> str:
    return issue_token(SECRET, "SE2321000000-3001", [Role.REHABKOORDINATOR], ["SE2321000000-1001"], timedelta(minutes=5))


async def test_a_page_without_a_session_answers_with_the_sign_in_page() -> None:
    async with client() as http:
        answer = await http.get("/page")
    assert answer.status_code == 401
    assert "Logga in" in answer.text
    assert 'value="/page"' in answer.text


async def test_signing_in_with_a_token_sets_an_http_only_strict_cookie_and_opens_the_page() -> None:
    async with client() as http:
        signed_in = await http.post("/sign-in", data={"token": token(), "next": "/page"})
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/page"
        cookie = signed_in.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        page = await http.get("/page")
    assert page.status_code == 200
    assert "hej SE2321000000-3001" in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_a_token_that_does_not_verify_signs_nobody_in() -> None:
    forged = issue_token("another-secret-entirely-0123456789abcdef", "SE2321000000-3001", [Role.REHABKOORDINATOR], [], timedelta(minutes=5))
    async with client() as http:
        answer = await http.post("/sign-in", data={"token": forged})
    assert answer.status_code == 401
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


async def test_the_sign_in_never_redirects_to_another_site() -> None:
    async with client() as http:
        answer = await http.post("/sign-in", data={"token": token(), "next": "//evil.example/steal"})
    assert answer.headers["location"] == "/"


async def test_a_form_without_the_sessions_csrf_token_is_refused() -> None:
    async with client() as http:
        await http.post("/sign-in", data={"token": token()})
        refused = await http.post("/form", data={"csrf": "guess"})
        accepted = await http.post("/form", data={"csrf": csrf_token(http.cookies[SESSION_COOKIE])})
    assert refused.status_code == 403
    assert "Formuläret kunde inte kontrolleras" in refused.text
    assert accepted.json() == {"user": "SE2321000000-3001"}


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_development_sign_in_exists_only_where_it_is_switched_on(enabled: bool) -> None:
    async with client(PageSettings(development_sign_in=enabled)) as http:
        form = await http.get("/sign-in")
        answer = await http.post(
            "/sign-in/development", data={"hsa_id": "SE2321000000-3009", "role": "REHABKOORDINATOR", "care_units": "SE2321000000-1001"}
        )
        page = await http.get("/page")
    assert ("Utvecklingsinloggning" in form.text) is enabled
    assert answer.status_code == (303 if enabled else 404)
    assert page.status_code == (200 if enabled else 401)


async def test_signing_out_forgets_the_session() -> None:
    async with client() as http:
        await http.post("/sign-in", data={"token": token()})
        await http.post("/sign-out")
        page = await http.get("/page")
    assert page.status_code == 401
