"""The dashboard pages (Swedish) and the development sign-in (docs/statistics.md §6).

The page holds no figures: its script asks the report API with the reader's bearer token, kept in
the tab's sessionStorage. So the page needs no session of its own and the API's checks are the only ones.
"""

# No `from __future__ import annotations`: FastAPI resolves the annotations of the closures below at runtime.

from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from services.stats.settings import StatsSettings
from shared.auth import Role, issue_token
from shared.clock import Clock

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
STATIC = Path(__file__).parent / "static"
DEV_SUBJECT = "SE2321000000-DEV1"
HsaId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]


class DevSignIn(BaseModel):
    role: Literal["REHABKOORDINATOR", "LAKARE", "VERKSAMHETSCHEF", "REGIONKONTOR"]
    care_units: list[HsaId] = Field(default=[], max_length=20, alias="careUnits")


def router(settings: StatsSettings, clock: Clock) -> APIRouter:
    pages = APIRouter(tags=["dashboard"])

    @pages.get("/dashboard", response_class=HTMLResponse)
    async def dashboard(request: Request) -> HTMLResponse:
        """Statistik för verksamhetschefer, rehabkoordinatorer och regionkontoret."""
        page = {"dev_sign_in": settings.dev_sign_in, "threshold": settings.suppression_threshold, "today": clock.today().isoformat()}
        return TEMPLATES.TemplateResponse(request, "dashboard.html", page)

    @pages.post("/dashboard/dev-token")
    async def dev_token(sign_in: DevSignIn) -> dict[str, str]:
        """A token for trying the dashboard, signed with the service's own secret; only with `REKO_STATS_DEV_SIGN_IN=true`."""
        if not settings.dev_sign_in or not settings.auth.jwt_secret.get_secret_value():
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Finns inte.")
        if sign_in.role != Role.REGIONKONTOR and not sign_in.care_units:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, [{"field": "body.careUnits", "problem": "a unit role needs a care unit"}])
        return {"token": issue_token(settings.auth, DEV_SUBJECT, [sign_in.role], sign_in.care_units, name="Utvecklingsinloggning")}

    return pages
