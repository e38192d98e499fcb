"""The stats dashboard in Debian's Chromium: charts drawn, tables matching the API one click away, hidden cells shown hidden, exports saved."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from reko.stack import create_database
from services.stats import api, dashboard, repository
from services.stats.app import MIGRATIONS
from services.stats.settings import StatsSettings
from shared.auth import AuthSettings, Role, issue_token
from shared.clock import STOCKHOLM, Clock, FixedClock
from shared.db import PLATFORM_MIGRATIONS, create_pool, migrate
from shared.http_errors import install_error_answers
from tests.support import employed_case_event

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SECRET = "stats-browser-secret-not-for-production-0123456789"
DAY = date(2026, 3, 16)
CLOCK = FixedClock(datetime.combine(DAY, clock_time(12), tzinfo=STOCKHOLM))
NORTH, SOUTH = "SE2321000000-1001", "SE2321000000-1002"
PROVIDER = "SE2321000000-0001"
# Unit, sex, diagnosis, cases: North has 2 men, a count the regional office must not see.
POPULATION = [(NORTH, "F", "F438A", 14), (NORTH, "M", "F438A", 2), (NORTH, "M", "M545", 7), (SOUTH, "F", "M545", 9), (SOUTH, "M", "M545", 11)]


@dataclass
class RuntimeStandIn:
    pool: asyncpg.Pool | None
    clock: Clock


async def _seed(database_url: str) -> None:
    pool = await create_pool(database_url, "stats", size=1)
    await migrate(pool, "stats", PLATFORM_MIGRATIONS, MIGRATIONS)
    events = []
    for unit, sex, diagnosis, count in POPULATION:
        for number in range(count):
            name = f"{unit}-{sex}-{diagnosis}-{number}"
            event = employed_case_event(name, f"p-{name}", date(2025, 12, 1), date(2026, 4, 30))
            moved = {"care_unit_hsa_id": unit, "care_provider_hsa_id": PROVIDER, "sex": sex, "main_diagnosis_code": diagnosis}
            events.append(event.model_copy(update=moved))
    async with pool.acquire() as conn, conn.transaction():
        await repository.apply_case_events(conn, events)
    await pool.close()


def _run_apart(work: Any) -> Any:
    """Run a coroutine to its end on a loop of its own thread: the test's thread may already run one."""
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(asyncio.run(work)))
    runner.start()
    runner.join()
    return result[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stats_url(postgres_server_url: str, unique_name: str) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed; the browser tests never download a browser")
    database_url = _run_apart(create_database(postgres_server_url, unique_name))
    _run_apart(_seed(database_url))
    settings = StatsSettings(auth=AuthSettings(jwt_secret=SECRET), dev_sign_in=True)
    runtime = RuntimeStandIn(None, CLOCK)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        runtime.pool = await create_pool(database_url, "stats", size=2)
        yield
        await runtime.pool.close()

    app = FastAPI(lifespan=lifespan)
    install_error_answers(app)
    app.include_router(api.router(runtime, settings))  # type: ignore[arg-type]  # why: the router uses only the pool and the clock
    app.include_router(dashboard.router(settings, CLOCK))
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        yield chromium
        chromium.close()


def _signed_in_page(browser: Any, stats_url: str, token: str) -> Any:
    page = browser.new_context(accept_downloads=True).new_page()
    page.goto(f"{stats_url}/dashboard")
    page.fill("#token", token)
    page.click("#token-form button[type=submit]")
    page.wait_for_function("document.body.dataset.rendered === 'true'", timeout=20_000)
    return page


def _shown_cells(page: Any, chart: str) -> dict[tuple[str, str], str | None]:
    """(category, sex) -> the number the page's table shows, None when it shows the cell as hidden."""
    cells = page.eval_on_selector_all(
        f"#{chart}-table td[data-sex]",
        "cells => cells.map(c => [c.dataset.category, c.dataset.sex, c.dataset.suppressed === 'true' ? null : c.dataset.value])",
    )
    return {(category, sex): value for category, sex, value in cells}


def _api_cells(stats_url: str, token: str, params: dict[str, str]) -> dict[tuple[str, str], str | None]:
    report = httpx.get(f"{stats_url}/reports/ongoing", params=params, headers={"authorization": f"Bearer {token}"}).json()
    table = report["periods"][0]["tables"][0]
    return {
        (row["category"], sex): None if cell["suppressed"] else str(cell["value"])
        for row in table["rows"]
        for sex, cell in row["cells"].items()
        if sex != "UNKNOWN"
    }


def _assert_not_blank(screenshot: Path) -> None:
    """The screenshot's pixels are not all alike: the PNG's image data, inflated, holds many different bytes."""
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, image = 8, b""
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kind = data[position + 4 : position + 8]
        if kind == b"IDAT":
            image += data[position + 8 : position + 8 + length]
        position += 12 + length
    assert len(set(zlib.decompress(image))) > 50, "the screenshot is blank"


def _assert_charts_drawn(page: Any) -> None:
    for chart in ("trend", "by-diagnosis-group", "by-length-band", "by-degree", "comparison"):
        painted = page.eval_on_selector(
            f"#{chart} canvas",
            "canvas => { const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;"
            " let painted = 0; for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++; return painted; }",
        )
        assert painted > 500, f"the chart {chart} drew nothing"


def test_a_unit_manager_sees_the_exact_figures_of_the_unit_drawn_and_in_tables(browser, stats_url, tmp_path):
    token = issue_token(SECRET, "SE2321000000-3001", [Role.VERKSAMHETSCHEF], [NORTH])
    page = _signed_in_page(browser, stats_url, token)
    _assert_charts_drawn(page)

    table = page.locator("#by-diagnosis-group-table")
    assert table.is_hidden()
    page.click("#by-diagnosis-group .toggle-table")
    assert table.is_visible()
    assert page.get_attribute("#by-diagnosis-group .toggle-table", "aria-expanded") == "true"
    shown = _shown_cells(page, "by-diagnosis-group")
    assert shown == _api_cells(stats_url, token, {"on": DAY.isoformat(), "dimension": "diagnosisGroup", "level": "unit", "units": NORTH})
    assert shown[("psychiatric", "M")] == "2"
    # The numbers are also text for a screen reader.
    assert "män 2" in page.text_content("#by-diagnosis-group-description")

    with page.expect_download() as download:
        page.click("#by-diagnosis-group .export[data-format=csv]")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.read_text(encoding="utf-8").startswith("# Rapport: ongoing")

    screenshot = tmp_path / "unit-manager.png"
    page.screenshot(path=str(screenshot), full_page=True)
    _assert_not_blank(screenshot)


def test_the_regional_office_sees_small_counts_as_hidden(browser, stats_url, tmp_path):
    token = issue_token(SECRET, "SE2321000000-9000", [Role.REGIONKONTOR])
    page = _signed_in_page(browser, stats_url, token)
    _assert_charts_drawn(page)

    page.click("#comparison .toggle-table")
    comparison = _shown_cells(page, "comparison")
    assert comparison[(NORTH, "F")] == "14"
    # North's 7 + 2 men: the 2 psychiatric men are hidden in the diagnosis table, the unit's men are not a small count.
    page.click("#by-diagnosis-group .toggle-table")
    region = _shown_cells(page, "by-diagnosis-group")
    assert region == _api_cells(stats_url, token, {"on": DAY.isoformat(), "dimension": "diagnosisGroup", "level": "region"})

    north = _api_cells(stats_url, token, {"on": DAY.isoformat(), "dimension": "diagnosisGroup", "level": "unit", "units": NORTH})
    assert north[("psychiatric", "M")] is None
    page.select_option("#unit", NORTH)
    page.click("#choices button[type=submit]")
    page.wait_for_function("document.body.dataset.rendered === 'true'", timeout=20_000)
    hidden = page.locator("#by-diagnosis-group-table td[data-category=psychiatric][data-sex=M]")
    assert hidden.get_attribute("data-suppressed") == "true"
    assert hidden.text_content() == ".."

    screenshot = tmp_path / "regional-office.png"
    page.screenshot(path=str(screenshot), full_page=True)
    _assert_not_blank(screenshot)


def test_the_development_sign_in_gives_a_token_for_the_chosen_role(stats_url):
    answer = httpx.post(f"{stats_url}/dashboard/dev-token", json={"role": "REGIONKONTOR"})
    assert answer.status_code == 200
    assert httpx.get(f"{stats_url}/reports/ongoing", headers={"authorization": f"Bearer {answer.json()['token']}"}).status_code == 200
    assert httpx.post(f"{stats_url}/dashboard/dev-token", json={"role": "VERKSAMHETSCHEF"}).status_code == 422
