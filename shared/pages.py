"""Server-rendered pages: sign-in with the same bearer tokens as the APIs, a session cookie, forms.

A page request carries the region's JWT in an HttpOnly cookie instead of an `Authorization`
header; the token is verified exactly as the APIs verify it (`shared/auth.py`), on every request,
so a page never grants more than the token does. A region puts its identity provider in front
(docs/pages.md): the provider's sign-in ends by posting the token to `POST /sign-in`. On the local
stack a development sign-in mints a token with the service's own secret; it exists only when
`pages.development_sign_in` is on and is refused otherwise.

Forms carry a CSRF token derived from the session token: a page of another site cannot read the
HttpOnly cookie, so it cannot compute the value, and the cookie is SameSite=Strict besides.
"""

# No `from __future__ import annotations`: FastAPI resolves the annotations of the closures below.

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, FastAPI, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field

from shared.auth import AuthenticatedUser, AuthSettings, Role, TokenVerifier, Unauthenticated, issue_token

log = structlog.get_logger("pages")

SESSION_COOKIE = "reko_session"
SHARED_TEMPLATES = Path(__file__).parent / "templates"
# A token pasted into the sign-in form is at most this long; a JWT of our claims is well under.
LONGEST_TOKEN = 8192

ROLE_NAMES = {
    Role.REHABKOORDINATOR: "Rehabkoordinator",
    Role.LAKARE: "Läkare",
    Role.VERKSAMHETSCHEF: "Verksamhetschef",
    Role.REGIONKONTOR: "Regionkontor",
    Role.GRANSKARE: "Granskare",
}


class PageSettings(BaseModel):
    """Nested in a service's settings as `pages` (`REKO_<SERVICE>_PAGES__DEVELOPMENT_SIGN_IN=true`)."""

    model_config = ConfigDict(frozen=True)

    # Mints tokens with the service's own secret from a form: for the local stack only.
    development_sign_in: bool = False
    # Behind TLS (any real deployment) the cookie is sent over HTTPS only.
    secure_cookie: bool = False
    session_hours: float = Field(default=8.0, gt=0, le=24)


class SignInRequired(Exception):
    """No session, or one that no longer verifies: the page answers with the sign-in page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PageRefused(Exception):
    """A page the user may not see; the message is Swedish and names nothing of the request."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def page_templates(*directories: Path) -> Jinja2Templates:
    """Templates of a service's own folder first, then the shared layout; HTML always autoescaped."""
    loader = ChoiceLoader([FileSystemLoader(str(directory)) for directory in (*directories, SHARED_TEMPLATES)])
    environment = Environment(loader=loader, autoescape=select_autoescape(default=True, default_for_string=True))
    environment.globals["role_names"] = ROLE_NAMES
    return Jinja2Templates(env=environment)


def csrf_token(session_token: str) -> str:
    return hashlib.sha256(b"reko-csrf:" + session_token.encode()).hexdigest()[:40]


def _safe_next(target: str | None) -> str:
    """Only a path of this site: an open redirect would let a link send a signed-in user anywhere."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 500:
        return target
    return "/"


PageUser = Callable[..., Awaitable[AuthenticatedUser]]


class PageSession:
    """The pages' sign-in of one service: the dependency that yields the user, and the sign-in routes."""

    def __init__(self, auth: AuthSettings, pages: PageSettings, templates: Jinja2Templates, *, service_title: str, home: str = "/") -> None:
        self._auth = auth
        self._pages = pages
        self._verifier = TokenVerifier(auth)
        self.templates = templates
        self.service_title = service_title
        self.home = home

    def user_of(self, request: Request) -> AuthenticatedUser:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise SignInRequired("Logga in för att se sidan.")
        try:
            return self._verifier.verify(token)
        except Unauthenticated:
            raise SignInRequired("Inloggningen har gått ut eller gäller inte längre. Logga in igen.") from None

    async def user(self, request: Request) -> AuthenticatedUser:
        """A FastAPI dependency for pages: the signed-in user, or the sign-in page."""
        return self.user_of(request)

    async def checked_form(self, request: Request) -> AuthenticatedUser:
        """For a form's POST: the signed-in user, whose form carries the session's CSRF token."""
        user = self.user_of(request)
        form = await request.form()
        sent = form.get("csrf")
        expected = csrf_token(request.cookies.get(SESSION_COOKIE, ""))
        if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
            raise PageRefused(status.HTTP_403_FORBIDDEN, "Formuläret kunde inte kontrolleras. Ladda om sidan och försök igen.")
        return user

    def render(
        self, request: Request, template: str, context: dict[str, Any], *, status_code: int = 200, user: AuthenticatedUser | None = None
    ) -> HTMLResponse:
        token = request.cookies.get(SESSION_COOKIE, "")
        base = {"service_title": self.service_title, "user": user, "csrf": csrf_token(token) if token else "", "home": self.home}
        response = self.templates.TemplateResponse(request, template, {**base, **context}, status_code=status_code)
        # Patient data must not stay in a shared computer's cache.
        response.headers["Cache-Control"] = "no-store"
        return response

    def install(self, app: FastAPI) -> None:
        """The sign-in routes and the answers for pages that need a sign-in or are refused."""

        async def sign_in_required(request: Request, problem: Exception) -> Response:
            assert isinstance(problem, SignInRequired)
            if request.method == "GET":
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return self._sign_in_page(request, reason=problem.reason, next_path=target, status_code=status.HTTP_401_UNAUTHORIZED)
            return self._sign_in_page(request, reason=problem.reason, next_path=self.home, status_code=status.HTTP_401_UNAUTHORIZED)

        async def refused(request: Request, problem: Exception) -> Response:
            assert isinstance(problem, PageRefused)
            return self.render(request, "refused.html", {"message": problem.message}, status_code=problem.status_code)

        app.add_exception_handler(SignInRequired, sign_in_required)
        app.add_exception_handler(PageRefused, refused)
        app.include_router(self._router())

    def _sign_in_page(self, request: Request, *, reason: str | None, next_path: str, status_code: int = 200) -> HTMLResponse:
        context = {
            "reason": reason,
            "next_path": _safe_next(next_path),
            "development_sign_in": self._development_sign_in_available,
            "roles": [(role.value, ROLE_NAMES[role]) for role in ROLE_NAMES],
        }
        return self.render(request, "sign_in.html", context, status_code=status_code)

    @property
    def _development_sign_in_available(self) -> bool:
        return self._pages.development_sign_in and bool(self._auth.jwt_secret.get_secret_value())

    def _signed_in(self, token: str, next_path: str) -> Response:
        response = RedirectResponse(_safe_next(next_path), status_code=status.HTTP_303_SEE_OTHER)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(self._pages.session_hours * 3600),
            httponly=True,
            samesite="strict",
            secure=self._pages.secure_cookie,
            path="/",
        )
        return response

    def _router(self) -> APIRouter:
        router = APIRouter(tags=["pages"], include_in_schema=False)

        @router.get("/sign-in", response_class=HTMLResponse)
        async def sign_in_form(request: Request, next: str = "/") -> HTMLResponse:
            return self._sign_in_page(request, reason=None, next_path=next)

        @router.post("/sign-in")
        async def sign_in(request: Request, token: Annotated[str, Form(max_length=LONGEST_TOKEN)], next: Annotated[str, Form()] = "/") -> Response:
            try:
                user = self._verifier.verify(token.strip())
            except Unauthenticated as refused:
                log.info("page sign-in refused", reason=refused.reason)
                return self._sign_in_page(request, reason="Inloggningen gick inte: token kunde inte verifieras.", next_path=next, status_code=401)
            log.info("page sign-in", user=user.hsa_id)
            return self._signed_in(token.strip(), next)

        @router.post("/sign-in/development")
        async def development_sign_in(
            request: Request,
            hsa_id: Annotated[str, Form(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9-]+$")],
            role: Annotated[str, Form()],
            care_units: Annotated[str, Form(max_length=2000)] = "",
            name: Annotated[str, Form(max_length=200)] = "",
            next: Annotated[str, Form()] = "/",
        ) -> Response:
            if not self._development_sign_in_available:
                raise PageRefused(status.HTTP_404_NOT_FOUND, "Utvecklingsinloggningen är avstängd här.")
            if role not in {r.value for r in ROLE_NAMES}:
                raise PageRefused(status.HTTP_422_UNPROCESSABLE_ENTITY, "Okänd roll.")
            units = _unit_list(care_units.replace(",", " ").split())
            token = issue_token(self._auth, hsa_id, [role], units, timedelta(hours=self._pages.session_hours), name=name.strip() or None)
            log.info("development sign-in", user=hsa_id, role=role)
            return self._signed_in(token, next)

        @router.post("/sign-out")
        async def sign_out() -> Response:
            response = RedirectResponse("/sign-in", status_code=status.HTTP_303_SEE_OTHER)
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response

        return router


def _unit_list(units: Iterable[str]) -> list[str]:
    wanted = [unit for unit in units if unit]
    for unit in wanted:
        if len(unit) > 64 or not all(ch.isalnum() or ch == "-" for ch in unit):
            raise PageRefused(status.HTTP_422_UNPROCESSABLE_ENTITY, "En vårdenhets HSA-id får bara innehålla bokstäver, siffror och bindestreck.")
    return wanted
